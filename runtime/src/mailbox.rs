//! The cache-line-padded request/response slot used for busy-polling handoffs.
//!
//! A [`MailboxSlot`] carries one request from a *client* thread (an offload "friend") to a
//! *server* thread (the "hakase") and the response back. The server polls with the non-blocking
//! [`MailboxSlot::try_serve`]; the client either polls with [`MailboxSlot::try_take_response`]
//! or blocks in [`MailboxSlot::call`], waiting as a [`WaitStrategy`] says. No operation takes a
//! lock or makes a system call, except waits under [`WaitStrategy::SPIN_THEN_YIELD`] (or another
//! strategy built by [`WaitStrategy::spin_then_yield`]), which yield to the OS once they have
//! spun for a while, and the panic hook that a panicking handler runs on the server. A server
//! with several clients gives each its own slot and polls them in turn.
//!
//! # State machine
//!
//! ```text
//!              post                    try_serve                try_take_response
//!   EMPTY ───────────▶ REQUESTED ──────────────────▶ ANSWERED ─────────────────────▶ EMPTY
//!       └─▶ POSTING ─┘          └─▶ BUSY (handler) ─┘         └─▶ TAKING ──────────┘
//! ```
//!
//! `EMPTY`, `REQUESTED` and `ANSWERED` are the resting states. Every transition out of one of
//! them starts with a compare-and-swap into a transient state (`POSTING`, `BUSY`, `TAKING`), and
//! the thread whose compare-and-swap succeeded is then the only one touching the payload until
//! it publishes the next resting state with a release store. `BUSY` lasts as long as the
//! handler runs; the other two last a move of the payload.
//!
//! # Roles
//!
//! - **Client** (one thread at a time): [`post`](MailboxSlot::post),
//!   [`try_take_response`](MailboxSlot::try_take_response), [`call`](MailboxSlot::call),
//!   [`has_response`](MailboxSlot::has_response).
//! - **Server** (one thread at a time): [`try_serve`](MailboxSlot::try_serve),
//!   [`has_request`](MailboxSlot::has_request).
//!
//! The roles decide which response answers which request; they are not needed for memory
//! safety. Because every transition claims the slot with a compare-and-swap, a second client or
//! server at once can at worst make `post` fail, take someone else's response or make `call`
//! panic, never cause a data race. A role may move to another thread if that handover is
//! itself synchronised (for example, by joining the old thread).
//!
//! # Layout
//!
//! The state word and the payload sit side by side (state first) in one [`CachePadded`]
//! block. A handoff then costs as few cache-line transfers as the hardware allows: the line
//! the server pulls over to read `REQUESTED` already holds the request, and the line the
//! client pulls over to read `ANSWERED` already holds the response. With the state in a line
//! of its own, each direction would need a second transfer for the payload. The padding keeps
//! slots laid out in an array (one per client) from sharing lines, so that a client spinning
//! on its slot does not slow down the handoff on the slot next to it. It is 128 bytes on
//! x86-64 and aarch64, two 64-byte lines, because the spatial prefetchers of those cores fetch
//! lines in pairs.
//!
//! The whole handoff stays in the first 64-byte line as long as the payload (an enum of the
//! request and the [`Outcome<Resp>`], which is at least the two words of a panic payload box)
//! ends within it: up to 56 bytes when it is 8-byte aligned, which requests and responses of a
//! few machine words (pointers, indices, small integers) meet. Bigger payloads still work but
//! move more lines per round trip.
//!
//! # Cost
//!
//! A round trip writes the state word six times, four times from the client and twice from the
//! server, where a bare ping-pong on one atomic writes it twice. The transient states are the
//! price of `&self` methods that stay sound whatever threads call them: each side must claim
//! the payload before touching it. Each write that lands while the other side polls costs a
//! cache-line invalidation.
//!
//! # Example
//!
//! A client thread makes calls while the server thread loops on `try_serve`:
//!
//! ```
//! use std::sync::atomic::{AtomicBool, Ordering};
//!
//! use gears_runtime::mailbox::{Backoff, MailboxSlot, WaitStrategy};
//!
//! let slot = MailboxSlot::<u64, u64>::new();
//! let client_done = AtomicBool::new(false);
//! std::thread::scope(|s| {
//!     s.spawn(|| {
//!         for i in 0..1_000 {
//!             // Spins only: no system call while waiting for the server.
//!             assert_eq!(slot.call(i, &WaitStrategy::SPIN_ONLY), i * i);
//!         }
//!         client_done.store(true, Ordering::Release);
//!     });
//!
//!     // The server loop: serve whatever is pending, back off while nothing is.
//!     let mut idle = Backoff::new(WaitStrategy::SPIN_THEN_YIELD);
//!     while !client_done.load(Ordering::Acquire) {
//!         if slot.try_serve(|x| x * x) {
//!             idle.reset();
//!         } else {
//!             idle.snooze();
//!         }
//!     }
//! });
//! ```

