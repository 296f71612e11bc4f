//! Multi-core exploration ([`Check::workers`]): breadth-first by levels on the gears-runtime
//! pool.
//!
//! # The scheme
//!
//! Each level (all states at one distance from the initial state) is expanded by every worker
//! at once; the pool's scope ([`gears_runtime::pool::Worker::scope`]) spawns one job per worker
//! and its end is the barrier between levels. So a state is stored at its breadth-first
//! distance whatever the interleaving of the workers, the set of states of each level is the
//! single worker's, and state counts, depth and verdicts agree with it.
//!
//! - **Visited set:** `SHARDS` fingerprint tables (the single worker's [`FpTable`]), each
//!   behind its own lock, picked by a fingerprint's low bits (a table places entries by the
//!   high bits). Two workers meet on one lock 1 time in `SHARDS`. Each shard publishes its
//!   table's address beside the lock, so a worker prefetches the buckets of the next node's
//!   memoized successors an expansion ahead, as the single worker does, without locking.
//! - **Frontiers:** every worker appends the new states it finds to frontiers of its own, one
//!   per *part* (a fingerprint's part is fixed), difference-coded as the single worker's. The
//!   next level's work is every (worker, part) frontier, claimed one at a time from an atomic
//!   counter, so a worker on a busy core takes fewer of them.
//! - **Intern and memo tables:** frozen during a level, read by every worker without locks.
//!   A step whose outcome is a value or transition the tables do not hold yet (new values are
//!   rare: a program has few per component) is *deferred*: it is redone at the barrier, alone,
//!   with the tables growing, exactly as the single worker would do it. Steps a worker learnt
//!   during a level go into its own memo and are merged at the barrier.
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
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Instant;

use gears_runtime::pool::Pool;

use super::Check;
use super::explore::{self, HEADER, MAX_ALTERNATIVES, TASK_MASK, body, header, set_header};
use super::frontier::Frontier;
use super::intern::{GotoEntry, Interned, MAX_TAKEN, NONE, ObjectEntry, StepInputs, StepOutputs};
use super::report::{Bound, Report, Verdict};
use super::view::View;
use super::visited::FpTable;
use crate::code::Goto;
use crate::heap::{DataGearObject, Heap};
use crate::world::fingerprint::{FpHasher, slot_term, task_term};
use crate::world::{World, step_task};

/// Locks of the visited set; a power of two.
const SHARDS: usize = 64;
/// Frontier parts per worker: the units the workers claim (more than one each, so that a worker
/// slowed down by another process takes fewer).
const PARTS_PER_WORKER: usize = 8;
/// New states a worker stores between two looks at the memory estimate.
const MEMORY_EVERY: u32 = 4096;
/// State slots (against [`Check::max_states`]) a worker reserves at a time: one shared counter
/// touched per state would bounce its cache line between the cores on every insertion.
const RESERVE_CHUNK: usize = 1024;

/// One lock of the visited set, on a cache line of its own: two workers locking neighbouring
/// shards must not write the same line.
///
/// Beside the lock, the table's bucket address and count, republished whenever the table grows,
/// so that a worker can prefetch where a fingerprint will go without taking the lock (a stale
/// or torn pair gives a useless address, and a prefetch of any address is harmless).
#[repr(align(128))]
struct Shard(Mutex<FpTable>, AtomicUsize, AtomicUsize);

impl Shard {
    fn new() -> Self {
        let table = FpTable::new();
        let (base, buckets) = table.layout();
        Shard(
            Mutex::new(table),
            AtomicUsize::new(base),
            AtomicUsize::new(buckets),
        )
    }

    /// Starts loading the bucket `fingerprint` would go to.
    #[inline]
    fn prefetch(&self, fingerprint: u64) {
        let buckets = self.2.load(Ordering::Relaxed);
        let base = self.1.load(Ordering::Relaxed);
        let home = ((u128::from(fingerprint.max(1)) * buckets as u128) >> 64) as usize;
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let address = base.wrapping_add(home.wrapping_mul(64)) as *const i8;
            // SAFETY: a prefetch is a hint: it never faults and changes no memory, whatever the
            // address (here the bucket's, or garbage if the pair was torn by a growth).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(address) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (base, home);
    }
}

type Memo = HashMap<StepInputs, StepOutputs, BuildHasherDefault<FpHasher>>;

