//! A request/response slot split into an exclusive [`Client`] end and an exclusive [`Server`]
//! end, whose round trip writes the shared state word twice: as few as a bare ping-pong.
//!
//! [`MailboxSlot`](crate::mailbox::MailboxSlot) is role-agnostic: any thread holding `&slot` may
//! post or serve, so every transition claims the payload with a compare-and-swap into a transient
//! state, and a round trip writes the state word six times. Here the roles are types. A slot is
//! created as a pair ([`slot`]); the [`Client`] is `Send` but not `Sync` and the [`Server`]
//! likewise, so at any moment exactly one thread can act as each side, and ownership of the
//! payload can follow a plain sequence number instead of claims:
//!
//! ```text
//!   turn even: the client owns the payload          turn odd: the server owns the payload
//!
//!   client: write request, store turn+1 (Release) ─────▶ server: load turn (Acquire), odd:
//!                                                         take request, run handler,
//!   client: load turn (Acquire) == sent+1:  ◀───────────  write outcome, store turn+1 (Release)
//!           take the outcome
//! ```
//!
//! Each side writes the turn once per round trip and only ever to hand the payload to the other
//! side, so the cache line moves exactly twice, as in a ping-pong on one atomic. The turn is a
//! counter modulo 2^31; only its parity and the client's expected value matter, and both
//! survive wrap-around (2^31 is even).
//!
//! # Waiting
//!
//! [`Client::call`] waits for the outcome as a [`WaitStrategy`] says; with
//! [`WaitStrategy::SPIN_ONLY`] neither the call nor the wait makes a system call, which is what a
//! seccomp-sandboxed offload friend needs. [`Server::try_serve`] never waits.
//!
//! # Panics in the handler
//!
//! [`Server::try_serve`] catches a panicking handler and hands its payload to the client as the
//! `Err` [`Outcome`]; [`Client::call`] re-raises it. The server is never left owning the slot.
//!
//! # Ends that go away
//!
//! The slot lives as long as either end. A dropped client leaves the server polling an idle slot
//! (one load per look, `false` every time); [`Server::client_gone`] tells a server it may stop
//! polling it. A dropped server ends a waiting client's wait: [`Client::call_until`] returns
//! [`CallError::ServerGone`] with the request that nobody served (the others panic). The client
//! looks for that only once its wait is past its quick looks and its doubling, so the check
//! costs nothing on a round trip that is answered quickly.
//!
//! # Parking servers: the bell
//!
//! A slot made with [`SlotOptions::ring`] rings a [`Bell`] after every request it publishes,
//! so that a server parked on that bell (see [`Bell::park`]) wakes up: one load of a line
//! nobody writes while the server is awake, one `futex` wake call when it sleeps. Many slots
//! share one bell: the server parks once for all of them.
//!
//! # Retracting a request: deadlines
//!
//! A slot made with [`SlotOptions::retractable`] lets [`Client::call_until`] take a request back
//! when a deadline passes before the server has taken it. Taking a request is then a claim: the
//! server compare-and-swaps the odd turn to itself (the top bit, [`CLAIMED`]) before it reads
//! the request, and a client retracts with a compare-and-swap of the same odd turn to the next
//! even one; exactly one of the two succeeds. Once the server has claimed a request, the client
//! waits for its outcome however long it takes (the handler runs, and may use what the request
//! points to). The claim costs the server one read-modify-write per request, which is why it is
//! an option: slots without deadlines take requests with a plain load, as above. Turns count
//! modulo 2^31 to leave the top bit for the claim.
//!
//! # Example
//!
//! ```
//! use gears_runtime::handoff::{self, WaitStrategy};
//! use gears_runtime::mailbox::Backoff;
//!
//! let (client, server) = handoff::slot::<u64, u64>();
//! std::thread::scope(|s| {
//!     s.spawn(move || {
//!         for i in 0..1_000 {
//!             assert_eq!(client.call(i, &WaitStrategy::SPIN_ONLY), i * i);
//!         }
//!     });
//!     let mut served = 0;
//!     let mut idle = Backoff::new(WaitStrategy::SPIN_THEN_YIELD);
//!     while served < 1_000 {
//!         if server.try_serve(|x| x * x) {
//!             served += 1;
//!             idle.reset();
//!         } else {
//!             idle.snooze();
//!         }
//!     }
//! });
//! ```

pub mod bell;

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::{ManuallyDrop, MaybeUninit};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

