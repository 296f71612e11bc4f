//! A worker's share of a level: claiming chunks of the frontier, taking states a few ahead of
//! their expansion to prefetch their successors' buckets, expanding every task of a state,
//! checking and storing the successors.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use super::super::Check;
use super::super::explore::{HEADER, MAX_ALTERNATIVES, TASK_MASK, body, header, set_header};
use super::super::frontier::Frontier;
use super::super::intern::{Interned, Learnt, NONE};
use super::super::por::Reads;
use super::super::step::{Intern, Scratch, base as base_of, build_successor};
use super::super::view::View;
use super::apply::{Step, StepCache, memoized, run_step};
use super::ids::{Frozen, Ids};
use super::table::SharedTable;
use super::{Memo, lock};
use crate::code::Goto;
use crate::heap::Heap;
use crate::world::fingerprint::task_term;

/// New states a worker stores between two looks at the memory estimate.
const MEMORY_EVERY: u32 = 4096;
/// State slots (against [`Check::max_states`]) a worker reserves at a time: one shared counter
/// touched per state would bounce its cache line between the cores on every insertion.
const RESERVE_CHUNK: usize = 1024;
/// States taken from the frontier ahead of their expansion, their successors' buckets
/// prefetched (the single worker's lookahead: one state ahead was too late to hide the miss).
const LOOKAHEAD: usize = 4;

pub(super) const RUNNING: u8 = 0;
pub(super) const FOUND: u8 = 1;
pub(super) const MEMORY: u8 = 2;

/// What every worker of a phase shares. Each worker works on a copy of it on its own stack:
/// the original sits among the first worker's locals, whose cache lines it writes.
#[derive(Clone, Copy)]
pub(super) struct Level<'a> {
    pub(super) layout: &'a Heap,
    pub(super) check: &'a Check,
    pub(super) slots: usize,
    pub(super) visited: &'a SharedTable,
    /// State slots reserved by the workers so far (at least the states stored).
    pub(super) reserved: &'a AtomicUsize,
    /// `RUNNING`, or why the workers stop.
    pub(super) halt: &'a AtomicU8,
    /// The level's chunks of frontier, by the worker that found them.
    pub(super) inputs: &'a [Share],
    /// Records per chunk of the next level's frontier.
    pub(super) chunk: usize,
    /// For the memory estimate: bytes held at the start of the phase.
    pub(super) base_bytes: usize,
    pub(super) workers: usize,
    /// What the properties read in the levels before this one (see [`ReadsSoFar`]).
    pub(super) reads: &'a ReadsSoFar,
}

/// The gears and transitions the properties read in every evaluation of the levels before
/// the current one: each worker records its evaluations' reads in its own [`Reads`], merged
/// here at each barrier.
///
/// Why an invariant need not be evaluated in a successor whose step wrote none of these gears,
/// changed no transition read and spawned no task: the successor's parent was stored in an
/// earlier level, where its invariants were evaluated (their reads are in this set) or known
/// to hold by this same argument from its own parent, whose reads are in the set too (it only
/// grows). A property is a function of what it reads through its [`View`], so it reads the same
/// values in the successor, takes the same branches and holds there too (the single worker's
/// `Explorer::invariants_unchanged` makes the same argument with its live record).
#[derive(Default)]
pub(super) struct ReadsSoFar {
    slots: Vec<bool>,
    tasks: Vec<bool>,
}

impl ReadsSoFar {
    /// Adds the reads a worker recorded.
    pub(super) fn merge(&mut self, reads: &Reads) {
        let (slots, tasks) = reads.flags();
        for (list, new) in [(&mut self.slots, slots), (&mut self.tasks, tasks)] {
            if list.len() < new.len() {
                list.resize(new.len(), false);
            }
            for (known, read) in list.iter_mut().zip(new) {
                *known |= read;
            }
        }
    }

    /// Whether a step of `task` that made `writes` (and spawned nothing) leaves every
    /// invariant's value as it was in the step's source state.
    #[inline]
    fn unchanged(&self, task: u32, writes: &[(u32, u32, u32)]) -> bool {
        !self.tasks.get(task as usize).copied().unwrap_or(false)
            && writes
                .iter()
                .all(|&(slot, _, _)| !self.slots.get(slot as usize).copied().unwrap_or(false))
    }
}