/// Why the parallel run ended before the state space was complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// A violation or a failing step while expanding this level.
    Found(u32),
    /// The memory estimate passed the budget, or the state slots ran out: the single worker
    /// runs the whole check (it may get further than the estimate).
    Memory,
}

const RUNNING: u8 = 0;
const FOUND: u8 = 1;
const MEMORY: u8 = 2;

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

/// The intern tables as a step sees them: frozen during a level, growing at the barrier.
trait Ids {
    fn table(&self) -> &Interned;
    /// The id of a value, if it has (or, growing, gets) one.
    fn object(
        &mut self,
        slot: u32,
        object: Option<&Arc<dyn DataGearObject>>,
        term: u64,
    ) -> Option<u32>;
    /// The id of a pending transition, if it has (or, growing, gets) one.
    fn goto(&mut self, task: u32, goto: Goto, term: u64) -> Option<u32>;
    /// Whether a step may be deferred to the barrier (false once there).
    fn frozen(&self) -> bool;
}

struct Frozen<'a>(&'a Interned);

impl Ids for Frozen<'_> {
    fn table(&self) -> &Interned {
        self.0
    }

    fn object(
        &mut self,
        slot: u32,
        object: Option<&Arc<dyn DataGearObject>>,
        term: u64,
    ) -> Option<u32> {
        let table = self.0;
        let mut id = *table.object_ids.get(&term)?;
        loop {
            let entry = &table.objects[id as usize];
            let same = entry.slot == slot
                && match (&entry.object, object) {
                    (None, None) => true,
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a.eq_object(&**b),
                    _ => false,
                };
            if same {
                return Some(id);
            }
            if entry.next == NONE {
                return None;
            }
            id = entry.next;
        }
    }

    fn goto(&mut self, task: u32, goto: Goto, term: u64) -> Option<u32> {
        let table = self.0;
        let mut id = *table.goto_ids.get(&term)?;
        while id != NONE {
            let entry = &table.gotos[id as usize];
            if entry.task == task && entry.goto == goto {
                return Some(id);
            }
            id = entry.next;
        }
        None
    }

    fn frozen(&self) -> bool {
        true
    }
}

struct Growing<'a>(&'a mut Interned);

impl Ids for Growing<'_> {
    fn table(&self) -> &Interned {
        self.0
    }

    fn object(
        &mut self,
        slot: u32,
        object: Option<&Arc<dyn DataGearObject>>,
        term: u64,
    ) -> Option<u32> {
        Some(self.0.object(slot, object, term))
    }

    fn goto(&mut self, task: u32, goto: Goto, term: u64) -> Option<u32> {
        Some(self.0.goto(task, goto, term))
    }

    fn frozen(&self) -> bool {
        false
    }
}

/// What every worker of a level shares.
struct Level<'a> {
    layout: &'a Heap,
    check: &'a Check,
    slots: usize,
    parts: usize,
    visited: &'a [Shard],
    /// State slots reserved by the workers so far (at least the states stored).
    reserved: &'a AtomicUsize,
    /// `RUNNING`, or why the workers stop.
    halt: &'a AtomicU8,
    /// The level's frontiers, and the next one to claim.
    inputs: &'a [Mutex<Frontier>],
    next_input: AtomicUsize,
    /// For the memory estimate: bytes held at the barrier.
    base_bytes: usize,
    workers: usize,
}

impl Level<'_> {
    fn halted(&self) -> bool {
        self.halt.load(Ordering::Relaxed) != RUNNING
    }

    fn stop(&self, why: u8) {
        self.halt.fetch_max(why, Ordering::Relaxed);
    }

    /// Stores a fingerprint; whether it was new.
    fn insert(&self, fingerprint: u64) -> bool {
        let shard = fingerprint as usize & (SHARDS - 1);
        let shard = &self.visited[shard];
        let mut table = lock(&shard.0);
        let new = table.insert(fingerprint);
        let (base, buckets) = table.layout();
        if buckets != shard.2.load(Ordering::Relaxed) {
            shard.1.store(base, Ordering::Relaxed);
            shard.2.store(buckets, Ordering::Relaxed);
        }
        new
    }

    /// Prefetches the visited-set bucket of `fingerprint`.
    #[inline]
    fn prefetch(&self, fingerprint: u64) {
        self.visited[fingerprint as usize & (SHARDS - 1)].prefetch(fingerprint);
    }
}

