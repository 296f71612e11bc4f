//! The single-worker explorer: breadth-first (or depth-first) over collapse-compressed states,
//! with memoized steps. This file holds its state, its entry points and the record layout;
//! its children hold the exploration loop (`expand.rs`), the properties' checks
//! (`properties.rs`), partial-order reduction (`ample.rs`), checkpoints (`resume.rs`) and the
//! replay of counterexamples (`trace.rs`). Step application is `step.rs`, shared with the
//! parallel explorer.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::checkpoint::{CheckpointError, Saved, SavedGraph};
use super::frontier::Frontier;
use super::intern::{Identity, Interned, Learnt, Memo, NONE};
use super::liveness::{self, Graph, Lasso};
use super::por::{Reads, handles_in};
use super::report::{Bound, Report, TraceStep, Verdict, Violation, ViolationKind};
use super::step::{self, Fresh, Scratch};
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
#[path = "expand.rs"]
mod expand;
#[path = "properties.rs"]
mod properties;
#[path = "resume.rs"]
mod resume;
#[path = "trace.rs"]
mod trace;

const NO_PARENT: u32 = u32::MAX;

/// Breadth-first, how many nodes ahead of the one being expanded have their successors'
/// buckets of the visited table prefetched (see [`Explorer::run`]).
const LOOKAHEAD: usize = 4;

/// A node taken from the frontier ahead of its expansion: its record, and per task its
/// memoized step (`Learnt::UNKNOWN` if it has to run), found while prefetching.
#[derive(Default)]
struct Ahead {
    node: Vec<u32>,
    pre: Vec<Learnt>,
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
    memo: Memo,
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
            memo: Memo::default(),
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
    /// The bytes the check holds: visited states, parent links, the frontier, intern and memo
    /// tables, the state graph and the reduction's caches.
    pub(super) fn memory(&self, frontier: &Frontier) -> usize {
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
            + self.memo.bytes()
            + graph
            + handles(&self.object_handles)
            + handles(&self.goto_handles)
    }

    pub(super) fn progress(&self, last: &mut Instant, frontier: usize) {
        if last.elapsed() >= Duration::from_secs(1) {
            *last = Instant::now();
            eprintln!(
                "check: {} states, {} transitions, depth {}, frontier {}",
                self.states, self.transitions, self.depth, frontier
            );
        }
    }

    /// The step labels from the initial state to stored state `index`.
    pub(super) fn path(&self, index: u32) -> Vec<u32> {
        self.parents.path(index)
    }
}
