//! [`World::check`]: breadth-first (or depth-first) exploration of every interleaving of the
//! tasks' code-gear steps, with deadlock detection, `always` invariants, panics as violations,
//! bounds, and shortest counterexamples.
//!
//! # Storage
//!
//! Visited states are kept as 64-bit fingerprints (see `fingerprint.rs`) in a hash set, plus one
//! `(parent, task)` pair per state for traces: about 17-26 bytes per state whatever the state's
//! size (the figure is in the report), so memory is bounded by `max_states` and not by the
//! program. A trace is rebuilt by replaying the recorded task choices from the initial state,
//! which is exact because a code gear is a function of its inputs. (Code gears that read clocks
//! or randomness are outside what the checker can explore.)
//!
//! # The frontier: collapse compression
//!
//! States waiting to be expanded are not kept as heaps. Every distinct data-gear value of a slot
//! and every distinct pending transition of a task is stored once, in an intern table, and a
//! state is the row of their ids: `slots + tasks` u32s in one flat queue (SPIN's "collapse
//! compression"). Programs have few distinct values per component (a fork is free or held by
//! one of two philosophers), so the tables stay small and hot, and the frontier costs a few
//! bytes per component with no allocation per state.
//!
//! # One step's successor: memoized
//!
//! A step's outcome is a function of its inputs: the task's pending transition and the values
//! of the data gears it takes (its stub reaches the heap only through them, and they are
//! listed, with their `Mut`-ness, by probing the stub on an empty heap; see
//! [`World::gears_taken_by`]). In ids, that is `(transition id, ids of the taken gears)` ->
//! `(next transition id, ids of the gears afterwards)`, kept in a memo table. A program has few
//! distinct local steps (a philosopher picking up a free fork) and many global states, so almost
//! every step is a table lookup; the successor's fingerprint is the parent's with the changed
//! components' terms swapped.
//!
//! A step the memo has not seen runs on one scratch heap that holds the state being expanded
//! (the slots whose ids differ from it are replaced). The gears it wrote, copied on write, are
//! interned, and the slots are put back for the next step. A step that takes more than
//! `MAX_TAKEN` gears is never memoized and always runs this way.
//!
//! # Symmetry
//!
//! With [`Check::symmetry`], the visited set stores the user's key of a state's symmetry class
//! instead of its fingerprint. Steps, traces and deadlock detection still use real states.

use std::any::Any;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fingerprint::{FpHasher, slot_term, task_term};
use super::{TaskId, World, step_task, taken_gears};
use crate::code::Goto;
use crate::error::Error;
use crate::gear::{DataGear, Gear};
use crate::heap::{DataGearObject, Heap};

