//! The friend side of an offload: a block, turned into a closure by `offload!`, handed to the
//! hakase through the friend's handoff slot as a type-erased call.
//!
//! A closure of up to three words (a block that captures a few references, or a `move` block
//! that copies a few integers) travels inside the slot's payload, and so does a value of up to
//! three words coming back: those are in the cache line the handoff moves anyway, so such a call
//! costs the two line transfers of the handoff plus whatever friend memory the block itself
//! touches. A bigger closure or value stays in the friend's stack frame, which the hakase reads
//! or writes through a pointer. That is sound because the friend does not leave [`offload`] (and
//! so does not pop the frame) until the hakase has handed the outcome back, and the handoff's
//! protocol (checked under loom in `gears-runtime`) orders every access the hakase makes to the
//! frame before the friend's next look at it.

use core::cell::Cell;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use std::cell::RefCell;
use std::panic::{self, Location};
use std::time::Duration;

use gears_runtime::handoff::{CallError, Client, Server, WaitStrategy};

use crate::friend::FriendId;

/// Room for a small closure going out, or a small value coming back, inside the slot.
pub(crate) type Words = [MaybeUninit<usize>; 3];

/// Whether values of type `T` travel inside the slot.
const fn fits_inline<T>() -> bool {
    size_of::<T>() <= size_of::<Words>() && align_of::<T>() <= align_of::<Words>()
}

// The round trip stays in one cache line: the slot keeps its turn word (4 bytes, padded to 8)
// and the payload in the first 64 bytes, so the request (the erased call) and the response (the
// value words, or a panic) must each fit 56 bytes.
static_assertions::const_assert!(size_of::<ErasedCall>() <= 56);
static_assertions::const_assert!(size_of::<gears_runtime::handoff::Outcome<Words>>() <= 56);

/// Proof that code runs inside an offloaded block on the hakase, for the duration `'h` of that
/// block: what `offload!` hands its block and what `exported!` needs to call a hakase function.
///
/// A closure that calls `exported!` inside the block captures it, so such a closure cannot leave
/// the block as its value (the value's type cannot name `'h`): a hakase function can only be
/// called while the block runs on the hakase, never later on the friend.
#[derive(Clone, Copy, Debug)]
pub struct OnHakase<'h>(PhantomData<fn(&'h ()) -> &'h ()>);

/// A block to run on the hakase.
pub(crate) struct ErasedCall {
    /// `run_block::<F, R>` for the block's closure type `F` and value type `R`.
    run: unsafe fn(Words, *mut ()) -> Words,
    /// The closure, if it fits inline.
    block: Words,
    /// The friend's [`Frame`]: the closure if it does not fit inline, and the place for a value
    /// that does not.
    frame: *mut (),
    /// Where the `offload!` is, for the hakase's panic report.
    pub(crate) site: &'static Location<'static>,
}

// SAFETY: `offload` only builds an `ErasedCall` for an `F: Send` returning an `R: Send`, so the
// closure may move to, run on, and its value come from, the hakase thread; `frame` is
// dereferenced only by `run`, while the friend waits (see the module docs).
unsafe impl Send for ErasedCall {}

impl ErasedCall {
    /// Runs the block (on the hakase) and returns its value if it travels inline.
    ///
    /// # Safety
    ///
    /// At most once per `ErasedCall`, while the friend that made it waits for the outcome.
    pub(crate) unsafe fn run(self) -> Words {
        // SAFETY: forwarded from the caller; `run` was built for this call's closure and frame.
        unsafe { (self.run)(self.block, self.frame) }
    }
}

/// The part of the friend's stack frame the hakase may work on.
struct Frame<F, R> {
    /// The closure, when it does not fit inline; taken by `run_block` exactly once.
    block: MaybeUninit<F>,
    /// The value, when it does not fit inline; written by `run_block`.
    out: MaybeUninit<R>,
}

