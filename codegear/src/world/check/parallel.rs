//! Multi-core exploration ([`Check::workers`]): breadth-first by levels on the gears-runtime
//! pool.
//!
//! # The scheme
//!
//! Each level (all states at one distance from the initial state) is expanded by every worker
//! at once; the pool's scope ([`gears_runtime::pool::Worker::scope`]) spawns one job per worker
//! and its end is the barrier between levels. So a state is stored at its breadth-first
//! distance whatever the interleaving of the workers, the set of states of each level is the
//! single worker's, and state counts, depth and verdicts agree with it. The whole run is one
//! job of the pool: the barriers run on its first worker, which expands levels of fewer than
//! [`SOLO_LEVEL`] states alone (the first and last few, where a scope costs more than it
//! saves).
//!
//! - **Visited set:** one fingerprint table the workers insert into without locks (a CAS per
//!   new state, see [`table`]). It grows only when no worker inserts: a worker takes *room* in
//!   small chunks before inserting, and when the room is gone the workers stop at the state they
//!   are expanding (it is expanded again afterwards, its successors already stored found
//!   visited), the table grows with every worker rehashing a part of it, and the level goes
//!   on. At a barrier the table grows ahead of the level if the level will likely need it.
//! - **Frontiers:** every worker appends the new states it finds to a frontier of its own,
//!   difference-coded as the single worker's (siblings stay neighbours), sealed into a chunk
//!   every so many states (a level's size over 32 chunks per worker). The next level's work is
//!   every chunk, claimed one at a time from an atomic counter, so a worker on a busy core
//!   takes fewer of them and the level's end waits for one small chunk at most.
//! - **Lookahead:** a worker takes states [`worker`]`::LOOKAHEAD` ahead of their expansion,
//!   looks their steps up in the memo and prefetches their successors' buckets (as the single
//!   worker does), so that the inserts find them in the cache.
//! - **Intern and memo tables:** frozen during a level, read by every worker without locks.
//!   A step whose outcome is a value or transition the tables do not hold yet (new values are
//!   rare: a program has few per component) is *deferred*: it is redone at the barrier, alone,
//!   with the tables growing, exactly as the single worker would do it. Steps a worker learnt
//!   during a level go into its own memo and are merged at the barrier. Each worker looks
//!   steps up through a direct-mapped cache of its own in front of both memos (as the single
//!   worker does; the hash probe per transition was the largest share of the CPU the second
//!   worker added).
//! - **Layout:** nothing one worker writes per state shares a cache line with what another
//!   reads per state: the workers' lanes are padded to 128 bytes, and each works on its own
//!   copy of the level's shared view.
//!
//! The report's notes say where the time went ([`profile`]): each worker's CPU time, the
//! critical path in CPU time, the barriers' share, growths, and the steps redone.
//!
//! # What stops early
//!
//! A violation (invariant, action, deadlock, a failing step), the state bound or the memory
//! estimate stops every worker at the end of the state it is expanding. The report is then the
//! single worker's: the check is run again on one worker, up to the level where the parallel
//! run found the violation (for the bounds, which the parallel run only estimates, without
//! that limit). Breadth-first, the single worker meets
//! the same level's states in its own order, so the verdict, the counterexample (the shortest)
//! and the counts are exactly those of [`Check::workers`]`(1)`; the price is that a failing
//! check explores its last levels twice. A check that holds, or ends at
//! [`Check::max_depth`], is reported from the parallel run.
//!
//! Liveness properties, partial-order and symmetry reduction, depth-first order, worlds with
//! metas installed, and checks with a time limit, a stop flag or a checkpoint run on one
//! worker (the report's notes say so).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Instant;

use gears_runtime::pool::{Pool, Worker};

use super::Check;
use super::explore::{self, HEADER, TASK_MASK, set_header};
use super::frontier::Frontier;
use super::intern::{Interned, Learnt, StepInputs};
use super::report::{Bound, Report, Verdict};
use crate::heap::Heap;
use crate::world::World;
use crate::world::fingerprint::{FpHasher, slot_term, task_term};

mod apply;
mod ids;
pub(super) mod profile;
pub(super) mod table;
mod worker;

use ids::replicate;
use profile::{Profile, Timer};
use table::SharedTable;
use worker::{
    Expanded, Lane, Level, MEMORY, Outcome, Own, RUNNING, ReadsSoFar, Share, expand_task,
    stored_ok, work,
};