/// The chunks of a level's frontier that one worker found, and the next one to claim.
///
/// A worker claims its own chunks first and then the others': the records it wrote in the
/// level before are likely still in its core's cache (dining philosophers, N=7: a level's
/// frontier is about a megabyte, under the second-level cache of one core), and claimed in
/// one list in turn, every other chunk came from the other core. Aligned so that two workers'
/// counters do not share a cache line.
#[repr(align(128))]
pub(super) struct Share {
    chunks: Vec<Mutex<Frontier>>,
    next: AtomicUsize,
}

impl Share {
    /// The non-empty chunks of `chunks`, none claimed yet.
    pub(super) fn new(chunks: impl IntoIterator<Item = Frontier>) -> Self {
        Share {
            chunks: chunks
                .into_iter()
                .filter(|chunk| !chunk.is_empty())
                .map(Mutex::new)
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// The chunks (for counting them at the barrier).
    pub(super) fn chunks(&self) -> impl Iterator<Item = std::sync::MutexGuard<'_, Frontier>> {
        self.chunks.iter().map(lock)
    }

    /// Takes the next unclaimed chunk, if one is left.
    fn claim(&self) -> Option<Frontier> {
        if self.next.load(Ordering::Relaxed) >= self.chunks.len() {
            return None;
        }
        let unit = self.next.fetch_add(1, Ordering::Relaxed);
        let chunk = self.chunks.get(unit)?;
        // Taken whole: a chunk is expanded by the worker that claimed it.
        Some(std::mem::replace(
            &mut *lock(chunk),
            Frontier::new(false, 0),
        ))
    }
}

/// The next chunk for the worker of lane `lane`: its own first, then the others' in turn.
fn claim(inputs: &[Share], lane: usize) -> Option<Frontier> {
    let count = inputs.len();
    (0..count).find_map(|k| inputs[(lane + k) % count].claim())
}

impl Level<'_> {
    fn halted(&self) -> bool {
        self.halt.load(Ordering::Relaxed) != RUNNING
    }

    pub(super) fn stop(&self, why: u8) {
        self.halt.fetch_max(why, Ordering::Relaxed);
    }
}

/// A worker: its replica of the intern tables and its own state, kept across levels.
///
/// Pending transitions hold code-gear arguments, which are `Send` but not `Sync`: a table of
/// them cannot be read by two threads at once, so each worker reads its own copy (refreshed at
/// the barrier when the tables grew; ids are the same in every copy). Data-gear values are
/// `Arc`s of `Sync` objects and are shared by the copies.
///
/// Aligned to two cache lines (the pair the adjacent-line prefetcher loads together): the
/// lanes sit side by side in a `Vec`, and one worker's counters and scratch vectors, written
/// per state, must not share a line with the next worker's tables, read per state.
#[repr(align(128))]
pub(super) struct Lane {
    pub(super) interned: Interned,
    pub(super) own: Own,
}

/// A state taken from the frontier ahead of its expansion: its record and, per task, its
/// memoized step (`Learnt::UNKNOWN` if it has to run), found while prefetching.
#[derive(Default)]
pub(super) struct Ahead {
    node: Vec<u32>,
    pre: Vec<Learnt>,
}

/// A worker's scratch heap, memo, frontiers and counts.
pub(super) struct Own {
    /// This worker's place among the lanes (which [`Share`] of a level is its own).
    pub(super) lane: usize,
    pub(super) scratch: Scratch,
    /// Steps learnt this level, merged into the shared memo at the barrier, and a cache of
    /// the last ones looked up.
    pub(super) memo: StepCache,
    /// The chunk of this level's frontier being expanded, and the states taken from it ahead.
    pub(super) input: Frontier,
    pub(super) window: VecDeque<Ahead>,
    spare: Vec<Ahead>,
    /// The next level's states this worker found: full chunks, and the one being filled.
    pub(super) sealed: Vec<Frontier>,
    pub(super) out: Frontier,
    /// `(node, task)`: steps redone at the barrier.
    pub(super) deferred: Vec<(Vec<u32>, u32)>,
    pub(super) transitions: u64,
    pub(super) terminal: Vec<u64>,
    pub(super) depth: u32,
    pub(super) cut: bool,
    since_memory: u32,
    /// Reserved state slots not used yet; states stored, in all and in this phase.
    budget: usize,
    pub(super) stored: usize,
    pub(super) phase_stored: usize,
    /// Room of the visited table held (see [`SharedTable::claim`]).
    pub(super) room: usize,
    /// Expansions started again after the table grew.
    pub(super) restarted: u64,
    /// Whether this worker frees the table a growth replaced (not the first, which runs the
    /// barriers: it would free it there).
    frees: bool,
    pub(super) next_state: Vec<u32>,
    pub(super) writes: Vec<(u32, u32, u32)>,
    pub(super) spawned: Vec<Goto>,
    spawned_ids: Vec<u32>,
    /// What this worker's property evaluations read (merged into [`ReadsSoFar`] at barriers).
    pub(super) reads: Reads,
}

