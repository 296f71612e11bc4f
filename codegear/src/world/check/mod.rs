//! [`World::check`]: breadth-first (or depth-first) exploration of every interleaving of the
//! tasks' code-gear steps (and of every alternative of a `choose!`), with deadlock detection,
//! `always` invariants, action properties, liveness under fairness, panics as violations,
//! bounds (states, depth, memory), partial-order and symmetry reduction, and shortest
//! counterexamples that show what each step changed.
//!
//! # Storage
//!
//! Visited states are kept as 64-bit fingerprints (see `fingerprint.rs`; stable across worlds
//! and processes) in a dense table of cache-line buckets, and breadth-first parent links as
//! children counts (see `visited.rs`): about 11 bytes per state whatever the state's size (the figure is in the
//! report, with everything else the check held). A trace is rebuilt by replaying the recorded
//! steps (task and alternative) from the initial state, which is exact because a code gear is
//! a function of its inputs. (Code gears that read clocks or randomness are outside what the
//! checker can explore.) Liveness checks and partial-order reduction need each state's index,
//! and keep a map and explicit parent pairs instead (liveness also the edges).
//!
//! # The frontier: collapse compression
//!
//! States waiting to be expanded are not kept as heaps. Every distinct data-gear value of a slot
//! and every distinct pending transition of a task is stored once, in an intern table, and a
//! state is the row of their ids (SPIN's "collapse compression"). Programs have few distinct
//! values per component (a fork is free or held by one of two philosophers), so the tables stay
//! small and hot. Breadth-first, each row is queued as its difference from the row queued before
//! it (see `frontier.rs`): 15-20 bytes per state, also with 64 tasks.
//!
//! # One step's successor: memoized
//!
//! A step's outcome is a function of its inputs: the task's pending transition and the values
//! of the data gears it takes (its stub reaches the heap only through them, and they are
//! listed, with their `Mut`-ness, by probing the stub on an empty heap; see
//! [`World::gears_taken_by`]). In ids, that is `(transition id, ids of the taken gears)` ->
//! `(next transition id, ids of the gears afterwards)`, kept in a memo table. A program has few
//! distinct local steps (a philosopher picking up a free fork) and many global states, so almost
//! every step is a table lookup. The single worker's memo also keeps each step's fingerprint
//! delta (the changed components' terms swapped), so a successor's fingerprint is the parent's
//! plus one number. A first pass over a state's tasks does the lookups and prefetches the
//! successors' slots of the visited table; the second tests each successor against the table
//! and rebuilds a step's writes only for a successor it stores (most are visited already or
//! self-loops: on dining philosophers about one transition in five is a new state).
//!
//! A step the memo has not seen runs on one scratch heap that holds the state being expanded
//! (the slots whose ids differ from it are replaced). The gears it wrote, copied on write, are
//! interned, and the slots are put back for the next step. A step that takes more than
//! `MAX_TAKEN` gears, or that starts tasks, is never memoized and always runs this way.
//!
//! # Symmetry
//!
//! With [`Check::symmetry`], the visited set stores the user's key of a state's symmetry class
//! instead of its fingerprint. Steps, traces and deadlock detection still use real states.
//!
//! # Layout
//!
//! `mod.rs` is the builder ([`Check`]); `view.rs` the state as properties see it ([`View`]);
//! `report.rs` the outcome and its printing ([`Report`]); `intern.rs` the intern and memo tables;
//! `explore.rs` the explorer, with `trace.rs` (counterexamples replayed and printed) and
//! `ample.rs` (the ample-set search); `visited.rs` the fingerprint table and parent links;
//! `frontier.rs` the queue; `liveness.rs` fair-cycle detection on the stored graph (the
//! algorithm is documented there); `por.rs` partial-order reduction (its rules, and why they
//! are sound for liveness under fairness, are there); `checkpoint.rs` the checkpoint file and
//! `resume.rs` the explorer's suspend, save and restore.
//!
//! # Checkpoints
//!
//! With [`Check::checkpoint`], a check that a bound stops (states, memory, [`Check::max_time`],
//! [`Check::stop_when`]) saves its visited set, parent links, frontier (as state indices,
//! rebuilt on resume by replaying their steps), counters and state graph, and
//! [`World::resume`] goes on from the file in any process to the same verdict, state and
//! transition counts as an uninterrupted check. The file format and its validation are in
//! `checkpoint.rs`.