/// A worker: its replica of the intern tables and its own state, kept across levels.
///
/// Pending transitions hold code-gear arguments, which are `Send` but not `Sync`: a table of
/// them cannot be read by two threads at once, so each worker reads its own copy (refreshed at
/// the barrier when the tables grew; ids are the same in every copy). Data-gear values are
/// `Arc`s of `Sync` objects and are shared by the copies.
struct Lane {
    interned: Interned,
    own: Own,
}

/// A worker's scratch heap, memo, frontiers and counts.
struct Own {
    scratch: Heap,
    scratch_ids: Vec<u32>,
    /// Steps learnt this level, merged into the shared memo at the barrier.
    memo: Memo,
    /// The next level's states this worker found, by part.
    out: Vec<Frontier>,
    /// `(node, task)`: steps redone at the barrier.
    deferred: Vec<(Vec<u32>, u32)>,
    transitions: u64,
    terminal: Vec<u64>,
    depth: u32,
    cut: bool,
    since_memory: u32,
    /// Reserved state slots not used yet; states stored, in all and in this level.
    budget: usize,
    stored: usize,
    level_stored: usize,
    node: Vec<u32>,
    next_state: Vec<u32>,
    writes: Vec<(u32, u32, u32)>,
    spawned: Vec<Goto>,
    spawned_ids: Vec<u32>,
}

/// One step's outcome for the expansion.
enum Step {
    Next(u32),
    Defer,
    Failed,
}

/// One task's expansion.
enum Expanded {
    /// Some successor differs from the state.
    Changed,
    /// Every successor is the state itself (the task waits).
    Waiting,
    /// The run must stop ([`Level::halt`] says why).
    Halt,
}

struct Run<'w> {
    world: &'w World,
    check: &'w Check,
    workers: usize,
    interned: Interned,
    memo: Memo,
}

impl<'w> Run<'w> {
    fn new(world: &'w World, check: &'w Check, workers: usize) -> Self {
        Run {
            world,
            check,
            workers,
            interned: Interned {
                heap_id: world.heap.id(),
                slots: world.heap.slot_count(),
                objects: Vec::new(),
                object_ids: HashMap::default(),
                gotos: Vec::new(),
                goto_ids: HashMap::default(),
            },
            memo: Memo::default(),
        }
    }