impl Own {
    /// A worker's state, on a copy `heap` of the world's heap holding the objects `ids`;
    /// `frees`: see [`Own::frees`].
    pub(super) fn new(heap: Heap, ids: Vec<u32>, slots: usize, lane: usize) -> Self {
        Own {
            lane,
            scratch: Scratch { heap, ids },
            memo: StepCache::default(),
            input: Frontier::new(false, slots),
            window: VecDeque::with_capacity(LOOKAHEAD + 1),
            spare: Vec::with_capacity(LOOKAHEAD + 1),
            sealed: Vec::new(),
            out: Frontier::new(false, slots),
            deferred: Vec::new(),
            transitions: 0,
            terminal: Vec::new(),
            depth: 0,
            cut: false,
            since_memory: 0,
            budget: 0,
            stored: 0,
            phase_stored: 0,
            room: 0,
            restarted: 0,
            frees: lane > 0,
            next_state: Vec::new(),
            writes: Vec::new(),
            spawned: Vec::new(),
            spawned_ids: Vec::new(),
            reads: Reads::new(slots),
        }
    }

    /// Queues a state of the next level, sealing the chunk being filled once it is full.
    fn push(&mut self, record: &[u32], chunk: usize, slots: usize) {
        self.out.push(record);
        if self.out.len() >= chunk {
            let full = std::mem::replace(&mut self.out, Frontier::new(false, slots));
            self.sealed.push(full);
        }
    }

    /// States taken from this level's frontier and not expanded yet.
    pub(super) fn pending(&self) -> bool {
        !self.window.is_empty() || !self.input.is_empty()
    }
}

/// How a worker's phase ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Outcome {
    /// No state of the level is left to it.
    Done,
    /// The visited table has no room left: it must grow, and the worker go on.
    Full,
    /// The run must stop ([`Level::halt`] says why).
    Halt,
}

/// One task's expansion.
pub(super) enum Expanded {
    /// Some successor differs from the state.
    Changed,
    /// Every successor is the state itself (the task waits).
    Waiting,
    /// The visited table must grow before this expansion can go on.
    Full,
    /// The run must stop ([`Level::halt`] says why).
    Halt,
}

/// A worker's share of a phase: expands its pending states, then claims chunks of the level's
/// frontier until none is left, the table is full or the run stops.
pub(super) fn work(level: &Level<'_>, lane: &mut Lane, memo: &Memo) -> Outcome {
    let level = &level.clone();
    let mut ids = Frozen(&lane.interned);
    let own = &mut lane.own;
    own.room = 0;
    if own.frees {
        level.visited.free_retired();
    }
    loop {
        if level.halted() {
            return Outcome::Halt;
        }
        while own.window.len() <= LOOKAHEAD {
            if own.input.is_empty() {
                let Some(input) = claim(level.inputs, own.lane) else {
                    break;
                };
                own.input = input;
                continue;
            }
            let mut ahead = own.spare.pop().unwrap_or_default();
            own.input.pop(&mut ahead.node, false, level.slots);
            prefetch_successors(level, ids.0, memo, &mut own.memo, &mut ahead);
            own.window.push_back(ahead);
        }
        let Some(current) = own.window.pop_front() else {
            return Outcome::Done;
        };
        match expand_node(level, own, &mut ids, memo, &current) {
            Outcome::Done => own.spare.push(current),
            Outcome::Full => {
                own.restarted += 1;
                own.window.push_front(current);
                return Outcome::Full;
            }
            Outcome::Halt => return Outcome::Halt,
        }
    }
}

