//! The explorer: breadth-first (or depth-first) over collapse-compressed states, with memoized
//! steps, and the replay of counterexamples.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::checkpoint::{CheckpointError, Saved, SavedGraph};
use super::frontier::Frontier;
use super::intern::{Identity, Interned, MAX_TAKEN, NONE, StepInputs, StepOutputs};
use super::liveness::{self, Graph, Lasso};
use super::por::{Reads, handles_in};
use super::report::{Bound, Report, TraceStep, Verdict, Violation, ViolationKind};
use super::view::View;
use super::visited::{FpTable, ParentLog, Parents};
use super::{Check, Fairness, Liveness};
use crate::code::Goto;
use crate::error::Error;
use crate::heap::Heap;
use crate::world::fingerprint::{FpHasher, slot_term, task_term};
use crate::world::{World, step_task, taken_gears};

// Children of the explorer: they reach its private fields.
#[path = "ample.rs"]
mod ample;
#[path = "resume.rs"]
mod resume;
#[path = "trace.rs"]
mod trace;

const NO_PARENT: u32 = u32::MAX;

/// Breadth-first, how many nodes ahead of the one being expanded have their successors'
/// buckets of the visited table prefetched (see [`Explorer::run`]).
const LOOKAHEAD: usize = 4;

/// A node taken from the frontier ahead of its expansion: its record, and per task its
/// memoized step (next transition, or `NONE`) and writes, found while prefetching.
#[derive(Default)]
struct Ahead {
    node: Vec<u32>,
    next: Vec<u32>,
    writes: Vec<(u32, u32, u32)>,
    ranges: Vec<(u32, u32)>,
}

/// An edge's (and a parent link's) label: the task in the low bits, the alternative it took
/// (`choose!`) above [`ALTERNATIVE_SHIFT`].
pub(super) const TASK_MASK: u32 = (1 << ALTERNATIVE_SHIFT) - 1;
const ALTERNATIVE_SHIFT: u32 = 24;
/// Alternatives of one choice the checker tells apart in a label.
pub(super) const MAX_ALTERNATIVES: usize = 1 << (32 - ALTERNATIVE_SHIFT);

fn label(task: u32, alternative: usize) -> u32 {
    task | ((alternative as u32) << ALTERNATIVE_SHIFT)
}

/// Words of a frontier record before the component ids: index, depth, fingerprint (2), number
/// of tasks. After the ids comes one more word, the record's length (so that a stack can be
/// popped from its end).
pub(super) const HEADER: usize = 5;

/// A record's component ids: slots, then tasks.
pub(super) fn body(record: &[u32]) -> &[u32] {
    &record[HEADER..record.len() - 1]
}

/// The visited set: fingerprints (or symmetry keys); with the state graph, each with its
/// state's index, so that an edge to a visited state can be recorded.
enum Visited {
    Set(FpTable),
    Map(HashMap<u64, u32, BuildHasherDefault<Identity>>),
}

impl Visited {
    /// Stores `key` as state `index`; `Err` with the index of the state already stored under it
    /// (`NO_PARENT` without the graph).
    #[inline]
    fn insert(&mut self, key: u64, index: u32) -> Result<(), u32> {
        match self {
            Visited::Set(table) => {
                if table.insert(key) {
                    Ok(())
                } else {
                    Err(NO_PARENT)
                }
            }
            Visited::Map(map) => match map.entry(key) {
                std::collections::hash_map::Entry::Occupied(entry) => Err(*entry.get()),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    entry.insert(index);
                    Ok(())
                }
            },
        }
    }

    #[inline]
    fn prefetch(&self, key: u64) {
        if let Visited::Set(table) = self {
            table.prefetch(key);
        }
    }

    /// Whether the next insertion may grow the table.
    #[inline]
    fn near_growth(&self) -> bool {
        match self {
            Visited::Set(table) => table.near_growth(),
            Visited::Map(map) => map.len() + 1 >= map.capacity(),
        }
    }

    /// Bytes the next growth would allocate (the old table is freed after).
    fn growth_bytes(&self) -> usize {
        match self {
            Visited::Set(table) => table.bytes_after_growth(),
            Visited::Map(map) => (map.capacity().max(4) * 2) * (size_of::<(u64, u32)>() + 1),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Visited::Set(table) => table.bytes(),
            Visited::Map(map) => map.capacity() * (size_of::<(u64, u32)>() + 1),
        }
    }
}

/// Per liveness property, what it asks of each state; one bit per state each.
struct Labels {
    /// Per stored state, a bit per predicate slot (see [`Explorer::label_state`]).
    bits: Vec<Vec<u64>>,
}

impl Labels {
    fn get(&self, slot: usize, state: u32) -> bool {
        self.bits[slot][state as usize / 64] & (1 << (state % 64)) != 0
    }
}

/// The state graph kept for liveness: every edge, and the predicates' values per state.
struct GraphLog {
    edges: Vec<(u32, u32, u32)>,
    /// With partial-order reduction: `(state, task)` of each enabled task whose step a reduced
    /// state did not expand (fairness is about the program's enabledness).
    postponed: Vec<(u32, u32)>,
    labels: Labels,
}

