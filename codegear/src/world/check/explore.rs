//! The explorer: breadth-first (or depth-first) over collapse-compressed states, with memoized
//! steps, and the replay of counterexamples.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::intern::{FingerprintSet, Identity, Interned, MAX_TAKEN, NONE, StepInputs, StepOutputs};
use super::liveness::{self, Graph, Lasso};
use super::por::{Reads, handles_in};
use super::report::{Bound, Report, TraceStep, Verdict, Violation, ViolationKind};
use super::view::View;
use super::{Check, Fairness, Liveness};
use crate::code::Goto;
use crate::error::Error;
use crate::heap::Heap;
use crate::world::fingerprint::{FpHasher, slot_term, task_term};
use crate::world::{World, step_task, taken_gears};

const NO_PARENT: u32 = u32::MAX;

/// An edge's (and a parent link's) label: the task in the low bits, the alternative it took
/// (`choose!`) above [`ALTERNATIVE_SHIFT`].
pub(super) const TASK_MASK: u32 = (1 << ALTERNATIVE_SHIFT) - 1;
const ALTERNATIVE_SHIFT: u32 = 24;
/// Alternatives of one choice the checker tells apart in a label.
const MAX_ALTERNATIVES: usize = 1 << (32 - ALTERNATIVE_SHIFT);

fn label(task: u32, alternative: usize) -> u32 {
    task | ((alternative as u32) << ALTERNATIVE_SHIFT)
}

/// Words of a frontier record before the component ids: index, depth, fingerprint (2), number
/// of tasks. After the ids comes one more word, the record's length (so that a stack can be
/// popped from its end).
const HEADER: usize = 5;

/// A record's component ids: slots, then tasks.
fn body(record: &[u32]) -> &[u32] {
    &record[HEADER..record.len() - 1]
}

/// The visited set: fingerprints (or symmetry keys); with the state graph, each with its
/// state's index, so that an edge to a visited state can be recorded.
enum Visited {
    Set(FingerprintSet),
    Map(HashMap<u64, u32, BuildHasherDefault<Identity>>),
}

