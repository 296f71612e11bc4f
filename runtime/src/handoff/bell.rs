//! The doorbell a server parks on and its clients ring: one futex word shared by every slot of a
//! server, so that an idle server sleeps in the kernel instead of burning its core, and a request
//! wakes it with one `futex` wake call.
//!
//! # Protocol
//!
//! The state word is `AWAKE` or `PARKED`. Only the server stores `PARKED`; whoever changes
//! it back (a client's ring, or the server itself on waking) stores `AWAKE`.
//!
//! ```text
//!   server (park)                              client (ring, after publishing a request)
//!   state.store(PARKED)                        turn.store(requested, Release)
//!   heavy fence ─────────── one total order ─── light fence
//!   any request in a slot? -> no park          state.load() == PARKED?
//!   futex_wait(state, PARKED, slice)             -> state.swap(AWAKE) == PARKED? futex_wake
//!   state.store(AWAKE)
//! ```
//!
//! This is Dekker's pattern: each side stores, fences, then loads what the other stored. The two
//! fences are ordered one way or the other, so either the server's look at the slots sees the
//! request (and it does not sleep), or the client's load sees `PARKED` (and it wakes the server).
//! The futex wait re-checks the word in the kernel, so a wake that comes between the server's
//! look and its sleep is not lost either: the swap has already made the word `AWAKE` and the
//! wait returns at once. At most one client per park makes the wake call (the swap).
//!
//! # What a ring costs the client
//!
//! While the server is spinning (not parked), a ring is one load of a line nobody writes (it
//! stays in the client's cache) and the light fence. With [`Fencing::Asymmetric`] (the default
//! where the kernel has `membarrier`), the light fence is a compiler fence only, free at run
//! time: the server's heavy fence is `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which makes
//! every other running thread of the process execute a full memory barrier, and which the server
//! pays only when it is about to park. With [`Fencing::Symmetric`] both sides use a sequentially
//! consistent fence (`mfence` on x86-64, some 30 cycles on the client).
//!
//! # Several processes
//!
//! `membarrier`'s private command reaches only the threads of the calling process, and private
//! futex operations only its address space. A bell placed in memory shared by processes (a
//! future process friend) must be made with [`Bell::for_processes`]: symmetric fences and
//! shared futex operations. Everything else is the same.
//!
//! Under `--cfg loom` the futex is a loom mutex and condition variable (a wait that re-checks the
//! word under the lock, as the kernel does), the fences are read-modify-writes on one word (a
//! total order, as sequentially consistent fences have), and a park waits without a time limit,
//! so that loom reports a lost wake-up as a deadlock.

use core::fmt;
use std::time::Duration;

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU32, Ordering};

/// The server is not parked (or is about to look at its slots again).
const AWAKE: u32 = 0;
/// The server has announced it is going to sleep on the bell.
const PARKED: u32 = 1;

/// How the two sides of a [`Bell`] order their store before their load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fencing {
    /// Clients use a compiler fence, the parking server `membarrier` (threads of one process).
    Asymmetric,
    /// Both sides use a sequentially consistent fence.
    Symmetric,
}

/// A doorbell: see the [module documentation](self).
pub struct Bell {
    state: CachePadded<AtomicU32>,
    fencing: Fencing,
    /// Private futex operations (threads of one process) or shared ones (processes).
    #[cfg_attr(loom, allow(dead_code))]
    private: bool,
    #[cfg(loom)]
    model: LoomFutex,
    /// Under loom, the word both fences read-modify-write.
    #[cfg(loom)]
    fences: AtomicU32,
}

impl fmt::Debug for Bell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bell")
            .field("parked", &self.is_parked())
            .field("fencing", &self.fencing)
            .finish_non_exhaustive()
    }
}

impl Default for Bell {
    fn default() -> Self {
        Self::new()
    }
}

impl Bell {
    /// A bell for threads of this process: asymmetric fences if the kernel lets this process use
    /// `membarrier`'s private expedited command (Linux 4.14 and later), else symmetric ones.
    #[must_use]
    pub fn new() -> Self {
        let fencing = if membarrier::register() {
            Fencing::Asymmetric
        } else {
            Fencing::Symmetric
        };
        Self::with(fencing, true)
    }