    fn explore(mut self, pool: &Pool) -> Result<Report, Stop> {
        let world = self.world;
        let check = self.check;
        let slots = world.heap.slot_count();
        let tasks = world.tasks();
        if tasks > TASK_MASK as usize {
            // The single worker reports it.
            return Err(Stop::Found(0));
        }
        // The initial state, interned.
        let mut state: Vec<u32> = vec![0; HEADER + slots + tasks + 1];
        let mut fingerprint = 0u64;
        for slot in 0..slots as u32 {
            let object = world.heap.object(slot);
            let term = slot_term(slot, object);
            state[HEADER + slot as usize] = self.interned.object(slot, object, term);
            fingerprint = fingerprint.wrapping_add(term);
        }
        for task in 0..tasks as u32 {
            let goto = world.pending[task as usize].clone();
            let term = task_term(task, &goto);
            state[HEADER + slots + task as usize] = self.interned.goto(task, goto, term);
            fingerprint = fingerprint.wrapping_add(term);
        }
        set_header(&mut state, slots, 0, 0, fingerprint);
        let visited: Vec<Shard> = (0..SHARDS).map(|_| Shard::new()).collect();
        let reserved = AtomicUsize::new(1);
        let halt = AtomicU8::new(RUNNING);
        let parts = self.workers * PARTS_PER_WORKER;
        let mut lanes: Vec<Lane> = (0..self.workers)
            .map(|_| Lane {
                interned: replicate(&self.interned),
                own: Own {
                    scratch: world.heap.clone(),
                    scratch_ids: state[HEADER..HEADER + slots].to_vec(),
                    memo: Memo::default(),
                    out: (0..parts).map(|_| Frontier::new(false, slots)).collect(),
                    deferred: Vec::new(),
                    transitions: 0,
                    terminal: Vec::new(),
                    depth: 0,
                    cut: false,
                    since_memory: 0,
                    budget: 0,
                    stored: 0,
                    level_stored: 0,
                    node: Vec::new(),
                    next_state: Vec::new(),
                    writes: Vec::new(),
                    spawned: Vec::new(),
                    spawned_ids: Vec::new(),
                },
            })
            .collect();
        // The initial state is stored and checked like any other (at level 0).
        {
            let level = self.level(&visited, &reserved, &halt, &[], 0);
            level.insert(fingerprint);
            if !stored_ok(
                &level,
                &self.interned,
                &mut lanes[0].own,
                &state,
                fingerprint,
            ) {
                return Err(Stop::Found(0));
            }
        }
        lanes[0].own.out[0].push(&state);
        let mut depth_level = 0u32;
        let mut peak_frontier = 0usize;
        let mut peak_frontier_bytes = 0usize;
        let mut peak_bytes = 0usize;
        loop {
            let inputs: Vec<Mutex<Frontier>> = lanes
                .iter_mut()
                .flat_map(|lane| lane.own.out.iter_mut())
                .filter(|frontier| !frontier.is_empty())
                .map(|frontier| {
                    Mutex::new(std::mem::replace(frontier, Frontier::new(false, slots)))
                })
                .collect();
            if inputs.is_empty() {
                break;
            }
            let waiting: usize = inputs.iter().map(|f| lock(f).len()).sum();
            let frontier_bytes: usize = inputs.iter().map(|f| lock(f).capacity_bytes()).sum();
            if waiting > peak_frontier {
                peak_frontier = waiting;
                peak_frontier_bytes = inputs.iter().map(|f| lock(f).used_bytes()).sum();
            }
            let held = self.held_bytes(&visited) + frontier_bytes;
            peak_bytes = peak_bytes.max(held);
            if held > check.max_memory {
                return Err(Stop::Memory);
            }
            for lane in &mut lanes {
                lane.own.level_stored = 0;
            }
            {
                let level = self.level(&visited, &reserved, &halt, &inputs, held);
                let memo = &self.memo;
                pool.install(|worker| {
                    worker.scope(|scope| {
                        let mut lanes = lanes.iter_mut();
                        let mine = lanes.next().expect("a check has at least one worker");
                        for lane in lanes {
                            let level = &level;
                            scope.spawn(move |_| work(level, lane, memo));
                        }
                        work(&level, mine, memo);
                    });
                });
                if let Some(stop) = stop_of(&halt, depth_level) {
                    return Err(stop);
                }
            }
            // The barrier: deferred steps alone, the tables growing.
            let level = Level {
                layout: &world.heap,
                check,
                slots,
                parts,
                visited: &visited,
                reserved: &reserved,
                halt: &halt,
                inputs: &[],
                next_input: AtomicUsize::new(0),
                base_bytes: held,
                workers: self.workers,
            };
            let deferred: Vec<(Vec<u32>, u32)> = lanes
                .iter_mut()
                .flat_map(|lane| std::mem::take(&mut lane.own.deferred))
                .collect();
            let grown = !deferred.is_empty();
            let lane = &mut lanes[0].own;
            for (node, task) in deferred {
                let mut ids = Growing(&mut self.interned);
                if let Expanded::Halt = expand_task(&level, lane, &mut ids, &self.memo, &node, task)
                {
                    return Err(stop_of(&halt, depth_level).unwrap_or(Stop::Found(depth_level)));
                }
            }
            for lane in &mut lanes {
                self.memo.extend(lane.own.memo.drain());
                if grown {
                    lane.interned = replicate(&self.interned);
                }
            }
            depth_level += 1;
        }
        let states = (1 + lanes.iter().map(|l| l.own.stored).sum::<usize>()) as u64;
        let visited_bytes: usize = visited.iter().map(|t| lock(&t.0).bytes()).sum();
        let peak_bytes = peak_bytes.max(self.held_bytes(&visited));
        let mut terminal: Vec<u64> = lanes
            .iter_mut()
            .flat_map(|lane| std::mem::take(&mut lane.own.terminal))
            .collect();
        terminal.sort_unstable();
        let cut = lanes.iter().any(|lane| lane.own.cut);
        Ok(Report {
            tasks,
            states,
            transitions: lanes.iter().map(|lane| lane.own.transitions).sum(),
            depth: lanes.iter().map(|lane| lane.own.depth).max().unwrap_or(0),
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
            notes: vec![format!("{} workers, breadth-first by levels", self.workers)],
            terminal,
            checkpoint: None,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn level<'a>(
        &'a self,
        visited: &'a [Shard],
        reserved: &'a AtomicUsize,
        halt: &'a AtomicU8,
        inputs: &'a [Mutex<Frontier>],
        base_bytes: usize,
    ) -> Level<'a> {
        Level {
            layout: &self.world.heap,
            check: self.check,
            slots: self.world.heap.slot_count(),
            parts: self.workers * PARTS_PER_WORKER,
            visited,
            reserved,
            halt,
            inputs,
            next_input: AtomicUsize::new(0),
            base_bytes,
            workers: self.workers,
        }
    }

    /// Bytes held besides the frontiers: visited tables, intern and memo tables.
    fn held_bytes(&self, visited: &[Shard]) -> usize {
        visited.iter().map(|t| lock(&t.0).bytes()).sum::<usize>()
            + self.interned.bytes()
            + self.memo.capacity() * (size_of::<(StepInputs, StepOutputs)>() + 1)
    }
}

/// A copy of the intern tables, entry for entry (so ids agree).
fn replicate(table: &Interned) -> Interned {
    Interned {
        heap_id: table.heap_id,
        slots: table.slots,
        objects: table
            .objects
            .iter()
            .map(|entry| ObjectEntry {
                slot: entry.slot,
                object: entry.object.clone(),
                term: entry.term,
                next: entry.next,
            })
            .collect(),
        object_ids: table.object_ids.clone(),
        gotos: table
            .gotos
            .iter()
            .map(|entry| GotoEntry {
                task: entry.task,
                goto: entry.goto.clone(),
                term: entry.term,
                exit: entry.exit,
                next: entry.next,
                taken: entry.taken.clone(),
                memoizable: entry.memoizable,
                alternatives: entry.alternatives.clone(),
            })
            .collect(),
        goto_ids: table.goto_ids.clone(),
    }
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

/// A worker's share of a level: claims frontiers until none is left or the run stops.
fn work(level: &Level<'_>, lane: &mut Lane, memo: &Memo) {
    let mut ids = Frozen(&lane.interned);
    let lane = &mut lane.own;
    let mut node = std::mem::take(&mut lane.node);
    let mut ahead = Vec::new();
    'claim: loop {
        let unit = level.next_input.fetch_add(1, Ordering::Relaxed);
        let Some(input) = level.inputs.get(unit) else {
            break;
        };
        let mut frontier = lock(input);
        // The next node is taken one expansion early and its memoized successors' buckets
        // prefetched then, so that their insertions find them in the cache.
        let mut have_ahead = false;
        while have_ahead || !frontier.is_empty() {
            if level.halted() {
                break 'claim;
            }
            if have_ahead {
                std::mem::swap(&mut node, &mut ahead);
                have_ahead = false;
            } else {
                frontier.pop(&mut node, false, level.slots);
            }
            if !frontier.is_empty() {
                frontier.pop(&mut ahead, false, level.slots);
                prefetch_successors(level, lane, ids.0, memo, &ahead);
                have_ahead = true;
            }
            if !expand_node(level, lane, &mut ids, memo, &node) {
                break 'claim;
            }
        }
        // Done with it: free its memory now.
        *frontier = Frontier::new(false, level.slots);
    }
    lane.node = node;
}

/// Prefetches the visited-set buckets of a node's memoized successors.
fn prefetch_successors(
    level: &Level<'_>,
    lane: &mut Own,
    table: &Interned,
    memo: &Memo,
    node: &[u32],
) {
    let slots = level.slots;
    let tasks = node[4] as usize;
    let (_, _, fingerprint) = header(node);
    let slot_ids = &node[HEADER..HEADER + slots];
    for task in 0..tasks {
        let goto_id = node[HEADER + slots + task];
        let entry = &table.gotos[goto_id as usize];
        if entry.exit || entry.alternatives.is_some() {
            continue;
        }
        let Some(next) = memoized(table, memo, &lane.memo, goto_id, slot_ids, &mut lane.writes)
        else {
            continue;
        };
        let mut base = fingerprint.wrapping_sub(entry.term);
        for &(_, before, after) in &lane.writes {
            base = base
                .wrapping_sub(table.objects[before as usize].term)
                .wrapping_add(table.objects[after as usize].term);
        }
        match &table.gotos[next as usize].alternatives {
            None => level.prefetch(base.wrapping_add(table.gotos[next as usize].term)),
            Some(alternatives) => {
                for &alternative in alternatives.iter() {
                    level.prefetch(base.wrapping_add(table.gotos[alternative as usize].term));
                }
            }
        }
    }
}

/// Expands every task of a state; false if the run must stop.
fn expand_node(
    level: &Level<'_>,
    lane: &mut Own,
    ids: &mut Frozen<'_>,
    memo: &Memo,
    node: &[u32],
) -> bool {
    let slots = level.slots;
    let tasks = node[4] as usize;
    let (_, depth, _) = header(node);
    let gotos = &ids.table().gotos;
    let task_ids = &node[HEADER + slots..HEADER + slots + tasks];
    if task_ids.iter().all(|&id| gotos[id as usize].exit) {
        return true;
    }
    if depth >= level.check.max_depth {
        lane.cut = true;
        return true;
    }
    let mut all_self_loops = true;
    for task in 0..tasks as u32 {
        let goto_id = node[HEADER + slots + task as usize];
        if ids.table().gotos[goto_id as usize].exit {
            continue;
        }
        lane.transitions += 1;
        match expand_task(level, lane, ids, memo, node, task) {
            Expanded::Changed => all_self_loops = false,
            Expanded::Waiting => {}
            Expanded::Halt => return false,
        }
    }
    if all_self_loops && level.check.deadlocks {
        level.stop(FOUND);
        return false;
    }
    true
}

/// The memoized step of `goto_id` from a state with `slot_ids`: its next transition, with its
/// writes in `writes`.
fn memoized(
    table: &Interned,
    shared: &Memo,
    own: &Memo,
    goto_id: u32,
    slot_ids: &[u32],
    writes: &mut Vec<(u32, u32, u32)>,
) -> Option<u32> {
    let entry = &table.gotos[goto_id as usize];
    if !entry.memoizable {
        return None;
    }
    let mut inputs = StepInputs {
        goto: goto_id,
        taken: [NONE; MAX_TAKEN],
    };
    for (i, &(slot, _)) in entry.taken.iter().enumerate() {
        inputs.taken[i] = slot_ids[slot as usize];
    }
    let outputs = shared.get(&inputs).or_else(|| own.get(&inputs))?;
    writes.clear();
    for (i, &(slot, is_mut)) in entry.taken.iter().enumerate() {
        if is_mut && inputs.taken[i] != outputs.taken[i] {
            writes.push((slot, inputs.taken[i], outputs.taken[i]));
        }
    }
    Some(outputs.next)
}

/// Runs the step of `task` on the lane's scratch heap (as the single worker's `step`), or
/// defers it when its outcome has no id in frozen tables.
#[allow(clippy::too_many_arguments)]
fn run_step<I: Ids>(
    lane: &mut Own,
    ids: &mut I,
    slot_ids: &[u32],
    task: u32,
    goto_id: u32,
    depth: u32,
) -> Step {
    for (slot, (&want, have)) in slot_ids.iter().zip(lane.scratch_ids.iter_mut()).enumerate() {
        if want != *have {
            lane.scratch.put_object(
                slot as u32,
                ids.table().objects[want as usize].object.clone(),
            );
            *have = want;
        }
    }
    let goto = ids.table().gotos[goto_id as usize].goto.clone();
    lane.spawned.clear();
    let next = match step_task(
        &mut lane.scratch,
        task,
        goto,
        u64::from(depth),
        &mut lane.spawned,
    ) {
        Ok(next) => next,
        Err(_) => return Step::Failed,
    };
    let entry = &ids.table().gotos[goto_id as usize];
    let taken = entry.taken.clone();
    let memoizable = entry.memoizable;
    let mut inputs = StepInputs {
        goto: goto_id,
        taken: [NONE; MAX_TAKEN],
    };
    let mut outputs = StepOutputs {
        next: NONE,
        taken: [NONE; MAX_TAKEN],
    };
    let mut unknown = false;
    lane.writes.clear();
    for (i, &(slot, is_mut)) in taken.iter().enumerate() {
        let before = slot_ids[slot as usize];
        let mut after = before;
        if is_mut && !lane.writes.iter().any(|&(written, _, _)| written == slot) {
            let object = lane.scratch.object(slot);
            let unchanged = match (&ids.table().objects[before as usize].object, object) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            };
            if !unchanged {
                match ids.object(slot, object, slot_term(slot, object)) {
                    Some(id) => after = id,
                    None => unknown = true,
                }
                lane.writes.push((slot, before, after));
            }
        }
        if i < MAX_TAKEN {
            inputs.taken[i] = before;
            outputs.taken[i] = after;
        }
    }
    // Back to the state being expanded, for the next task.
    for &(slot, before, _) in &lane.writes {
        lane.scratch
            .put_object(slot, ids.table().objects[before as usize].object.clone());
    }
    let next_term = task_term(task, &next);
    let next_id = if unknown {
        None
    } else {
        ids.goto(task, next, next_term)
    };
    let Some(next_id) = next_id.filter(|_| !ids.frozen() || lane.spawned.is_empty()) else {
        // A new value, a new transition, or new tasks: redone at the barrier.
        return Step::Defer;
    };
    lane.writes.retain(|&(_, before, after)| before != after);
    outputs.next = next_id;
    if memoizable && lane.spawned.is_empty() {
        lane.memo.insert(inputs, outputs);
    }
    Step::Next(next_id)
}

