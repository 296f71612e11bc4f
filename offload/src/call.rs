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

use core::mem::MaybeUninit;
use std::cell::RefCell;
use std::panic;

use gears_runtime::handoff::{Client, Server, WaitStrategy};

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

/// A block to run on the hakase.
pub(crate) struct ErasedCall {
    /// `run_block::<F, R>` for the block's closure type `F` and value type `R`.
    run: unsafe fn(Words, *mut ()) -> Words,
    /// The closure, if it fits inline.
    block: Words,
    /// The friend's [`Frame`]: the closure if it does not fit inline, and the place for a value
    /// that does not.
    frame: *mut (),
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
unsafe fn run_block<F: FnOnce() -> R, R>(words: Words, frame: *mut ()) -> Words {
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
    let value = block();
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
}

/// The hakase's end of one friend's slot.
pub(crate) type HakaseEnd = Server<ErasedCall, Words>;

thread_local! {
    /// Set on a friend thread before its body runs; `None` everywhere else.
    static FRIEND: RefCell<Option<FriendEnd>> = const { RefCell::new(None) };
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
/// If the current thread is not a friend spawned by
/// [`Hakase::spawn_friends`](crate::Hakase::spawn_friends) (for example, inside an offloaded
/// block, which runs on the
/// hakase), and with the block's own panic.
pub fn offload<F, R>(block: F) -> R
where
    F: FnOnce() -> R + Send,
    R: Send,
{
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
    };
    let outcome = FRIEND.with_borrow(|end| {
        let Some(end) = end else {
            panic!(
                "offload! on thread {:?}, which is not a friend: offload! runs on friends spawned \
                 by Hakase::spawn_friends (inside an offloaded block the code already runs on \
                 the hakase)",
                std::thread::current().name().unwrap_or("<unnamed>")
            );
        };
        // The hakase runs `call` (which may touch `frame`) before it hands the outcome back, and
        // `call_outcome` returns only then: `frame` outlives every access.
        end.client.call_outcome(call, &end.wait)
    });
    match outcome {
        Ok(words) if fits_inline::<R>() => {
            // SAFETY: `run_block::<F, R>` returned normally and wrote an `R` at the start of the
            // words, since `R` fits inline.
            unsafe { words.as_ptr().cast::<R>().read() }
        }
        // SAFETY: `run_block::<F, R>` returned normally and, `R` not fitting inline, wrote
        // `out`; the hand-back ordered that write before this read.
        Ok(_) => unsafe { frame.out.assume_init() },
        // The block panicked on the hakase (it consumed the closure); re-raise it here.
        Err(payload) => panic::resume_unwind(payload),
    }
}
