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
//! futex operations only its address space. A bell placed in memory shared by processes must be
//! made with [`Bell::for_processes`]: symmetric fences and shared futex operations. Everything
//! else is the same.
//!
//! # Shared words: one server, clients in processes of their own
//!
//! A server whose clients include other processes, each sharing with it only a region of its
//! own (offload's process friends), cannot give them its bell: that word is in its memory. It
//! gives each client a *shared word* in that client's region instead, and parks on its own bell
//! and every shared word at once with [`Bell::park_with`]: the same protocol per word (it
//! stores `PARKED` in each, fences, looks at every slot, sleeps on all of them with one
//! `futex_waitv`, Linux 5.16 and later, and stores `AWAKE` in each on waking); a client rings
//! its word with [`ring_shared`] (a sequentially consistent fence, then the load and, if it
//! finds `PARKED`, the swap and a shared futex wake).
//!
//! The asymmetric pattern works across processes too: where the kernel has `membarrier`'s
//! global expedited command ([`shared_barriers_supported`], Linux 4.16 and later), the parking
//! server issues it after its fence (a full barrier on every running thread of the processes
//! registered for it), and a client process that registered ([`use_light_shared_rings`]) rings
//! with a compiler fence only. On x86-64 that saves the client an `mfence` per request, which
//! would wait until the request it has just written reached the server's core. A client that
//! did not register keeps the sequentially consistent fence, which pairs with the server's
//! fence as before; the server pays the barrier only when it is about to sleep.
//!
//! The server never acts on what it reads from a shared word: the kernel compares it with
//! `PARKED` before sleeping, and that is all. So a client that writes anything there, at any
//! time, can make the server return from a park early (a spurious wake-up, after which it looks
//! at its slots and parks again) or not wake it for the client's own requests (which then wait
//! for the park's time slice); it cannot make the server sleep through another client's ring,
//! whose word it cannot reach.
//!
//! Under `--cfg loom` the futex is a loom mutex and condition variable (a wait that re-checks the
//! words under the lock, as the kernel does; one for the whole model, as the kernel's futex
//! table is one), the fences are read-modify-writes on one word (a total order, as sequentially
//! consistent fences have), and a park waits without a time limit, so that loom reports a lost
//! wake-up as a deadlock.

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

    /// [`park`](Self::park) on this bell and on `shared` words at once: the server side of
    /// clients in other processes, each ringing its own word with [`ring_shared`] (see the
    /// [module documentation](self#shared-words-one-server-clients-in-processes-of-their-own)).
    /// `has_work` must look at everything those rings announce too. Returns whether it slept.
    ///
    /// It sleeps on all the words with one `futex_waitv` when it can: with up to
    /// [`MAX_SHARED_WORDS`] shared words, on Linux 5.16 or later. Otherwise it sleeps on this
    /// bell alone for at most [`SHARED_FALLBACK_SLICE`] (a shared word's ring then waits that
    /// long at worst), and [`shared_wakes_supported`] says so.
    pub fn park_with(
        &self,
        shared: &[&AtomicU32],
        has_work: impl FnOnce() -> bool,
        slice: Duration,
    ) -> bool {
        if shared.is_empty() {
            return self.park(has_work, slice);
        }
        self.state.store(PARKED, Ordering::Relaxed);
        for word in shared {
            word.store(PARKED, Ordering::Relaxed);
        }
        self.heavy_fence();
        // The shared words' clients are other processes: membarrier's private command does not
        // reach them. They fence symmetrically, or, if they registered for global barriers
        // (`use_light_shared_rings`), with a compiler fence that this global barrier pairs with.
        shared_fence();
        global_barrier::barrier();
        let slept = !has_work();
        if slept {
            self.futex_wait_with(shared, slice);
        }
        self.state.store(AWAKE, Ordering::Relaxed);
        for word in shared {
            word.store(AWAKE, Ordering::Relaxed);
        }
        slept
    }

    #[cfg(not(loom))]
    fn futex_wait_with(&self, shared: &[&AtomicU32], slice: Duration) {
        if shared.len() > MAX_SHARED_WORDS || !waitv::wait(self, shared, slice) {
            self.futex_wait(slice.min(SHARED_FALLBACK_SLICE));
        }
    }

    #[cfg(loom)]
    fn futex_wait_with(&self, shared: &[&AtomicU32], _slice: Duration) {
        loom_model::wait_while(|| {
            self.state.load(Ordering::Relaxed) == PARKED
                && shared
                    .iter()
                    .all(|word| word.load(Ordering::Relaxed) == PARKED)
        });
    }

    #[inline]
    fn light_fence(&self) {
        #[cfg(loom)]
        loom_model::fence();
        #[cfg(not(loom))]
        match self.fencing {
            // Paired with the parking server's membarrier (see the module docs).
            Fencing::Asymmetric => core::sync::atomic::compiler_fence(Ordering::SeqCst),
            Fencing::Symmetric => core::sync::atomic::fence(Ordering::SeqCst),
        }
    }

    fn heavy_fence(&self) {
        #[cfg(loom)]
        loom_model::fence();
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
        loom_model::wait_while(|| self.state.load(Ordering::Relaxed) == PARKED);
    }

    #[cfg(loom)]
    fn futex_wake(&self) {
        loom_model::wake();
    }
}