/// Expands one task of `node`: every successor stored, checked and queued.
fn expand_task<I: Ids>(
    level: &Level<'_>,
    lane: &mut Own,
    ids: &mut I,
    memo: &Memo,
    node: &[u32],
    task: u32,
) -> Expanded {
    let slots = level.slots;
    let (_, depth, fingerprint) = header(node);
    let tasks = node[4] as usize;
    let goto_id = node[HEADER + slots + task as usize];
    let slot_ids = &node[HEADER..HEADER + slots];
    lane.spawned.clear();
    let next = if ids.table().gotos[goto_id as usize].alternatives.is_some() {
        // A choice pending from the start: resolving it is the step.
        lane.writes.clear();
        goto_id
    } else if let Some(next) = memoized(
        ids.table(),
        memo,
        &lane.memo,
        goto_id,
        slot_ids,
        &mut lane.writes,
    ) {
        next
    } else {
        match run_step(lane, ids, slot_ids, task, goto_id, depth) {
            Step::Next(next) => next,
            Step::Defer => {
                lane.deferred.push((node.to_vec(), task));
                // A value or transition no state had: the state changes.
                return Expanded::Changed;
            }
            Step::Failed => {
                level.stop(FOUND);
                return Expanded::Halt;
            }
        }
    };
    let mut base = fingerprint.wrapping_sub(ids.table().gotos[goto_id as usize].term);
    for &(_, before, after) in &lane.writes {
        let objects = &ids.table().objects;
        base = base
            .wrapping_sub(objects[before as usize].term)
            .wrapping_add(objects[after as usize].term);
    }
    lane.spawned_ids.clear();
    if !lane.spawned.is_empty() {
        if tasks + lane.spawned.len() > TASK_MASK as usize {
            level.stop(FOUND);
            return Expanded::Halt;
        }
        for (i, first) in std::mem::take(&mut lane.spawned).into_iter().enumerate() {
            let position = (tasks + i) as u32;
            let term = task_term(position, &first);
            let Some(id) = ids.goto(position, first, term) else {
                unreachable!("steps that start tasks are taken at the barrier only")
            };
            lane.spawned_ids.push(id);
            base = base.wrapping_add(term);
        }
    }
    let table = ids.table();
    let choices = match &table.gotos[next as usize].alternatives {
        None => 1,
        Some(alternatives) if alternatives.is_empty() => {
            // `choose!` with no alternative: an error the single worker reports.
            level.stop(FOUND);
            return Expanded::Halt;
        }
        Some(alternatives) => alternatives.len().min(MAX_ALTERNATIVES),
    };
    let mut changed = false;
    for alternative in 0..choices {
        let next = match &table.gotos[next as usize].alternatives {
            None => next,
            Some(alternatives) => alternatives[alternative],
        };
        let successor = base.wrapping_add(table.gotos[next as usize].term);
        if successor == fingerprint && lane.spawned_ids.is_empty() {
            continue;
        }
        changed = true;
        let next_state = &mut lane.next_state;
        next_state.clear();
        next_state.extend_from_slice(&node[..node.len() - 1]);
        for &(slot, _, after) in &lane.writes {
            next_state[HEADER + slot as usize] = after;
        }
        next_state[HEADER + slots + task as usize] = next;
        next_state.extend_from_slice(&lane.spawned_ids);
        next_state.push(0);
        set_header(next_state, slots, 0, depth + 1, successor);
        if !level.check.actions.is_empty() && failed_action(level, table, node, next_state) {
            level.stop(FOUND);
            return Expanded::Halt;
        }
        if !level.insert(successor) {
            continue;
        }
        if !reserve(level, lane) {
            // The reserved slots may overshoot the states stored: the single worker decides.
            level.stop(MEMORY);
            return Expanded::Halt;
        }
        let record = std::mem::take(&mut lane.next_state);
        let ok = stored_ok(level, table, lane, &record, successor);
        lane.depth = lane.depth.max(depth + 1);
        let part = (successor >> 32) as usize % level.parts;
        lane.out[part].push(&record);
        lane.next_state = record;
        if !ok {
            return Expanded::Halt;
        }
        lane.since_memory += 1;
        if lane.since_memory >= MEMORY_EVERY {
            lane.since_memory = 0;
            if over_budget(level, lane) {
                level.stop(MEMORY);
                return Expanded::Halt;
            }
        }
    }
    if changed {
        Expanded::Changed
    } else {
        Expanded::Waiting
    }
}