/// Levels with fewer states are expanded by one worker alone.
const SOLO_LEVEL: usize = 256;
/// Chunks of a level's frontier per worker, and their bounds in states. A level ends with
/// one worker finishing the chunk it holds while the other has none left: half a chunk of
/// imbalance per level on average, which finer chunks shrink (a chunk costs a claim and one
/// record coded whole).
const CHUNKS_PER_WORKER: usize = 64;
const MIN_CHUNK: usize = 32;
const MAX_CHUNK: usize = 4096;

type Memo = HashMap<StepInputs, Learnt, BuildHasherDefault<FpHasher>>;

/// Why the parallel run ended before the state space was complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// A violation or a failing step while expanding this level.
    Found(u32),
    /// The memory estimate passed the budget, or the state slots ran out: the single worker
    /// runs the whole check (it may get further than the estimate).
    Memory,
}

/// The check's entry point for `workers > 1`: the parallel run, or the single worker where the
/// check needs it (see the module documentation).
pub(super) fn explore(world: &World, mut check: Check) -> Report {
    let workers = check.workers;
    let unsupported = if !check.liveness.is_empty() {
        Some("liveness properties need the whole state graph")
    } else if check.partial_order {
        Some("partial-order reduction")
    } else if check.symmetry.is_some() {
        Some("symmetry reduction")
    } else if check.depth_first {
        Some("depth-first order")
    } else if !world.metas.is_empty() {
        Some("metas installed on the world")
    } else if check.max_time.is_some() || check.stop.is_some() || check.checkpoint.is_some() {
        Some("a time limit, a stop flag or a checkpoint")
    } else {
        None
    };
    if let Some(reason) = unsupported {
        let mut report = explore::explore(world, check);
        report.notes.push(format!(
            "workers({workers}): checked on one worker ({reason} is single-worker)"
        ));
        return report;
    }
    let pool = match Pool::builder()
        .workers(workers)
        .thread_name("gears-check")
        .build()
    {
        Ok(pool) => pool,
        Err(error) => {
            let mut report = explore::explore(world, check);
            report.notes.push(format!(
                "workers({workers}): checked on one worker ({error})"
            ));
            return report;
        }
    };
    let started = Instant::now();
    let stop = match Run::new(world, &check, workers).explore(&pool) {
        Ok(mut report) => {
            report.elapsed = started.elapsed();
            return report;
        }
        Err(stop) => stop,
    };
    drop(pool);
    // The single worker finds a property's panic again, in its own order.
    check.panicked.clear();
    let note = match stop {
        Stop::Found(level) => {
            check.max_depth = check.max_depth.min(level + 1);
            format!(
                "workers({workers}): stopped at level {level}; the report (counterexample, counts) is the single worker's, rebuilt up to that level"
            )
        }
        Stop::Memory => format!(
            "workers({workers}): the memory or state bound was near; the report is the single worker's"
        ),
    };
    let mut report = explore::explore(world, check);
    report.elapsed = started.elapsed();
    report.notes.push(note);
    report
}

/// The parallel run: the initial state, then the levels on the pool.
struct Run<'w> {
    world: &'w World,
    check: &'w Check,
    workers: usize,
}

impl<'w> Run<'w> {
    fn new(world: &'w World, check: &'w Check, workers: usize) -> Self {
        Run {
            world,
            check,
            workers,
        }
    }

    fn explore(self, pool: &Pool) -> Result<Report, Stop> {
        let world = self.world;
        let slots = world.heap.slot_count();
        let tasks = world.tasks();
        if tasks > TASK_MASK as usize {
            // The single worker reports it.
            return Err(Stop::Found(0));
        }
        let mut interned = Interned {
            heap_id: world.heap.id(),
            slots,
            objects: Vec::new(),
            object_ids: HashMap::default(),
            gotos: Vec::new(),
            goto_ids: HashMap::default(),
        };
        // The initial state, interned.
        let mut state: Vec<u32> = vec![0; HEADER + slots + tasks + 1];
        let mut fingerprint = 0u64;
        for slot in 0..slots as u32 {
            let object = world.heap.object(slot);
            let term = slot_term(slot, object);
            state[HEADER + slot as usize] = interned.object(slot, object, term);
            fingerprint = fingerprint.wrapping_add(term);
        }
        for task in 0..tasks as u32 {
            let goto = world.pending[task as usize].clone();
            let term = task_term(task, &goto);
            state[HEADER + slots + task as usize] = interned.goto(task, goto, term);
            fingerprint = fingerprint.wrapping_add(term);
        }
        set_header(&mut state, slots, 0, 0, fingerprint);
        let lanes: Vec<Lane> = (0..self.workers)
            .map(|index| Lane {
                interned: replicate(&interned),
                own: Own::new(
                    world.heap.clone(),
                    state[HEADER..HEADER + slots].to_vec(),
                    slots,
                    index,
                ),
            })
            .collect();
        let levels = Levels {
            shared: Shared {
                layout: &world.heap,
                check: self.check,
                workers: self.workers,
                slots,
                visited: SharedTable::new(),
                reserved: AtomicUsize::new(1),
                halt: AtomicU8::new(RUNNING),
            },
            interned,
            memo: Memo::default(),
            lanes,
            reads: ReadsSoFar::default(),
            profile: Profile::new(self.workers),
            peak_bytes: 0,
        };
        let mut report = pool.install(move |worker| levels.run(worker, state, fingerprint))?;
        report.tasks = tasks;
        Ok(report)
    }
}