struct Explorer<'w> {
    world: &'w World,
    check: Check,
    visited: Visited,
    /// Per stored state: (parent index, label of the step from it).
    parents: Parents,
    /// States stored.
    states: usize,
    transitions: u64,
    depth: u32,
    peak_frontier: usize,
    terminal: Vec<u64>,
    interned: Interned,
    memo: HashMap<StepInputs, StepOutputs, BuildHasherDefault<FpHasher>>,
    /// The next transition of the last memo hit.
    memo_next: u32,
    /// With liveness properties: the graph.
    graph: Option<GraphLog>,
    /// Whether symmetry reduction is in force (not with liveness).
    symmetry: bool,
    /// Whether partial-order reduction is in force (not with liveness or symmetry).
    por: bool,
    /// What the properties have read.
    reads: Reads,
    /// Per object id and per transition id: the slots of the handles its value holds.
    object_handles: Vec<Option<Box<[u32]>>>,
    goto_handles: Vec<Option<Box<[u32]>>>,
    /// Scratch of the ample-set search.
    ample: AmpleScratch,
    /// States expanded through an ample set smaller than all their tasks.
    reduced: u64,
    /// The properties read something new after a reduction relied on their reads.
    restart: bool,
    /// Breadth-first: the index of the first stored state at each depth.
    level_first: Vec<u32>,
    /// The most memory the check held, as [`Explorer::memory`] counts it.
    peak_bytes: usize,
    /// Insertions since the memory was last counted.
    uncounted: u32,
    /// Bytes of the frontier when it held the most states.
    peak_frontier_bytes: usize,
    /// Scratch of [`Explorer::prefetch_successors`].
    prefetch_writes: Vec<(u32, u32, u32)>,
    /// When the check started (for [`Check::max_time`]).
    started: Instant,
    /// A checkpoint to go on from, taken by [`Explorer::run`], and the file it came from.
    resume: Option<(Saved, PathBuf)>,
    /// Why resuming failed.
    resume_error: Option<CheckpointError>,
    /// With a checkpoint path, once a bound stopped the run: the states left to expand, in
    /// order (the one being expanded first).
    suspended: Option<Vec<u32>>,
}

/// What the explorer had counted when it began expanding a node: taken back if a bound stops
/// the expansion and the node is saved to be expanded again.
#[derive(Clone, Copy)]
struct NodeMark {
    transitions: u64,
    edges: usize,
    postponed: usize,
}

#[derive(Default)]
struct AmpleScratch {
    /// Reach of each task: `reach[offsets[u]..offsets[u + 1]]`.
    reach: Vec<u32>,
    offsets: Vec<usize>,
    /// `seen[slot] == stamp`: in the reach being built (or in the footprint).
    seen: Vec<u32>,
    stamp: u32,
    queue: Vec<u32>,
    set: Vec<u32>,
    best: Vec<u32>,
    in_set: Vec<bool>,
    /// The order tasks are expanded in: the ample set first.
    order: Vec<u32>,
}

enum Found {
    /// Invariant `name` is false in stored state `index`.
    Always(String, u32),
    /// Action `name` is false of the step labelled `label` from state `index`.
    Action(String, u32, u32),
    /// Task `task`'s step from state `index` failed.
    Error(Error, u32, u32),
    /// State `index` is a deadlock.
    Deadlock(u32),
    /// Liveness property `name` fails: the path to `source`, then the lasso.
    Liveness(String, Lasso),
    /// A liveness property's predicate panicked in stored state `index` (an invariant or
    /// action that panics is `Always`/`Action`, turned into the panic by `counterexample`).
    PropertyPanicked(u32),
    Bound(Bound),
}

pub(in crate::world) fn explore(world: &World, check: Check) -> Report {
    explore_from(world, check, None).expect("a check that does not resume cannot fail to")
}

/// [`World::resume`]: the checkpoint at `path`, validated against `world` and `check`, explored
/// on.
pub(in crate::world) fn resume(
    world: &World,
    check: Check,
    path: &Path,
) -> Result<Report, CheckpointError> {
    let saved = Saved::read(path)?;
    let (slots, tasks) = (world.heap.slot_count() as u32, world.tasks() as u32);
    let program = world.fingerprint();
    if saved.program != program || saved.slots != slots || saved.tasks != tasks {
        return Err(CheckpointError::OtherProgram {
            path: path.to_path_buf(),
            expected: program,
            found: saved.program,
            expected_slots: slots,
            found_slots: saved.slots,
            expected_tasks: tasks,
            found_tasks: saved.tasks,
        });
    }
    let signature = check.signature();
    if saved.signature != signature {
        return Err(CheckpointError::OtherCheck {
            path: path.to_path_buf(),
            expected: signature,
            found: saved.signature,
        });
    }
    if saved.graph.is_some() == check.liveness.is_empty() {
        return Err(CheckpointError::Corrupted {
            path: path.to_path_buf(),
            detail: "the state graph does not match the liveness properties".into(),
        });
    }
    explore_from(world, check, Some((saved, path.to_path_buf())))
}