pub use crate::mailbox::{Backoff, Outcome, WaitStrategy};
use crate::sync::{Arc, AtomicBool, AtomicU32, Ordering, UnsafeCell};
pub use bell::{
    Bell, Fencing, MAX_SHARED_WORDS, SHARED_AWAKE, SHARED_FALLBACK_SLICE, ring_shared,
    shared_barriers_supported, shared_wakes_supported, use_light_shared_rings,
};

/// The top bit of a retractable slot's turn: the server has claimed the pending request.
pub const CLAIMED: u32 = 1 << 31;
/// Turns count modulo 2^31 (below [`CLAIMED`]).
const TURN_MASK: u32 = CLAIMED - 1;

/// The turn after `turn`, modulo 2^31 (2^31 is even, so parity survives the wrap).
#[inline]
fn next_turn(turn: u32) -> u32 {
    turn.wrapping_add(1) & TURN_MASK
}

/// The request (from the client's post until the server takes it) or the outcome (from the
/// server's hand-back until the client takes it); which one, if any, follows from the turn, so no
/// tag is stored. Taking a value out only reads it: the client's read of the outcome writes
/// nothing into the line the server polls, which would cost one more coherence round per call.
/// `repr(C)` puts both at offset 0, so a pointer to the payload is a pointer to either.
#[repr(C)]
union Payload<Req, Resp> {
    request: ManuallyDrop<Req>,
    response: ManuallyDrop<Outcome<Resp>>,
}

/// `repr(C)` keeps the turn at offset 0, in the same cache line as the start of the payload, so
/// the line that carries the turn also carries a small request or response.
#[repr(C)]
struct Block<Req, Resp> {
    /// Even: the client owns `payload`. Odd: the server does. Only the owner writes it, and only
    /// to pass ownership to the other side (one increment, release), except that in a
    /// retractable slot the server claims an odd turn (sets [`CLAIMED`]) and the client may
    /// retract an unclaimed one (both by compare-and-swap).
    turn: AtomicU32,
    /// Whether requests are claimed (set at creation, never changed).
    retractable: bool,
    payload: UnsafeCell<MaybeUninit<Payload<Req, Resp>>>,
}

struct Shared<Req, Resp> {
    block: CachePadded<Block<Req, Resp>>,
    /// Cleared (release) when the server end is dropped.
    server_alive: AtomicBool,
}

// SAFETY: the payload is only accessed by the end that owns it according to `turn`, and
// ownership passes with a release store that the other end's acquire load pairs with; values
// are moved in and out, never shared, so `Req: Send` and `Resp: Send` suffice for the shared
// block to be used from the two ends' threads.
unsafe impl<Req: Send, Resp: Send> Sync for Shared<Req, Resp> {}
// SAFETY: as above; dropping the block on either thread drops at most one `Req`, which is `Send`.
unsafe impl<Req: Send, Resp: Send> Send for Shared<Req, Resp> {}

impl<Req, Resp> Shared<Req, Resp> {
    /// Moves `req` into the payload.
    ///
    /// # Safety
    ///
    /// The caller's end owns the payload, and it holds no live value.
    unsafe fn put_request(&self, req: Req) {
        self.block.payload.with_mut(|payload| {
            // SAFETY: exclusive (caller's guarantee); both union fields are at offset 0.
            unsafe { payload.cast::<Req>().write(req) }
        });
    }

    /// Moves the request out of the payload.
    ///
    /// # Safety
    ///
    /// The caller's end owns the payload, and it holds a request not yet taken.
    unsafe fn take_request(&self) -> Req {
        self.block.payload.with_mut(|payload| {
            // SAFETY: exclusive and holding a request (caller's guarantee); offset 0.
            unsafe { payload.cast::<Req>().read() }
        })
    }

    /// Moves `outcome` into the payload.
    ///
    /// # Safety
    ///
    /// The caller's end owns the payload, and it holds no live value.
    unsafe fn put_response(&self, outcome: Outcome<Resp>) {
        self.block.payload.with_mut(|payload| {
            // SAFETY: exclusive (caller's guarantee); both union fields are at offset 0.
            unsafe { payload.cast::<Outcome<Resp>>().write(outcome) }
        });
    }