/// Everything the levels need, moved onto the pool's first worker (what it holds is `Send`:
/// each worker's copy of the tables of transitions, which are not `Sync`, is its own).
struct Levels<'a> {
    shared: Shared<'a>,
    /// The tables as the barrier grows them, and the memo merged at each barrier.
    interned: Interned,
    memo: Memo,
    lanes: Vec<Lane>,
    /// What the properties read in the levels done (merged from the lanes at each barrier).
    reads: ReadsSoFar,
    profile: Profile,
    peak_bytes: usize,
}

/// What the workers of every phase share.
struct Shared<'a> {
    layout: &'a Heap,
    check: &'a Check,
    workers: usize,
    slots: usize,
    visited: SharedTable,
    reserved: AtomicUsize,
    halt: AtomicU8,
}

impl Shared<'_> {
    fn level<'s>(
        &'s self,
        inputs: &'s [Share],
        chunk: usize,
        base_bytes: usize,
        reads: &'s ReadsSoFar,
    ) -> Level<'s> {
        Level {
            layout: self.layout,
            check: self.check,
            slots: self.slots,
            visited: &self.visited,
            reserved: &self.reserved,
            halt: &self.halt,
            inputs,
            chunk,
            base_bytes,
            workers: self.workers,
            reads,
        }
    }
}

