//! Friends: the restricted threads that offload to the hakase, and how to configure them.

use core::fmt;
use std::any::Any;
use std::cell::Cell;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use gears_runtime::cpu_list::{AffinityError, CpuList, parse_cpu_str};
use gears_runtime::handoff::WaitStrategy;

use crate::Error;
use crate::hakase::Hakase;
use crate::sandbox::{OnDenied, Sandbox, SandboxError};

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
/// use offload::{FriendConfig, FriendId, Sandbox};
///
/// let config = FriendConfig::cpus("0-1")?.count(4).sandbox(Sandbox::NoSyscalls);
/// assert_eq!(config.friend_count(), 4);
/// assert_eq!(config.cpu_of(FriendId(3)), Some(1));
/// assert_eq!(config.cpu_of(FriendId(4)), None); // there is no friend 4
/// assert!(FriendConfig::cpus("1-0").is_err());
/// # Ok::<(), offload::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct FriendConfig {
    pub(crate) cpus: CpuList,
    pub(crate) count: Option<usize>,
    pub(crate) sandbox: Sandbox,
    pub(crate) on_denied: OnDenied,
    pub(crate) wait: Option<WaitStrategy>,
    pub(crate) wait_timeout: Option<Duration>,
    /// Friends in processes of their own (`process/`).
    pub(crate) process: bool,
    /// The data buffer of a process friend's region, if not the default.
    pub(crate) region_bytes: Option<usize>,
}

impl FriendConfig {
    /// Friends on the CPUs of a CPU list string such as `"1"` or `"1-3,6"`, one per CPU unless
    /// [`count`](Self::count) says otherwise; not sandboxed.
    ///
    /// # Errors
    ///
    /// [`Error::CpuList`] if the string is not a valid CPU list (the error says what is wrong and
    /// where), [`Error::NoCpus`] if it names no CPU.
    pub fn cpus(list: &str) -> Result<Self, Error> {
        let cpus = parse_cpu_str(list).map_err(Error::CpuList)?;
        if cpus.is_empty() {
            return Err(Error::NoCpus);
        }
        Ok(Self::on(cpus))
    }

    /// Friends on the CPUs of `cpus`, one per CPU unless [`count`](Self::count) says otherwise.
    /// An empty list is refused by [`spawn_friends`](crate::Hakase::spawn_friends) with
    /// [`Error::NoCpus`], as [`cpus("")`](Self::cpus) is.
    #[must_use]
    pub fn on(cpus: CpuList) -> Self {
        Self {
            cpus,
            count: None,
            sandbox: Sandbox::None,
            on_denied: OnDenied::Errno,
            wait: None,
            wait_timeout: None,
            process: false,
            region_bytes: None,
        }
    }

    /// Starts `count` friends, pinned round robin to the CPUs of the list (without it, one
    /// friend per CPU of the list). `count(0)` starts none: the spawn returns friends that are
    /// all finished, and their `join` returns `Ok(())` at once. More than
    /// [`MAX_FRIENDS`](crate::MAX_FRIENDS) is [`Error::TooManyFriends`] from `spawn_friends`,
    /// before any friend starts.
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

    /// What a system call the sandbox denies does (see [`OnDenied`]; `EPERM` by default).
    /// Meaningless without [`Sandbox::NoSyscalls`].
    #[must_use]
    pub fn on_denied(mut self, on_denied: OnDenied) -> Self {
        self.on_denied = on_denied;
        self
    }

    /// How friends wait for the hakase inside `offload!`. The default spins and backs off
    /// without system calls ([`WaitStrategy::SPIN_ONLY`]) for sandboxed friends, and yields to
    /// the OS once it has spun for a while ([`WaitStrategy::SPIN_THEN_YIELD`]) for the others,
    /// which is kinder when friends share cores with each other or with the hakase. Sandboxed
    /// friends may yield too (`sched_yield` is allowed).
    #[must_use]
    pub fn wait(mut self, wait: WaitStrategy) -> Self {
        self.wait = Some(wait);
        self
    }