fn explore_from(
    world: &World,
    check: Check,
    mut resume: Option<(Saved, PathBuf)>,
) -> Result<Report, CheckpointError> {
    let started = Instant::now();
    let mut notes = Vec::new();
    let live = !check.liveness.is_empty();
    if live && check.symmetry.is_some() {
        notes.push(
            "symmetry reduction off: liveness properties are checked on the real state graph"
                .to_string(),
        );
    }
    let slots_per_property: usize = check
        .liveness
        .iter()
        .map(|(_, property)| match property {
            Liveness::LeadsTo(..) => 2,
            _ => 1,
        })
        .sum();
    // Symmetry reduction is in force only without liveness properties; partial-order
    // reduction only without symmetry reduction in force (see `por.rs`).
    let symmetry = check.symmetry.is_some() && !live;
    let por = check.partial_order && !symmetry;
    if check.partial_order && !por {
        notes.push(
            "partial-order reduction off: it is not combined with symmetry reduction".to_string(),
        );
    }
    let mut check = check;
    let mut reads = Reads::new(world.heap.slot_count());
    if let Some((saved, _)) = &resume {
        reads = Reads::from_flags(
            world.heap.slot_count(),
            &saved.read_slots,
            &saved.read_tasks,
        );
    }
    // Checkpoints need each state's index: the visited map and explicit parent links.
    let indexed = check.checkpoint.is_some() || resume.is_some();
    let mut explorer;
    let mut found;
    loop {
        let pairs = live || por || check.depth_first || indexed;
        explorer = Explorer {
            world,
            symmetry,
            check,
            visited: if live || por || indexed {
                Visited::Map(HashMap::default())
            } else {
                Visited::Set(FpTable::new())
            },
            parents: if pairs {
                Parents::Pairs(Vec::new())
            } else {
                Parents::Log(ParentLog::new())
            },
            states: 0,
            transitions: 0,
            depth: 0,
            peak_frontier: 0,
            terminal: Vec::new(),
            interned: Interned {
                heap_id: world.heap.id(),
                slots: world.heap.slot_count(),
                objects: Vec::new(),
                object_ids: HashMap::default(),
                gotos: Vec::new(),
                goto_ids: HashMap::default(),
            },
            memo: HashMap::default(),
            memo_next: NONE,
            graph: live.then(|| GraphLog {
                edges: Vec::new(),
                postponed: Vec::new(),
                labels: Labels {
                    bits: vec![Vec::new(); slots_per_property],
                },
            }),
            por,
            reads,
            object_handles: Vec::new(),
            goto_handles: Vec::new(),
            ample: AmpleScratch::default(),
            reduced: 0,
            restart: false,
            level_first: vec![0],
            peak_bytes: 0,
            uncounted: 0,
            peak_frontier_bytes: 0,
            prefetch_writes: Vec::new(),
            started,
            resume: resume.take(),
            resume_error: None,
            suspended: None,
        };
        found = explorer.run();
        if let Some(error) = explorer.resume_error.take() {
            return Err(error);
        }
        explorer.peak_bytes = explorer
            .peak_bytes
            .max(explorer.memory(&Frontier::new(true, 0)));
        if !explorer.restart {
            break;
        }
        // The properties read a gear or task the reduction took as invisible: again, with it.
        reads = explorer.reads.snapshot();
        check = explorer.check;
    }
    let mut checkpoint = None;
    if let (Some(Found::Bound(_)), Some(order)) = (&found, explorer.suspended.take()) {
        let path = explorer
            .check
            .checkpoint
            .clone()
            .expect("suspended only with a checkpoint path");
        match explorer.saved(order).write(&path) {
            Ok(()) => checkpoint = Some(path),
            Err(error) => notes.push(format!(
                "checkpoint not written: {error}: {}",
                std::error::Error::source(&error).map_or(String::new(), |s| s.to_string())
            )),
        }
    }
    if explorer.reduced > 0 {
        notes.push(format!(
            "partial-order reduction: {} of {} expanded states took an ample set",
            explorer.reduced, explorer.states
        ));
    }
    let mut graph_bytes = explorer.graph.as_ref().map_or(0, |g| {
        g.edges.capacity() * 12
            + g.postponed.capacity() * 8
            + g.labels
                .bits
                .iter()
                .map(|b| b.capacity() * 8)
                .sum::<usize>()
    });
    let mut liveness_elapsed = None;
    if found.is_none()
        && let Some(log) = explorer.graph.take()
    {
        let analysed = Instant::now();
        let labels = log.labels;
        let graph = Graph::reduced(explorer.states, log.edges, log.postponed);
        graph_bytes = graph_bytes.max(graph.bytes());
        found = explorer.liveness(&graph, &labels);
        liveness_elapsed = Some(analysed.elapsed());
    }
    let verdict = match found {
        None => Verdict::Holds,
        Some(Found::Bound(bound)) => Verdict::Incomplete(bound),
        Some(found) => Verdict::Violated(explorer.counterexample(found)),
    };
    let states = explorer.states as u64;
    // One fingerprint per stored state (and one more if `max_states` stopped the check: the
    // state over the bound was inserted, then not stored).
    debug_assert!(
        !matches!(&explorer.visited, Visited::Set(table)
            if table.len() - explorer.states > 1),
        "one fingerprint per stored state"
    );
    let stored = explorer.visited.bytes() + explorer.parents.bytes() + graph_bytes;
    explorer.terminal.sort_unstable();
    Ok(Report {
        tasks: world.tasks(),
        states,
        transitions: explorer.transitions,
        depth: explorer.depth,
        elapsed: started.elapsed(),
        liveness_elapsed,
        bytes_per_state: stored as f64 / states.max(1) as f64,
        total_bytes_per_state: explorer.peak_bytes.max(stored) as f64 / states.max(1) as f64,
        max_memory: explorer.check.max_memory,
        peak_frontier: explorer.peak_frontier,
        frontier_bytes_per_state: if explorer.peak_frontier == 0 {
            0.0
        } else {
            explorer.peak_frontier_bytes as f64 / explorer.peak_frontier as f64
        },
        interned: (
            explorer.interned.objects.len() + explorer.interned.gotos.len(),
            explorer.interned.bytes(),
        ),
        verdict,
        invariants: names(&explorer.check.invariants),
        actions: names(&explorer.check.actions),
        liveness: names(&explorer.check.liveness),
        fairness: explorer.check.fairness,
        deadlocks: explorer.check.deadlocks,
        notes,
        checkpoint,
        terminal: explorer.terminal,
    })
}

fn names<T>(list: &[(String, T)]) -> Vec<String> {
    list.iter().map(|(name, _)| name.clone()).collect()
}