impl Levels<'_> {
    fn run(mut self, worker: &Worker, state: Vec<u32>, fingerprint: u64) -> Result<Report, Stop> {
        let serial = Timer::start();
        let mut phases_cpu = std::time::Duration::ZERO;
        let check = self.shared.check;
        let slots = self.shared.slots;
        let workers = self.shared.workers;
        // The initial state is stored and checked like any other (at level 0).
        self.shared.visited.claim(1);
        self.shared.visited.insert(fingerprint);
        self.shared.visited.settle(1);
        {
            let level = self.shared.level(&[], MAX_CHUNK, 0, &self.reads);
            let own = &mut self.lanes[0].own;
            let ok = stored_ok(&level, &self.interned, own, &state, fingerprint, false);
            own.out.push(&state);
            if !ok {
                return Err(Stop::Found(0));
            }
        }
        let mut depth_level = 0u32;
        let mut peak_frontier = 0usize;
        let mut peak_frontier_bytes = 0usize;
        let mut previous = 1usize;
        loop {
            // The reads of every evaluation so far (the initial state's, the last level's and
            // its barrier's) decide this level's skipped invariants.
            for lane in &self.lanes {
                self.reads.merge(&lane.own.reads);
            }
            let inputs: Vec<Share> = self
                .lanes
                .iter_mut()
                .map(|lane| {
                    let last = std::mem::replace(&mut lane.own.out, Frontier::new(false, slots));
                    Share::new(
                        std::mem::take(&mut lane.own.sealed)
                            .into_iter()
                            .chain(std::iter::once(last)),
                    )
                })
                .collect();
            let chunks = || inputs.iter().flat_map(Share::chunks);
            let waiting: usize = chunks().map(|f| f.len()).sum();
            if waiting == 0 {
                break;
            }
            self.profile.levels += 1;
            let frontier_bytes: usize = chunks().map(|f| f.capacity_bytes()).sum();
            if waiting > peak_frontier {
                peak_frontier = waiting;
                peak_frontier_bytes = chunks().map(|f| f.used_bytes()).sum();
            }
            let held = self.held_bytes() + frontier_bytes;
            self.peak_bytes = self.peak_bytes.max(held);
            if held > check.max_memory {
                return Err(Stop::Memory);
            }
            // This level will likely find as many new states per state as the last one did:
            // the table grows now, at the barrier, if it would have to in the level.
            let expected = (waiting as u128 * waiting as u128 / previous.max(1) as u128)
                .min(4 * waiting as u128) as usize;
            previous = waiting;
            let visited = &self.shared.visited;
            if visited.room() < expected
                && held + visited.bytes_after_growth(expected) <= check.max_memory
            {
                // A growth rehashes the whole table: sized for two levels like this one where
                // the budget allows, it is needed about half as often.
                let ahead = expected.saturating_mul(2);
                let room = if held + visited.bytes_after_growth(ahead) <= check.max_memory {
                    ahead
                } else {
                    expected
                };
                self.grow(worker, held, room)?;
            }
            let solo = waiting < SOLO_LEVEL;
            if solo {
                self.profile.solo_levels += 1;
            }
            let chunk = (expected / (workers * CHUNKS_PER_WORKER)).clamp(MIN_CHUNK, MAX_CHUNK);
            loop {
                let base = self.held_bytes() + frontier_bytes;
                let outcome = if solo {
                    self.shared.visited.free_retired();
                    let level = self.shared.level(&inputs, chunk, base, &self.reads);
                    work(&level, &mut self.lanes[0], &self.memo)
                } else {
                    let started = Instant::now();
                    let level = self.shared.level(&inputs, chunk, base, &self.reads);
                    let memo = &self.memo;
                    let scope_timer = Timer::start();
                    let times = worker.scope(|scope| {
                        let mut lanes = self.lanes.iter_mut();
                        let mine = lanes.next().expect("a check has at least one worker");
                        let handles: Vec<_> = lanes
                            .map(|lane| {
                                let level = &level;
                                scope.spawn(move |_| timed(|| work(level, lane, memo)))
                            })
                            .collect();
                        let mut times = vec![timed(|| work(&level, mine, memo))];
                        times.extend(handles.into_iter().map(|handle| handle.sync()));
                        times
                    });
                    let cpus: Vec<_> = times.iter().map(|&(_, cpu, wall)| (cpu, wall)).collect();
                    // The calling thread's CPU over the whole scope: spawning, its share, and
                    // waiting for the other workers (spinning before it parks).
                    let scope_cpu = scope_timer.stop().0;
                    phases_cpu += scope_cpu;
                    self.profile.phase(&cpus, scope_cpu, started.elapsed());
                    let outcomes: Vec<Outcome> = times.iter().map(|t| t.0).collect();
                    if outcomes.contains(&Outcome::Halt) {
                        Outcome::Halt
                    } else if outcomes.contains(&Outcome::Full) {
                        Outcome::Full
                    } else {
                        Outcome::Done
                    }
                };
                if let Some(stop) = stop_of(&self.shared.halt, depth_level) {
                    return Err(stop);
                }
                self.settle();
                match outcome {
                    Outcome::Done => break,
                    Outcome::Full => {
                        self.profile.mid_level_growths += 1;
                        let held = self.held_bytes() + frontier_bytes + self.out_bytes();
                        self.grow(worker, held, 0)?;
                    }
                    Outcome::Halt => {
                        return Err(stop_of(&self.shared.halt, depth_level)
                            .unwrap_or(Stop::Found(depth_level)));
                    }
                }
            }
            debug_assert!(self.lanes.iter().all(|lane| !lane.own.pending()));
            // The barrier: deferred steps alone, the tables growing.
            let deferred: Vec<(Vec<u32>, u32)> = self
                .lanes
                .iter_mut()
                .flat_map(|lane| std::mem::take(&mut lane.own.deferred))
                .collect();
            self.profile.redone += deferred.len() as u64;
            let grown = !deferred.is_empty();
            for (node, task) in deferred {
                loop {
                    let base = self.held_bytes() + self.out_bytes();
                    let level = self.shared.level(&[], chunk, base, &self.reads);
                    let own = &mut self.lanes[0].own;
                    let expanded = expand_task(
                        &level,
                        own,
                        &mut self.interned,
                        &self.memo,
                        &node,
                        task,
                        None,
                    );
                    match expanded {
                        Expanded::Halt => {
                            return Err(stop_of(&self.shared.halt, depth_level)
                                .unwrap_or(Stop::Found(depth_level)));
                        }
                        Expanded::Full => {
                            self.settle();
                            let held = self.held_bytes() + self.out_bytes();
                            self.grow(worker, held, 0)?;
                        }
                        Expanded::Changed | Expanded::Waiting => break,
                    }
                }
            }
            self.settle();
            for lane in &mut self.lanes {
                self.memo.extend(lane.own.memo.drain());
                if grown {
                    lane.interned = replicate(&self.interned);
                }
            }
            depth_level += 1;
        }
        self.profile.serial_cpu = serial.stop().0.saturating_sub(phases_cpu);
        self.profile.restarted = self.lanes.iter().map(|lane| lane.own.restarted).sum();
        let states = (1 + self.lanes.iter().map(|l| l.own.stored).sum::<usize>()) as u64;
        debug_assert_eq!(states as usize, self.shared.visited.len());
        let visited_bytes = self.shared.visited.bytes();
        let peak_bytes = self.peak_bytes.max(self.held_bytes());
        let mut terminal: Vec<u64> = self
            .lanes
            .iter_mut()
            .flat_map(|lane| std::mem::take(&mut lane.own.terminal))
            .collect();
        terminal.sort_unstable();
        let cut = self.lanes.iter().any(|lane| lane.own.cut);
        Ok(Report {
            tasks: 0,
            states,
            transitions: self.lanes.iter().map(|lane| lane.own.transitions).sum(),
            depth: self
                .lanes
                .iter()
                .map(|lane| lane.own.depth)
                .max()
                .unwrap_or(0),
            elapsed: std::time::Duration::ZERO,
            liveness_elapsed: None,
            bytes_per_state: visited_bytes as f64 / states.max(1) as f64,
            total_bytes_per_state: peak_bytes as f64 / states.max(1) as f64,
            max_memory: check.max_memory,
            peak_frontier,
            frontier_bytes_per_state: if peak_frontier == 0 {
                0.0
            } else {
                peak_frontier_bytes as f64 / peak_frontier as f64
            },
            interned: (
                self.interned.objects.len() + self.interned.gotos.len(),
                self.interned.bytes(),
            ),
            verdict: if cut {
                Verdict::Incomplete(Bound::MaxDepth(check.max_depth))
            } else {
                Verdict::Holds
            },
            invariants: check.invariants.iter().map(|(n, _)| n.clone()).collect(),
            actions: check.actions.iter().map(|(n, _)| n.clone()).collect(),
            liveness: Vec::new(),
            fairness: check.fairness,
            deadlocks: check.deadlocks,
            notes: vec![self.profile.note(workers)],
            terminal,
            checkpoint: None,
        })
    }

    /// Counts the states the workers stored since the last call into the table, and takes back
    /// the room they hold (the table hands out what is left).
    fn settle(&mut self) {
        let mut inserted = 0;
        for lane in &mut self.lanes {
            inserted += std::mem::take(&mut lane.own.phase_stored);
            lane.own.room = 0;
        }
        self.shared.visited.settle(inserted);
    }

    /// Grows the visited table to have `room` more fingerprints (at least by 5/4) if the
    /// memory budget has room for it (`held` bytes are held).
    fn grow(&mut self, worker: &Worker, held: usize, room: usize) -> Result<(), Stop> {
        let visited = &mut self.shared.visited;
        if held + visited.bytes_after_growth(room) > self.shared.check.max_memory {
            return Err(Stop::Memory);
        }
        let timer = Timer::start();
        visited.grow(room, Some(worker), self.shared.workers);
        let (cpu, wall) = timer.stop();
        self.profile.growths += 1;
        self.profile.growth_cpu += cpu;
        self.profile.growth_wall += wall;
        self.peak_bytes = self.peak_bytes.max(held + visited.bytes());
        Ok(())
    }

    /// Bytes of the next level's frontier found so far.
    fn out_bytes(&self) -> usize {
        self.lanes
            .iter()
            .map(|lane| {
                lane.own.out.capacity_bytes()
                    + lane
                        .own
                        .sealed
                        .iter()
                        .map(Frontier::capacity_bytes)
                        .sum::<usize>()
            })
            .sum()
    }

    /// Bytes held besides the frontiers: visited table, intern and memo tables (the shared
    /// memo, and each worker's learnt steps and cache).
    fn held_bytes(&self) -> usize {
        self.shared.visited.bytes()
            + self.interned.bytes()
            + self.memo.capacity() * (size_of::<(StepInputs, Learnt)>() + 1)
            + self
                .lanes
                .iter()
                .map(|lane| lane.own.memo.bytes())
                .sum::<usize>()
    }
}

/// Runs `f`, with the CPU and wall time it took on this thread.
fn timed<T>(f: impl FnOnce() -> T) -> (T, std::time::Duration, std::time::Duration) {
    let timer = Timer::start();
    let value = f();
    let (cpu, wall) = timer.stop();
    (value, cpu, wall)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn stop_of(halt: &AtomicU8, level: u32) -> Option<Stop> {
    match halt.load(Ordering::Relaxed) {
        RUNNING => None,
        MEMORY => Some(Stop::Memory),
        _ => Some(Stop::Found(level)),
    }
}

// What the workers share must be shareable.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    fn sent<T: Send>() {}
    shared::<Heap>();
    shared::<Check>();
    shared::<SharedTable>();
    sent::<Lane>();
    shared::<Memo>();
};