    /// How long a friend waits for the hakase to *take* an offloaded block before it gives up:
    /// the block does not run, and `offload!` panics with "the hakase did not take this request
    /// within ..." (so a hakase that stopped serving shows up as an error instead of a friend
    /// spinning forever). None by default: friends wait as long as it takes (as they do with
    /// `Duration::MAX`).
    ///
    /// The clock is read only once the friend's wait has backed off (a few µs in, see
    /// [`WaitStrategy`]), from the vDSO, so the check costs neither time on a quick round trip
    /// nor a system call. Once the hakase has started running the block, the friend waits for
    /// it to end however long it takes. With a timeout, the hakase claims each request with one
    /// compare-and-swap more (the claim is what makes taking a request back safe).
    #[must_use]
    pub fn wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = Some(timeout);
        self
    }

    /// Starts each friend in a process of its own (see [`process`](crate::process)): a fresh
    /// process of this binary, pinned, always sandboxed as by [`Sandbox::NoSyscalls`] (with
    /// this configuration's [`on_denied`](Self::on_denied)), sharing only its request region
    /// with the hakase. Its body must be a `fn` item or a closure that captures nothing, and it
    /// calls the hakase through `name::remote(..)` of declared functions, not `offload!`.
    #[must_use]
    pub fn process(mut self) -> Self {
        self.process = true;
        self
    }

    /// How many bytes a process friend's call may carry each way: the buffer of its region
    /// that holds the encoded arguments of a request, then the encoded value of its reply
    /// (64 KiB by default; from 48 bytes to 1 GiB). A `remote` call whose arguments do not fit
    /// fails with [`RemoteError::TooLarge`](crate::process::RemoteError::TooLarge), naming the
    /// function, the size and this limit, and sends nothing; a value that does not fit is
    /// refused by the hakase the same way ([`RemoteError::Refused`](crate::process::RemoteError::Refused)).
    /// Each friend maps its own region of this size (rounded up to pages, plus two pages of
    /// start-up words); thread friends have no region, and ignore it.
    ///
    /// [`spawn_friends`](crate::Hakase::spawn_friends) refuses a size out of range with
    /// [`Error::RegionSize`].
    #[must_use]
    pub fn region_bytes(mut self, bytes: usize) -> Self {
        self.region_bytes = Some(bytes);
        self
    }

    /// Whether friends start in processes of their own ([`process`](Self::process)).
    #[must_use]
    pub fn is_process(&self) -> bool {
        self.process
    }

    /// The number of friends this configuration starts.
    #[must_use]
    pub fn friend_count(&self) -> usize {
        self.count.unwrap_or(self.cpus.len())
    }

    /// The CPU friend `id` is pinned to, or `None` if this configuration starts no friend `id`.
    #[must_use]
    pub fn cpu_of(&self, id: FriendId) -> Option<usize> {
        if id.0 >= self.friend_count() || self.cpus.is_empty() {
            return None;
        }
        self.cpus.iter().nth(id.0 % self.cpus.len())
    }

    pub(crate) fn wait_strategy(&self) -> WaitStrategy {
        self.wait.unwrap_or(match self.sandbox {
            // Process friends are always sandboxed.
            _ if self.process => WaitStrategy::SPIN_ONLY,
            Sandbox::NoSyscalls => WaitStrategy::SPIN_ONLY,
            _ => WaitStrategy::SPIN_THEN_YIELD,
        })
    }
}

/// The friends one [`Hakase::spawn_friends`](crate::Hakase::spawn_friends) call started.
///
/// It borrows the hakase, so the hakase cannot be dropped while its friends may still offload,
/// and it stays on the hakase's thread. Friends only make progress in `offload!` while the
/// hakase serves them: [`join`](Self::join) serves until every friend has ended, or call
/// [`Hakase::serve_until`](crate::Hakase::serve_until) yourself, e.g.
/// `hakase.serve_until(|| friends.finished())`.
///
/// Dropping `Friends` without joining stops its process friends: each one still running is
/// killed (`SIGKILL`) and reaped before the drop returns, and the hakase serves them no more,
/// so nothing of theirs is left running (a ghOSt agent or Toshokan hakase that lets go of its
/// friends expects them gone, and a friend nobody can join could only be leaked). Thread
/// friends cannot be killed: dropping detaches their threads, which the hakase goes on serving
/// while they offload.
#[derive(Debug)]
pub struct Friends<'h> {
    pub(crate) hakase: &'h Hakase,
    pub(crate) threads: Vec<FriendThread>,
    /// Friends whose body has not ended yet.
    pub(crate) running: Arc<AtomicUsize>,
    /// Process friends (`process/`): none for thread friends.
    pub(crate) processes: Vec<Arc<crate::process::ProcessFriend>>,
    pub(crate) vanish: VanishWatch,
}