/// Fills a record's header and trailer; its ids are `slots` slot ids, then task ids.
pub(super) fn set_header(
    record: &mut [u32],
    slots: usize,
    index: u32,
    depth: u32,
    fingerprint: u64,
) {
    let len = record.len();
    record[0] = index;
    record[1] = depth;
    record[2] = fingerprint as u32;
    record[3] = (fingerprint >> 32) as u32;
    record[4] = (len - HEADER - 1 - slots) as u32;
    record[len - 1] = len as u32;
}

pub(super) fn header(record: &[u32]) -> (u32, u32, u64) {
    (
        record[0],
        record[1],
        u64::from(record[2]) | (u64::from(record[3]) << 32),
    )
}

impl Explorer<'_> {
    fn run(&mut self) -> Option<Found> {
        let world = self.world;
        let slots = world.heap.slot_count();
        let tasks = world.tasks();
        assert!(
            tasks <= TASK_MASK as usize,
            "the checker labels steps with 24-bit task ids: at most {TASK_MASK} tasks"
        );

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
        debug_assert_eq!(fingerprint, world.fingerprint());
        set_header(&mut state, slots, 0, 0, fingerprint);
        let key = self.class_of(body(&state), fingerprint);
        let resumed = self.resume.take();
        if let Some((saved, path)) = &resumed {
            if let Err(error) = self.restore(saved, path, key) {
                self.resume_error = Some(error);
                return None;
            }
        } else {
            let _ = self.visited.insert(key, 0);
            self.states = 1;
            if let Some(found) = self.stored(0, body(&state), fingerprint) {
                return Some(found);
            }
        }
        // Reads the properties make in the initial state are known before any reduction.
        self.reads.settle();

        // Runs the steps the memo has not seen; holds the object of `scratch_ids` per slot.
        let mut scratch = world.heap.clone();
        let mut scratch_ids: Vec<u32> = state[HEADER..HEADER + slots].to_vec();
        let mut frontier = Frontier::new(self.check.depth_first, slots);
        match &resumed {
            None => frontier.push(&state),
            Some((saved, path)) => {
                // Depth-first, the frontier is a stack: pushed in reverse, popped in order.
                let order: Vec<u32> = if self.check.depth_first {
                    saved.frontier.iter().rev().copied().collect()
                } else {
                    // Breadth-first the frontier is the states after the last expanded one,
                    // in order, and its indices are implicit.
                    let first = saved.frontier.first().copied().unwrap_or(0);
                    if !saved.frontier.iter().zip(first..).all(|(&s, i)| s == i) {
                        self.resume_error = Some(CheckpointError::Corrupted {
                            path: path.clone(),
                            detail: "a breadth-first frontier out of order".into(),
                        });
                        return None;
                    }
                    frontier.first_index(first);
                    saved.frontier.clone()
                };
                for index in order {
                    let steps = self.path(index);
                    let row = match self.replay_row(&state, &steps, &mut scratch, &mut scratch_ids)
                    {
                        Ok(row)
                            if self.class_of(body(&row), header(&row).2)
                                == saved.keys[index as usize] =>
                        {
                            row
                        }
                        other => {
                            self.resume_error = Some(CheckpointError::Diverged {
                                path: path.clone(),
                                state: index,
                                source: other.err().flatten(),
                            });
                            return None;
                        }
                    };
                    let mut row = row;
                    let len = row.len();
                    row[0] = index;
                    row[len - 1] = len as u32;
                    frontier.push(&row);
                }
                self.peak_frontier = self.peak_frontier.max(frontier.len());
            }
        }
        let mut node: Vec<u32> = Vec::with_capacity(state.len());
        let mut next_state: Vec<u32> = Vec::with_capacity(state.len());
        // (slot, object id before, after) of the gears the current step wrote.
        let mut writes: Vec<(u32, u32, u32)> = Vec::new();
        // The tasks the current step spawned, and their ids and terms in the successor.
        let mut spawned: Vec<Goto> = Vec::new();
        let mut spawned_ids: Vec<u32> = Vec::new();
        // Per task of the node being expanded: its memoized step (next transition, or `NONE`
        // if it has to run) and its writes, found in a first pass that prefetches the
        // successors' slots of the visited table.
        let mut pre_next: Vec<u32> = Vec::new();
        let mut pre_writes: Vec<(u32, u32, u32)> = Vec::new();
        let mut pre_ranges: Vec<(u32, u32)> = Vec::new();
        let prefetching = matches!(self.visited, Visited::Set(_)) && !self.symmetry;
        let mut last_progress = Instant::now();
        let mut expanded: u64 = 0;
        let mut cut = false;
        let always_build = self.symmetry || !self.check.actions.is_empty();
        let mut first = true;
        // Breadth-first, the nodes after the one being expanded are taken from the frontier
        // early and their successors' buckets of the visited table prefetched then,
        // [`LOOKAHEAD`] expansions ahead of their insertions (prefetching at the start of the
        // same expansion was too late to hide the miss, which was a third of the check's
        // time). Depth-first, the next node is one this expansion pushes, so there is no
        // lookahead.
        let lookahead = prefetching && !self.check.depth_first;
        let mut window: VecDeque<Ahead> = VecDeque::with_capacity(LOOKAHEAD + 1);
        let mut spare: Vec<Ahead> = Vec::with_capacity(LOOKAHEAD + 1);
        while !window.is_empty() || !frontier.is_empty() {
            // The previous node is done (breadth-first parent links count children per node).
            if !first {
                self.parents.expanded();
            }
            first = false;
            if lookahead {
                while window.len() <= LOOKAHEAD && !frontier.is_empty() {
                    let mut ahead = spare.pop().unwrap_or_default();
                    frontier.pop(&mut ahead.node, false, slots);
                    let (_, _, fingerprint) = header(&ahead.node);
                    let tasks = ahead.node[4] as usize;
                    self.prefetch_successors(
                        &ahead.node,
                        slots,
                        tasks,
                        fingerprint,
                        &mut ahead.next,
                        &mut ahead.writes,
                        &mut ahead.ranges,
                    );
                    window.push_back(ahead);
                }
                let mut current = window.pop_front().expect("a node is waiting");
                std::mem::swap(&mut node, &mut current.node);
                std::mem::swap(&mut pre_next, &mut current.next);
                std::mem::swap(&mut pre_writes, &mut current.writes);
                std::mem::swap(&mut pre_ranges, &mut current.ranges);
                spare.push(current);
            } else {
                frontier.pop(&mut node, self.check.depth_first, slots);
            }
            let (index, depth, fingerprint) = header(&node);
            let tasks = node[4] as usize;
            let mark = NodeMark {
                transitions: self.transitions,
                edges: self.graph.as_ref().map_or(0, |g| g.edges.len()),
                postponed: self.graph.as_ref().map_or(0, |g| g.postponed.len()),
            };
            expanded += 1;
            if self.check.progress && expanded.is_multiple_of(1 << 14) {
                self.progress(&mut last_progress, frontier.len());
            }
            let gotos = &self.interned.gotos;
            let task_ids = HEADER + slots..HEADER + slots + tasks;
            if node[task_ids.clone()]
                .iter()
                .all(|&id| gotos[id as usize].exit)
            {
                continue;
            }
            if depth >= self.check.max_depth {
                cut = true;
                continue;
            }
            if prefetching && !lookahead {
                self.prefetch_successors(
                    &node,
                    slots,
                    tasks,
                    fingerprint,
                    &mut pre_next,
                    &mut pre_writes,
                    &mut pre_ranges,
                );
            }
            let mut all_self_loops = true;
            // With an ample set, its tasks come first; the rest only if the reduction fails.
            let ample = if self.por {
                self.ample_set(&node, slots, tasks)
            } else {
                None
            };
            let mut reduction_holds = true;
            // With liveness properties, the tasks a reduced state postpones are still probed:
            // whether each is enabled is recorded for the fairness analysis, nothing stored.
            let mut probing = false;
            for position in 0..tasks {
                if ample == Some(position) && reduction_holds {
                    self.reduced += 1;
                    if self.graph.is_none() {
                        break;
                    }
                    probing = true;
                }
                let task = if ample.is_some() {
                    self.ample.order[position]
                } else {
                    position as u32
                };
                let goto_id = node[HEADER + slots + task as usize];
                let entry = &self.interned.gotos[goto_id as usize];
                if entry.exit {
                    continue;
                }
                if !probing {
                    self.transitions += 1;
                }
                spawned.clear();
                let next = if entry.alternatives.is_some() {
                    // A choice pending from the start: resolving it is the step.
                    writes.clear();
                    goto_id
                } else if let Some(&next) = pre_next.get(task as usize)
                    && next != NONE
                {
                    let (start, end) = pre_ranges[task as usize];
                    writes.clear();
                    writes.extend_from_slice(&pre_writes[start as usize..end as usize]);
                    next
                } else if self.memoized(goto_id, &node[HEADER..HEADER + slots], &mut writes) {
                    self.memo_next
                } else {
                    match self.step(
                        &mut scratch,
                        &mut scratch_ids,
                        &node[HEADER..HEADER + slots],
                        task,
                        goto_id,
                        depth,
                        &mut writes,
                        &mut spawned,
                    ) {
                        Ok(next) => next,
                        Err(error) => return Some(Found::Error(error, index, task)),
                    }
                };
                let mut base = fingerprint.wrapping_sub(self.interned.gotos[goto_id as usize].term);
                for &(_, before, after) in &writes {
                    base = base
                        .wrapping_sub(self.interned.objects[before as usize].term)
                        .wrapping_add(self.interned.objects[after as usize].term);
                }
                spawned_ids.clear();
                if probing {
                    if !spawned.is_empty() || self.changes_state(next, base, fingerprint) {
                        let graph = self.graph.as_mut().expect("probing only with the graph");
                        graph.postponed.push((index, task));
                    }
                    continue;
                }
                if !spawned.is_empty() {
                    reduction_holds = false;
                    if tasks + spawned.len() > TASK_MASK as usize {
                        let error = crate::error::Error::from(crate::error::ErrorKind::Stopped {
                            reason: format!(
                                "the checker labels steps with 24-bit task ids: at most {TASK_MASK} tasks"
                            ),
                        });
                        return Some(Found::Error(error, index, task));
                    }
                    for (i, first) in spawned.drain(..).enumerate() {
                        let position = (tasks + i) as u32;
                        let term = task_term(position, &first);
                        spawned_ids.push(self.interned.goto(position, first, term));
                        base = base.wrapping_add(term);
                    }
                }
                let choices = match &self.interned.gotos[next as usize].alternatives {
                    None => 1,
                    Some(alternatives) if alternatives.is_empty() => {
                        let error = super::super::choice::no_alternative()
                            .at(
                                self.interned.gotos[goto_id as usize].goto.code_gear().name,
                                u64::from(depth),
                            )
                            .in_task(task);
                        return Some(Found::Error(error, index, task));
                    }
                    Some(alternatives) => alternatives.len().min(MAX_ALTERNATIVES),
                };
                for alternative in 0..choices {
                    let next = match &self.interned.gotos[next as usize].alternatives {
                        None => next,
                        Some(alternatives) => alternatives[alternative],
                    };
                    let successor = base.wrapping_add(self.interned.gotos[next as usize].term);
                    if successor == fingerprint && spawned_ids.is_empty() {
                        // A waiting step is a disabled transition: no reduction through it.
                        reduction_holds = false;
                        continue;
                    }
                    all_self_loops = false;
                    let step_label = label(task, alternative);
                    let build = |next_state: &mut Vec<u32>| {
                        next_state.clear();
                        next_state.extend_from_slice(&node[..node.len() - 1]);
                        for &(slot, _, after) in &writes {
                            next_state[HEADER + slot as usize] = after;
                        }
                        next_state[HEADER + slots + task as usize] = next;
                        next_state.extend_from_slice(&spawned_ids);
                        next_state.push(0);
                    };
                    if always_build {
                        build(&mut next_state);
                        set_header(&mut next_state, slots, 0, depth + 1, successor);
                        if let Some(name) = self.failed_action(body(&node), body(&next_state)) {
                            return Some(Found::Action(name, index, step_label));
                        }
                        if self.por && self.reads.settle() && self.reduced > 0 {
                            self.restart = true;
                            return None;
                        }
                    }
                    let key = if self.symmetry {
                        self.class_of(body(&next_state), successor)
                    } else {
                        successor
                    };
                    let new_index = self.states as u32;
                    self.uncounted += 1;
                    if self.uncounted >= 4096 || self.visited.near_growth() {
                        self.uncounted = 0;
                        // Counted before the tables grow: a check ends with a verdict, not
                        // with the allocator failing.
                        let now = self.memory(&frontier);
                        self.peak_bytes = self.peak_bytes.max(now);
                        let growth = self.visited.growth_bytes() + frontier.capacity_bytes();
                        let bound = if now + growth > self.check.max_memory {
                            Some(Bound::MaxMemory(self.check.max_memory))
                        } else if let Some(limit) = self.check.max_time
                            && self.started.elapsed() >= limit
                        {
                            Some(Bound::MaxTime(limit))
                        } else if let Some(flag) = &self.check.stop
                            && flag.load(Ordering::Relaxed)
                        {
                            Some(Bound::Stopped)
                        } else {
                            None
                        };
                        if let Some(bound) = bound {
                            self.suspend(
                                &mut frontier,
                                index,
                                window.iter().map(|ahead| header(&ahead.node).0),
                                mark,
                                slots,
                            );
                            return Some(Found::Bound(bound));
                        }
                    }
                    if let Err(existing) = self.visited.insert(key, new_index) {
                        if let Some(graph) = &mut self.graph {
                            graph.edges.push((index, existing, step_label));
                        }
                        // The cycle proviso: a reduced edge must not close a cycle. Breadth-
                        // first, an edge to a state of the next level (discovered from this
                        // level) cannot: every cycle has an edge that does not go one level
                        // down, and that edge is one of a fully expanded state.
                        let next_level = self.level_first.get(depth as usize + 1).copied();
                        if self.check.depth_first || next_level.is_none_or(|first| existing < first)
                        {
                            reduction_holds = false;
                        }
                        continue;
                    }
                    if !always_build {
                        build(&mut next_state);
                    }
                    if self.states >= self.check.max_states {
                        self.suspend(
                            &mut frontier,
                            index,
                            window.iter().map(|ahead| header(&ahead.node).0),
                            mark,
                            slots,
                        );
                        return Some(Found::Bound(Bound::MaxStates(self.check.max_states)));
                    }
                    self.parents.child(index, step_label);
                    self.states += 1;
                    if self.level_first.len() == depth as usize + 1 {
                        self.level_first.push(new_index);
                    }
                    if let Some(graph) = &mut self.graph {
                        graph.edges.push((index, new_index, step_label));
                    }
                    set_header(&mut next_state, slots, new_index, depth + 1, successor);
                    if let Some(found) = self.stored(new_index, body(&next_state), successor) {
                        return Some(found);
                    }
                    if self.restart {
                        return None;
                    }
                    self.depth = self.depth.max(depth + 1);
                    frontier.push(&next_state);
                    // Waiting: in the frontier, and taken ahead of their expansion (decoded,
                    // as plain words).
                    let waiting = frontier.len() + window.len();
                    if waiting > self.peak_frontier {
                        self.peak_frontier = waiting;
                        self.peak_frontier_bytes = frontier.used_bytes()
                            + window.iter().map(|a| a.node.len() * 4).sum::<usize>();
                    }
                }
            }
            if all_self_loops && self.check.deadlocks {
                return Some(Found::Deadlock(index));
            }
        }
        cut.then_some(Found::Bound(Bound::MaxDepth(self.check.max_depth)))
    }

    /// Whether a step whose successor is `base` plus the term of transition `next` (or, for a
    /// choice, of one of its alternatives) leaves the state with fingerprint `fingerprint`.
    fn changes_state(&self, next: u32, base: u64, fingerprint: u64) -> bool {
        let gotos = &self.interned.gotos;
        match &gotos[next as usize].alternatives {
            None => base.wrapping_add(gotos[next as usize].term) != fingerprint,
            Some(alternatives) => alternatives
                .iter()
                .any(|&a| base.wrapping_add(gotos[a as usize].term) != fingerprint),
        }
    }

    /// The bytes the check holds: visited states, parent links, the frontier, intern and memo
    /// tables, the state graph and the reduction's caches.
    fn memory(&self, frontier: &Frontier) -> usize {
        let graph = self.graph.as_ref().map_or(0, |g| {
            g.edges.capacity() * 12
                + g.postponed.capacity() * 8
                + g.labels
                    .bits
                    .iter()
                    .map(|b| b.capacity() * 8)
                    .sum::<usize>()
        });
        let handles = |cache: &Vec<Option<Box<[u32]>>>| {
            cache.capacity() * 16 + cache.iter().flatten().map(|h| h.len() * 4).sum::<usize>()
        };
        self.visited.bytes()
            + self.parents.bytes()
            + frontier.capacity_bytes()
            + self.interned.bytes()
            + self.memo.capacity() * (size_of::<(StepInputs, StepOutputs)>() + 1)
            + graph
            + handles(&self.object_handles)
            + handles(&self.goto_handles)
    }

    /// The first pass over a node's tasks: looks up each step in the memo, records it, and
    /// prefetches where each successor's fingerprint would be in the visited table.
    #[allow(clippy::too_many_arguments)]
    fn prefetch_successors(
        &mut self,
        node: &[u32],
        slots: usize,
        tasks: usize,
        fingerprint: u64,
        pre_next: &mut Vec<u32>,
        pre_writes: &mut Vec<(u32, u32, u32)>,
        pre_ranges: &mut Vec<(u32, u32)>,
    ) {
        pre_next.clear();
        pre_writes.clear();
        pre_ranges.clear();
        let mut writes = std::mem::take(&mut self.prefetch_writes);
        for task in 0..tasks {
            let goto_id = node[HEADER + slots + task];
            let entry = &self.interned.gotos[goto_id as usize];
            if entry.exit
                || entry.alternatives.is_some()
                || !self.memoized(goto_id, &node[HEADER..HEADER + slots], &mut writes)
            {
                pre_next.push(NONE);
                pre_ranges.push((0, 0));
                continue;
            }
            let next = self.memo_next;
            let start = pre_writes.len() as u32;
            pre_writes.extend_from_slice(&writes);
            pre_ranges.push((start, pre_writes.len() as u32));
            pre_next.push(next);
            let mut base = fingerprint.wrapping_sub(self.interned.gotos[goto_id as usize].term);
            for &(_, before, after) in &writes {
                base = base
                    .wrapping_sub(self.interned.objects[before as usize].term)
                    .wrapping_add(self.interned.objects[after as usize].term);
            }
            match &self.interned.gotos[next as usize].alternatives {
                None => self
                    .visited
                    .prefetch(base.wrapping_add(self.interned.gotos[next as usize].term)),
                Some(alternatives) => {
                    for &alternative in alternatives.iter() {
                        self.visited.prefetch(
                            base.wrapping_add(self.interned.gotos[alternative as usize].term),
                        );
                    }
                }
            }
        }
        self.prefetch_writes = writes;
    }

    /// The first action property false of the step from `before` to `after`.
    fn failed_action(&self, before: &[u32], after: &[u32]) -> Option<String> {
        let slots = self.world.heap.slot_count();
        let (before_slots, before_tasks) = before.split_at(slots);
        let (after_slots, after_tasks) = after.split_at(slots);
        let before = View {
            layout: &self.world.heap,
            slots: before_slots,
            tasks: before_tasks,
            interned: &self.interned,
            reads: self.por.then_some(&self.reads),
        };
        let after = View {
            layout: &self.world.heap,
            slots: after_slots,
            tasks: after_tasks,
            interned: &self.interned,
            reads: self.por.then_some(&self.reads),
        };
        self.check
            .actions
            .iter()
            .find(|(_, holds)| !holds(&before, &after))
            .map(|(name, _)| name.clone())
    }

    /// What the visited set stores for a state: its fingerprint, or with symmetry reduction the
    /// user's key of its symmetry class.
    fn class_of(&self, ids: &[u32], fingerprint: u64) -> u64 {
        match &self.check.symmetry {
            None => fingerprint,
            Some(canonical) => {
                let (slots, tasks) = ids.split_at(self.world.heap.slot_count());
                canonical(&View {
                    layout: &self.world.heap,
                    slots,
                    tasks,
                    interned: &self.interned,
                    reads: self.por.then_some(&self.reads),
                })
            }
        }
    }

    /// Whether the memo has the step of transition `goto_id` from a state with object ids
    /// `slot_ids`; if so, its writes are in `writes` and its next transition in `memo_next`.
    #[inline]
    fn memoized(
        &mut self,
        goto_id: u32,
        slot_ids: &[u32],
        writes: &mut Vec<(u32, u32, u32)>,
    ) -> bool {
        let entry = &self.interned.gotos[goto_id as usize];
        if !entry.memoizable {
            return false;
        }
        let mut inputs = StepInputs {
            goto: goto_id,
            taken: [NONE; MAX_TAKEN],
        };
        for (i, &(slot, _)) in entry.taken.iter().enumerate() {
            inputs.taken[i] = slot_ids[slot as usize];
        }
        let Some(outputs) = self.memo.get(&inputs) else {
            return false;
        };
        writes.clear();
        for (i, &(slot, is_mut)) in entry.taken.iter().enumerate() {
            if is_mut && inputs.taken[i] != outputs.taken[i] {
                writes.push((slot, inputs.taken[i], outputs.taken[i]));
            }
        }
        self.memo_next = outputs.next;
        true
    }

    /// Runs the step of `task` (transition `goto_id`) on the scratch heap, interns what it
    /// produced, fills `writes`, memoizes it if it can, and returns the next transition's id.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        scratch: &mut Heap,
        scratch_ids: &mut [u32],
        slot_ids: &[u32],
        task: u32,
        goto_id: u32,
        depth: u32,
        writes: &mut Vec<(u32, u32, u32)>,
        spawned: &mut Vec<Goto>,
    ) -> Result<u32, Error> {
        // The scratch heap becomes this state (only the slots that differ are replaced).
        for (slot, (&want, have)) in slot_ids.iter().zip(scratch_ids.iter_mut()).enumerate() {
            if want != *have {
                scratch.put_object(
                    slot as u32,
                    self.interned.objects[want as usize].object.clone(),
                );
                *have = want;
            }
        }
        let entry = &self.interned.gotos[goto_id as usize];
        let goto = entry.goto.clone();
        spawned.clear();
        let next = step_task(scratch, task, goto, u64::from(depth), spawned)?;
        // Metas installed with `World::observe_meta` see the step (issue 13's hook).
        let seen = &self.interned.gotos[goto_id as usize].goto;
        self.world
            .metas
            .observe(task, u64::from(depth), seen, &next);
        let next_term = task_term(task, &next);
        let next_id = self.interned.goto(task, next, next_term);
        let entry = &self.interned.gotos[goto_id as usize];
        let taken = entry.taken.clone();
        let memoizable = entry.memoizable;
        let mut inputs = StepInputs {
            goto: goto_id,
            taken: [NONE; MAX_TAKEN],
        };
        let mut outputs = StepOutputs {
            next: next_id,
            taken: [NONE; MAX_TAKEN],
        };
        writes.clear();
        for (i, &(slot, is_mut)) in taken.iter().enumerate() {
            let before = slot_ids[slot as usize];
            let mut after = before;
            if is_mut && !writes.iter().any(|&(written, _, _)| written == slot) {
                let object = scratch.object(slot);
                let unchanged = match (&self.interned.objects[before as usize].object, object) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    (None, None) => true,
                    _ => false,
                };
                if !unchanged {
                    after = self.interned.object(slot, object, slot_term(slot, object));
                    writes.push((slot, before, after));
                }
            }
            if i < MAX_TAKEN {
                inputs.taken[i] = before;
                outputs.taken[i] = after;
            }
        }
        // Back to the state being expanded, for the next task.
        for &(slot, before, _) in writes.iter() {
            scratch.put_object(slot, self.interned.objects[before as usize].object.clone());
        }
        writes.retain(|&(_, before, after)| before != after);
        // A step that spawns tasks is not memoized: its successor's new tasks depend on how
        // many the state has.
        if memoizable && spawned.is_empty() {
            self.memo.insert(inputs, outputs);
        }
        Ok(next_id)
    }

    /// Checks a newly stored state, and labels it for the liveness properties.
    fn stored(&mut self, index: u32, ids: &[u32], fingerprint: u64) -> Option<Found> {
        let (slots, tasks) = ids.split_at(self.world.heap.slot_count());
        let gotos = &self.interned.gotos;
        let view = View {
            layout: &self.world.heap,
            slots,
            tasks,
            interned: &self.interned,
            reads: self.por.then_some(&self.reads),
        };
        for (name, holds) in &self.check.invariants {
            if !holds(&view) {
                return Some(Found::Always(name.clone(), index));
            }
        }
        if self.por && self.reads.settle() && self.reduced > 0 {
            // A reduction relied on the reads as they were: start over with these.
            self.restart = true;
        }
        let finished = tasks.iter().all(|&id| gotos[id as usize].exit);
        if let Some(graph) = &mut self.graph {
            let mut slot = 0;
            let mut set = |slot: &mut usize, value: bool| {
                let bits = &mut graph.labels.bits[*slot];
                if bits.len() * 64 <= index as usize {
                    bits.push(0);
                }
                if value {
                    bits[index as usize / 64] |= 1 << (index % 64);
                }
                *slot += 1;
            };
            for (_, property) in &self.check.liveness {
                match property {
                    Liveness::Eventually(holds) => set(&mut slot, holds(&view)),
                    Liveness::LeadsTo(from, to) => {
                        set(&mut slot, from(&view));
                        set(&mut slot, to(&view));
                    }
                    Liveness::Finishes => set(&mut slot, finished),
                }
            }
        }
        if self.check.panicked.get().is_some() {
            return Some(Found::PropertyPanicked(index));
        }
        if self.check.terminal_states && finished {
            self.terminal.push(fingerprint);
        }
        None
    }

    /// Analyses the complete state graph for each liveness property in turn.
    fn liveness(&self, graph: &Graph, labels: &Labels) -> Option<Found> {
        let strong = self.check.fairness == Fairness::Strong;
        let tasks = self.world.tasks();
        let states = self.states as u32;
        let mut slot = 0;
        for (name, property) in &self.check.liveness {
            let lasso = match property {
                Liveness::Eventually(_) | Liveness::Finishes => {
                    let good = slot;
                    slot += 1;
                    liveness::find(graph, [0], &|s| !labels.get(good, s), strong, tasks)
                }
                Liveness::LeadsTo(..) => {
                    let (from, to) = (slot, slot + 1);
                    slot += 2;
                    let sources =
                        (0..states).filter(|&s| labels.get(from, s) && !labels.get(to, s));
                    liveness::find(graph, sources, &|s| !labels.get(to, s), strong, tasks)
                }
            };
            if let Some(lasso) = lasso {
                return Some(Found::Liveness(name.clone(), lasso));
            }
        }
        None
    }

    fn progress(&self, last: &mut Instant, frontier: usize) {
        if last.elapsed() >= Duration::from_secs(1) {
            *last = Instant::now();
            eprintln!(
                "check: {} states, {} transitions, depth {}, frontier {}",
                self.states, self.transitions, self.depth, frontier
            );
        }
    }

    /// The step labels from the initial state to stored state `index`.
    fn path(&self, index: u32) -> Vec<u32> {
        self.parents.path(index)
    }
}