/// The most shared words [`Bell::park_with`] sleeps on with its own bell (the kernel's
/// `FUTEX_WAITV_MAX` is 128 words in all).
pub const MAX_SHARED_WORDS: usize = 127;

/// The longest a [`Bell::park_with`] that cannot sleep on its shared words sleeps.
pub const SHARED_FALLBACK_SLICE: Duration = Duration::from_millis(1);

/// The value of a shared word while its server is not parked; a zeroed word has it, so a word in
/// a freshly made (zero-filled) shared mapping needs no initialisation.
pub const SHARED_AWAKE: u32 = AWAKE;

/// The client side of a shared word (see the
/// [module documentation](self#shared-words-one-server-clients-in-processes-of-their-own)),
/// right after the client published a request in memory the server looks at in its park's
/// `has_work`: wakes the server if it parked on this word. Costs a sequentially consistent
/// fence and a load of the word while the server is not parked; after
/// [`use_light_shared_rings`], a compiler fence and the load.
#[inline]
pub fn ring_shared(word: &AtomicU32) {
    client_shared_fence();
    if word.load(Ordering::Relaxed) == PARKED {
        wake_shared(word);
    }
}

#[cold]
#[inline(never)]
fn wake_shared(word: &AtomicU32) {
    // One wake per park and word: the client whose swap sees PARKED makes the call.
    if word.swap(AWAKE, Ordering::Relaxed) == PARKED {
        #[cfg(not(loom))]
        // SAFETY: the word is a live, aligned u32; waking has no other effect on memory. Shared
        // (not private): the server sleeps on it from another process.
        unsafe {
            libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
        }
        #[cfg(loom)]
        loom_model::wake();
    }
}

/// Whether this kernel lets [`Bell::park_with`] sleep on shared words (`futex_waitv`), as far as
/// a park has found out (true until one fails).
#[must_use]
pub fn shared_wakes_supported() -> bool {
    #[cfg(not(loom))]
    {
        waitv::supported()
    }
    #[cfg(loom)]
    true
}

/// Whether a server's [`Bell::park_with`] issues a global memory barrier on every running
/// thread of the processes registered for it (`membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`,
/// Linux 4.16 and later): then, and only then, may its clients call
/// [`use_light_shared_rings`]. The server's process decides (and tells its clients): a client
/// that registered for a server that does not issue the barrier could leave it asleep.
#[must_use]
pub fn shared_barriers_supported() -> bool {
    #[cfg(not(loom))]
    {
        global_barrier::supported()
    }
    #[cfg(loom)]
    true
}