/// The first pass over a state's tasks: looks up each step in the memo, records it, and
/// prefetches where each successor's fingerprint would be in the visited table.
fn prefetch_successors(
    level: &Level<'_>,
    table: &Interned,
    shared: &Memo,
    own: &mut StepCache,
    ahead: &mut Ahead,
) {
    let slots = level.slots;
    let node = &ahead.node;
    let tasks = node[4] as usize;
    let (_, _, fingerprint) = header(node);
    let slot_ids = &node[HEADER..HEADER + slots];
    ahead.pre.clear();
    for task in 0..tasks {
        let goto_id = node[HEADER + slots + task];
        let entry = &table.gotos[goto_id as usize];
        let found = if entry.exit || entry.alternatives.is_some() {
            None
        } else {
            memoized(table, shared, own, goto_id, slot_ids)
        };
        let Some(learnt) = found else {
            ahead.pre.push(Learnt::UNKNOWN);
            continue;
        };
        ahead.pre.push(learnt);
        let base = fingerprint.wrapping_add(learnt.delta);
        let next = learnt.outputs.next;
        match &table.gotos[next as usize].alternatives {
            None => level
                .visited
                .prefetch(base.wrapping_add(table.gotos[next as usize].term)),
            Some(alternatives) => {
                for &alternative in alternatives.iter() {
                    level
                        .visited
                        .prefetch(base.wrapping_add(table.gotos[alternative as usize].term));
                }
            }
        }
    }
}

/// Expands every task of a state: `Done` when it is, `Full` if the table must grow first (the
/// expansion is then started again: its counts are taken back, and the successors it stored
/// are found visited the second time), `Halt` if the run must stop.
fn expand_node(
    level: &Level<'_>,
    own: &mut Own,
    ids: &mut Frozen<'_>,
    memo: &Memo,
    ahead: &Ahead,
) -> Outcome {
    let node = &ahead.node;
    let slots = level.slots;
    let tasks = node[4] as usize;
    let (_, depth, _) = header(node);
    let gotos = &ids.table().gotos;
    let task_ids = &node[HEADER + slots..HEADER + slots + tasks];
    if task_ids.iter().all(|&id| gotos[id as usize].exit) {
        return Outcome::Done;
    }
    if depth >= level.check.max_depth {
        own.cut = true;
        return Outcome::Done;
    }
    let (transitions, deferred) = (own.transitions, own.deferred.len());
    let mut all_self_loops = true;
    for task in 0..tasks as u32 {
        let goto_id = node[HEADER + slots + task as usize];
        if ids.table().gotos[goto_id as usize].exit {
            continue;
        }
        own.transitions += 1;
        let known = ahead
            .pre
            .get(task as usize)
            .filter(|learnt| learnt.outputs.next != NONE)
            .copied();
        match expand_task(level, own, ids, memo, node, task, known) {
            Expanded::Changed => all_self_loops = false,
            Expanded::Waiting => {}
            Expanded::Full => {
                own.transitions = transitions;
                own.deferred.truncate(deferred);
                return Outcome::Full;
            }
            Expanded::Halt => return Outcome::Halt,
        }
    }
    if all_self_loops && level.check.deadlocks {
        level.stop(FOUND);
        return Outcome::Halt;
    }
    Outcome::Done
}

