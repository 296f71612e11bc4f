//! What the simulated tasks do: [`Workload`], [`TaskSpec`], [`Phase`], and higher-class
//! [`Interference`].

use crate::{CpuList, TaskAttrs};

/// One step of a task's behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Compute for this many nanoseconds of CPU time (preemptions pause it).
    Run(u64),
    /// Block for this many nanoseconds of wall time (`MSG_TASK_BLOCKED`, then
    /// `MSG_TASK_WAKEUP`). As the first phase, the task arrives blocked.
    Sleep(u64),
    /// Call `sched_yield` (`MSG_TASK_YIELD`); the task stays runnable.
    Yield,
    /// Change the CPUs the task may run on (`MSG_TASK_AFFINITY_CHANGED`); it keeps running.
    SetAffinity(CpuList),
}

/// How a task leaves the enclave after its last phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TaskEnd {
    /// It exits: `MSG_TASK_BLOCKED` then `MSG_TASK_DEAD`.
    #[default]
    Exit,
    /// It moves to another scheduling class: `MSG_TASK_DEPARTED`.
    Depart,
}

/// One task of a workload: when it joins the enclave and what it does.
///
/// Built with chained calls: `TaskSpec::new("t1").run(1_000_000).sleep(50_000).repeat(10)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSpec {
    /// A name for reports and traces.
    pub name: String,
    /// When it joins the enclave (`MSG_TASK_NEW`), in ns.
    pub start_ns: u64,
    /// Its phases, run in order `repeat` times.
    pub phases: Vec<Phase>,
    /// How many times the phases run (at least 1).
    pub repeat: u32,
    /// How it leaves.
    pub end: TaskEnd,
    /// What the policy may know about it (priority, weight, deadline, a user value), read with
    /// [`AgentEnclave::task_attrs`](crate::AgentEnclave::task_attrs) or `task.attrs()`.
    pub attrs: TaskAttrs,
}

impl TaskSpec {
    /// A task named `name` that starts at 0, has no phase yet and exits.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            start_ns: 0,
            phases: Vec::new(),
            repeat: 1,
            end: TaskEnd::Exit,
            attrs: TaskAttrs::new(),
        }
    }

    /// With `attrs`.
    #[must_use]
    pub fn attrs(mut self, attrs: TaskAttrs) -> Self {
        self.attrs = attrs;
        self
    }

    /// With priority `priority` (the other attributes unchanged).
    #[must_use]
    pub fn priority(mut self, priority: i32) -> Self {
        self.attrs.priority = priority;
        self
    }

    /// Starts at `ns`.
    #[must_use]
    pub fn start_at(mut self, ns: u64) -> Self {
        self.start_ns = ns;
        self
    }

    /// Adds a [`Phase::Run`].
    #[must_use]
    pub fn run(mut self, ns: u64) -> Self {
        self.phases.push(Phase::Run(ns));
        self
    }

    /// Adds a [`Phase::Sleep`].
    #[must_use]
    pub fn sleep(mut self, ns: u64) -> Self {
        self.phases.push(Phase::Sleep(ns));
        self
    }

    /// Adds a [`Phase::Yield`].
    #[must_use]
    pub fn yield_now(mut self) -> Self {
        self.phases.push(Phase::Yield);
        self
    }

    /// Adds a [`Phase::SetAffinity`].
    #[must_use]
    pub fn set_affinity(mut self, cpus: CpuList) -> Self {
        self.phases.push(Phase::SetAffinity(cpus));
        self
    }

    /// Runs the phases `n` times (0 is taken as 1).
    #[must_use]
    pub fn repeat(mut self, n: u32) -> Self {
        self.repeat = n.max(1);
        self
    }

    /// Leaves the ghOSt class at the end instead of exiting.
    #[must_use]
    pub fn depart(mut self) -> Self {
        self.end = TaskEnd::Depart;
        self
    }

    /// Total CPU time the task asks for.
    pub fn total_run_ns(&self) -> u64 {
        let per_round: u64 = self
            .phases
            .iter()
            .map(|p| match p {
                Phase::Run(ns) => *ns,
                _ => 0,
            })
            .sum();
        per_round * u64::from(self.repeat)
    }
}

/// A burst of a higher scheduling class (CFS, RT) on one CPU: it preempts the ghOSt task there
/// and boosts the CPU's agent, which must yield for it to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interference {
    /// The CPU.
    pub cpu: usize,
    /// When it starts, in ns.
    pub start_ns: u64,
    /// How long it wants the CPU, in ns.
    pub duration_ns: u64,
}

/// Random higher-class bursts on every enclave CPU, drawn from the simulation's seed: gaps and
/// lengths uniform in `[mean/2, 3*mean/2]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandomInterference {
    /// Mean time between the end of one burst and the start of the next on a CPU, in ns.
    pub mean_gap_ns: u64,
    /// Mean burst length, in ns.
    pub mean_len_ns: u64,
}

/// The tasks of a simulation. Task `i` gets tid `i + 1`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workload {
    /// The tasks.
    pub tasks: Vec<TaskSpec>,
}

impl Workload {
    /// A workload of these tasks.
    pub fn new(tasks: Vec<TaskSpec>) -> Self {
        Self { tasks }
    }

    /// Adds a task.
    #[must_use]
    pub fn with(mut self, task: TaskSpec) -> Self {
        self.tasks.push(task);
        self
    }
}