type Invariant = Box<dyn Fn(&View<'_>) -> bool>;
type SymmetryKey = Box<dyn Fn(&View<'_>) -> u64>;

/// What to check and how far: the meta computation [`World::check`] runs the world with.
///
/// ```text
/// world.check(Check::new().always("no fork held twice", |v| ..).max_states(1_000_000))
/// ```
pub struct Check {
    invariants: Vec<(String, Invariant)>,
    symmetry: Option<SymmetryKey>,
    deadlocks: bool,
    depth_first: bool,
    max_states: usize,
    max_depth: u32,
    progress: bool,
    terminal_states: bool,
}

impl Default for Check {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field(
                "invariants",
                &self.invariants.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("symmetry", &self.symmetry.is_some())
            .field("deadlocks", &self.deadlocks)
            .field("depth_first", &self.depth_first)
            .field("max_states", &self.max_states)
            .field("max_depth", &self.max_depth)
            .finish()
    }
}

impl Check {
    /// Default bound on stored states: about 170 MB of fingerprints and parents, plus the
    /// frontier.
    pub const DEFAULT_MAX_STATES: usize = 10_000_000;

    /// Breadth-first, deadlocks reported, no invariants, at most
    /// [`DEFAULT_MAX_STATES`](Self::DEFAULT_MAX_STATES) states, unbounded depth.
    pub fn new() -> Self {
        Self {
            invariants: Vec::new(),
            symmetry: None,
            deadlocks: true,
            depth_first: false,
            max_states: Self::DEFAULT_MAX_STATES,
            max_depth: u32::MAX,
            progress: false,
            terminal_states: false,
        }
    }

    /// Adds an invariant that must hold in every reachable state; the first state where
    /// `holds` returns false is reported with the shortest trace to it.
    pub fn always(
        mut self,
        name: impl Into<String>,
        holds: impl Fn(&View<'_>) -> bool + 'static,
    ) -> Self {
        self.invariants.push((name.into(), Box::new(holds)));
        self
    }

    /// Symmetry reduction: `canonical` maps a state to a 64-bit key of its symmetry class
    /// (e.g. a hash of the lexicographically least rotation of identical tasks' local states),
    /// and the checker stores one state per class.
    ///
    /// Sound only if the key is the same for states that are symmetric images of each other
    /// and the invariants do not tell them apart; then verdicts and traces are as without it
    /// (each trace is a real run), with fewer states. Deadlocks are still found per state.
    pub fn symmetry(mut self, canonical: impl Fn(&View<'_>) -> u64 + 'static) -> Self {
        self.symmetry = Some(Box::new(canonical));
        self
    }

    /// Whether to report deadlocks (default: yes). Off, the checker explores the whole state
    /// space of a program that can deadlock.
    pub fn deadlocks(mut self, report: bool) -> Self {
        self.deadlocks = report;
        self
    }

    /// Explores depth-first: the frontier is a stack (smaller on wide state spaces), and traces
    /// are no longer the shortest.
    pub fn depth_first(mut self) -> Self {
        self.depth_first = true;
        self
    }

    /// Stops with [`Verdict::Incomplete`] once this many distinct states are stored.
    pub fn max_states(mut self, states: usize) -> Self {
        self.max_states = states.max(1);
        self
    }

    /// Does not expand states this many steps from the initial state ([`Verdict::Incomplete`]
    /// if any of them had a task left to step).
    pub fn max_depth(mut self, depth: u32) -> Self {
        self.max_depth = depth;
        self
    }

    /// Prints a progress line to stderr about once a second.
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }

    /// Keeps the fingerprints of the terminal states (every task finished), for
    /// [`Report::terminal_states`].
    pub fn terminal_states(mut self, keep: bool) -> Self {
        self.terminal_states = keep;
        self
    }
}

/// A reachable state, as invariants see it.
pub struct View<'a> {
    /// The world's heap: slot layout, owners and types (constant during a check).
    layout: &'a Heap,
    /// This state's object id per slot.
    slots: &'a [u32],
    /// This state's transition id per task.
    tasks: &'a [u32],
    interned: &'a Interned,
}

impl<'a> View<'a> {
    /// The data gear behind `gear` in this state.
    ///
    /// # Panics
    /// If the handle is not a live gear of the world (a bug in the invariant; see
    /// [`View::try_get`]).
    pub fn get<T: DataGear>(&self, gear: Gear<T>) -> &'a T {
        self.try_get(gear)
            .unwrap_or_else(|error| panic!("invariant read {gear:?}: {error}"))
    }

    /// The data gear behind `gear` in this state.
    ///
    /// # Errors
    /// Foreign, stale or mistyped handles.
    pub fn try_get<T: DataGear>(&self, gear: Gear<T>) -> Result<&'a T, Error> {
        // Validates the handle (heap, generation, type) against the layout, which no step
        // changes; the value is this state's.
        self.layout.get(gear)?;
        let id = self.slots[gear.raw().index() as usize];
        let object = self.interned.objects[id as usize]
            .object
            .as_deref()
            .expect("a live slot of the layout is live in every state");
        Ok((object as &dyn Any)
            .downcast_ref::<T>()
            .expect("a slot's type never changes"))
    }

    /// The transition `task` takes next.
    pub fn pending(&self, task: TaskId) -> &'a Goto {
        &self.interned.gotos[self.tasks[task.index()] as usize].goto
    }

    /// Whether `task` has finished.
    pub fn finished(&self, task: TaskId) -> bool {
        self.pending(task).is_exit()
    }

    /// Number of tasks.
    pub fn tasks(&self) -> usize {
        self.tasks.len()
    }
}