/// Expands one task of `node`: every successor stored, checked and queued. `known` is its
/// memoized step if the caller found it.
///
/// A memoized step's successor is looked up by its fingerprint (`fingerprint + delta`) and
/// its writes rebuilt only if it is new, as the single worker does: most successors are
/// self-loops or visited.
pub(super) fn expand_task<I: Ids>(
    level: &Level<'_>,
    own: &mut Own,
    ids: &mut I,
    memo: &Memo,
    node: &[u32],
    task: u32,
    known: Option<Learnt>,
) -> Expanded {
    let slots = level.slots;
    let (_, depth, fingerprint) = header(node);
    let tasks = node[4] as usize;
    let goto_id = node[HEADER + slots + task as usize];
    let slot_ids = &node[HEADER..HEADER + slots];
    own.spawned.clear();
    // A memoized step whose writes are not in `own.writes` yet.
    let mut lazy = None;
    let known = known.or_else(|| {
        if ids.table().gotos[goto_id as usize].alternatives.is_some() {
            None
        } else {
            memoized(ids.table(), memo, &mut own.memo, goto_id, slot_ids)
        }
    });
    let (next, mut base) = if ids.table().gotos[goto_id as usize].alternatives.is_some() {
        // A choice pending from the start: resolving it is the step.
        own.writes.clear();
        (goto_id, base_of(ids.table(), fingerprint, goto_id, &[]))
    } else if let Some(learnt) = known {
        lazy = Some(learnt);
        (learnt.outputs.next, fingerprint.wrapping_add(learnt.delta))
    } else {
        let next = match run_step(own, ids, slot_ids, task, goto_id, depth) {
            Step::Next(next) => next,
            Step::Defer => {
                own.deferred.push((node.to_vec(), task));
                // A value or transition no state had: the state changes.
                return Expanded::Changed;
            }
            Step::Failed => {
                level.stop(FOUND);
                return Expanded::Halt;
            }
        };
        (
            next,
            base_of(ids.table(), fingerprint, goto_id, &own.writes),
        )
    };
    own.spawned_ids.clear();
    if !own.spawned.is_empty() {
        if tasks + own.spawned.len() > TASK_MASK as usize {
            level.stop(FOUND);
            return Expanded::Halt;
        }
        for (i, first) in std::mem::take(&mut own.spawned).into_iter().enumerate() {
            let position = (tasks + i) as u32;
            let term = task_term(position, &first);
            let Some(id) = ids.goto(position, first, term) else {
                unreachable!("steps that start tasks are taken at the barrier only")
            };
            own.spawned_ids.push(id);
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
        if successor == fingerprint && own.spawned_ids.is_empty() {
            continue;
        }
        changed = true;
        let mut build = |own: &mut Own| {
            if let Some(learnt) = lazy.take() {
                learnt.writes(table, goto_id, slot_ids, &mut own.writes);
            }
            build_successor(
                &mut own.next_state,
                node,
                slots,
                &own.writes,
                task,
                next,
                &own.spawned_ids,
            );
            set_header(&mut own.next_state, slots, 0, depth + 1, successor);
        };
        let always_build = !level.check.actions.is_empty();
        if always_build {
            build(own);
            if failed_action(level, table, node, &own.next_state) {
                level.stop(FOUND);
                return Expanded::Halt;
            }
        }
        // Room first: the insert must not pass the table's load.
        if own.room == 0 {
            own.room = level.visited.claim(level.workers);
            if own.room == 0 {
                return Expanded::Full;
            }
        }
        if !level.visited.insert(successor) {
            continue;
        }
        if !always_build {
            build(own);
        }
        own.room -= 1;
        if !reserve(level, own) {
            // The reserved slots may overshoot the states stored: the single worker decides.
            level.stop(MEMORY);
            return Expanded::Halt;
        }
        let record = std::mem::take(&mut own.next_state);
        let holding = !level.check.invariants.is_empty()
            && own.spawned_ids.is_empty()
            && level.reads.unchanged(task, &own.writes);
        let ok = stored_ok(level, table, own, &record, successor, holding);
        own.depth = own.depth.max(depth + 1);
        own.push(&record, level.chunk, slots);
        own.next_state = record;
        if !ok {
            return Expanded::Halt;
        }
        own.since_memory += 1;
        if own.since_memory >= MEMORY_EVERY {
            own.since_memory = 0;
            if over_budget(level, own) {
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
/// if terminal. `holding`: the invariants are known to hold here (see [`ReadsSoFar`]).
pub(super) fn stored_ok(
    level: &Level<'_>,
    table: &Interned,
    own: &mut Own,
    record: &[u32],
    fingerprint: u64,
    holding: bool,
) -> bool {
    let (slots, tasks) = body(record).split_at(level.slots);
    let view = View {
        layout: level.layout,
        slots,
        tasks,
        interned: table,
        reads: Some(&own.reads),
    };
    if !holding
        && level
            .check
            .invariants
            .iter()
            .any(|(_, holds)| !holds(&view))
    {
        level.stop(FOUND);
        return false;
    }
    if level.check.terminal_states && tasks.iter().all(|&id| table.gotos[id as usize].exit) {
        own.terminal.push(fingerprint);
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
fn reserve(level: &Level<'_>, own: &mut Own) -> bool {
    if own.budget == 0 {
        let before = level.reserved.fetch_add(RESERVE_CHUNK, Ordering::Relaxed);
        let room = level.check.max_states.saturating_sub(before);
        if room == 0 {
            return false;
        }
        own.budget = room.min(RESERVE_CHUNK);
    }
    own.budget -= 1;
    own.stored += 1;
    own.phase_stored += 1;
    true
}

/// The memory estimate: what the phase started with, plus the frontiers being filled (this
/// worker's, times the workers). The table's room was paid for when it grew.
fn over_budget(level: &Level<'_>, own: &Own) -> bool {
    let frontiers: usize = own
        .sealed
        .iter()
        .map(Frontier::capacity_bytes)
        .sum::<usize>()
        + own.out.capacity_bytes();
    level.base_bytes + frontiers * level.workers > level.check.max_memory
}