use core::fmt;
use std::panic::{self, AssertUnwindSafe};

use crossbeam_utils::CachePadded;

use crate::sync::{self, AtomicU32, Ordering, UnsafeCell};

/// What a client gets back for one request: the handler's return value, or the payload of the
/// panic the handler raised (as caught by [`std::panic::catch_unwind`]).
pub type Outcome<T> = std::thread::Result<T>;

/// No request or response inside; the client may post.
const EMPTY: u32 = 0;
/// A client is moving its request in.
const POSTING: u32 = 1;
/// A request is waiting for the server.
const REQUESTED: u32 = 2;
/// The server has taken the request and is running the handler.
const BUSY: u32 = 3;
/// The outcome is waiting for the client.
const ANSWERED: u32 = 4;
/// A client is moving the outcome out.
const TAKING: u32 = 5;

fn state_name(state: u32) -> &'static str {
    match state {
        EMPTY => "EMPTY",
        POSTING => "POSTING",
        REQUESTED => "REQUESTED",
        BUSY => "BUSY",
        ANSWERED => "ANSWERED",
        TAKING => "TAKING",
        _ => "?",
    }
}

/// The payload is an enum rather than `MaybeUninit`: its discriminant duplicates what the state
/// word says, but it lets the compiler's drop glue drop whatever a dropped slot still holds, so
/// the only `unsafe` left is the hand-off itself.
enum Payload<Req, Resp> {
    Vacant,
    Request(Req),
    Response(Outcome<Resp>),
}

/// `repr(C)` keeps the state word at offset 0, so it shares the first cache line with the start
/// of the payload whatever the sizes of `Req` and `Resp`.
#[repr(C)]
struct Block<Req, Resp> {
    state: AtomicU32,
    payload: UnsafeCell<Payload<Req, Resp>>,
}

// The layout of the module documentation: the state word and a word-sized request or response
// in the first 64-byte line, the slot on cache lines of its own (so no false sharing with its
// neighbours). Not under loom, whose atomics are larger.
#[cfg(not(loom))]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    type B = Block<u64, u64>;
    static_assertions::const_assert_eq!(offset_of!(B, state), 0);
    static_assertions::const_assert!(
        offset_of!(B, payload) + size_of::<UnsafeCell<Payload<u64, u64>>>() <= 64
    );
    static_assertions::const_assert!(align_of::<MailboxSlot<u64, u64>>() >= 64);
    static_assertions::const_assert_eq!(size_of::<MailboxSlot<u64, u64>>() % 64, 0);
};

/// A single-request mailbox between one client and one server, padded to its own cache lines.
///
/// See the [module documentation](self) for the state machine, the roles and the layout.
pub struct MailboxSlot<Req, Resp> {
    block: CachePadded<Block<Req, Resp>>,
}

// SAFETY: sharing `&MailboxSlot` lets one thread move a `Req` in (`post`) and another move it
// out (`try_serve`), and likewise for the `Resp` outcome, hence `Req: Send` and `Resp: Send`.
// Neither is ever reachable through a shared reference from two threads: the payload is only
// touched by the one thread whose compare-and-swap moved the state into POSTING, BUSY or
// TAKING (or by the owner dropping the slot), and only to move values in and out, so
// `Req: Sync` and `Resp: Sync` are not needed. (`Send` is derived
// automatically with the same bounds; the panic payload in an `Outcome` is `Send`.)
unsafe impl<Req: Send, Resp: Send> Sync for MailboxSlot<Req, Resp> {}

impl<Req, Resp> MailboxSlot<Req, Resp> {
    /// Creates an empty slot.
    #[must_use]
    pub fn new() -> Self {
        Self {
            block: CachePadded::new(Block {
                state: AtomicU32::new(EMPTY),
                payload: UnsafeCell::new(Payload::Vacant),
            }),
        }
    }