/// Takes the closure (from `words` if it fits inline, else from the frame), runs it, and returns
/// its value inline or writes it to the frame.
///
/// # Safety
///
/// `words` and `frame` must come from one `ErasedCall` built by `offload::<F, R>` and not run
/// before, whose friend is still waiting: `frame` then points to its live `Frame<F, R>`, which
/// nobody else touches until this returns.
unsafe fn run_block<F: for<'h> FnOnce(OnHakase<'h>) -> R, R>(
    words: Words,
    frame: *mut (),
) -> Words {
    let frame = frame.cast::<Frame<F, R>>();
    let block = if fits_inline::<F>() {
        // SAFETY: `offload` moved the closure into the words (it fits their size and alignment);
        // this is the one time it is moved out.
        unsafe { words.as_ptr().cast::<F>().read() }
    } else {
        // SAFETY: the frame is live (caller's guarantee); this only computes a field address.
        let block = unsafe { &raw const (*frame).block };
        // SAFETY: `offload` wrote the closure there, nobody else touches the frame now, and this
        // is the one time it is moved out.
        unsafe { block.cast::<F>().read() }
    };
    let value = block(OnHakase(PhantomData));
    let mut words: Words = [MaybeUninit::uninit(); 3];
    if fits_inline::<R>() {
        // SAFETY: `R` fits the words' size and alignment.
        unsafe { words.as_mut_ptr().cast::<R>().write(value) };
    } else {
        // SAFETY: the frame is live (caller's guarantee); this only computes a field address.
        let out = unsafe { &raw mut (*frame).out };
        // SAFETY: nobody else touches the frame until we return; the friend reads `out` only
        // after the hand-back.
        unsafe { out.write(MaybeUninit::new(value)) };
    }
    words
}

/// What a friend thread keeps to reach the hakase.
pub(crate) struct FriendEnd {
    pub(crate) client: Client<ErasedCall, Words>,
    pub(crate) wait: WaitStrategy,
    pub(crate) timeout: Option<Duration>,
}

/// The hakase's end of one friend's slot.
pub(crate) type HakaseEnd = Server<ErasedCall, Words>;

thread_local! {
    /// Set on a friend thread before its body runs; `None` everywhere else.
    static FRIEND: RefCell<Option<FriendEnd>> = const { RefCell::new(None) };
    /// On a friend: the payload address and site of the last block panic it re-raised, so that
    /// a friend that does not catch it is reported as such.
    static RERAISED: Cell<(usize, Option<&'static Location<'static>>)> =
        const { Cell::new((0, None)) };
    /// On the hakase: the friend and site of the block it is running, for the panic report.
    static SERVING: Cell<Option<(FriendId, &'static Location<'static>)>> =
        const { Cell::new(None) };
}

/// The address of a panic payload, to recognise it after it was re-raised.
fn payload_address(payload: &(dyn std::any::Any + Send)) -> usize {
    core::ptr::from_ref(payload).cast::<()>() as usize
}

/// If `payload` is the last block panic this friend re-raised, where that block was offloaded.
pub(crate) fn reraised_from(
    payload: &(dyn std::any::Any + Send),
) -> Option<&'static Location<'static>> {
    let (address, site) = RERAISED.with(Cell::get);
    (address == payload_address(payload))
        .then_some(site)
        .flatten()
}

/// The friend and site of the block the current (hakase) thread is running, if any.
pub(crate) fn serving() -> Option<(FriendId, &'static Location<'static>)> {
    SERVING.with(Cell::get)
}

/// Runs `run` with `serving()` telling `friend` and `site`.
#[inline]
pub(crate) fn while_serving<R>(
    friend: FriendId,
    site: &'static Location<'static>,
    run: impl FnOnce() -> R,
) -> R {
    struct Restore(Option<(FriendId, &'static Location<'static>)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SERVING.with(|serving| serving.set(self.0));
        }
    }
    let _restore = Restore(SERVING.with(|serving| serving.replace(Some((friend, site)))));
    run()
}