/// Makes this process's [`ring_shared`] calls cost a compiler fence instead of a sequentially
/// consistent one (on x86-64 an `mfence`, which waits until the request just written has
/// reached the server's core: a cache-line round trip on every call), by registering the
/// process for global expedited `membarrier`s: the parking server's barrier then stands for
/// the fence on this side (the asymmetric pattern of [`Fencing::Asymmetric`], across
/// processes). Call it only where the server's [`shared_barriers_supported`] said true, before
/// any ring (a system call: before a seccomp filter that denies it). Returns whether the rings
/// are light from now on (false: the kernel refused, and rings stay fenced, which is always
/// correct).
pub fn use_light_shared_rings() -> bool {
    #[cfg(not(loom))]
    {
        global_barrier::register()
    }
    #[cfg(loom)]
    true
}

/// The fence a client uses when it rings a shared word.
#[inline]
fn client_shared_fence() {
    #[cfg(loom)]
    loom_model::fence();
    #[cfg(not(loom))]
    if global_barrier::LIGHT_RINGS.load(Ordering::Relaxed) {
        // Paired with the parking server's global membarrier.
        core::sync::atomic::compiler_fence(Ordering::SeqCst);
    } else {
        core::sync::atomic::fence(Ordering::SeqCst);
    }
}

/// The fence the server uses when it parks on shared words (and clients that are not light).
#[inline]
fn shared_fence() {
    #[cfg(loom)]
    loom_model::fence();
    #[cfg(not(loom))]
    core::sync::atomic::fence(Ordering::SeqCst);
}

/// `futex_waitv(2)` on a bell's word (private) and shared words (shared).
#[cfg(not(loom))]
mod waitv {
    use core::sync::atomic::AtomicBool;
    use std::time::Duration;

    use super::{AtomicU32, Bell, MAX_SHARED_WORDS, Ordering, PARKED};

    /// `struct futex_waitv` of `<linux/futex.h>`.
    #[repr(C)]
    struct FutexWaitv {
        val: u64,
        uaddr: u64,
        flags: u32,
        reserved: u32,
    }

    const FUTEX2_SIZE_U32: u32 = 0x02;
    const FUTEX2_PRIVATE: u32 = 128;

    static UNSUPPORTED: AtomicBool = AtomicBool::new(false);

    pub(super) fn supported() -> bool {
        !UNSUPPORTED.load(Ordering::Relaxed)
    }

    /// Sleeps until one of the words is woken or is not `PARKED`, or `slice` passes; false if
    /// the kernel cannot (then nothing slept).
    pub(super) fn wait(bell: &Bell, shared: &[&AtomicU32], slice: Duration) -> bool {
        if !supported() {
            return false;
        }
        debug_assert!(shared.len() <= MAX_SHARED_WORDS);
        let own = FutexWaitv {
            val: u64::from(PARKED),
            uaddr: bell.state.as_ptr() as u64,
            flags: FUTEX2_SIZE_U32 | if bell.private { FUTEX2_PRIVATE } else { 0 },
            reserved: 0,
        };
        let mut waiters = Vec::with_capacity(shared.len() + 1);
        waiters.push(own);
        waiters.extend(shared.iter().map(|word| FutexWaitv {
            val: u64::from(PARKED),
            uaddr: word.as_ptr() as u64,
            flags: FUTEX2_SIZE_U32,
            reserved: 0,
        }));
        // futex_waitv's timeout is absolute, on the clock it is given.
        let mut deadline = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes a timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut deadline) };
        let nanos = u64::try_from(deadline.tv_nsec).unwrap_or(0) + u64::from(slice.subsec_nanos());
        deadline.tv_sec = deadline
            .tv_sec
            .saturating_add(libc::time_t::try_from(slice.as_secs()).unwrap_or(libc::time_t::MAX))
            .saturating_add((nanos / 1_000_000_000) as libc::time_t);
        // Below 10^9, so it fits every c_long.
        deadline.tv_nsec = (nanos % 1_000_000_000) as libc::c_long;
        // SAFETY: `waiters` is an array of `waiters.len()` (at most 128) valid entries, each
        // naming a live, aligned u32 for the whole call (the caller holds the references);
        // the kernel only reads them and the deadline. EAGAIN (a word is no longer PARKED),
        // EINTR and ETIMEDOUT all mean "look again", which the caller does.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_futex_waitv,
                waiters.as_ptr(),
                waiters.len() as libc::c_uint,
                0 as libc::c_uint,
                &raw const deadline,
                libc::CLOCK_MONOTONIC,
            )
        };
        if rc < 0 {
            let errno = std::io::Error::last_os_error().raw_os_error();
            if matches!(errno, Some(libc::ENOSYS | libc::EPERM | libc::EINVAL)) {
                // Before 5.16 (ENOSYS), or refused here: fall back for good.
                UNSUPPORTED.store(true, Ordering::Relaxed);
                return false;
            }
        }
        true
    }
}