    /// Client: publishes `req` for the server.
    ///
    /// # Errors
    ///
    /// Gives `req` back if the slot is not empty: an earlier request is still pending or being
    /// served, or its response has not been taken yet.
    pub fn post(&self, req: Req) -> Result<(), Req> {
        if !self.claim(EMPTY, POSTING) {
            return Err(req);
        }
        // SAFETY: our claim moved the state from EMPTY to POSTING, which no other thread leaves.
        let old = unsafe { self.replace_payload(Payload::Request(req)) };
        debug_assert!(matches!(old, Payload::Vacant));
        self.block.state.store(REQUESTED, Ordering::Release);
        Ok(())
    }

    /// Client: takes the outcome of the last request, if the server has answered it.
    ///
    /// Returns `None` at once if there is no outcome (yet). A handler's panic comes back as
    /// `Err` with the panic payload, which the caller may re-raise with
    /// [`std::panic::resume_unwind`]. After `Some`, the slot is empty again.
    #[must_use = "a taken response is gone from the slot"]
    pub fn try_take_response(&self) -> Option<Outcome<Resp>> {
        if !self.claim(ANSWERED, TAKING) {
            return None;
        }
        // SAFETY: our claim moved the state from ANSWERED to TAKING, which no other thread leaves.
        let Payload::Response(outcome) = (unsafe { self.replace_payload(Payload::Vacant) }) else {
            unreachable!("an ANSWERED mailbox slot holds a response");
        };
        self.block.state.store(EMPTY, Ordering::Release);
        Some(outcome)
    }

    /// Client: posts `req`, waits for the server as `wait` says, and returns the response.
    ///
    /// With [`WaitStrategy::spin_only`] strategies neither the wait nor a successful call makes
    /// a system call.
    ///
    /// # Panics
    ///
    /// If the handler panicked, re-raises its panic on this thread with
    /// [`std::panic::resume_unwind`] (which does not run the panic hook again). Panics if the
    /// slot is not empty, which means the client role was not respected: this client left a
    /// response untaken, or another thread is using the slot as a client.
    #[track_caller]
    pub fn call(&self, req: Req, wait: &WaitStrategy) -> Resp {
        if self.post(req).is_err() {
            panic!(
                "MailboxSlot::call on a slot in state {}, not EMPTY (one client at a time, \
                 and every response must be taken)",
                state_name(self.block.state.load(Ordering::Relaxed))
            );
        }
        let mut backoff = Backoff::new(*wait);
        loop {
            match self.try_take_response() {
                Some(Ok(resp)) => return resp,
                Some(Err(panic_payload)) => panic::resume_unwind(panic_payload),
                None => backoff.snooze(),
            }
        }
    }

    /// Client: whether an outcome is waiting to be taken. A hint: the answer may be stale by
    /// the time the caller acts on it.
    #[must_use]
    pub fn has_response(&self) -> bool {
        self.block.state.load(Ordering::Relaxed) == ANSWERED
    }

    /// Server: if a request is pending, runs `handler` on it and hands its result to the client;
    /// returns whether it did.
    ///
    /// Never waits: with no pending request it returns `false` after one load of the state word,
    /// which leaves the cache line shared with the client rather than taking it over.
    ///
    /// A panic in `handler` is caught and handed to the client as the `Err` outcome, so the
    /// slot is never left `BUSY` and this server can go on serving. As with any
    /// [`catch_unwind`](std::panic::catch_unwind), state the handler shares with later handlers
    /// should stay consistent if it panics; the slot's own state always is.
    pub fn try_serve(&self, handler: impl FnOnce(Req) -> Resp) -> bool {
        if !self.claim(REQUESTED, BUSY) {
            return false;
        }
        // SAFETY: our claim moved the state from REQUESTED to BUSY, which no other thread leaves.
        let Payload::Request(req) = (unsafe { self.replace_payload(Payload::Vacant) }) else {
            unreachable!("a REQUESTED mailbox slot holds a request");
        };
        // Unwind safety is the handler's business (see above): the slot state is only changed
        // after the handler has returned or unwound.
        let outcome = panic::catch_unwind(AssertUnwindSafe(move || handler(req)));
        // SAFETY: still BUSY; only this thread may leave that state, and it has not yet.
        let old = unsafe { self.replace_payload(Payload::Response(outcome)) };
        debug_assert!(matches!(old, Payload::Vacant));
        self.block.state.store(ANSWERED, Ordering::Release);
        true
    }

