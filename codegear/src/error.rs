//! Runtime errors of the meta level: what a stub, the heap or a meta reports instead of running
//! a code gear.

use std::fmt;
use std::sync::Arc;

use gears_runtime::pool::PoolError;
use gears_runtime::registry::RegistryError;

use crate::gear::RawGear;
use crate::value::TypeMismatch;

/// Why a run (or one step) stopped with an error. See [`Error`] for where it happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A code gear took one data gear as `Mut` twice, or as `Mut` and `Ref`.
    #[error(
        "data gear `{data_gear}` {gear} is taken twice by one code gear, at least once as \
         `Mut`; a code gear may take a data gear as `Mut` only once (pass it once, or take both \
         as `Ref`)"
    )]
    AliasedMut {
        /// The data gear's type.
        data_gear: &'static str,
        /// Its handle.
        gear: RawGear,
    },
    /// A handle to a data gear that has been freed (its slot now has a newer generation), or
    /// that was never allocated in this heap.
    #[error(
        "stale handle {gear} to data gear `{data_gear}`: it was freed, or never allocated in \
         this context"
    )]
    StaleHandle {
        /// The data gear's type, as the handle says.
        data_gear: &'static str,
        /// The handle.
        gear: RawGear,
    },
    /// A handle that belongs to another context (or another task's private heap).
    #[error(
        "handle {gear} to data gear `{data_gear}` belongs to heap #{owner}, not to this one \
         (#{heap}); a data gear can be used only by the context or world that allocated it, \
         and a task-private one only by its task (allocate it in the world whose tasks use it, \
         as shared if several do, or pass its value)",
        owner = gear.owner()
    )]
    ForeignHandle {
        /// The data gear's type, as the handle says.
        data_gear: &'static str,
        /// The handle.
        gear: RawGear,
        /// The heap it was used with.
        heap: u32,
    },
    /// A task's code gear took a data gear private to another task of the world.
    #[error(
        "task {task} took data gear `{data_gear}` {gear}, which is private to task {owner}; a \
         task-private data gear cannot be handed to another task (allocate it with \
         `World::alloc_shared` to share it, or pass its value)"
    )]
    PrivateGear {
        /// The data gear's type.
        data_gear: &'static str,
        /// Its handle.
        gear: RawGear,
        /// The task it is private to.
        owner: u32,
        /// The task whose code gear took it.
        task: u32,
    },
    /// A handle whose slot holds a data gear of another type.
    #[error("handle promises data gear `{expected}` but its slot holds a `{found}`")]
    WrongType {
        /// The type the handle promises.
        expected: &'static str,
        /// The type in the slot.
        found: &'static str,
    },
    /// A continuation carried arguments of another type than its code gear takes (a bug in
    /// generated code; reported rather than trusted).
    #[error(transparent)]
    Arguments(TypeMismatch),
    /// The step-limit meta stopped the run.
    #[error(
        "step limit of {limit} transitions reached (raise it with `StepLimit::new`, or look for \
         a loop that never reaches `Next::exit()`)"
    )]
    StepLimit {
        /// The limit.
        limit: u64,
    },
    /// [`World::step`](crate::World::step) was given a task the world does not have.
    #[error(
        "task {task} is not a task of this world (it has {tasks}); use a `TaskId` that this \
         world's `reserve_task` or `par_goto` returned"
    )]
    UnknownTask {
        /// The index asked for.
        task: usize,
        /// How many tasks the world has.
        tasks: usize,
    },
    /// A code gear panicked (the world's runs and checks catch it).
    #[error("code gear panicked: {message}")]
    Panicked {
        /// The panic's message.
        message: String,
    },
    /// The worker pool of a parallel run could not be started (the pool's error is this
    /// error's `Display` and its source is the pool error's source).
    #[error(transparent)]
    Pool(PoolFailure),
    /// A meta stopped the run for its own reason.
    #[error("stopped by meta: {reason}")]
    Stopped {
        /// The meta's reason.
        reason: String,
    },
    /// The code-gear tables could not be built (a name registered twice).
    #[error(transparent)]
    Registry(RegistryError),
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
    task: Option<u32>,
}

// The promise of the boxing: a stub's `Result<Goto, Error>` costs no more than its `Goto` (the
// trampoline's hot path moves one per transition). `Error` is one pointer.
static_assertions::const_assert_eq!(
    std::mem::size_of::<Result<crate::Goto, Error>>(),
    std::mem::size_of::<crate::Goto>()
);
static_assertions::assert_eq_size!(Error, usize);

impl Error {
    /// An error of `kind`, not yet placed.
    pub fn new(kind: ErrorKind) -> Self {
        Self(Box::new(Placed {
            kind,
            code_gear: None,
            step: None,
            task: None,
        }))
    }

    /// Records where the error happened (kept if already set).
    pub(crate) fn at(mut self, code_gear: &'static str, step: u64) -> Self {
        self.0.code_gear.get_or_insert(code_gear);
        self.0.step.get_or_insert(step);
        self
    }

    /// Records the world task it happened in (kept if already set).
    pub(crate) fn in_task(mut self, task: u32) -> Self {
        self.0.task.get_or_insert(task);
        self
    }

    /// The world task whose code gear failed, if it happened in a world.
    pub fn task(&self) -> Option<usize> {
        self.0.task.map(|task| task as usize)
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(task) = self.0.task {
            write!(f, "task {task}, ")?;
        }
        match (self.0.step, self.0.code_gear) {
            (Some(step), Some(gear)) => write!(f, "step {step}, before code gear `{gear}`: ")?,
            (None, Some(gear)) => write!(f, "code gear `{gear}`: ")?,
            _ => {}
        }
        self.0.kind.fmt(f)
    }
}

// By hand rather than derived: `Display` prints the place and then the kind's message, so the
// source is the kind's source (deriving would either repeat the kind or hide the place).
impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0.kind)
    }
}

/// A [`PoolError`] shared by the clones of one [`Error`] (it holds an `io::Error`, which is
/// neither `Clone` nor `Eq`). Two are equal when they are one error or print the same.
#[derive(Clone, Debug, thiserror::Error)]
#[error(transparent)]
pub struct PoolFailure(Arc<PoolError>);

impl PoolFailure {
    /// The pool's error.
    pub fn pool_error(&self) -> &PoolError {
        &self.0
    }
}

impl From<PoolError> for PoolFailure {
    fn from(error: PoolError) -> Self {
        Self(Arc::new(error))
    }
}

impl PartialEq for PoolFailure {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.to_string() == other.0.to_string()
    }
}

impl Eq for PoolFailure {}