    /// A bell that clients in other processes ring through shared memory: symmetric fences and
    /// shared (not private) futex operations.
    #[must_use]
    pub fn for_processes() -> Self {
        Self::with(Fencing::Symmetric, false)
    }

    fn with(fencing: Fencing, private: bool) -> Self {
        Self {
            state: CachePadded::new(AtomicU32::new(AWAKE)),
            fencing,
            private,
            #[cfg(loom)]
            model: LoomFutex::new(),
            #[cfg(loom)]
            fences: AtomicU32::new(0),
        }
    }

    /// How this bell's two sides fence.
    #[must_use]
    pub fn fencing(&self) -> Fencing {
        self.fencing
    }

    /// Whether the server has announced that it parks. A hint, for tests and benchmarks.
    #[must_use]
    pub fn is_parked(&self) -> bool {
        self.state.load(Ordering::Relaxed) == PARKED
    }

    /// The client side, right after it published something the server must see (a request, or
    /// the end of a friend): wakes the server if it is parked. See the module documentation for
    /// the cost while it is not.
    #[inline]
    pub fn ring(&self) {
        self.light_fence();
        if self.state.load(Ordering::Relaxed) == PARKED {
            self.wake();
        }
    }

    #[cold]
    #[inline(never)]
    fn wake(&self) {
        // One wake per park: the client whose swap sees PARKED makes the call.
        if self.state.swap(AWAKE, Ordering::Relaxed) == PARKED {
            self.futex_wake();
        }
    }

    /// The server side: announces the park, looks once more with `has_work` (which must look at
    /// everything a ring announces), and if it finds nothing sleeps until rung or until `slice`
    /// has passed (or spuriously). Returns whether it slept.
    pub fn park(&self, has_work: impl FnOnce() -> bool, slice: Duration) -> bool {
        self.state.store(PARKED, Ordering::Relaxed);
        self.heavy_fence();
        let slept = !has_work();
        if slept {
            self.futex_wait(slice);
        }
        self.state.store(AWAKE, Ordering::Relaxed);
        slept
    }

    #[inline]
    fn light_fence(&self) {
        #[cfg(loom)]
        self.fences.fetch_add(1, Ordering::AcqRel);
        #[cfg(not(loom))]
        match self.fencing {
            // Paired with the parking server's membarrier (see the module docs).
            Fencing::Asymmetric => core::sync::atomic::compiler_fence(Ordering::SeqCst),
            Fencing::Symmetric => core::sync::atomic::fence(Ordering::SeqCst),
        }
    }

    fn heavy_fence(&self) {
        #[cfg(loom)]
        self.fences.fetch_add(1, Ordering::AcqRel);
        #[cfg(not(loom))]
        match self.fencing {
            Fencing::Asymmetric => {
                if !membarrier::barrier() {
                    // Registered at construction, so this does not happen; if it did, a fence
                    // here alone would not pair with the clients' compiler fences, so abort
                    // rather than risk a lost wake-up.
                    std::process::abort();
                }
            }
            Fencing::Symmetric => core::sync::atomic::fence(Ordering::SeqCst),
        }
    }

    #[cfg(not(loom))]
    fn futex_wait(&self, slice: Duration) {
        let op = libc::FUTEX_WAIT
            | if self.private {
                libc::FUTEX_PRIVATE_FLAG
            } else {
                0
            };
        let timeout = libc::timespec {
            tv_sec: libc::time_t::try_from(slice.as_secs()).unwrap_or(libc::time_t::MAX),
            // Below 10^9, so it fits every c_long.
            tv_nsec: slice.subsec_nanos() as libc::c_long,
        };
        // SAFETY: the word is a live, aligned u32 for the whole call; the kernel only reads it
        // and the timespec. EAGAIN (the word is no longer PARKED), EINTR and ETIMEDOUT all mean
        // "look again", which the caller does.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.state.as_ptr(),
                op,
                PARKED,
                &raw const timeout,
            );
        }
    }

    #[cfg(not(loom))]
    fn futex_wake(&self) {
        let op = libc::FUTEX_WAKE
            | if self.private {
                libc::FUTEX_PRIVATE_FLAG
            } else {
                0
            };
        // SAFETY: the word is a live, aligned u32; waking has no other effect on memory.
        unsafe {
            libc::syscall(libc::SYS_futex, self.state.as_ptr(), op, 1);
        }
    }

    #[cfg(loom)]
    fn futex_wait(&self, _slice: Duration) {
        self.model
            .wait_while(|| self.state.load(Ordering::Relaxed) == PARKED);
    }

    #[cfg(loom)]
    fn futex_wake(&self) {
        self.model.wake();
    }
}