    /// Server: whether a request is waiting to be served. A hint: the answer may be stale by the
    /// time the caller acts on it.
    #[must_use]
    pub fn has_request(&self) -> bool {
        self.block.state.load(Ordering::Relaxed) == REQUESTED
    }

    /// Moves the slot from `from` to the transient state `to` if it is in `from`; on success
    /// the caller alone may touch the payload until it stores the next resting state.
    #[inline]
    fn claim(&self, from: u32, to: u32) -> bool {
        let state = &self.block.state;
        // The plain load first: polling an idle slot must not take its line exclusive, or the
        // poller would steal it from the other side on every look.
        // Acquire on success orders our payload access after the previous owner's, which it
        // published with a release store of `from`.
        state.load(Ordering::Relaxed) == from
            && state
                .compare_exchange(from, to, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Swaps the payload for `new`.
    ///
    /// # Safety
    ///
    /// The caller must have moved the state into POSTING, BUSY or TAKING by a successful
    /// [`claim`](Self::claim) and not have left it yet.
    #[inline]
    unsafe fn replace_payload(&self, new: Payload<Req, Resp>) -> Payload<Req, Resp> {
        self.block.payload.with_mut(|payload| {
            // SAFETY: the caller's claim makes this thread the only one accessing the payload
            // until it publishes the next state, and its acquire ordered this access after the
            // previous owner's; the pointer comes from the live cell.
            unsafe { payload.replace(new) }
        })
    }
}

impl<Req, Resp> Default for MailboxSlot<Req, Resp> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Req, Resp> fmt::Debug for MailboxSlot<Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailboxSlot")
            .field(
                "state",
                &state_name(self.block.state.load(Ordering::Relaxed)),
            )
            .finish_non_exhaustive()
    }
}

/// How a waiting thread spends the time between two looks at what it waits for: spin, then
/// back off.
///
/// A [`Backoff`] first makes `quick_looks` looks with one
/// [`spin_loop`](core::hint::spin_loop) hint between them, which keeps the wake-up latency of
/// short waits at one hint. After that it backs off: 2, 4, 8, … hints between looks, doubling up
/// to `2^max_spin_shift`. What happens once it is at that cap is the mode:
///
/// - [`spin_only`](Self::spin_only) keeps spinning at the cap. It never makes a system call,
///   so it is the mode for friend threads sandboxed by seccomp to make none.
/// - [`spin_then_yield`](Self::spin_then_yield) yields to the OS scheduler (`sched_yield`)
///   between looks, which frees the core when the wait is long but is a system call.
///
/// Backing off does not make the handoff itself cheaper: while the server runs the handler, a
/// waiting client's looks hit its own shared copy of the slot's line. It saves the power and
/// the hyper-thread sibling's share of the core that every hint gives away.
///
/// `crossbeam_utils::Backoff` is not used: its `snooze` calls `std::thread::yield_now` (a
/// `sched_yield` system call) once past its spin limit, which would get a seccomp-sandboxed
/// friend killed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WaitStrategy {
    quick_looks: u32,
    max_spin_shift: u32,
    yield_to_os: bool,
}

impl WaitStrategy {
    /// The largest `max_spin_shift` accepted; larger values are clamped to it. `2^16` spin hints
    /// between looks are already a millisecond or more on current cores; more would only add
    /// latency to the wake-up.
    pub const MAX_SPIN_SHIFT: u32 = 16;

    /// The number of quick looks the constructors start with. With a spin hint of 20 to 40 ns
    /// (current x86-64 cores), that is 3 to 5 µs of full-speed polling: an empty round trip
    /// takes about 50 ns, a handler making a system call on the server a few µs.
    pub const DEFAULT_QUICK_LOOKS: u32 = 128;

    /// Spin-only waiting: [`DEFAULT_QUICK_LOOKS`](Self::DEFAULT_QUICK_LOOKS) quick looks, then
    /// at most 64 spin hints between looks. Never makes a system call.
    pub const SPIN_ONLY: Self = Self::spin_only(6);

    /// Spin, then yield to the OS: [`DEFAULT_QUICK_LOOKS`](Self::DEFAULT_QUICK_LOOKS) quick
    /// looks, then up to 64 spin hints between looks, then a yield between looks.
    pub const SPIN_THEN_YIELD: Self = Self::spin_then_yield(6);