/// A bound that ended a check early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bound {
    /// `max_states` distinct states were stored.
    MaxStates(usize),
    /// States at `max_depth` had steps left.
    MaxDepth(u32),
}

/// What was violated.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViolationKind {
    /// A state with an unfinished task where every step leaves the state unchanged.
    Deadlock,
    /// The named `always` invariant is false in the trace's last state.
    Always(String),
    /// The trace's last step failed: a panic ([`crate::ErrorKind::Panicked`]) or a runtime
    /// error such as a task-private gear handed to another task.
    Error(Error),
}

/// One step of a trace: `task: code_gear(args)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// The task that stepped.
    pub task: usize,
    /// The transition it took, printed as a call.
    pub goto: String,
}

impl fmt::Display for TraceStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.task, self.goto)
    }
}

/// A counterexample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// What went wrong.
    pub kind: ViolationKind,
    /// The steps from the initial state (the shortest such trace under BFS).
    pub trace: Vec<TraceStep>,
    /// For a deadlock: each unfinished task's step, all of which leave the state unchanged.
    pub stuck: Vec<TraceStep>,
}

/// The outcome of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Every reachable state was explored and nothing was violated.
    Holds,
    /// A counterexample (the check stops at the first).
    Violated(Violation),
    /// A bound stopped the check before every state was explored; nothing was violated in the
    /// states seen.
    Incomplete(Bound),
}

/// What [`World::check`] found, with its cost.
#[derive(Clone, Debug)]
pub struct Report {
    /// Number of tasks.
    pub tasks: usize,
    /// Distinct states stored (including the initial one).
    pub states: u64,
    /// Steps taken (successors computed).
    pub transitions: u64,
    /// The largest distance from the initial state of a stored state.
    pub depth: u32,
    /// Wall time.
    pub elapsed: Duration,
    /// Bytes of the visited-state storage (fingerprint set and parent pointers) per state.
    pub bytes_per_state: f64,
    /// The largest frontier (states waiting to be expanded).
    pub peak_frontier: usize,
    /// Bytes per state in the frontier (one u32 per slot and per task, and a header).
    pub frontier_bytes_per_state: usize,
    /// Distinct data-gear values and pending transitions stored in the intern tables, and
    /// their bytes.
    pub interned: (usize, usize),
    /// The verdict.
    pub verdict: Verdict,
    /// The names of the `always` invariants checked.
    pub invariants: Vec<String>,
    /// Whether deadlocks were looked for.
    pub deadlocks: bool,
    terminal: Vec<u64>,
}

impl Report {
    /// Whether every state was explored without a violation.
    pub fn holds(&self) -> bool {
        self.verdict == Verdict::Holds
    }

    /// The counterexample, if any.
    pub fn violation(&self) -> Option<&Violation> {
        match &self.verdict {
            Verdict::Violated(violation) => Some(violation),
            _ => None,
        }
    }

    /// Fingerprints of the terminal states found (every task finished), if the check kept them
    /// ([`Check::terminal_states`]), sorted.
    pub fn terminal_states(&self) -> &[u64] {
        &self.terminal
    }

