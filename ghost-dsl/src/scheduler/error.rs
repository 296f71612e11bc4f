//! What can go wrong when a generated scheduler runs: the simulation, or the scheduler itself
//! breaking a task state rule ([`TransitionError`]).

use crate::sim::SimError;
use crate::{Cpu, Gtid};

/// A task state rule broken while the scheduler ran: a message that does not fit the task's
/// state, or a decision about a task that cannot run. Names the message (or the decision) and
/// the task.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{during} (agent on {cpu}, at {now_ns} ns): {problem}")]
pub struct TransitionError {
    /// Simulated time, ns.
    pub now_ns: u64,
    /// The agent's CPU.
    pub cpu: Cpu,
    /// The task.
    pub gtid: Gtid,
    /// What was being handled, naming the task: the message as ghOSt prints it
    /// (`MSG_TASK_WAKEUP seq=3 task 2`), or the decision (`pick_next(cpu1) -> task 2`,
    /// `commit of task 2 on cpu1`).
    pub during: String,
    /// What is wrong, and what the scheduler should have done.
    pub problem: String,
}

/// Why a generated scheduler's run failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The simulated enclave could not run the scheduler or the workload did not finish.
    #[error(transparent)]
    Sim(SimError),
    /// The scheduler broke a task state rule; `first` is the first, `total` counts all of them.
    /// `Display` shows the first (it is the error's subject, not a cause, so not its source).
    #[error(
        "task state check failed: {first}{}",
        if *total > 1 { format!(" (and {} more)", total - 1) } else { String::new() }
    )]
    Transition {
        /// The first broken rule.
        first: TransitionError,
        /// How many were found.
        total: usize,
    },
}

impl From<SimError> for Error {
    fn from(err: SimError) -> Self {
        Self::Sim(err)
    }
}