impl Visited {
    /// Stores `key` as state `index`; `Err` with the index of the state already stored under it
    /// (`NO_PARENT` without the graph).
    #[inline]
    fn insert(&mut self, key: u64, index: u32) -> Result<(), u32> {
        match self {
            Visited::Set(set) => {
                if set.insert(key) {
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

    fn bytes(&self) -> usize {
        match self {
            Visited::Set(set) => set.capacity() * (size_of::<u64>() + 1),
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
    labels: Labels,
}

struct Explorer<'w> {
    world: &'w World,
    check: Check,
    visited: Visited,
    /// Per stored state: (parent index, label of the step from it).
    parents: Vec<(u32, u32)>,
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
    Bound(Bound),
}

pub(in crate::world) fn explore(world: &World, check: Check) -> Report {
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
    let por = check.partial_order && !live && check.symmetry.is_none();
    if check.partial_order && !por {
        notes.push(
            "partial-order reduction off: it is not combined with liveness properties or symmetry reduction"
                .to_string(),
        );
    }
    let mut check = check;
    let mut reads = Reads::new(world.heap.slot_count());
    let mut explorer;
    let mut found;
    loop {
        explorer = Explorer {
            world,
            symmetry: check.symmetry.is_some() && !live,
            check,
            visited: if live || por {
                Visited::Map(HashMap::default())
            } else {
                Visited::Set(FingerprintSet::default())
            },
            parents: Vec::new(),
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
        };
        found = explorer.run();
        if !explorer.restart {
            break;
        }
        // The properties read a gear or task the reduction took as invisible: again, with it.
        reads = explorer.reads.snapshot();
        check = explorer.check;
    }
    if explorer.reduced > 0 {
        notes.push(format!(
            "partial-order reduction: {} of {} expanded states took an ample set",
            explorer.reduced,
            explorer.parents.len()
        ));
    }
    let mut graph_bytes = explorer.graph.as_ref().map_or(0, |g| {
        g.edges.capacity() * 12
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
        let graph = Graph::from_edges(explorer.parents.len(), log.edges);
        graph_bytes = graph_bytes.max(graph.bytes());
        found = explorer.liveness(&graph, &labels);
        liveness_elapsed = Some(analysed.elapsed());
    }
    let verdict = match found {
        None => Verdict::Holds,
        Some(Found::Bound(bound)) => Verdict::Incomplete(bound),
        Some(found) => Verdict::Violated(explorer.counterexample(found)),
    };
    let states = explorer.parents.len() as u64;
    let stored = explorer.visited.bytes()
        + explorer.parents.capacity() * size_of::<(u32, u32)>()
        + graph_bytes;
    explorer.terminal.sort_unstable();
    Report {
        tasks: world.tasks(),
        states,
        transitions: explorer.transitions,
        depth: explorer.depth,
        elapsed: started.elapsed(),
        liveness_elapsed,
        bytes_per_state: stored as f64 / states.max(1) as f64,
        peak_frontier: explorer.peak_frontier,
        frontier_bytes_per_state: (HEADER + world.heap.slot_count() + world.tasks() + 1)
            * size_of::<u32>(),
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
        terminal: explorer.terminal,
    }
}

fn names<T>(list: &[(String, T)]) -> Vec<String> {
    list.iter().map(|(name, _)| name.clone()).collect()
}

/// Fills a record's header and trailer; its ids are `slots` slot ids, then task ids.
fn set_header(record: &mut [u32], slots: usize, index: u32, depth: u32, fingerprint: u64) {
    let len = record.len();
    record[0] = index;
    record[1] = depth;
    record[2] = fingerprint as u32;
    record[3] = (fingerprint >> 32) as u32;
    record[4] = (len - HEADER - 1 - slots) as u32;
    record[len - 1] = len as u32;
}

fn header(record: &[u32]) -> (u32, u32, u64) {
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
        let _ = self.visited.insert(key, 0);
        self.parents.push((NO_PARENT, 0));
        if let Some(found) = self.stored(0, body(&state), fingerprint) {
            return Some(found);
        }
        // Reads the properties make in the initial state are known before any reduction.
        self.reads.settle();

        // Runs the steps the memo has not seen; holds the object of `scratch_ids` per slot.
        let mut scratch = world.heap.clone();
        let mut scratch_ids: Vec<u32> = state[HEADER..HEADER + slots].to_vec();
        let mut frontier: VecDeque<u32> = VecDeque::new();
        frontier.extend(&state);
        let mut node: Vec<u32> = Vec::with_capacity(state.len());
        let mut next_state: Vec<u32> = Vec::with_capacity(state.len());
        // (slot, object id before, after) of the gears the current step wrote.
        let mut writes: Vec<(u32, u32, u32)> = Vec::new();
        // The tasks the current step spawned, and their ids and terms in the successor.
        let mut spawned: Vec<Goto> = Vec::new();
        let mut spawned_ids: Vec<u32> = Vec::new();
        let mut last_progress = Instant::now();
        let mut expanded: u64 = 0;
        let mut cut = false;
        let always_build = self.symmetry || !self.check.actions.is_empty();
        while !frontier.is_empty() {
            node.clear();
            if self.check.depth_first {
                let len = *frontier.back().expect("not empty") as usize;
                node.extend(frontier.drain(frontier.len() - len..));
            } else {
                let len = HEADER + slots + frontier[4] as usize + 1;
                node.extend(frontier.drain(..len));
            }
            let (index, depth, fingerprint) = header(&node);
            let tasks = node[4] as usize;
            expanded += 1;
            if self.check.progress && expanded.is_multiple_of(1 << 14) {
                self.progress(&mut last_progress, frontier.len() / node.len());
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
            let mut all_self_loops = true;
            // With an ample set, its tasks come first; the rest only if the reduction fails.
            let ample = if self.por {
                self.ample_set(&node, slots, tasks)
            } else {
                None
            };
            let mut reduction_holds = true;
            for position in 0..tasks {
                if ample == Some(position) && reduction_holds {
                    self.reduced += 1;
                    break;
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
                self.transitions += 1;
                spawned.clear();
                let next = if entry.alternatives.is_some() {
                    // A choice pending from the start: resolving it is the step.
                    writes.clear();
                    goto_id
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
                    let new_index = self.parents.len() as u32;
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
                    if self.parents.len() >= self.check.max_states {
                        return Some(Found::Bound(Bound::MaxStates(self.check.max_states)));
                    }
                    self.parents.push((index, step_label));
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
                    frontier.extend(&next_state);
                    self.peak_frontier = self.peak_frontier.max(frontier.len() / next_state.len());
                }
            }
            if all_self_loops && self.check.deadlocks {
                return Some(Found::Deadlock(index));
            }
        }
        cut.then_some(Found::Bound(Bound::MaxDepth(self.check.max_depth)))
    }

    /// The slots of the handles in object `id` / transition `id`, computed once.
    fn ensure_handles(&mut self, node: &[u32], slots: usize, tasks: usize) {
        let heap_id = self.interned.heap_id;
        let to_slots = |raws: Vec<crate::gear::RawGear>| -> Box<[u32]> {
            let mut out: Vec<u32> = raws
                .into_iter()
                .filter(|raw| raw.owner() == heap_id && (raw.index() as usize) < slots)
                .map(|raw| raw.index())
                .collect();
            out.sort_unstable();
            out.dedup();
            out.into()
        };
        for &id in &node[HEADER..HEADER + slots] {
            let id = id as usize;
            if self.object_handles.len() <= id {
                self.object_handles
                    .resize(self.interned.objects.len().max(id + 1), None);
            }
            if self.object_handles[id].is_none() {
                let object = self.interned.objects[id].object.clone();
                let raws = handles_in(|| {
                    if let Some(object) = &object {
                        let mut hasher = FpHasher::default();
                        object.hash_object(&mut hasher);
                    }
                });
                self.object_handles[id] = Some(to_slots(raws));
            }
        }
        for &id in &node[HEADER + slots..HEADER + slots + tasks] {
            let id = id as usize;
            if self.goto_handles.len() <= id {
                self.goto_handles
                    .resize(self.interned.gotos.len().max(id + 1), None);
            }
            if self.goto_handles[id].is_none() {
                let goto = &self.interned.gotos[id].goto;
                let raws = handles_in(|| {
                    let mut hasher = FpHasher::default();
                    std::hash::Hash::hash(goto, &mut hasher);
                });
                self.goto_handles[id] = Some(to_slots(raws));
            }
        }
    }

    /// Looks for an ample set at `node` (see `por.rs`); if one is found, `ample.order` lists
    /// its tasks first and then the others, and the set's size is returned.
    fn ample_set(&mut self, node: &[u32], slots: usize, tasks: usize) -> Option<usize> {
        let unfinished = node[HEADER + slots..HEADER + slots + tasks]
            .iter()
            .filter(|&&id| !self.interned.gotos[id as usize].exit)
            .count();
        if unfinished < 2 {
            return None;
        }
        self.ensure_handles(node, slots, tasks);
        let a = &mut self.ample;
        if a.seen.len() < slots {
            a.seen.resize(slots, 0);
        }
        // Each unfinished task's reach.
        a.reach.clear();
        a.offsets.clear();
        for task in 0..tasks {
            a.offsets.push(a.reach.len());
            let goto_id = node[HEADER + slots + task] as usize;
            if self.interned.gotos[goto_id].exit {
                continue;
            }
            a.stamp = a.stamp.wrapping_add(1);
            if a.stamp == 0 {
                a.seen.fill(0);
                a.stamp = 1;
            }
            a.queue.clear();
            let start = self.goto_handles[goto_id].as_deref().unwrap_or(&[]);
            for &slot in start {
                if a.seen[slot as usize] != a.stamp {
                    a.seen[slot as usize] = a.stamp;
                    a.queue.push(slot);
                }
            }
            while let Some(slot) = a.queue.pop() {
                a.reach.push(slot);
                let object = node[HEADER + slot as usize] as usize;
                for &inner in self.object_handles[object].as_deref().unwrap_or(&[]) {
                    if a.seen[inner as usize] != a.stamp {
                        a.seen[inner as usize] = a.stamp;
                        a.queue.push(inner);
                    }
                }
            }
        }
        a.offsets.push(a.reach.len());
        a.in_set.clear();
        a.in_set.resize(tasks, false);
        a.best.clear();
        let gotos = &self.interned.gotos;
        let reads = &self.reads;
        let goto_of = |task: usize| &gotos[node[HEADER + slots + task] as usize];
        // Whether a task's current step may be in an ample set at all.
        let invisible = |task: usize| {
            let entry = goto_of(task);
            !entry.exit
                && !reads.task_read(task)
                && entry.memoizable
                && entry
                    .taken
                    .iter()
                    .all(|&(slot, is_mut)| !is_mut || !reads.slot_read(slot as usize))
        };
        for seed in 0..tasks {
            if !invisible(seed) {
                continue;
            }
            a.set.clear();
            a.set.push(seed as u32);
            for flag in a.in_set.iter_mut() {
                *flag = false;
            }
            a.in_set[seed] = true;
            // Footprint of the set so far, marked in `seen`.
            a.stamp = a.stamp.wrapping_add(1);
            if a.stamp == 0 {
                a.seen.fill(0);
                a.stamp = 1;
            }
            for &(slot, _) in goto_of(seed).taken.iter() {
                a.seen[slot as usize] = a.stamp;
            }
            let mut ok = true;
            let mut grew = true;
            while ok && grew {
                grew = false;
                for u in 0..tasks {
                    if a.in_set[u] || goto_of(u).exit {
                        continue;
                    }
                    let reach = &a.reach[a.offsets[u]..a.offsets[u + 1]];
                    if !reach.iter().any(|&slot| a.seen[slot as usize] == a.stamp) {
                        continue;
                    }
                    if !invisible(u) {
                        ok = false;
                        break;
                    }
                    a.in_set[u] = true;
                    a.set.push(u as u32);
                    for &(slot, _) in goto_of(u).taken.iter() {
                        a.seen[slot as usize] = a.stamp;
                    }
                    grew = true;
                }
                if a.set.len() >= unfinished || (!a.best.is_empty() && a.set.len() >= a.best.len())
                {
                    ok = false;
                }
            }
            if ok {
                std::mem::swap(&mut a.best, &mut a.set);
                if a.best.len() == 1 {
                    break;
                }
            }
        }
        if a.best.is_empty() {
            return None;
        }
        a.order.clear();
        a.order.extend_from_slice(&a.best);
        for flag in a.in_set.iter_mut() {
            *flag = false;
        }
        for &t in &a.best {
            a.in_set[t as usize] = true;
        }
        for task in 0..tasks as u32 {
            if !a.in_set[task as usize] {
                a.order.push(task);
            }
        }
        Some(a.best.len())
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
            reads: Some(&self.reads),
        };
        let after = View {
            layout: &self.world.heap,
            slots: after_slots,
            tasks: after_tasks,
            interned: &self.interned,
            reads: Some(&self.reads),
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
                    reads: Some(&self.reads),
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
            reads: Some(&self.reads),
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
        if self.check.terminal_states && finished {
            self.terminal.push(fingerprint);
        }
        None
    }

    /// Analyses the complete state graph for each liveness property in turn.
    fn liveness(&self, graph: &Graph, labels: &Labels) -> Option<Found> {
        let strong = self.check.fairness == Fairness::Strong;
        let tasks = self.world.tasks();
        let states = self.parents.len() as u32;
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
                self.parents.len(),
                self.transitions,
                self.depth,
                frontier
            );
        }
    }

    /// The step labels from the initial state to stored state `index`.
    fn path(&self, mut index: u32) -> Vec<u32> {
        let mut labels = Vec::new();
        while let Some(&(parent, label)) = self.parents.get(index as usize) {
            if parent == NO_PARENT {
                break;
            }
            labels.push(label);
            index = parent;
        }
        labels.reverse();
        labels
    }

    /// Replays `path` (step labels) from the initial state, printing each step with what it
    /// chose and changed.
    fn replay(&self, path: &[u32]) -> (Vec<TraceStep>, Heap, Vec<Goto>) {
        let mut heap = self.world.heap.clone();
        let mut pending = self.world.pending.clone();
        let mut trace = Vec::with_capacity(path.len());
        let mut taken = Vec::new();
        for (step, &label) in path.iter().enumerate() {
            let task = label & TASK_MASK;
            let alternative = (label >> ALTERNATIVE_SHIFT) as usize;
            let goto = pending[task as usize].clone();
            let shown = format!("{goto:?}");
            taken.clear();
            taken_gears(&goto, &mut taken);
            let written: Vec<u32> = taken
                .iter()
                .filter(|(raw, is_mut)| {
                    *is_mut
                        && raw.owner() == heap.id()
                        && (raw.index() as usize) < heap.slot_count()
                })
                .map(|(raw, _)| raw.index())
                .collect();
            let before: Vec<String> = written
                .iter()
                .map(|&slot| format!("{:?}", heap.object(slot)))
                .collect();
            let mut spawned = Vec::new();
            let next = if goto.alternatives().is_some() {
                goto
            } else {
                step_task(&mut heap, task, goto, step as u64, &mut spawned)
                    .expect("a recorded step replays as it ran (code gears are deterministic)")
            };
            let (next, chose) = match next.alternatives() {
                None => (next, None),
                Some(alternatives) => {
                    let chosen = alternatives[alternative].clone();
                    let chose = format!(
                        "alternative {} of {}: {chosen:?}",
                        alternative + 1,
                        alternatives.len()
                    );
                    (chosen, Some(chose))
                }
            };
            let mut changes = Vec::new();
            for (i, &slot) in written.iter().enumerate() {
                if written[..i].contains(&slot) {
                    continue;
                }
                let after = format!("{:?}", heap.object(slot));
                if after != before[i] {
                    let name = heap.object(slot).map_or("gear", |o| o.info().name);
                    changes.push(format!(
                        "{name}#{}.{slot}: {} → {}",
                        heap.id(),
                        strip_some(&before[i]),
                        strip_some(&after)
                    ));
                }
            }
            for first in spawned {
                changes.push(format!("started task {}: {first:?}", pending.len()));
                pending.push(first);
            }
            trace.push(TraceStep {
                task: task as usize,
                goto: shown,
                chose,
                changes,
            });
            pending[task as usize] = next;
        }
        (trace, heap, pending)
    }

    fn stuck(pending: &[Goto]) -> Vec<TraceStep> {
        pending
            .iter()
            .enumerate()
            .filter(|(_, goto)| !goto.is_exit())
            .map(|(task, goto)| TraceStep {
                task,
                goto: format!("{goto:?}"),
                chose: None,
                changes: Vec::new(),
            })
            .collect()
    }

    fn counterexample(&self, found: Found) -> Violation {
        let plain = |kind, trace| Violation {
            kind,
            trace,
            cycle: Vec::new(),
            stuck: Vec::new(),
        };
        match found {
            Found::Always(name, index) => plain(
                ViolationKind::Always(name),
                self.replay(&self.path(index)).0,
            ),
            Found::Action(name, index, label) => {
                let mut path = self.path(index);
                path.push(label);
                plain(ViolationKind::Action(name), self.replay(&path).0)
            }
            Found::Error(error, index, task) => {
                let (mut trace, _, pending) = self.replay(&self.path(index));
                trace.push(TraceStep {
                    task: task as usize,
                    goto: format!("{:?}", pending[task as usize]),
                    chose: None,
                    changes: Vec::new(),
                });
                plain(ViolationKind::Error(error), trace)
            }
            Found::Deadlock(index) => {
                let (trace, _, pending) = self.replay(&self.path(index));
                Violation {
                    stuck: Self::stuck(&pending),
                    ..plain(ViolationKind::Deadlock, trace)
                }
            }
            Found::Liveness(name, lasso) => {
                let mut path = self.path(lasso.source);
                path.extend(&lasso.to_cycle);
                let prefix = path.len();
                path.extend(&lasso.cycle);
                let (mut trace, _, pending) = self.replay(&path);
                let cycle = trace.split_off(prefix);
                let stuck = if cycle.is_empty() {
                    Self::stuck(&pending)
                } else {
                    Vec::new()
                };
                Violation {
                    kind: ViolationKind::Liveness(name),
                    trace,
                    cycle,
                    stuck,
                }
            }
            Found::Bound(_) => unreachable!("bounds are not counterexamples"),
        }
    }
}

/// `Some(x)` printed as `x`: slots hold live gears in traces.
fn strip_some(shown: &str) -> &str {
    shown
        .strip_prefix("Some(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(shown)
}
