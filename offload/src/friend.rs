//! Friends: the restricted threads that offload to the hakase, and how to configure them.

use core::fmt;
use std::any::Any;
use std::thread::JoinHandle;

use gears_runtime::cpu_list::{AffinityError, CpuList, parse_cpu_str};
use gears_runtime::handoff::WaitStrategy;

use crate::Error;
use crate::sandbox::{Sandbox, SandboxError};

/// The index of a friend among those one [`Hakase::spawn_friends`](crate::Hakase::spawn_friends)
/// call started, from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FriendId(pub usize);

impl fmt::Display for FriendId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "friend {}", self.0)
    }
}

/// How to start friends: on which CPUs, how many, sandboxed or not, and how they wait.
///
/// Friend `i` is pinned to the `i`-th CPU of the list (round robin when there are more friends
/// than CPUs, in which case they share cores).
///
/// ```
/// use offload::{FriendConfig, Sandbox};
///
/// let config = FriendConfig::cpus("0-1")?.count(4).sandbox(Sandbox::NoSyscalls);
/// assert_eq!(config.friend_count(), 4);
/// assert!(FriendConfig::cpus("1-0").is_err());
/// # Ok::<(), offload::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct FriendConfig {
    pub(crate) cpus: CpuList,
    pub(crate) count: Option<usize>,
    pub(crate) sandbox: Sandbox,
    pub(crate) wait: Option<WaitStrategy>,
}

impl FriendConfig {
    /// Friends on the CPUs of a CPU list string such as `"1"` or `"1-3,6"`, one per CPU unless
    /// [`count`](Self::count) says otherwise; not sandboxed.
    ///
    /// # Errors
    ///
    /// [`Error::CpuList`] if the string is not a valid CPU list (the error says what is wrong and
    /// where), or names no CPU.
    pub fn cpus(list: &str) -> Result<Self, Error> {
        let cpus = parse_cpu_str(list).map_err(Error::CpuList)?;
        if cpus.is_empty() {
            return Err(Error::NoCpus);
        }
        Ok(Self::on(cpus))
    }

    /// Friends on the CPUs of `cpus`, one per CPU unless [`count`](Self::count) says otherwise.
    #[must_use]
    pub fn on(cpus: CpuList) -> Self {
        Self {
            cpus,
            count: None,
            sandbox: Sandbox::None,
            wait: None,
        }
    }

    /// Starts `count` friends, pinned round robin to the CPUs of the list.
    #[must_use]
    pub fn count(mut self, count: usize) -> Self {
        self.count = Some(count);
        self
    }

    /// Sandboxes every friend (see [`Sandbox`]).
    #[must_use]
    pub fn sandbox(mut self, sandbox: Sandbox) -> Self {
        self.sandbox = sandbox;
        self
    }

    /// How friends wait for the hakase inside `offload!`. The default spins and backs off
    /// without system calls ([`WaitStrategy::SPIN_ONLY`]) for sandboxed friends, and yields to
    /// the OS once it has spun for a while ([`WaitStrategy::SPIN_THEN_YIELD`]) for the others,
    /// which is kinder when friends share cores with each other or with the hakase.
    ///
    /// A sandboxed friend cannot yield (`sched_yield` is a system call):
    /// [`spawn_friends`](crate::Hakase::spawn_friends) refuses such a configuration.
    #[must_use]
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.wait = Some(wait);
        self
    }

    /// The number of friends this configuration starts.
    #[must_use]
    pub fn friend_count(&self) -> usize {
        self.count.unwrap_or(self.cpus.len())
    }

    /// The CPU friend `id` is pinned to.
    #[must_use]
    pub fn cpu_of(&self, id: FriendId) -> Option<usize> {
        let cpus: Vec<usize> = self.cpus.iter().collect();
        (!cpus.is_empty()).then(|| cpus[id.0 % cpus.len()])
    }

    pub(crate) fn wait_strategy(&self) -> WaitStrategy {
        self.wait.unwrap_or(match self.sandbox {
            Sandbox::None => WaitStrategy::SPIN_THEN_YIELD,
            Sandbox::NoSyscalls => WaitStrategy::SPIN_ONLY,
        })
    }
}

/// The friends one [`Hakase::spawn_friends`](crate::Hakase::spawn_friends) call started.
///
/// Friends only make progress in `offload!` while the hakase serves them: keep calling
/// [`Hakase::try_receive`](crate::Hakase::try_receive) (or
/// [`serve_until`](crate::Hakase::serve_until)) until [`finished`](Self::finished), then
/// [`join`](Self::join). Dropping `Friends` detaches the threads.
#[derive(Debug)]
pub struct Friends {
    pub(crate) threads: Vec<(FriendId, JoinHandle<()>)>,
}

/// Why one friend could not start, in [`Error::FriendStart`]: the friend, the step that failed
/// and, as the [`source`](std::error::Error::source), the typed cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FriendStartError {
    /// The friend thread could not be pinned to its CPU.
    #[error("{id}: could not pin to CPU {cpu}")]
    Pin {
        /// Which friend.
        id: FriendId,
        /// The CPU it was to run on.
        cpu: usize,
        /// Why pinning failed.
        source: AffinityError,
    },
    /// The sandbox filter could not be installed on the friend thread.
    #[error("{id}: could not enter the sandbox")]
    Sandbox {
        /// Which friend.
        id: FriendId,
        /// Why installing the filter failed.
        source: SandboxError,
    },
}

impl FriendStartError {
    /// The friend that could not start.
    #[must_use]
    pub fn id(&self) -> FriendId {
        match self {
            Self::Pin { id, .. } | Self::Sandbox { id, .. } => *id,
        }
    }
}

/// A friend whose body panicked outside an offloaded block (its thread ended; the others and
/// the hakase went on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FriendPanic {
    /// Which friend.
    pub id: FriendId,
    /// The panic message, if the payload was a string.
    pub message: String,
}

impl fmt::Display for FriendPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} panicked: {}", self.id, self.message)
    }
}

pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<a non-string panic payload>".to_owned()
    }
}

impl Friends {
    /// Whether every friend's body has returned (or panicked).
    #[must_use]
    pub fn finished(&self) -> bool {
        self.threads.iter().all(|(_, thread)| thread.is_finished())
    }

    /// The number of friends.
    #[must_use]
    pub fn len(&self) -> usize {
        self.threads.len()
    }

    /// Whether there are no friends.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Waits for every friend to end.
    ///
    /// Call it once [`finished`](Self::finished) (or from a thread other than the hakase's):
    /// a friend still offloading needs the hakase to serve it.
    ///
    /// # Errors
    ///
    /// [`Error::FriendsPanicked`] listing every friend whose body panicked.
    pub fn join(self) -> Result<(), Error> {
        let panics: Vec<FriendPanic> = self
            .threads
            .into_iter()
            .filter_map(|(id, thread)| {
                thread.join().err().map(|payload| FriendPanic {
                    id,
                    message: panic_message(&*payload),
                })
            })
            .collect();
        if panics.is_empty() {
            Ok(())
        } else {
            Err(Error::FriendsPanicked(panics))
        }
    }
}