/// Checks a newly stored state's invariants (stopping the run if one is false) and records it
/// if terminal.
fn stored_ok(
    level: &Level<'_>,
    table: &Interned,
    lane: &mut Own,
    record: &[u32],
    fingerprint: u64,
) -> bool {
    let (slots, tasks) = body(record).split_at(level.slots);
    let view = View {
        layout: level.layout,
        slots,
        tasks,
        interned: table,
        reads: None,
    };
    if level
        .check
        .invariants
        .iter()
        .any(|(_, holds)| !holds(&view))
    {
        level.stop(FOUND);
        return false;
    }
    if level.check.terminal_states && tasks.iter().all(|&id| table.gotos[id as usize].exit) {
        lane.terminal.push(fingerprint);
    }
    true
}

/// Whether an action property is false of the step from `before` to `after`.
fn failed_action(level: &Level<'_>, table: &Interned, before: &[u32], after: &[u32]) -> bool {
    let view = |record: &[u32]| {
        let (slots, tasks) = body(record).split_at(level.slots);
        (slots.to_vec(), tasks.to_vec())
    };
    let (before_slots, before_tasks) = view(before);
    let (after_slots, after_tasks) = view(after);
    let before = View {
        layout: level.layout,
        slots: &before_slots,
        tasks: &before_tasks,
        interned: table,
        reads: None,
    };
    let after = View {
        layout: level.layout,
        slots: &after_slots,
        tasks: &after_tasks,
        interned: table,
        reads: None,
    };
    level
        .check
        .actions
        .iter()
        .any(|(_, holds)| !holds(&before, &after))
}

