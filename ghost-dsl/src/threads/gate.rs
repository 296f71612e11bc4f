//! The per-thread gate a managed thread waits on while it is not committed to a CPU, and the
//! preemption signal's handler.
//!
//! # The gate word
//!
//! One `AtomicU32` per managed thread, written under the enclave's lock (and, for `FREE` only,
//! by the stall breaker without it, hence read-modify-write updates) and read without it by the
//! thread itself, including from the signal handler:
//!
//! - bit 0 ([`RUN`]): the thread may run (it is committed to a CPU);
//! - bit 31 ([`FREE`]): the enclave released the thread to the OS scheduler (fallback, or the
//!   enclave is gone); it never waits again;
//! - bits 1..31: a counter bumped on every change, so that a futex wait on a stale value returns.
//!
//! # Invariant
//!
//! A managed thread executes its closure only while its gate has `RUN` or `FREE` set, except
//! between a preemption the agent decided and the moment the thread takes the signal (it is then
//! not running anyway when the agent has real-time priority on the same CPU), and while it
//! blocks in the kernel outside the enclave's calls (see the module documentation of
//! [`threads`](super)).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicUsize, Ordering};

use super::sys;

/// Gate bit: committed, may run.
pub(crate) const RUN: u32 = 1;
/// Gate bit: released to the OS scheduler for good.
pub(crate) const FREE: u32 = 1 << 31;

/// What a managed thread shares with the enclave outside the lock.
#[derive(Debug)]
pub(crate) struct ThreadCell {
    /// The gate word (see the module documentation).
    pub(crate) gate: AtomicU32,
    /// The thread is inside one of the enclave's calls (or waiting on its gate): the signal
    /// handler returns at once (the call re-checks the gate), and the kernel-block monitor does
    /// not mistake the wait for a block.
    pub(crate) in_call: AtomicBool,
    /// The thread's kernel tid (0 until it has started).
    pub(crate) tid: AtomicI32,
    /// The park token of [`park`](super::park) after a fallback (the enclave no longer tracks
    /// the thread): 1 = unparked, [`UNPARKED_FOR_GOOD`] = every later `park` returns at once
    /// (the run ended because nothing could wake the thread, or at its time limit).
    pub(crate) token: AtomicU32,
    /// Live [`ThreadHandle`](super::ThreadHandle)s of this thread: the only things that can
    /// unpark it. Zero while it is parked means nothing can wake it.
    pub(crate) handles: AtomicUsize,
}

/// [`ThreadCell::token`]: released for good, `park` never waits again.
pub(crate) const UNPARKED_FOR_GOOD: u32 = u32::MAX;

impl ThreadCell {
    pub(crate) fn new() -> Self {
        Self {
            gate: AtomicU32::new(0),
            in_call: AtomicBool::new(false),
            tid: AtomicI32::new(0),
            token: AtomicU32::new(0),
            // The handle its spawn returns.
            handles: AtomicUsize::new(1),
        }
    }

    /// Sets or clears `RUN` (caller holds the enclave lock), bumping the counter.
    pub(crate) fn set_run(&self, run: bool) {
        // A loop, not a plain store: the stall breaker sets FREE without the lock.
        let _ = self
            .gate
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |g| {
                let counter = (g.wrapping_add(2)) & !(RUN | FREE);
                Some((g & FREE) | counter | u32::from(run))
            });
    }

    /// Sets `FREE` for good (caller holds the enclave lock or is the last owner).
    pub(crate) fn set_free(&self) {
        self.gate.fetch_or(FREE, Ordering::Release);
    }

    /// Makes every later [`park`](super::park) of this released thread return at once.
    pub(crate) fn unpark_for_good(&self) {
        self.token.store(UNPARKED_FOR_GOOD, Ordering::Release);
        sys::futex_wake_all(&self.token);
    }

    /// Whether the gate lets the thread run.
    pub(crate) fn may_run(&self) -> bool {
        self.gate.load(Ordering::Acquire) & (RUN | FREE) != 0
    }

    /// Whether the thread has been released to the OS scheduler.
    pub(crate) fn is_free(&self) -> bool {
        self.gate.load(Ordering::Acquire) & FREE != 0
    }

    /// Waits until the gate lets the thread run. Async-signal-safe: atomics and `futex` only.
    pub(crate) fn wait_gate(&self) {
        loop {
            let g = self.gate.load(Ordering::Acquire);
            if g & (RUN | FREE) != 0 {
                return;
            }
            sys::futex_wait(&self.gate, g, None);
        }
    }
}

thread_local! {
    /// The calling managed thread's cell, for the signal handler and the blocking calls. A
    /// `const`-initialised pointer with no destructor: reading it from a signal handler neither
    /// allocates nor runs lazy initialisation. Set by the thread's body for its whole life (the
    /// body holds the `Arc` the pointer comes from).
    pub(crate) static CELL: Cell<*const ThreadCell> = const { Cell::new(std::ptr::null()) };
}

/// The preemption signal's handler: a managed thread the agent has taken off its CPU waits here
/// until it is committed again (or released). Outside enclave calls only; inside one, the call
/// re-checks the gate itself when it ends.
pub(crate) extern "C" fn on_preempt_signal(_sig: i32) {
    let cell = CELL.with(Cell::get);
    if cell.is_null() {
        return;
    }
    // SAFETY: the pointer was set by this thread's body from an `Arc<ThreadCell>` that the body
    // keeps alive until after it clears the pointer; a signal handler runs on this same thread,
    // so the cell is alive here.
    let cell = unsafe { &*cell };
    if cell.in_call.load(Ordering::Acquire) {
        return;
    }
    cell.in_call.store(true, Ordering::Release);
    cell.wait_gate();
    cell.in_call.store(false, Ordering::Release);
}