/// Makes the current thread a friend that offloads through `end`.
pub(crate) fn install_friend_end(end: FriendEnd) {
    FRIEND.with_borrow_mut(|slot| *slot = Some(end));
}

/// Whether the current thread is a friend (so `offload!` can be used on it).
#[must_use]
pub fn on_friend_thread() -> bool {
    FRIEND.with_borrow(Option::is_some)
}

/// Runs `block` on the hakase and returns its value; what `offload!` expands to.
///
/// The friend waits, with its [`WaitStrategy`](crate::FriendConfig::wait), until the hakase has
/// run the block; a panic in the block is re-raised here.
///
/// # Panics
///
/// At the caller's `offload!`: if the current thread is not a friend spawned by
/// [`Hakase::spawn_friends`](crate::Hakase::spawn_friends) (for example, inside an offloaded
/// block, which runs on the hakase); if the hakase was dropped, or did not take the request
/// within the friend's [`wait_timeout`](crate::FriendConfig::wait_timeout) (then the block did
/// not run); and with the block's own panic.
#[track_caller]
pub fn offload<F, R>(block: F) -> R
where
    F: for<'h> FnOnce(OnHakase<'h>) -> R + Send,
    R: Send,
{
    let site = Location::caller();
    if !on_friend_thread() {
        if crate::process::in_process_friend() {
            crate::process::offload_in_process_friend();
        }
        panic!(
            "offload! on thread {:?}, which is not a friend: offload! runs on friends spawned \
             by Hakase::spawn_friends (inside an offloaded block the code already runs on \
             the hakase)",
            std::thread::current().name().unwrap_or("<unnamed>")
        );
    }
    let mut frame = Frame::<F, R> {
        block: MaybeUninit::uninit(),
        out: MaybeUninit::uninit(),
    };
    let mut words: Words = [MaybeUninit::uninit(); 3];
    if fits_inline::<F>() {
        // SAFETY: `F` fits the words' size and alignment; `run_block` moves it out once.
        unsafe { words.as_mut_ptr().cast::<F>().write(block) };
    } else {
        frame.block.write(block);
    }
    let call = ErasedCall {
        run: run_block::<F, R>,
        block: words,
        frame: (&raw mut frame).cast(),
        site,
    };
    let outcome = FRIEND.with_borrow(|end| {
        let end = end
            .as_ref()
            .expect("checked above: this is a friend thread");
        // The hakase runs `call` (which may touch `frame`) before it hands the outcome back, and
        // `call_until` returns only then, or with the call back when the hakase never took it:
        // `frame` outlives every access.
        end.client
            .call_until(call, &end.wait, end.timeout)
            .map_err(|error| (error, end.timeout))
    });
    match outcome {
        Ok(Ok(words)) if fits_inline::<R>() => {
            // SAFETY: `run_block::<F, R>` returned normally and wrote an `R` at the start of the
            // words, since `R` fits inline.
            unsafe { words.as_ptr().cast::<R>().read() }
        }
        // SAFETY: `run_block::<F, R>` returned normally and, `R` not fitting inline, wrote
        // `out`; the hand-back ordered that write before this read.
        Ok(Ok(_)) => unsafe { frame.out.assume_init() },
        // The block panicked on the hakase (it consumed the closure); re-raise it here, noting
        // where it came from in case the friend does not catch it.
        Ok(Err(payload)) => {
            RERAISED.with(|reraised| reraised.set((payload_address(&*payload), Some(site))));
            panic::resume_unwind(payload)
        }
        // The block never ran; its closure stays in the returned call and is leaked, not
        // dropped (the call does not know its type), which is safe.
        Err((CallError::TimedOut(_), timeout)) => panic!(
            "offload!: the hakase did not take this request within {:?} (FriendConfig::\
             wait_timeout), so the block did not run; is the hakase serving (Hakase::\
             serve_until, Friends::join)?",
            timeout.unwrap_or_default()
        ),
        Err(_) => panic!(
            "offload!: the hakase is gone (it was dropped while this friend offloaded), so the \
             block did not run"
        ),
    }
}
