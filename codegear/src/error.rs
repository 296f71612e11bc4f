//! Runtime errors of the meta level: what a stub, the heap or a meta reports instead of running
//! a code gear.

use std::fmt;

use crate::gear::RawGear;
use crate::value::TypeMismatch;

/// Why a run (or one step) stopped with an error. See [`Error`] for where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A code gear took one data gear as `Mut` twice, or as `Mut` and `Ref`.
    AliasedMut {
        /// The data gear's type.
        data_gear: &'static str,
        /// Its handle.
        gear: RawGear,
    },
    /// A handle to a data gear that has been freed (its slot now has a newer generation), or
    /// that was never allocated in this heap.
    StaleHandle {
        /// The data gear's type, as the handle says.
        data_gear: &'static str,
        /// The handle.
        gear: RawGear,
    },
    /// A handle that belongs to another context (or another task's private heap).
    ForeignHandle {
        /// The data gear's type, as the handle says.
        data_gear: &'static str,
        /// The handle.
        gear: RawGear,
        /// The heap it was used with.
        heap: u32,
    },
    /// A handle whose slot holds a data gear of another type.
    WrongType {
        /// The type the handle promises.
        expected: &'static str,
        /// The type in the slot.
        found: &'static str,
    },
    /// A continuation carried arguments of another type than its code gear takes (a bug in
    /// generated code; reported rather than trusted).
    Arguments(TypeMismatch),
    /// The step-limit meta stopped the run.
    StepLimit {
        /// The limit.
        limit: u64,
    },
    /// A meta stopped the run for its own reason.
    Stopped {
        /// The meta's reason.
        reason: String,
    },
    /// The code-gear tables could not be built (a name registered twice).
    Registry(String),
}

/// A runtime error with the place it happened: the code gear about to run and the step number.
///
/// Boxed, so that `Result<Goto, Error>` (what every stub returns) is no larger than a `Goto`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error(Box<Placed>);

#[derive(Clone, Debug, PartialEq, Eq)]
struct Placed {
    kind: ErrorKind,
    code_gear: Option<&'static str>,
    step: Option<u64>,
}

impl Error {
    /// An error of `kind`, not yet placed.
    pub fn new(kind: ErrorKind) -> Self {
        Self(Box::new(Placed {
            kind,
            code_gear: None,
            step: None,
        }))
    }

    /// Records where the error happened (kept if already set).
    pub(crate) fn at(mut self, code_gear: &'static str, step: u64) -> Self {
        self.0.code_gear.get_or_insert(code_gear);
        self.0.step.get_or_insert(step);
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The code gear that was about to run, if known.
    pub fn code_gear(&self) -> Option<&'static str> {
        self.0.code_gear
    }

    /// The number of transitions completed before the error, if known.
    pub fn step(&self) -> Option<u64> {
        self.0.step
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::new(kind)
    }
}

impl From<TypeMismatch> for Error {
    fn from(mismatch: TypeMismatch) -> Self {
        Self::new(ErrorKind::Arguments(mismatch))
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AliasedMut { data_gear, gear } => write!(
                f,
                "data gear `{data_gear}` {gear} is taken twice by one code gear, at least once as \
                 `Mut`; a code gear may take a data gear as `Mut` only once (pass it once, or \
                 take both as `Ref`)"
            ),
            Self::StaleHandle { data_gear, gear } => write!(
                f,
                "stale handle {gear} to data gear `{data_gear}`: it was freed, or never \
                 allocated in this context"
            ),
            Self::ForeignHandle {
                data_gear,
                gear,
                heap,
            } => write!(
                f,
                "handle {gear} to data gear `{data_gear}` belongs to heap #{owner}, not to this one (#{heap}); \
                 a task-private data gear cannot be used by another context or task (allocate it \
                 as shared, or pass its value)",
                owner = gear.owner()
            ),
            Self::WrongType { expected, found } => write!(
                f,
                "handle promises data gear `{expected}` but its slot holds a `{found}`"
            ),
            Self::Arguments(mismatch) => write!(f, "continuation arguments: {mismatch}"),
            Self::StepLimit { limit } => write!(
                f,
                "step limit of {limit} transitions reached (raise it with `StepLimit::new`, or \
                 look for a loop that never reaches `Next::exit()`)"
            ),
            Self::Stopped { reason } => write!(f, "stopped by meta: {reason}"),
            Self::Registry(message) => write!(f, "code-gear tables: {message}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.step, self.0.code_gear) {
            (Some(step), Some(gear)) => write!(f, "step {step}, before code gear `{gear}`: ")?,
            (None, Some(gear)) => write!(f, "code gear `{gear}`: ")?,
            _ => {}
        }
        self.0.kind.fmt(f)
    }
}

impl std::error::Error for Error {}