    /// Distinct states per second.
    pub fn states_per_second(&self) -> f64 {
        self.states as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} tasks: {} states, {} transitions, depth {}, {:.3?} ({:.0} states/s, {:.1} bytes/state stored)",
            self.tasks,
            self.states,
            self.transitions,
            self.depth,
            self.elapsed,
            self.states_per_second(),
            self.bytes_per_state
        )?;
        writeln!(
            f,
            "frontier: peak {} states x {} bytes; intern tables: {} distinct values, {} bytes",
            self.peak_frontier, self.frontier_bytes_per_state, self.interned.0, self.interned.1
        )?;
        match &self.verdict {
            Verdict::Holds => {
                let mut proved: Vec<String> = Vec::new();
                if self.deadlocks {
                    proved.push("no deadlock".into());
                }
                proved.extend(
                    self.invariants
                        .iter()
                        .map(|name| format!("always `{name}`")),
                );
                proved.push("no code gear fails".into());
                writeln!(
                    f,
                    "verdict: holds in every reachable state: {}",
                    proved.join(", ")
                )
            }
            Verdict::Incomplete(Bound::MaxStates(n)) => writeln!(
                f,
                "verdict: incomplete: stopped at max_states = {n} (nothing violated so far; raise the bound)"
            ),
            Verdict::Incomplete(Bound::MaxDepth(d)) => writeln!(
                f,
                "verdict: incomplete: states at max_depth = {d} were not expanded (nothing violated so far)"
            ),
            Verdict::Violated(violation) => {
                match &violation.kind {
                    ViolationKind::Deadlock => writeln!(
                        f,
                        "verdict: DEADLOCK: a state where no step changes anything while a task is unfinished"
                    )?,
                    ViolationKind::Always(name) => {
                        writeln!(f, "verdict: VIOLATED: always `{name}` is false")?;
                    }
                    ViolationKind::Error(error) => {
                        writeln!(f, "verdict: ERROR in the last step: {error}")?;
                    }
                }
                writeln!(f, "trace ({} steps):", violation.trace.len())?;
                for (i, step) in violation.trace.iter().enumerate() {
                    writeln!(f, "  {:>4}. {step}", i + 1)?;
                }
                if !violation.stuck.is_empty() {
                    writeln!(
                        f,
                        "then every unfinished task's step leaves the state unchanged:"
                    )?;
                    for step in &violation.stuck {
                        writeln!(f, "        {step}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// Fingerprints are already mixed: the set uses them as their own hash.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 fingerprints are hashed")
    }
    fn write_u64(&mut self, fingerprint: u64) {
        self.0 = fingerprint;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FingerprintSet = HashSet<u64, BuildHasherDefault<Identity>>;

const NO_PARENT: u32 = u32::MAX;

/// A distinct value of one heap slot.
struct ObjectEntry {
    slot: u32,
    object: Option<Arc<dyn DataGearObject>>,
    term: u64,
    /// The next entry with the same term (a fingerprint-term collision), or [`NONE`].
    next: u32,
}

/// A distinct pending transition of one task.
struct GotoEntry {
    task: u32,
    goto: Goto,
    term: u64,
    exit: bool,
    next: u32,
    /// The slots of this world's heap its step takes, `(slot, is_mut)`.
    taken: Box<[(u32, bool)]>,
    /// Whether its steps can be memoized: at most [`MAX_TAKEN`] gears, all of this world's heap
    /// (a foreign handle is an error the step itself must report).
    memoizable: bool,
}

/// Gears a step may take and still be memoized.
const MAX_TAKEN: usize = 4;

/// A step's inputs: the transition and the values of the gears it takes. A code gear is a
/// function of these (its stub reaches the heap only through them), so equal inputs give equal
/// outputs.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct StepInputs {
    goto: u32,
    taken: [u32; MAX_TAKEN],
}

/// A step's outputs: the next transition and the values of the gears it took, afterwards.
#[derive(Clone, Copy)]
struct StepOutputs {
    next: u32,
    taken: [u32; MAX_TAKEN],
}

const NONE: u32 = u32::MAX;

/// The intern tables of collapse compression.
struct Interned {
    heap_id: u32,
    slots: usize,
    objects: Vec<ObjectEntry>,
    object_ids: HashMap<u64, u32, BuildHasherDefault<Identity>>,
    gotos: Vec<GotoEntry>,
    goto_ids: HashMap<u64, u32, BuildHasherDefault<Identity>>,
}

impl Interned {
    /// The id of `object` in `slot`, whose term is `term`, adding it if new.
    fn object(&mut self, slot: u32, object: Option<&Arc<dyn DataGearObject>>, term: u64) -> u32 {
        let fresh = self.objects.len() as u32;
        let mut id = *self.object_ids.entry(term).or_insert(fresh);
        if id != fresh {
            loop {
                let entry = &self.objects[id as usize];
                let same = entry.slot == slot
                    && match (&entry.object, object) {
                        (None, None) => true,
                        (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a.eq_object(&**b),
                        _ => false,
                    };
                if same {
                    return id;
                }
                if entry.next == NONE {
                    self.objects[id as usize].next = fresh;
                    break;
                }
                id = entry.next;
            }
        }
        self.objects.push(ObjectEntry {
            slot,
            object: object.cloned(),
            term,
            next: NONE,
        });
        fresh
    }

    /// The id of `goto` pending in `task`, whose term is `term`, adding it if new.
    fn goto(&mut self, task: u32, goto: Goto, term: u64) -> u32 {
        let fresh = self.gotos.len() as u32;
        let mut id = *self.goto_ids.entry(term).or_insert(fresh);
        if id != fresh {
            loop {
                let entry = &self.gotos[id as usize];
                if entry.task == task && entry.goto == goto {
                    return id;
                }
                if entry.next == NONE {
                    self.gotos[id as usize].next = fresh;
                    break;
                }
                id = entry.next;
            }
        }
        let mut taken = Vec::new();
        taken_gears(&goto, &mut taken);
        let memoizable = taken.len() <= MAX_TAKEN
            && taken
                .iter()
                .all(|(raw, _)| raw.owner() == self.heap_id && (raw.index() as usize) < self.slots);
        self.gotos.push(GotoEntry {
            task,
            exit: goto.is_exit(),
            goto,
            term,
            next: NONE,
            taken: taken
                .iter()
                .filter(|(raw, _)| {
                    raw.owner() == self.heap_id && (raw.index() as usize) < self.slots
                })
                .map(|(raw, is_mut)| (raw.index(), *is_mut))
                .collect(),
            memoizable,
        });
        fresh
    }

    fn bytes(&self) -> usize {
        self.objects.capacity() * size_of::<ObjectEntry>()
            + self.gotos.iter().map(|g| g.taken.len() * 8).sum::<usize>()
            + self.gotos.capacity() * size_of::<GotoEntry>()
            + (self.object_ids.capacity() + self.goto_ids.capacity())
                * (size_of::<(u64, u32)>() + 1)
    }
}

/// Words of a frontier record before the component ids: index, depth, fingerprint (2).
const HEADER: usize = 4;

struct Explorer<'w> {
    world: &'w World,
    check: Check,
    visited: FingerprintSet,
    /// Per stored state: (parent index, task that stepped).
    parents: Vec<(u32, u32)>,
    transitions: u64,
    depth: u32,
    peak_frontier: usize,
    terminal: Vec<u64>,
    interned: Interned,
    memo: HashMap<StepInputs, StepOutputs, BuildHasherDefault<FpHasher>>,
    /// The next transition of the last memo hit.
    memo_next: u32,
}

enum Found {
    /// Invariant `name` is false in stored state `index`.
    Always(String, u32),
    /// Task `task`'s step from state `index` failed.
    Error(Error, u32, u32),
    /// State `index` is a deadlock.
    Deadlock(u32),
    Bound(Bound),
}

pub(super) fn explore(world: &World, check: Check) -> Report {
    let started = Instant::now();
    let mut explorer = Explorer {
        world,
        check,
        visited: FingerprintSet::default(),
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
    };
    let found = explorer.run();
    let verdict = match found {
        None => Verdict::Holds,
        Some(Found::Bound(bound)) => Verdict::Incomplete(bound),
        Some(found) => Verdict::Violated(explorer.counterexample(found)),
    };
    let states = explorer.parents.len() as u64;
    let stored = explorer.visited.capacity() * (size_of::<u64>() + 1)
        + explorer.parents.capacity() * size_of::<(u32, u32)>();
    explorer.terminal.sort_unstable();
    Report {
        tasks: world.tasks(),
        states,
        transitions: explorer.transitions,
        depth: explorer.depth,
        elapsed: started.elapsed(),
        bytes_per_state: stored as f64 / states.max(1) as f64,
        peak_frontier: explorer.peak_frontier,
        frontier_bytes_per_state: (HEADER + world.heap.slot_count() + world.tasks())
            * size_of::<u32>(),
        interned: (
            explorer.interned.objects.len() + explorer.interned.gotos.len(),
            explorer.interned.bytes(),
        ),
        verdict,
        invariants: explorer
            .check
            .invariants
            .iter()
            .map(|(name, _)| name.clone())
            .collect(),
        deadlocks: explorer.check.deadlocks,
        terminal: explorer.terminal,
    }
}

fn set_header(record: &mut [u32], index: u32, depth: u32, fingerprint: u64) {
    record[0] = index;
    record[1] = depth;
    record[2] = fingerprint as u32;
    record[3] = (fingerprint >> 32) as u32;
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
        let stride = HEADER + slots + tasks;

        // The initial state, interned.
        let mut state: Vec<u32> = vec![0; stride];
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
        set_header(&mut state, 0, 0, fingerprint);
        self.visited
            .insert(self.class_of(&state[HEADER..], fingerprint));
        self.parents.push((NO_PARENT, 0));
        if let Some(found) = self.stored(0, &state[HEADER..], fingerprint) {
            return Some(found);
        }

        // Runs the steps the memo has not seen; holds the object of `scratch_ids` per slot.
        let mut scratch = world.heap.clone();
        let mut scratch_ids: Vec<u32> = state[HEADER..HEADER + slots].to_vec();
        let mut frontier: VecDeque<u32> = VecDeque::new();
        frontier.extend(&state);
        let mut node: Vec<u32> = vec![0; stride];
        let mut next_state: Vec<u32> = vec![0; stride];
        // (slot, object id before, after) of the gears the current step wrote.
        let mut writes: Vec<(u32, u32, u32)> = Vec::new();
        let mut last_progress = Instant::now();
        let mut expanded: u64 = 0;
        let mut cut = false;
        while !frontier.is_empty() {
            if self.check.depth_first {
                let at = frontier.len() - stride;
                for (word, value) in node.iter_mut().zip(frontier.drain(at..)) {
                    *word = value;
                }
            } else {
                for (word, value) in node.iter_mut().zip(frontier.drain(..stride)) {
                    *word = value;
                }
            }
            let (index, depth, fingerprint) = header(&node);
            expanded += 1;
            if self.check.progress && expanded.is_multiple_of(1 << 14) {
                self.progress(&mut last_progress, frontier.len() / stride);
            }
            let gotos = &self.interned.gotos;
            if node[HEADER + slots..]
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
            for task in 0..tasks as u32 {
                let goto_id = node[HEADER + slots + task as usize];
                if self.interned.gotos[goto_id as usize].exit {
                    continue;
                }
                self.transitions += 1;
                let next = if self.memoized(goto_id, &node[HEADER..HEADER + slots], &mut writes) {
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
                    ) {
                        Ok(next) => next,
                        Err(error) => return Some(Found::Error(error, index, task)),
                    }
                };
                let mut successor = fingerprint
                    .wrapping_sub(self.interned.gotos[goto_id as usize].term)
                    .wrapping_add(self.interned.gotos[next as usize].term);
                for &(_, before, after) in &writes {
                    successor = successor
                        .wrapping_sub(self.interned.objects[before as usize].term)
                        .wrapping_add(self.interned.objects[after as usize].term);
                }
                if successor == fingerprint {
                    continue;
                }
                all_self_loops = false;
                let build = |next_state: &mut [u32]| {
                    next_state.copy_from_slice(&node);
                    for &(slot, _, after) in &writes {
                        next_state[HEADER + slot as usize] = after;
                    }
                    next_state[HEADER + slots + task as usize] = next;
                };
                if self.check.symmetry.is_some() {
                    build(&mut next_state);
                    if !self
                        .visited
                        .insert(self.class_of(&next_state[HEADER..], successor))
                    {
                        continue;
                    }
                } else {
                    if !self.visited.insert(successor) {
                        continue;
                    }
                    build(&mut next_state);
                }
                if self.parents.len() >= self.check.max_states {
                    return Some(Found::Bound(Bound::MaxStates(self.check.max_states)));
                }
                let new_index = self.parents.len() as u32;
                self.parents.push((index, task));
                set_header(&mut next_state, new_index, depth + 1, successor);
                if let Some(found) = self.stored(new_index, &next_state[HEADER..], successor) {
                    return Some(found);
                }
                self.depth = self.depth.max(depth + 1);
                frontier.extend(&next_state);
                self.peak_frontier = self.peak_frontier.max(frontier.len() / stride);
            }
            if all_self_loops && self.check.deadlocks {
                return Some(Found::Deadlock(index));
            }
        }
        cut.then_some(Found::Bound(Bound::MaxDepth(self.check.max_depth)))
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
        let next = step_task(scratch, task, goto, u64::from(depth))?;
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
        if memoizable {
            self.memo.insert(inputs, outputs);
        }
        Ok(next_id)
    }

    /// Checks a newly stored state.
    fn stored(&mut self, index: u32, ids: &[u32], fingerprint: u64) -> Option<Found> {
        let (slots, tasks) = ids.split_at(self.world.heap.slot_count());
        let gotos = &self.interned.gotos;
        let view = View {
            layout: &self.world.heap,
            slots,
            tasks,
            interned: &self.interned,
        };
        for (name, holds) in &self.check.invariants {
            if !holds(&view) {
                return Some(Found::Always(name.clone(), index));
            }
        }
        if self.check.terminal_states && tasks.iter().all(|&id| gotos[id as usize].exit) {
            self.terminal.push(fingerprint);
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

    /// The task choices from the initial state to stored state `index`.
    fn path(&self, mut index: u32) -> Vec<u32> {
        let mut tasks = Vec::new();
        while let Some(&(parent, task)) = self.parents.get(index as usize) {
            if parent == NO_PARENT {
                break;
            }
            tasks.push(task);
            index = parent;
        }
        tasks.reverse();
        tasks
    }

    /// Replays `path` from the initial state, printing each step.
    fn replay(&self, path: &[u32]) -> (Vec<TraceStep>, Heap, Vec<Goto>) {
        let mut heap = self.world.heap.clone();
        let mut pending = self.world.pending.clone();
        let mut trace = Vec::with_capacity(path.len());
        for (step, &task) in path.iter().enumerate() {
            let goto = pending[task as usize].clone();
            trace.push(TraceStep {
                task: task as usize,
                goto: format!("{goto:?}"),
            });
            pending[task as usize] = step_task(&mut heap, task, goto, step as u64)
                .expect("a recorded step replays as it ran (code gears are deterministic)");
        }
        (trace, heap, pending)
    }

    fn counterexample(&self, found: Found) -> Violation {
        match found {
            Found::Always(name, index) => Violation {
                kind: ViolationKind::Always(name),
                trace: self.replay(&self.path(index)).0,
                stuck: Vec::new(),
            },
            Found::Error(error, index, task) => {
                let (mut trace, _, pending) = self.replay(&self.path(index));
                trace.push(TraceStep {
                    task: task as usize,
                    goto: format!("{:?}", pending[task as usize]),
                });
                Violation {
                    kind: ViolationKind::Error(error),
                    trace,
                    stuck: Vec::new(),
                }
            }
            Found::Deadlock(index) => {
                let (trace, _, pending) = self.replay(&self.path(index));
                let stuck = pending
                    .iter()
                    .enumerate()
                    .filter(|(_, goto)| !goto.is_exit())
                    .map(|(task, goto)| TraceStep {
                        task,
                        goto: format!("{goto:?}"),
                    })
                    .collect();
                Violation {
                    kind: ViolationKind::Deadlock,
                    trace,
                    stuck,
                }
            }
            Found::Bound(_) => unreachable!("bounds are not counterexamples"),
        }
    }
}