    /// Moves the outcome out of the payload.
    ///
    /// # Safety
    ///
    /// The caller's end owns the payload, and it holds an outcome not yet taken.
    unsafe fn take_response(&self) -> Outcome<Resp> {
        self.block.payload.with_mut(|payload| {
            // SAFETY: exclusive and holding an outcome (caller's guarantee); offset 0.
            unsafe { payload.cast::<Outcome<Resp>>().read() }
        })
    }
}

/// A client takes its outcome before its call returns, so the payload holds a value at drop
/// only if a request was never served: then it is dropped here.
impl<Req, Resp> Drop for Shared<Req, Resp> {
    fn drop(&mut self) {
        if server_owns(self.block.turn.load(Ordering::Acquire)) {
            // SAFETY: we are the last owner, and an odd turn means a request is in the payload.
            drop(unsafe { self.take_request() });
        }
    }
}

/// Whether `turn` gives the payload to the server (odd) rather than the client (even).
#[inline]
fn server_owns(turn: u32) -> bool {
    turn & 1 == 1
}

/// Creates an empty slot and returns its two ends: no bell, not retractable.
#[must_use]
pub fn slot<Req, Resp>() -> (Client<Req, Resp>, Server<Req, Resp>) {
    slot_with(SlotOptions::new())
}

/// What a slot does beyond the bare handoff: see [`slot_with`].
#[derive(Clone, Debug, Default)]
pub struct SlotOptions {
    bell: Option<Arc<Bell>>,
    retractable: bool,
}

impl SlotOptions {
    /// A bare slot, as [`slot`] makes.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The client rings `bell` after each request it publishes (see the module docs).
    #[must_use]
    pub fn ring(mut self, bell: Arc<Bell>) -> Self {
        self.bell = Some(bell);
        self
    }

    /// Requests are claimed by the server, so that a client's deadline can retract one the
    /// server has not taken (see the module docs; one read-modify-write per request more).
    #[must_use]
    pub fn retractable(mut self) -> Self {
        self.retractable = true;
        self
    }
}

/// Creates an empty slot with `options` and returns its two ends.
#[must_use]
pub fn slot_with<Req, Resp>(options: SlotOptions) -> (Client<Req, Resp>, Server<Req, Resp>) {
    let shared = Arc::new(Shared {
        block: CachePadded::new(Block {
            turn: AtomicU32::new(0),
            retractable: options.retractable,
            payload: UnsafeCell::new(MaybeUninit::uninit()),
        }),
        server_alive: AtomicBool::new(true),
    });
    (
        Client {
            shared: shared.clone(),
            sent: Cell::new(0),
            bell: options.bell,
            _not_sync: PhantomData,
        },
        Server {
            shared,
            _not_sync: PhantomData,
        },
    )
}

/// The client end: makes calls one at a time. `Send`, not `Sync`, not `Clone`: one thread at a
/// time is the client, which is what lets the protocol do without claims.
pub struct Client<Req, Resp> {
    shared: Arc<Shared<Req, Resp>>,
    /// The turn this client last stored (even when idle). Only the client changes the turn from
    /// even to odd, so it always knows the value without loading it.
    sent: Cell<u32>,
    bell: Option<Arc<Bell>>,
    _not_sync: PhantomData<Cell<()>>,
}

/// Why [`Client::call_until`] returned without an outcome. Either way the request was not
/// served, and comes back.
#[derive(Debug)]
#[non_exhaustive]
pub enum CallError<Req> {
    /// The deadline passed before the server took the request, and the client took it back.
    TimedOut(Req),
    /// The server end was dropped before it served the request.
    ServerGone(Req),
}

impl<Req> CallError<Req> {
    /// The request that was not served.
    pub fn into_request(self) -> Req {
        match self {
            Self::TimedOut(req) | Self::ServerGone(req) => req,
        }
    }
}

impl<Req> fmt::Display for CallError<Req> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TimedOut(_) => "the server did not take the request before the deadline",
            Self::ServerGone(_) => "the server end was dropped before it served the request",
        })
    }
}

impl<Req: fmt::Debug> std::error::Error for CallError<Req> {}

/// The server end: serves the client's requests with [`try_serve`](Self::try_serve). `Send`,
/// not `Sync`, not `Clone`.
pub struct Server<Req, Resp> {
    shared: Arc<Shared<Req, Resp>>,
    _not_sync: PhantomData<Cell<()>>,
}