/// The futex, as loom can model it: the wait checks the word and sleeps under one lock, and the
/// wake takes that lock, so a wake cannot fall between the check and the sleep (the kernel's
/// guarantee).
#[cfg(loom)]
struct LoomFutex {
    lock: loom::sync::Mutex<()>,
    woken: loom::sync::Condvar,
}

#[cfg(loom)]
impl LoomFutex {
    fn new() -> Self {
        Self {
            lock: loom::sync::Mutex::new(()),
            woken: loom::sync::Condvar::new(),
        }
    }

    fn wait_while(&self, mut condition: impl FnMut() -> bool) {
        let mut guard = self.lock.lock().unwrap();
        while condition() {
            guard = self.woken.wait(guard).unwrap();
        }
    }

    fn wake(&self) {
        let _guard = self.lock.lock().unwrap();
        self.woken.notify_all();
    }
}

/// `membarrier(2)`, private expedited: registration once per process, then barriers.
#[cfg(not(loom))]
mod membarrier {
    use std::sync::OnceLock;

    const CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

    /// Registers this process for private expedited barriers; whether it may use them.
    pub(super) fn register() -> bool {
        static REGISTERED: OnceLock<bool> = OnceLock::new();
        *REGISTERED.get_or_init(|| {
            // SAFETY: membarrier takes two integer arguments (and a CPU id, unused here) and
            // touches no memory of ours.
            unsafe {
                libc::syscall(libc::SYS_membarrier, CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0
            }
        })
    }

    /// A full memory barrier on every running thread of the process; whether it happened.
    pub(super) fn barrier() -> bool {
        // SAFETY: as above.
        unsafe { libc::syscall(libc::SYS_membarrier, CMD_PRIVATE_EXPEDITED, 0, 0) == 0 }
    }
}

#[cfg(loom)]
mod membarrier {
    /// Under loom the fences are modelled (see the module docs); nothing to register.
    pub(super) fn register() -> bool {
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Instant;

    #[test]
    fn a_park_with_work_pending_does_not_sleep() {
        let bell = Bell::new();
        let start = Instant::now();
        assert!(!bell.park(|| true, Duration::from_secs(5)));
        assert!(start.elapsed() < Duration::from_secs(2));
        assert!(!bell.is_parked());
    }

    #[test]
    fn a_park_without_work_ends_at_its_slice() {
        let bell = Bell::for_processes();
        let start = Instant::now();
        assert!(bell.park(|| false, Duration::from_millis(20)));
        assert!(start.elapsed() >= Duration::from_millis(15));
    }

    #[test]
    fn a_ring_wakes_a_parked_server_long_before_its_slice() {
        let bell = Arc::new(Bell::new());
        let work = Arc::new(AtomicBool::new(false));
        let server = std::thread::spawn({
            let (bell, work) = (bell.clone(), work.clone());
            move || {
                let start = Instant::now();
                while !work.load(Ordering::Acquire) {
                    bell.park(|| work.load(Ordering::Relaxed), Duration::from_secs(30));
                }
                start.elapsed()
            }
        });
        while !bell.is_parked() {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(10));
        work.store(true, Ordering::Release);
        bell.ring();
        let waited = server.join().unwrap();
        assert!(waited < Duration::from_secs(10), "woken after {waited:?}");
    }
}
