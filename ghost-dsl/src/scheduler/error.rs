//! What can go wrong when a generated scheduler runs: the simulation, or the scheduler itself
//! breaking a task state rule ([`TransitionError`]).

use std::fmt;

use crate::sim::SimError;
use crate::{Cpu, Gtid};

/// A task state rule broken while the scheduler ran: a message that does not fit the task's
/// state, or a decision about a task that cannot run. Names the message (or the decision) and
/// the task.
#[derive(Clone, Debug, PartialEq, Eq)]
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

impl fmt::Display for TransitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (agent on {}, at {} ns): {}",
            self.during, self.cpu, self.now_ns, self.problem
        )
    }
}

impl std::error::Error for TransitionError {}

/// Why a generated scheduler's run failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The simulated enclave could not run the scheduler or the workload did not finish.
    Sim(SimError),
    /// The scheduler broke a task state rule; `first` is the first, `total` counts all of them.
    Transition {
        /// The first broken rule.
        first: TransitionError,
        /// How many were found.
        total: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sim(err) => err.fmt(f),
            Self::Transition { first, total } => {
                write!(f, "task state check failed: {first}")?;
                if *total > 1 {
                    write!(f, " (and {} more)", total - 1)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Sim(err) => Some(err),
            Self::Transition { first, .. } => Some(first),
        }
    }
}

impl From<SimError> for Error {
    fn from(err: SimError) -> Self {
        Self::Sim(err)
    }
}
