//! What a check found ([`Report`], [`Verdict`], [`Violation`]) and how it prints.

use std::fmt;
use std::time::Duration;

use super::Fairness;
use crate::error::Error;

/// A bound that ended a check early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bound {
    /// `max_states` distinct states were stored.
    MaxStates(usize),
    /// States at `max_depth` had steps left.
    MaxDepth(u32),
    /// The check's memory (visited states, parent links, frontier, intern and memo tables,
    /// state graph) would have grown past `max_memory` bytes.
    MaxMemory(usize),
    /// The exploration ran for [`Check::max_time`](super::Check::max_time).
    MaxTime(std::time::Duration),
    /// The flag given to [`Check::stop_when`](super::Check::stop_when) was raised.
    Stopped,
}

/// What was violated.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ViolationKind {
    /// A state with an unfinished task where every step leaves the state unchanged.
    Deadlock,
    /// The named `always` invariant is false in the trace's last state.
    Always(String),
    /// The named action property is false of the trace's last step.
    Action(String),
    /// The named liveness property ([`Check::eventually`](super::Check::eventually),
    /// [`Check::leads_to`](super::Check::leads_to),
    /// [`Check::every_task_finishes`](super::Check::every_task_finishes)) fails on a fair run:
    /// the trace, then the cycle repeated forever (or, if the cycle is empty, the trace's last
    /// state kept forever because no task can change it).
    Liveness(String),
    /// The trace's last step failed: a panic ([`crate::ErrorKind::Panicked`]) or a runtime
    /// error such as a task-private gear handed to another task.
    Error(Error),
    /// A property's own predicate panicked, evaluated in the trace's last state (for an action
    /// property, on its last step): a bug in the property or a state it did not expect.
    PropertyPanicked {
        /// The property's name.
        property: String,
        /// The panic's message.
        message: String,
    },
}

/// One step of a trace: `task: code_gear(args)`, what it chose and what it changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceStep {
    /// The task that stepped.
    pub task: usize,
    /// The transition it took, printed as a call.
    pub goto: String,
    /// If the step ended in a choice (`choose!`): which alternative this run took, e.g.
    /// `alternative 2 of 2: lose(Link#1.0, exit)`.
    pub chose: Option<String>,
    /// The data gears the step changed, `Type#heap.slot: old → new` by `Debug`.
    pub changes: Vec<String>,
}

impl fmt::Display for TraceStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.task, self.goto)?;
        if let Some(chose) = &self.chose {
            write!(f, "  -> {chose}")?;
        }
        for change in &self.changes {
            write!(f, "\n              {change}")?;
        }
        Ok(())
    }
}

/// A counterexample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// What went wrong.
    pub kind: ViolationKind,
    /// The steps from the initial state (the shortest such trace under BFS; for a liveness
    /// violation, the lasso's prefix).
    pub trace: Vec<TraceStep>,
    /// For a liveness violation: the steps of the lasso's cycle, which start and end in the
    /// trace's last state and are repeated forever; every task that is enabled throughout the
    /// cycle steps in it. Empty otherwise (and for a run that stops in the trace's last state).
    pub cycle: Vec<TraceStep>,
    /// For a deadlock (or a liveness run that stops): each unfinished task's step, all of which
    /// leave the state unchanged.
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
    /// states seen (liveness properties are not analysed on a partial graph).
    Incomplete(Bound),
}

