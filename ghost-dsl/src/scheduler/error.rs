//! What can go wrong when a generated scheduler runs: the enclave (a simulation that stalls, a
//! thread enclave that loses a thread), the scheduler breaking a task state rule
//! ([`TransitionError`]), or a handler panicking ([`HandlerPanic`]). Every [`Error`] carries the
//! enclave's report as it was when the run ended.

use std::fmt;
use std::sync::Arc;

use crate::abi::Report;
use crate::sim::SimError;
use crate::{Cpu, Gtid, Message};

/// A task state rule broken while the scheduler ran: a message that does not fit the task's
/// state, or a decision about a task that cannot run. Names the message (or the decision) and
/// the task.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{during} (agent on {cpu}, at {now_ns} ns): {problem}")]
pub struct TransitionError {
    /// Time, ns since the enclave started.
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

/// A handler of the scheduler panicked: which handler, on which message (if any) and task (if
/// any), and the panic's message. The run ended there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "handler `{handler}` panicked{} (agent on {cpu}, at {now_ns} ns): {payload}",
    describe(message, gtid)
)]
pub struct HandlerPanic {
    /// The handler, as the scheduler names it (`task_new`, `pick_next`, ...).
    pub handler: &'static str,
    /// The message it was handling, if it was a message handler.
    pub message: Option<Message>,
    /// The task it was handling, if any.
    pub gtid: Option<Gtid>,
    /// The agent's CPU.
    pub cpu: Cpu,
    /// Time, ns since the enclave started.
    pub now_ns: u64,
    /// The panic's message (`"..."` payloads as they are; others as `"<non-string panic>"`).
    pub payload: String,
}

fn describe(message: &Option<Message>, gtid: &Option<Gtid>) -> String {
    match (message, gtid) {
        (Some(msg), _) => format!(" on {msg}"),
        (None, Some(gtid)) => format!(" for {gtid}"),
        (None, None) => String::new(),
    }
}

/// What went wrong, without the report (see [`Error`]).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The simulated enclave could not run the scheduler, or the workload did not finish.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// Another enclave (the thread enclave) failed; its own error is the source.
    #[error(transparent)]
    Enclave(Arc<dyn std::error::Error + Send + Sync + 'static>),
    /// The scheduler broke a task state rule; `first` is the first, `total` counts all of them.
    /// `Display` shows the first (it is the error's subject, not a cause, so not its source).
    #[error("task state check failed: {first}{}", more(*total))]
    Transition {
        /// The first broken rule.
        first: TransitionError,
        /// How many were found.
        total: usize,
    },
    /// A handler panicked.
    #[error(transparent)]
    HandlerPanicked(HandlerPanic),
}

fn more(total: usize) -> String {
    if total > 1 {
        format!(" (and {} more)", total - 1)
    } else {
        String::new()
    }
}

/// Why a generated scheduler's run failed, with the enclave's report as the run ended (what
/// ran, when, how long tasks waited; `None` only when the enclave could not even be attached).
#[derive(Clone, Debug)]
pub struct Error(Box<Inner>);

/// Boxed so that `Result<_, Error>` stays one pointer wide.
#[derive(Clone, Debug)]
struct Inner {
    kind: ErrorKind,
    report: Option<Report>,
}

impl Error {
    /// An error of `kind` with the report so far.
    pub fn new(kind: ErrorKind, report: Option<Report>) -> Self {
        Self(Box::new(Inner { kind, report }))
    }

    /// An error of another enclave (for backends: `From<TheirError> for Error` goes through
    /// here).
    pub fn enclave(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::new(ErrorKind::Enclave(Arc::new(source)), None)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The enclave's report as the run ended, if the enclave got that far.
    pub fn report(&self) -> Option<&Report> {
        self.0.report.as_ref()
    }

    /// The simulation error, if that is what this is.
    pub fn as_sim(&self) -> Option<&SimError> {
        match &self.0.kind {
            ErrorKind::Sim(err) => Some(err),
            _ => None,
        }
    }

    /// The first broken task state rule and how many there were, if that is what this is.
    pub fn as_transition(&self) -> Option<(&TransitionError, usize)> {
        match &self.0.kind {
            ErrorKind::Transition { first, total } => Some((first, *total)),
            _ => None,
        }
    }

    /// The enclave's own error, if that is what this is and it is an `E` (for the thread
    /// enclave, [`ThreadError`](crate::threads::ThreadError)).
    pub fn as_enclave<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match &self.0.kind {
            ErrorKind::Enclave(err) => err.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// The handler panic, if that is what this is.
    pub fn as_handler_panic(&self) -> Option<&HandlerPanic> {
        match &self.0.kind {
            ErrorKind::HandlerPanicked(panic) => Some(panic),
            _ => None,
        }
    }

    pub(crate) fn with_report(mut self, report: Report) -> Self {
        self.0.report.get_or_insert(report);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.kind.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // `kind` is displayed as this error's own message, so the chain continues below it.
        std::error::Error::source(&self.0.kind)
    }
}

impl PartialEq for ErrorKind {
    /// Equal kinds with equal contents; enclave errors are equal when they are the same error.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Sim(a), Self::Sim(b)) => a == b,
            (Self::Enclave(a), Self::Enclave(b)) => Arc::ptr_eq(a, b),
            (
                Self::Transition { first, total },
                Self::Transition {
                    first: first_b,
                    total: total_b,
                },
            ) => first == first_b && total == total_b,
            (Self::HandlerPanicked(a), Self::HandlerPanicked(b)) => a == b,
            _ => false,
        }
    }
}

impl PartialEq for Error {
    /// Equal kinds and equal reports.
    fn eq(&self, other: &Self) -> bool {
        self.0.kind == other.0.kind && self.0.report == other.0.report
    }
}

impl From<SimError> for Error {
    fn from(err: SimError) -> Self {
        Self::new(ErrorKind::Sim(err), None)
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind, None)
    }
}