// The ends are exclusive (one client, one server thread at a time) but may move between threads;
// checked in every build, beside the `handoff-ends-not-sync` UI test that shows the message.
static_assertions::assert_impl_all!(Client<u64, u64>: Send);
static_assertions::assert_impl_all!(Server<u64, u64>: Send);
static_assertions::assert_not_impl_any!(Client<u64, u64>: Sync, Clone);
static_assertions::assert_not_impl_any!(Server<u64, u64>: Sync, Clone);

// The layout the module documentation promises (the turn and a word-sized request or response
// in the first 64-byte line; the block on cache lines of its own). Not under loom, whose atomics
// are larger.
#[cfg(not(loom))]
const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    type B = Block<u64, u64>;
    static_assertions::const_assert_eq!(offset_of!(B, turn), 0);
    static_assertions::const_assert!(offset_of!(B, payload) + size_of::<Payload<u64, u64>>() <= 64);
    static_assertions::const_assert!(align_of::<Shared<u64, u64>>() >= 64);
};

impl<Req, Resp> Client<Req, Resp> {
    /// Hands `req` to the server, waits for the outcome as `wait` says, and returns the response.
    ///
    /// Under [`WaitStrategy::SPIN_ONLY`] (or any [`WaitStrategy::spin_only`]) no system call is
    /// made, however long the wait.
    ///
    /// # Panics
    ///
    /// Re-raises the handler's panic with [`panic::resume_unwind`] if it panicked.
    pub fn call(&self, req: Req, wait: &WaitStrategy) -> Resp {
        match self.call_outcome(req, wait) {
            Ok(resp) => resp,
            Err(panic_payload) => panic::resume_unwind(panic_payload),
        }
    }

    /// As [`call`](Self::call), but a panic of the handler comes back as the `Err` outcome
    /// instead of being re-raised.
    ///
    /// # Panics
    ///
    /// If the server end is dropped before it serves the request.
    pub fn call_outcome(&self, req: Req, wait: &WaitStrategy) -> Outcome<Resp> {
        match self.call_until(req, wait, None) {
            Ok(outcome) => outcome,
            Err(error) => panic!("handoff::Client::call: {error}"),
        }
    }