/// What [`World::check`](crate::World::check) found, with its cost.
#[derive(Clone, Debug)]
pub struct Report {
    /// Number of tasks the world had when the check began (tasks that code gears start with
    /// `par_goto!` during the check are part of the states they appear in, not counted here).
    pub tasks: usize,
    /// Distinct states stored (including the initial one).
    pub states: u64,
    /// Steps taken (successors computed).
    pub transitions: u64,
    /// The largest distance from the initial state of a stored state.
    pub depth: u32,
    /// Wall time (exploration and liveness analysis).
    pub elapsed: Duration,
    /// Of [`Report::elapsed`], the liveness analysis of the stored graph, if there was one.
    pub liveness_elapsed: Option<Duration>,
    /// Bytes of the visited-state storage (fingerprint table and parent links, and the edges
    /// and labels of the state graph when liveness is checked) per state.
    pub bytes_per_state: f64,
    /// Everything the check held at its largest, per state: visited storage, the frontier at
    /// its peak, intern and memo tables.
    pub total_bytes_per_state: f64,
    /// The memory budget ([`Check::max_memory`](super::Check::max_memory)).
    pub max_memory: usize,
    /// The largest frontier (states waiting to be expanded).
    pub peak_frontier: usize,
    /// Bytes per state in the frontier when it was largest (breadth-first: each state as its
    /// difference from the one queued before it; depth-first: one u32 per component).
    pub frontier_bytes_per_state: f64,
    /// Distinct data-gear values and pending transitions stored in the intern tables, and
    /// their bytes.
    pub interned: (usize, usize),
    /// The verdict.
    pub verdict: Verdict,
    /// The names of the `always` invariants checked.
    pub invariants: Vec<String>,
    /// The names of the action properties checked.
    pub actions: Vec<String>,
    /// The names of the liveness properties checked.
    pub liveness: Vec<String>,
    /// The fairness the liveness properties assumed.
    pub fairness: Fairness,
    /// Whether deadlocks were looked for.
    pub deadlocks: bool,
    /// Remarks on how the check ran (an option it could not honour, and why).
    pub notes: Vec<String>,
    /// The file the check's state was saved to when a bound stopped it
    /// ([`Check::checkpoint`](super::Check::checkpoint)), if it was written.
    pub checkpoint: Option<std::path::PathBuf>,
    pub(super) terminal: Vec<u64>,
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
    /// ([`Check::terminal_states`](super::Check::terminal_states)), sorted.
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
            "{} task{}: {} states, {} transitions, depth {}, {:.3?} ({:.0} states/s, {:.1} bytes/state stored)",
            self.tasks,
            if self.tasks == 1 { "" } else { "s" },
            self.states,
            self.transitions,
            self.depth,
            self.elapsed,
            self.states_per_second(),
            self.bytes_per_state
        )?;
        writeln!(
            f,
            "frontier: peak {} states x {:.1} bytes; intern tables: {} distinct values, {} bytes; {:.1} bytes/state in all",
            self.peak_frontier,
            self.frontier_bytes_per_state,
            self.interned.0,
            self.interned.1,
            self.total_bytes_per_state
        )?;
        if let Some(liveness) = self.liveness_elapsed {
            writeln!(
                f,
                "liveness ({:?} fairness): state graph analysed in {liveness:.3?}",
                self.fairness
            )?;
        }
        for note in &self.notes {
            writeln!(f, "note: {note}")?;
        }
        if let Some(path) = &self.checkpoint {
            writeln!(
                f,
                "checkpoint: saved to {} (go on with `World::resume`)",
                path.display()
            )?;
        }
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
                proved.extend(
                    self.actions
                        .iter()
                        .map(|name| format!("every step `{name}`")),
                );
                proved.extend(
                    self.liveness
                        .iter()
                        .map(|name| format!("on every fair run `{name}`")),
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
            Verdict::Incomplete(Bound::MaxMemory(bytes)) => writeln!(
                f,
                "verdict: incomplete: stopped at max_memory = {} MiB (nothing violated so far; raise the budget, or reduce: partial-order reduction, symmetry)",
                bytes >> 20
            ),
            Verdict::Incomplete(Bound::MaxTime(limit)) => writeln!(
                f,
                "verdict: incomplete: stopped at max_time = {limit:?} (nothing violated so far)"
            ),
            Verdict::Incomplete(Bound::Stopped) => writeln!(
                f,
                "verdict: incomplete: stopped on request (nothing violated so far)"
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
                    ViolationKind::Action(name) => {
                        writeln!(
                            f,
                            "verdict: VIOLATED: action `{name}` is false of the last step"
                        )?;
                    }
                    ViolationKind::Liveness(name) => {
                        writeln!(
                            f,
                            "verdict: VIOLATED: `{name}` fails on a fair run ({:?} fairness): the trace, then the cycle forever",
                            self.fairness
                        )?;
                    }
                    ViolationKind::Error(error) => {
                        writeln!(f, "verdict: ERROR in the last step: {error}")?;
                    }
                    ViolationKind::PropertyPanicked { property, message } => {
                        writeln!(
                            f,
                            "verdict: ERROR: property `{property}` panicked at the end of the trace: {message}"
                        )?;
                    }
                }
                writeln!(f, "trace ({} steps):", violation.trace.len())?;
                for (i, step) in violation.trace.iter().enumerate() {
                    writeln!(f, "  {:>4}. {step}", i + 1)?;
                }
                if matches!(violation.kind, ViolationKind::Liveness(_)) {
                    if violation.cycle.is_empty() {
                        writeln!(
                            f,
                            "then the run stays in this state forever (no task can change it)"
                        )?;
                    } else {
                        writeln!(
                            f,
                            "cycle ({} steps, back to the state after the trace, repeated forever):",
                            violation.cycle.len()
                        )?;
                        for (i, step) in violation.cycle.iter().enumerate() {
                            writeln!(f, "  {:>4}. {step}", i + 1)?;
                        }
                    }
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