/// A friend thread: its id, its handle, and the kernel tid it stores as it starts (0 before).
pub(crate) type FriendThread = (
    FriendId,
    JoinHandle<Result<(), FriendPanic>>,
    Arc<AtomicI32>,
);

/// What `join` reports for a friend thread that ended without returning from its body.
const VANISHED: &str = "the friend thread ended without returning from its body (its OS thread \
     exited: a raw `exit` system call or `pthread_exit`), so it was not joined";

/// Looks for friend threads whose OS thread ended without returning from the body (a raw
/// `exit` system call, `pthread_exit` from C code): they never count themselves as ended, so
/// without this `join` would serve them forever. A look reads `/proc`, so it is made while the
/// hakase parks between slices, or once every [`VanishWatch::EVERY`] calls of `finished` in a
/// loop that never parks: the spinning hakase's path stays one load.
#[derive(Debug, Default)]
pub(crate) struct VanishWatch {
    calls: Cell<u32>,
    /// Every friend still counted as running has vanished: final (a vanished thread never
    /// comes back, and the others have ended), and kept, because the look that found it may
    /// have been a parking hakase's, whose next `finished` outside the park would not look.
    settled: Cell<bool>,
}

impl VanishWatch {
    const EVERY: u32 = 1 << 14;

    fn settle(&self, all_vanished: bool) -> bool {
        if all_vanished {
            self.settled.set(true);
        }
        all_vanished
    }

    fn due(&self, parking: bool) -> bool {
        let calls = self.calls.get().wrapping_add(1);
        self.calls.set(calls);
        parking || calls.is_multiple_of(Self::EVERY)
    }
}

/// Whether friend thread `thread` ended without returning: its tid is gone from the kernel's
/// view of this process (or a zombie) while its handle is not finished. A thread that returns
/// finishes its handle before its OS thread ends, so it is never taken for a vanished one.
fn vanished(thread: &FriendThread) -> bool {
    let tid = thread.2.load(Ordering::Acquire);
    if tid <= 0 || thread.1.is_finished() {
        return false;
    }
    let gone = match std::fs::read(format!("/proc/self/task/{tid}/stat")) {
        // "tid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .iter()
            .rposition(|&b| b == b')')
            .and_then(|close| stat.get(close + 2))
            .is_some_and(|state| matches!(state, b'Z' | b'X')),
        Err(_) => true,
    };
    gone && !thread.1.is_finished()
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
    /// A friend process could not get ready (`process/`); what it said, or what the hakase saw.
    #[error("{id}: {why}")]
    Process {
        /// Which friend.
        id: FriendId,
        /// What went wrong (text: it comes from the friend's process).
        why: String,
    },
}

impl FriendStartError {
    /// The friend that could not start.
    #[must_use]
    pub fn id(&self) -> FriendId {
        match self {
            Self::Pin { id, .. } | Self::Sandbox { id, .. } | Self::Process { id, .. } => *id,
        }
    }
}

/// A friend whose body panicked (its thread ended; the others and the hakase went on).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FriendPanic {
    /// Which friend.
    pub id: FriendId,
    /// The panic message, if the payload was a string.
    pub message: String,
    /// Where the `offload!` was, if the panic came from an offloaded block (raised on the
    /// hakase, re-raised in the friend, and not caught there).
    pub offloaded_at: Option<&'static Location<'static>>,
}

impl fmt::Display for FriendPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offloaded_at {
            Some(at) => write!(
                f,
                "{}: the block it offloaded at {at} panicked on the hakase, and the friend did \
                 not catch the panic: {}",
                self.id, self.message
            ),
            None => write!(f, "{} panicked: {}", self.id, self.message),
        }
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