    /// Hands `req` to the server and waits for the outcome as `wait` says, until the server
    /// has answered, or it is dropped, or `timeout` passes before it has taken the request.
    ///
    /// Both checks happen only once the wait is past its quick looks and its doubling
    /// ([`Backoff::is_capped`]), so they cost nothing while answers come quickly, and neither
    /// makes a system call (the time is read from the vDSO clock). The timeout is counted from
    /// the first such check (a few µs into the wait), so that a quick call never reads the
    /// clock. Once the server has taken the request the client waits for the outcome whatever
    /// the timeout. A timeout too long for an [`Instant`] (`Duration::MAX`) never passes.
    ///
    /// # Errors
    ///
    /// [`CallError::TimedOut`] or [`CallError::ServerGone`], with the request back.
    ///
    /// # Panics
    ///
    /// With a timeout, if the slot was not made [`retractable`](SlotOptions::retractable).
    pub fn call_until(
        &self,
        req: Req,
        wait: &WaitStrategy,
        timeout: Option<Duration>,
    ) -> Result<Outcome<Resp>, CallError<Req>> {
        let block = &*self.shared.block;
        assert!(
            timeout.is_none() || block.retractable,
            "a timeout needs a retractable slot (SlotOptions::retractable)"
        );
        // Set at the first capped look; the inner `None`: a timeout too long for an `Instant`
        // (`Duration::MAX`), which never passes.
        let mut deadline: Option<Option<Instant>> = None;
        let idle = self.sent.get();
        debug_assert!(!server_owns(idle), "a client is idle between calls");
        // SAFETY: the turn is even (this client stored it, or it is the initial 0, and only the
        // server moves it from odd to even, which it did before our last call returned), so the
        // client owns the payload, whose last outcome that call took.
        unsafe { self.shared.put_request(req) };
        let requested = next_turn(idle);
        self.sent.set(requested);
        block.turn.store(requested, Ordering::Release);
        if let Some(bell) = &self.bell {
            bell.ring();
        }

        let answered = next_turn(requested);
        let mut backoff = Backoff::new(*wait);
        loop {
            let turn = block.turn.load(Ordering::Acquire);
            if turn == answered {
                break;
            }
            if backoff.is_capped() {
                if !self.shared.server_alive.load(Ordering::Acquire) {
                    return self.after_server_gone(answered);
                }
                if turn == requested
                    && let Some(timeout) = timeout
                    && let Some(at) =
                        *deadline.get_or_insert_with(|| Instant::now().checked_add(timeout))
                    && Instant::now() >= at
                    && block
                        .turn
                        .compare_exchange(requested, answered, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                {
                    self.sent.set(answered);
                    // SAFETY: the swap from the unclaimed odd turn succeeded, so the server never
                    // took the request and never will (its claim would need that turn): the
                    // payload is ours and holds the request we put there.
                    return Err(CallError::TimedOut(unsafe { self.shared.take_request() }));
                }
            }
            backoff.snooze();
        }
        self.sent.set(answered);
        // SAFETY: the server stored `answered` (even) with release after writing the outcome,
        // and our acquire load saw it, so the payload is ours again and holds the outcome.
        Ok(unsafe { self.shared.take_response() })
    }

    /// The server is gone (its drop released `server_alive`, which we acquired): nobody else
    /// touches the block any more.
    #[cold]
    fn after_server_gone(&self, answered: u32) -> Result<Outcome<Resp>, CallError<Req>> {
        let turn = self.shared.block.turn.load(Ordering::Acquire);
        self.sent.set(answered);
        if turn == answered {
            // SAFETY: it answered before it went: the outcome is in the payload, ours.
            Ok(unsafe { self.shared.take_response() })
        } else {
            // It cannot have claimed the request without answering (claims happen inside
            // `try_serve`, which the dropped server had left), so the request is still there.
            self.shared.block.turn.store(answered, Ordering::Relaxed);
            // SAFETY: the server is gone and the turn is odd: the payload holds our request.
            Err(CallError::ServerGone(unsafe { self.shared.take_request() }))
        }
    }

    /// Whether the server end has been dropped (a call would then never be answered).
    #[must_use]
    pub fn server_gone(&self) -> bool {
        !self.shared.server_alive.load(Ordering::Acquire)
    }
}

impl<Req, Resp> Server<Req, Resp> {
    /// If a request is pending, runs `handler` on it and hands the outcome to the client;
    /// returns whether it did. Never waits: with nothing pending, it returns `false` after one
    /// load, which leaves the line shared with the client.
    ///
    /// A panic in `handler` is caught and handed to the client as the `Err` outcome; the server
    /// goes on as if the handler had returned. State the handler shares with later handlers
    /// should stay consistent if it panics (the usual [`panic::catch_unwind`] caveat).
    pub fn try_serve(&self, handler: impl FnOnce(Req) -> Resp) -> bool {
        let block = &*self.shared.block;
        let turn = block.turn.load(Ordering::Acquire);
        if !server_owns(turn) {
            return false;
        }
        if block.retractable
            && block
                .turn
                .compare_exchange(turn, turn | CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            // The client retracted it (the turn is even again).
            return false;
        }
        // SAFETY: the turn is odd: the client stored it with release after writing the request,
        // our acquire load saw it, and only this server makes it even again (in a retractable
        // slot, our claim succeeded, so the client can no longer retract it).
        let req = unsafe { self.shared.take_request() };
        let outcome = panic::catch_unwind(AssertUnwindSafe(move || handler(req)));
        // SAFETY: the turn is still odd (we have not handed the payload back yet), and we took
        // the request out.
        unsafe { self.shared.put_response(outcome) };
        block.turn.store(next_turn(turn), Ordering::Release);
        true
    }

    /// Whether a request is waiting. A hint: it may be stale by the time the caller acts on it.
    #[must_use]
    pub fn has_request(&self) -> bool {
        server_owns(self.shared.block.turn.load(Ordering::Relaxed))
    }

    /// Whether the client end has been dropped: no request will ever come again (one that was
    /// pending when the client went away cannot exist, since a client waits for its outcome).
    #[must_use]
    pub fn client_gone(&self) -> bool {
        Arc::strong_count(&self.shared) == 1
    }
}

/// Ends a waiting client's wait (see [`Client::call_until`]).
impl<Req, Resp> Drop for Server<Req, Resp> {
    fn drop(&mut self) {
        self.shared.server_alive.store(false, Ordering::Release);
    }
}

impl<Req, Resp> fmt::Debug for Client<Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("handoff::Client")
            .field("sent", &self.sent.get())
            .finish_non_exhaustive()
    }
}

impl<Req, Resp> fmt::Debug for Server<Req, Resp> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("handoff::Server")
            .field("turn", &self.shared.block.turn.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