/// The futex and the fences, as loom can model them: a wait checks the words and sleeps under
/// one lock, and a wake takes that lock, so a wake cannot fall between the check and the sleep
/// (the kernel's guarantee); one model for all words, as the kernel's futex table is one (a wake
/// of one word may then wake a waiter on another: a spurious wake-up, which every waiter
/// tolerates). The fences are read-modify-writes of one word: one total order.
#[cfg(loom)]
mod loom_model {
    use loom::sync::atomic::AtomicU32;
    use loom::sync::{Condvar, Mutex};

    use super::Ordering;

    struct Futex {
        lock: Mutex<()>,
        woken: Condvar,
    }

    loom::lazy_static! {
        static ref FUTEX: Futex = Futex { lock: Mutex::new(()), woken: Condvar::new() };
        static ref FENCES: AtomicU32 = AtomicU32::new(0);
    }

    pub(super) fn fence() {
        FENCES.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn wait_while(mut condition: impl FnMut() -> bool) {
        let mut guard = FUTEX.lock.lock().unwrap();
        while condition() {
            guard = FUTEX.woken.wait(guard).unwrap();
        }
    }

    pub(super) fn wake() {
        let _guard = FUTEX.lock.lock().unwrap();
        FUTEX.woken.notify_all();
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

/// `membarrier(2)`, global expedited: clients in other processes register, the server that
/// parks on their shared words issues the barrier.
#[cfg(not(loom))]
mod global_barrier {
    use core::sync::atomic::AtomicBool;
    use std::sync::OnceLock;

    use super::Ordering;

    const CMD_QUERY: libc::c_int = 0;
    const CMD_GLOBAL_EXPEDITED: libc::c_int = 1 << 1;
    const CMD_REGISTER_GLOBAL_EXPEDITED: libc::c_int = 1 << 2;

    /// Set once this process has registered: its rings use a compiler fence.
    pub(super) static LIGHT_RINGS: AtomicBool = AtomicBool::new(false);

    /// Whether the kernel has the global expedited barrier (asked once).
    pub(super) fn supported() -> bool {
        static SUPPORTED: OnceLock<bool> = OnceLock::new();
        *SUPPORTED.get_or_init(|| {
            // SAFETY: membarrier's query takes integer arguments and touches no memory of ours.
            let commands = unsafe { libc::syscall(libc::SYS_membarrier, CMD_QUERY, 0, 0) };
            let needed = libc::c_long::from(CMD_GLOBAL_EXPEDITED | CMD_REGISTER_GLOBAL_EXPEDITED);
            commands >= 0 && commands & needed == needed
        })
    }

    /// Registers this process for global expedited barriers; whether it did.
    pub(super) fn register() -> bool {
        // SAFETY: as above.
        let done =
            unsafe { libc::syscall(libc::SYS_membarrier, CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) }
                == 0;
        if done {
            LIGHT_RINGS.store(true, Ordering::Relaxed);
        }
        done
    }

    /// A full memory barrier on every running thread of every registered process, if the
    /// kernel has it (else no client registered, and every one fences symmetrically).
    pub(super) fn barrier() {
        if !supported() {
            return;
        }
        // SAFETY: as above.
        if unsafe { libc::syscall(libc::SYS_membarrier, CMD_GLOBAL_EXPEDITED, 0, 0) } != 0 {
            // The query said it is there, so this does not happen; if it did, clients that
            // use compiler fences could leave the server asleep, so abort rather than risk a
            // lost wake-up (as the private barrier does).
            std::process::abort();
        }
    }
}

#[cfg(loom)]
mod global_barrier {
    /// Under loom the fences are modelled (see the module docs).
    pub(super) fn barrier() {}
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