impl Drop for Friends<'_> {
    fn drop(&mut self) {
        if self.processes.is_empty() {
            return;
        }
        for friend in &self.processes {
            friend.stop();
        }
        for friend in &self.processes {
            friend.wait();
        }
        self.hakase.forget_ended_processes();
    }
}

impl Friends<'_> {
    /// Whether every friend's body has returned (or panicked). A parked hakase is woken when
    /// the last one ends, so `hakase.serve_until(|| friends.finished())` returns promptly.
    ///
    /// A friend thread whose OS thread ended without returning from its body (a raw `exit`
    /// system call, `pthread_exit` from C code) counts as ended once the hakase notices, while
    /// it parks (within a park slice, 50 ms, in [`join`](Self::join) and `serve_until`; a loop of
    /// `try_receive` that never parks notices within some thousands of calls); `join` reports it in
    /// [`Error::FriendsPanicked`].
    #[must_use]
    pub fn finished(&self) -> bool {
        let running = self.running.load(Ordering::Acquire);
        if running == 0 {
            return self.processes.iter().all(|friend| friend.exit().is_some());
        }
        self.vanish.settled.get()
            || (running <= self.threads.len()
                && self.vanish.due(self.hakase.is_parking())
                && self
                    .vanish
                    .settle(self.threads.iter().filter(|t| vanished(t)).count() == running))
    }

    /// Kills process friend `id` (`SIGKILL`), for one that hangs; [`join`](Self::join) then
    /// reports it as [`FriendExit::Stopped`](crate::process::FriendExit::Stopped). Returns
    /// false if there is no such process friend or it had already ended. Thread friends cannot
    /// be stopped.
    pub fn stop(&self, id: FriendId) -> bool {
        self.processes
            .iter()
            .find(|friend| friend.id == id)
            .is_some_and(|friend| friend.stop())
    }

    /// The number of friends.
    #[must_use]
    pub fn len(&self) -> usize {
        self.threads.len() + self.processes.len()
    }

    /// Whether there are no friends.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty() && self.processes.is_empty()
    }

    /// Serves the friends' requests until every friend has ended, then waits for their threads.
    ///
    /// # Errors
    ///
    /// [`Error::FriendsPanicked`] listing every friend whose body panicked; for process friends,
    /// [`Error::FriendsFailed`] listing every one that did not return, with how it ended.
    pub fn join(mut self) -> Result<(), Error> {
        self.hakase.serve_until(|| self.finished());
        if !self.processes.is_empty() {
            let failed: Vec<_> = self
                .processes
                .iter()
                .map(|friend| (friend.id, friend.wait()))
                .filter(|(_, exit)| *exit != crate::process::FriendExit::Returned)
                .collect();
            self.hakase.forget_ended_processes();
            return if failed.is_empty() {
                Ok(())
            } else {
                Err(Error::FriendsFailed(failed))
            };
        }
        let panics: Vec<FriendPanic> = std::mem::take(&mut self.threads)
            .into_iter()
            .filter_map(|friend| {
                if vanished(&friend) {
                    // std's `join` would panic on it ("threads should not terminate
                    // unexpectedly"); dropping the handle detaches what is left of it.
                    return Some(FriendPanic {
                        id: friend.0,
                        message: VANISHED.to_owned(),
                        offloaded_at: None,
                    });
                }
                Some(friend)
                    .map(|(id, thread, _)| (id, thread))
                    .and_then(|(id, thread)| join_friend(id, thread))
            })
            .collect();
        if panics.is_empty() {
            Ok(())
        } else {
            Err(Error::FriendsPanicked(panics))
        }
    }
}

/// Joins a friend thread that returned; its panic, if its body (or our code) panicked.
fn join_friend(id: FriendId, thread: JoinHandle<Result<(), FriendPanic>>) -> Option<FriendPanic> {
    match thread.join() {
        Ok(Ok(())) => None,
        Ok(Err(panic)) => Some(panic),
        // friend_main catches the body's panics; this is a panic of our own code.
        Err(payload) => Some(FriendPanic {
            id,
            message: panic_message(&*payload),
            offloaded_at: None,
        }),
    }
}