    /// Quick looks, then spin counts doubling up to `2^max_spin_shift` hints between looks, and
    /// staying at that cap. Never makes a system call.
    #[must_use]
    pub const fn spin_only(max_spin_shift: u32) -> Self {
        Self {
            quick_looks: Self::DEFAULT_QUICK_LOOKS,
            max_spin_shift: clamp_shift(max_spin_shift),
            yield_to_os: false,
        }
    }

    /// Quick looks, then spin counts doubling up to `2^max_spin_shift` hints between looks,
    /// then a yield to the OS scheduler between looks (a system call each time).
    #[must_use]
    pub const fn spin_then_yield(max_spin_shift: u32) -> Self {
        Self {
            yield_to_os: true,
            ..Self::spin_only(max_spin_shift)
        }
    }

    /// The same strategy with `quick_looks` quick looks (one spin hint between looks) before
    /// backing off.
    #[must_use]
    pub const fn with_quick_looks(self, quick_looks: u32) -> Self {
        Self {
            quick_looks,
            ..self
        }
    }

    /// The number of looks with one spin hint between them before backing off.
    #[must_use]
    pub const fn quick_looks(&self) -> u32 {
        self.quick_looks
    }

    /// The log2 of the largest number of spin hints between two looks.
    #[must_use]
    pub const fn max_spin_shift(&self) -> u32 {
        self.max_spin_shift
    }

    /// Whether waiting may make system calls (yield to the OS).
    #[must_use]
    pub const fn yields_to_os(&self) -> bool {
        self.yield_to_os
    }
}

const fn clamp_shift(shift: u32) -> u32 {
    if shift > WaitStrategy::MAX_SPIN_SHIFT {
        WaitStrategy::MAX_SPIN_SHIFT
    } else {
        shift
    }
}

/// Defaults to [`WaitStrategy::SPIN_ONLY`], the one mode that is safe in every thread,
/// sandboxed or not.
impl Default for WaitStrategy {
    fn default() -> Self {
        Self::SPIN_ONLY
    }
}

/// The state of one wait under a [`WaitStrategy`]: call [`snooze`](Self::snooze) after each
/// look that found nothing, and [`reset`](Self::reset) after one that found something.
#[derive(Clone, Debug)]
pub struct Backoff {
    strategy: WaitStrategy,
    snoozes: u32,
}

impl Backoff {
    /// Starts a wait with the quick looks.
    #[must_use]
    pub const fn new(strategy: WaitStrategy) -> Self {
        Self {
            strategy,
            snoozes: 0,
        }
    }

    /// Waits a little: one spin hint during the quick looks, then longer each time up to the
    /// strategy's cap (see [`WaitStrategy`]).
    #[inline]
    pub fn snooze(&mut self) {
        let WaitStrategy {
            quick_looks,
            max_spin_shift,
            yield_to_os,
        } = self.strategy;
        let done = self.snoozes;
        self.snoozes = done.saturating_add(1);
        if done < quick_looks {
            spin(0);
            return;
        }
        // 1 for the first snooze after the quick looks, so that backing off starts at 2 hints.
        let shift = (done - quick_looks).saturating_add(1);
        if shift <= max_spin_shift {
            spin(shift);
        } else if yield_to_os {
            sync::os_yield();
        } else {
            spin(max_spin_shift);
        }
    }

    /// Goes back to the quick looks, for the next wait.
    #[inline]
    pub fn reset(&mut self) {
        self.snoozes = 0;
    }

    /// Whether the wait is past its quick looks and its doubling, so that each further snooze
    /// spins the most (or, under [`WaitStrategy::spin_then_yield`], yields to the OS).
    #[must_use]
    pub fn is_capped(&self) -> bool {
        let WaitStrategy {
            quick_looks,
            max_spin_shift,
            ..
        } = self.strategy;
        self.snoozes >= quick_looks.saturating_add(max_spin_shift)
    }
}

fn spin(shift: u32) {
    for _ in 0..1u32 << shift {
        sync::spin_hint();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The layout promise of the module documentation, for word-sized requests and responses.
    #[test]
    fn word_sized_handoff_fits_in_the_first_line() {
        type B = Block<u64, u64>;
        let end = core::mem::offset_of!(B, payload) + size_of::<UnsafeCell<Payload<u64, u64>>>();
        assert_eq!(core::mem::offset_of!(B, state), 0);
        assert!(end <= 64, "state and payload span {end} bytes");
    }
}
