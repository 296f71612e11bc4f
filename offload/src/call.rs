//! The friend side of an offload: a block, turned into a closure by `offload!`, handed to the
//! hakase through the friend's handoff slot as a type-erased pointer and a call function.
//!
//! The closure stays in the friend's stack frame. That is sound because the friend does not
//! leave [`offload`] (and so does not pop the frame) until the hakase has handed the outcome
//! back: the handoff's protocol (checked under loom in `gears-runtime`) orders every access the
//! hakase makes to the frame before the friend's next look at it.

use core::mem::{ManuallyDrop, MaybeUninit};
use std::cell::RefCell;
use std::panic;

use gears_runtime::handoff::{Client, Server, WaitStrategy};

/// Where a small block value travels back: inside the slot's payload, in the cache line that
/// carries the answer anyway, instead of in the friend's stack frame (which the hakase would
/// have to pull over and the friend pull back: two more line transfers per round trip).
pub(crate) type InlineResult = [MaybeUninit<usize>; 3];

/// Whether values of type `R` travel back inline.
const fn fits_inline<R>() -> bool {
    size_of::<R>() <= size_of::<InlineResult>() && align_of::<R>() <= align_of::<InlineResult>()
}

/// A block to run on the hakase: a pointer to its [`Env`] in the friend's frame and the
/// monomorphised function that runs it.
pub(crate) struct ErasedCall {
    env: *mut (),
    run: unsafe fn(*mut ()) -> InlineResult,
}

// SAFETY: `offload` only builds an `ErasedCall` for an `F: Send` returning an `R: Send`, so the
// closure may run on, and its value come from, the hakase thread; the pointer is dereferenced
// only by `run`, while the friend waits (see the module docs).
unsafe impl Send for ErasedCall {}

impl ErasedCall {
    /// Runs the block (on the hakase).
    ///
    /// # Safety
    ///
    /// At most once per `ErasedCall`, while the friend that made it waits for the outcome.
    pub(crate) unsafe fn run(self) -> InlineResult {
        // SAFETY: forwarded from the caller; `run` was built for the `Env` that `env` points to.
        unsafe { (self.run)(self.env) }
    }
}

/// The part of the friend's frame the hakase works on.
struct Env<F, R> {
    /// Taken (moved out) by `run_env` exactly once.
    block: ManuallyDrop<F>,
    /// Written by `run_env` when `R` does not fit inline.
    out: MaybeUninit<R>,
}

/// Runs the block in `env` and returns its value inline, or writes it to `env.out`.
///
/// # Safety
///
/// `env` must point to a live `Env<F, R>` whose block has not been taken, that nobody else
/// accesses until this returns.
unsafe fn run_env<F: FnOnce() -> R, R>(env: *mut ()) -> InlineResult {
    let env = env.cast::<Env<F, R>>();
    // SAFETY: the caller guarantees `env` points to a live `Env<F, R>`; this only computes the
    // field's address.
    let block = unsafe { &raw mut (*env).block };
    // SAFETY: live and exclusive to us (caller's guarantee), and the block not yet taken: taking
    // it moves the closure out once; `Env` never drops it.
    let block = ManuallyDrop::into_inner(unsafe { block.read() });
    let value = block();
    let mut inline: InlineResult = [MaybeUninit::uninit(); 3];
    if fits_inline::<R>() {
        // SAFETY: `R` fits the buffer's size and alignment (checked just above).
        unsafe { inline.as_mut_ptr().cast::<R>().write(value) };
    } else {
        // SAFETY: `env` points to a live `Env<F, R>`; this only computes the field's address.
        let out = unsafe { &raw mut (*env).out };
        // SAFETY: exclusive to us until we return (caller's guarantee); `out` is uninitialised
        // and the friend reads it only after the hand-back.
        unsafe { out.write(MaybeUninit::new(value)) };
    }
    inline
}

/// What a friend thread keeps to reach the hakase.
pub(crate) struct FriendEnd {
    pub(crate) client: Client<ErasedCall, InlineResult>,
    pub(crate) wait: WaitStrategy,
}

/// The hakase's end of one friend's slot.
pub(crate) type HakaseEnd = Server<ErasedCall, InlineResult>;

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
    let mut env = Env::<F, R> {
        block: ManuallyDrop::new(block),
        out: MaybeUninit::uninit(),
    };
    let call = ErasedCall {
        env: core::ptr::addr_of_mut!(env).cast(),
        run: run_env::<F, R>,
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
        // The hakase runs `call` (which touches `env`) before it hands the outcome back, and
        // `call_outcome` returns only then: `env` outlives every access.
        end.client.call_outcome(call, &end.wait)
    });
    match outcome {
        Ok(inline) if fits_inline::<R>() => {
            // SAFETY: `run_env::<F, R>` returned normally and wrote an `R` at the start of the
            // buffer, since `R` fits inline.
            unsafe { inline.as_ptr().cast::<R>().read() }
        }
        // SAFETY: `run_env::<F, R>` returned normally and, `R` not fitting inline, wrote `out`;
        // the hand-back ordered that write before this read.
        Ok(_) => unsafe { env.out.assume_init() },
        // The block panicked on the hakase (it consumed the closure); re-raise it here.
        Err(payload) => panic::resume_unwind(payload),
    }
}