/// Takes one state slot against [`Check::max_states`]; false if the bound is reached. Slots
/// are reserved in chunks, so the run may stop a little before the bound (other workers'
/// unused slots count): it then hands over to the single worker, which stops exactly at it.
fn reserve(level: &Level<'_>, lane: &mut Own) -> bool {
    if lane.budget == 0 {
        let before = level.reserved.fetch_add(RESERVE_CHUNK, Ordering::Relaxed);
        let room = level.check.max_states.saturating_sub(before);
        if room == 0 {
            return false;
        }
        lane.budget = room.min(RESERVE_CHUNK);
    }
    lane.budget -= 1;
    lane.stored += 1;
    lane.level_stored += 1;
    true
}

/// The memory estimate: what the barrier counted, plus the states stored since (their table
/// slots, with the table's growth headroom) and the frontiers being filled (this worker's,
/// times the workers).
fn over_budget(level: &Level<'_>, lane: &Own) -> bool {
    let new_states = lane.level_stored * level.workers;
    let frontiers: usize = lane.out.iter().map(Frontier::capacity_bytes).sum();
    let estimate = level.base_bytes + new_states * 12 + frontiers * level.workers;
    estimate > level.check.max_memory
}

// What the workers share must be shareable.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    fn sent<T: Send>() {}
    shared::<Heap>();
    shared::<Check>();
    sent::<Lane>();
    shared::<Memo>();
};