mod checkpoint;
mod explore;
mod frontier;
mod guard;
mod intern;
mod liveness;
mod parallel;
mod por;
mod report;
mod step;
mod view;
mod visited;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

#[allow(unused_imports, reason = "named by the rustdoc links")]
use super::World;

pub use checkpoint::CheckpointError;
pub use report::{Bound, Report, TraceStep, Verdict, Violation, ViolationKind};
pub use view::View;

pub(super) use explore::resume;
pub(crate) use por::note_handle;

/// Runs a check: on one worker, or with [`Check::workers`] on several.
pub(super) fn explore(world: &World, check: Check) -> Report {
    if check.workers > 1 {
        parallel::explore(world, check)
    } else {
        explore::explore(world, check)
    }
}

/// An `always` invariant: shared by the workers of a check, so `Send + Sync`.
type Invariant = Box<dyn Fn(&View<'_>) -> bool + Send + Sync>;
/// A symmetry key, `None` where the user's function panicked (recorded as a property panic).
type SymmetryKey = Box<dyn Fn(&View<'_>) -> Option<u64> + Send + Sync>;
/// A state predicate of a liveness property.
type Predicate = Box<dyn Fn(&View<'_>) -> bool + Send + Sync>;
/// An action property: a predicate over a step's (before, after) states.
type Action = Box<dyn Fn(&View<'_>, &View<'_>) -> bool + Send + Sync>;

/// Which infinite runs a liveness property is checked on: the fair ones.
///
/// A task is *enabled* in a state when one of its steps changes the state; a step that leaves
/// the state unchanged (a busy-wait retry) waits, as in the deadlock definition. Every run in
/// which some task is enabled forever from some point on and never steps again is unfair under
/// both notions: a scheduler that never runs a ready task is not one anybody writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Fairness {
    /// Weak fairness per task (the default): a task enabled continuously from some point on
    /// steps infinitely often. A task that is enabled only now and then (a lock taken back
    /// each time it is free) may be passed over forever.
    #[default]
    Weak,
    /// Strong fairness per task: a task enabled infinitely often steps infinitely often.
    Strong,
}

/// What a liveness property says.
pub(super) enum Liveness {
    /// Every fair run reaches a state where the predicate holds.
    Eventually(Predicate),
    /// From every reachable state where the first holds, every fair run reaches one where the
    /// second does.
    LeadsTo(Predicate, Predicate),
    /// Every fair run reaches a state where every task has finished.
    Finishes,
}

/// What to check and how far: the meta computation [`World::check`] runs the world with.
///
/// ```text
/// world.check(Check::new().always("no fork held twice", |v| ..).max_states(1_000_000))
/// ```
pub struct Check {
    pub(super) invariants: Vec<(String, Invariant)>,
    pub(super) symmetry: Option<SymmetryKey>,
    pub(super) deadlocks: bool,
    pub(super) depth_first: bool,
    pub(super) max_states: usize,
    pub(super) max_depth: u32,
    pub(super) progress: bool,
    pub(super) terminal_states: bool,
    pub(super) liveness: Vec<(String, Liveness)>,
    pub(super) actions: Vec<(String, Action)>,
    pub(super) fairness: Fairness,
    pub(super) partial_order: bool,
    pub(super) max_memory: usize,
    pub(super) workers: usize,
    pub(super) max_time: Option<Duration>,
    pub(super) stop: Option<Arc<AtomicBool>>,
    pub(super) checkpoint: Option<PathBuf>,
    /// Where a panicking property leaves its message (see `guard.rs`).
    pub(super) panicked: guard::PanicSlot,
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
            .field(
                "liveness",
                &self.liveness.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field(
                "actions",
                &self.actions.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("fairness", &self.fairness)
            .field("partial_order", &self.partial_order)
            .field("max_memory", &self.max_memory)
            .field("workers", &self.workers)
            .field("max_time", &self.max_time)
            .field("stop", &self.stop.is_some())
            .field("checkpoint", &self.checkpoint)
            .finish()
    }
}

impl Check {
    /// Default bound on stored states: about 110 MB of fingerprints and parent links, plus the
    /// frontier (the memory budget, [`Check::max_memory`], bounds the whole).
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
            liveness: Vec::new(),
            actions: Vec::new(),
            fairness: Fairness::Weak,
            partial_order: false,
            max_memory: default_memory_budget(),
            workers: 1,
            max_time: None,
            stop: None,
            checkpoint: None,
            panicked: guard::PanicSlot::default(),
        }
    }

    /// Stops with [`Verdict::Incomplete`] ([`Bound::MaxTime`]) once the exploration has run
    /// this long (looked at every few thousand stored states).
    pub fn max_time(mut self, limit: Duration) -> Self {
        self.max_time = Some(limit);
        self
    }

    /// Stops with [`Verdict::Incomplete`] ([`Bound::Stopped`]) soon after `flag` becomes true
    /// (set from another thread, a signal handler or a timer: a checkpoint on request).
    pub fn stop_when(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// When a bound stops the exploration ([`Bound::MaxStates`], [`Bound::MaxMemory`],
    /// [`Bound::MaxTime`] or [`Bound::Stopped`]; not [`Bound::MaxDepth`], whose cut states are
    /// not kept), saves its state to `path` so that [`World::resume`] can go on from there, in
    /// this process or another, to the verdict and state count an uninterrupted check reaches.
    /// [`Report::checkpoint`] says whether it was written.
    ///
    /// The file holds each stored state's fingerprint and parent link (16 bytes a state), the
    /// frontier as state indices (its states are rebuilt on resume by replaying their steps),
    /// the counters, and what partial-order reduction and liveness keep. It is written next to
    /// `path` and renamed over it. A check with a checkpoint keeps each state's index in its
    /// visited set (about 12 more bytes per state than without).
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpoint = Some(path.into());
        self
    }

    /// What a checkpoint must agree on with the check resuming it: the properties by name and
    /// the options that decide which states are explored (not the bounds, which may change).
    pub(super) fn signature(&self) -> String {
        let names = |list: Vec<&String>| {
            list.iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let liveness = self
            .liveness
            .iter()
            .map(|(name, property)| {
                let kind = match property {
                    Liveness::Eventually(_) => "eventually",
                    Liveness::LeadsTo(..) => "leads_to",
                    Liveness::Finishes => "finishes",
                };
                format!("{kind} {name:?}")
            })
            .collect::<Vec<_>>()
            .join(", ");
        let depth = if self.max_depth == u32::MAX {
            "unbounded".to_string()
        } else {
            self.max_depth.to_string()
        };
        format!(
            "always [{}], action [{}], liveness [{liveness}] under {:?} fairness, deadlocks {}, {}, partial-order reduction {}, symmetry {}, terminal states {}, max_depth {depth}",
            names(self.invariants.iter().map(|(n, _)| n).collect()),
            names(self.actions.iter().map(|(n, _)| n).collect()),
            self.fairness,
            if self.deadlocks { "on" } else { "off" },
            if self.depth_first {
                "depth-first"
            } else {
                "breadth-first"
            },
            if self.partial_order { "on" } else { "off" },
            if self.symmetry.is_some() { "on" } else { "off" },
            if self.terminal_states {
                "kept"
            } else {
                "not kept"
            },
        )
    }

    /// Stops with [`Verdict::Incomplete`] ([`Bound::MaxMemory`]) before the check's own memory
    /// (visited states, parent links, frontier, intern and memo tables, state graph) would
    /// grow past `bytes`. The default is derived from the machine when the check is built:
    /// half of the smaller of the physical memory and the address space left under the
    /// process's limit (`RLIMIT_AS`), so that a check ends with a verdict instead of the
    /// allocator aborting the process.
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = bytes.max(1 << 20);
        self
    }

    /// Explores on `workers` threads of a gears-runtime pool (default 1; 0 counts as 1).
    ///
    /// Breadth-first by levels: every worker expands part of one level, the level's end is a
    /// barrier, so each state is stored at its shortest distance and the verdict, the state
    /// and transition counts and the depth are the single worker's. The visited set is sharded
    /// under striped locks; each worker has its own frontiers; the intern and memo tables are
    /// read without locks during a level and grow at the barrier. When the run finds a
    /// violation or meets the state or memory bound, the report (counterexample, the shortest,
    /// and counts) is rebuilt by the single worker up to that level, so it is exactly what
    /// `workers(1)` reports (a failing check explores its last levels twice; the report's notes
    /// say so).
    ///
    /// Liveness properties, partial-order and symmetry reduction, [`Check::depth_first`],
    /// worlds with metas installed, and checks with a time limit, a stop flag or a checkpoint
    /// run on one worker, with a note in the report: the verdict is never a different one.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// Partial-order reduction from step footprints (default: off): at each state, only the
    /// steps of a set of tasks that nothing else can interfere with are expanded, when that is
    /// sound for deadlocks, `always` invariants and action properties (see the rules in the
    /// crate's checker documentation). Verdicts are the same; fewer states are stored;
    /// counterexamples are real runs but no longer the shortest. Liveness properties under
    /// either fairness are preserved too: the reduced graph keeps which postponed tasks are
    /// enabled in each reduced state, and the fairness analysis uses it. With symmetry
    /// reduction in force (no liveness properties), the check runs unreduced (the report says
    /// so).
    pub fn partial_order_reduction(mut self, on: bool) -> Self {
        self.partial_order = on;
        self
    }

    /// Adds a liveness property: every fair run ([`Check::fairness`]) reaches a state where
    /// `holds` is true (TLA+'s `<>P`). A run that ends (every task finished, or every unfinished
    /// task waiting forever) before such a state violates it too.
    ///
    /// Liveness needs the state graph: the check keeps every edge (about 12 bytes per
    /// transition) and analyses it once the state space is complete; a violation is a lasso, a
    /// prefix from the initial state and a cycle the run repeats forever.
    pub fn eventually(
        mut self,
        name: impl Into<String>,
        holds: impl Fn(&View<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        let name = name.into();
        let holds = guard::state_predicate(&self.panicked, name.clone(), holds);
        self.liveness.push((name, Liveness::Eventually(holds)));
        self
    }

    /// Adds a liveness property: from every reachable state where `from` holds, every fair run
    /// reaches a state where `to` holds (TLA+'s `P ~> Q`). See [`Check::eventually`].
    pub fn leads_to(
        mut self,
        name: impl Into<String>,
        from: impl Fn(&View<'_>) -> bool + Send + Sync + 'static,
        to: impl Fn(&View<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        let name = name.into();
        let from = guard::state_predicate(&self.panicked, name.clone(), from);
        let to = guard::state_predicate(&self.panicked, name.clone(), to);
        self.liveness.push((name, Liveness::LeadsTo(from, to)));
        self
    }

    /// Adds the liveness property "every task eventually finishes" (reaches `Next::exit()`) on
    /// every fair run: catches livelocks (tasks that back off forever) and spin loops whose
    /// retry counter keeps the state changing, which are not deadlocks. See
    /// [`Check::eventually`].
    pub fn every_task_finishes(mut self) -> Self {
        self.liveness
            .push(("every task eventually finishes".into(), Liveness::Finishes));
        self
    }

    /// The fairness liveness properties assume (default [`Fairness::Weak`]).
    pub fn fairness(mut self, fairness: Fairness) -> Self {
        self.fairness = fairness;
        self
    }

    /// Adds an action property: `holds(before, after)` must be true of every step that changes
    /// the state (TLA+'s `[][A]_vars`: steps that change nothing are allowed). The first step
    /// where it is false is reported with the trace ending in that step.
    pub fn action(
        mut self,
        name: impl Into<String>,
        holds: impl Fn(&View<'_>, &View<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        let name = name.into();
        let holds = guard::step_predicate(&self.panicked, name.clone(), holds);
        self.actions.push((name, holds));
        self
    }

    /// Adds an invariant that must hold in every reachable state; the first state where
    /// `holds` returns false is reported with the shortest trace to it.
    ///
    /// A panic in `holds` (or in any property's predicate) does not end the check with the
    /// panic: it is reported as [`ViolationKind::PropertyPanicked`], with the property's name,
    /// the panic's message and the trace to the state (or step) it panicked on.
    ///
    /// `holds` must be a function of what it reads through the [`View`] (gears got, pending
    /// transitions asked for, the number of tasks), as a property is: the checker records those
    /// reads, and in a state reached by a step that wrote no gear and changed no transition any
    /// property has read, it does not call `holds` again (the state's parent held it, and it
    /// would read the same values). A predicate that also consults something outside the state
    /// (a clock, a counter of its own calls) may therefore see fewer calls than states.
    pub fn always(
        mut self,
        name: impl Into<String>,
        holds: impl Fn(&View<'_>) -> bool + Send + Sync + 'static,
    ) -> Self {
        let name = name.into();
        let holds = guard::state_predicate(&self.panicked, name.clone(), holds);
        self.invariants.push((name, holds));
        self
    }

    /// Symmetry reduction: `canonical` maps a state to a 64-bit key of its symmetry class
    /// (e.g. a hash of the lexicographically least rotation of identical tasks' local states),
    /// and the checker stores one state per class.
    ///
    /// Sound only if the key is the same for states that are symmetric images of each other
    /// and the invariants do not tell them apart; then verdicts and traces are as without it
    /// (each trace is a real run), with fewer states. Deadlocks are still found per state.
    /// With liveness properties the check needs the real state graph and does not reduce
    /// (the report says so). A panic in `canonical` ends the check like a panicking property
    /// ([`ViolationKind::PropertyPanicked`] named `symmetry key`, with the trace to the state).
    pub fn symmetry(
        mut self,
        canonical: impl Fn(&View<'_>) -> u64 + Send + Sync + 'static,
    ) -> Self {
        self.symmetry = Some(guard::symmetry_key(&self.panicked, canonical));
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

    /// Stops with [`Verdict::Incomplete`] once this many distinct states are stored (at least
    /// one: the initial state is always stored, so 0 counts as 1).
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

/// Half of the smaller of physical memory (`/proc/meminfo`) and the address space left under
/// the process's limit (`RLIMIT_AS` from `/proc/self/limits`, minus `VmSize` from
/// `/proc/self/status`); 4 GiB where neither can be read.
fn default_memory_budget() -> usize {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let field_kib = |text: &str, name: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let physical = read("/proc/meminfo")
        .and_then(|info| field_kib(&info, "MemTotal:"))
        .map(|kib| kib.saturating_mul(1024));
    let address_space = read("/proc/self/limits").and_then(|limits| {
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max address space"))?;
        // "Max address space  <soft>  <hard>  bytes": the soft limit, or "unlimited".
        let limit: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
        let used = read("/proc/self/status")
            .and_then(|status| field_kib(&status, "VmSize:"))
            .map_or(0, |kib| kib.saturating_mul(1024));
        Some(limit.saturating_sub(used))
    });
    let smaller = match (physical, address_space) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => 8 << 30,
    };
    usize::try_from(smaller / 2).unwrap_or(usize::MAX)
}

// The workers of a check share it: its closures are `Send + Sync`.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Check>();
};
