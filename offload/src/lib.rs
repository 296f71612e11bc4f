//! offload: Toshokan-style function offloading from restricted friend threads to the hakase.
//!
//! The **hakase** is the capable host thread; **friends** are threads pinned to their own CPUs
//! and, optionally, sandboxed so that they cannot make system calls at all
//! ([`Sandbox::NoSyscalls`], a seccomp filter): Toshokan's asymmetry, enforced for real. A
//! friend runs code it cannot run itself by offloading it:
//!
//! ```
//! use offload::prelude::*;
//!
//! #[export_symbol] // a hakase function friend code may call by name
//! pub fn hakase_print(msg: &str) -> usize {
//!     println!("{msg}");
//!     msg.len()
//! }
//!
//! fn main() -> Result<(), offload::Error> {
//!     let hakase = Hakase::new()?; // the export table, checked at start
//!     let friends = hakase.spawn_friends(
//!         FriendConfig::cpus("0")?.sandbox(Sandbox::NoSyscalls),
//!         |_id| {
//!             let mut x = 0;
//!             let n = offload!({
//!                 // runs on the hakase, sees the friend's locals
//!                 x = 1;
//!                 exported!(hakase_print)("Hello World!")
//!             });
//!             assert_eq!((x, n), (1, 12));
//!         },
//!     )?;
//!     while !friends.finished() {
//!         hakase.try_receive(); // offloader_tryreceive(): serves what is pending, never waits
//!     }
//!     friends.join() // (join also serves, until every friend has ended)
//! }
//! ```
//!
//! - [`offload!`] runs its block on the hakase and returns the block's value. The block is a
//!   closure over the friend's locals, passed by reference through the friend's own handoff
//!   slot; the friend spins (then backs off, without system calls) until the hakase has run it.
//!   A panic in the block is caught on the hakase, which keeps serving, and re-raised in the
//!   friend. `return`, `?`, `break` and `continue` that would leave the block are compile errors.
//! - [`Hakase::try_receive`] serves whatever is pending, one request per friend, and returns at
//!   once if nothing is; [`Hakase::serve_until`] loops, and [`Friends::join`] serves until every
//!   friend has ended. Every friend has its own slot, so requests from several friends are
//!   served back to back, each exactly once, with no lock. An idle hakase spins briefly, then
//!   parks in the kernel (a friend's request wakes it), so it does not burn its core.
//! - [`#[export_symbol]`](export_symbol) exports a hakase function; [`declare_exports!`]
//!   declares signatures in a crate both sides share (Toshokan's `shared.h`); [`exported!`]
//!   calls an exported function from inside an `offload!` block. Returning a reference or raw
//!   pointer from an exported function is a compile error: friend code cannot use hakase memory.
//!
//! # Platform
//!
//! Linux only: friends are pinned with `sched_setaffinity` and sandboxed with seccomp-BPF,
//! neither of which exists elsewhere; on another system this crate does not compile (it says
//! so). codegear and ghost-dsl, which need neither, build anywhere `std` does.
//!
//! # Memory, and what the sandbox does not give
//!
//! Friends and the hakase are threads of one process here, so unlike Toshokan's friends, a
//! friend could dereference a hakase address; the compile-time rule against exported functions
//! returning references or pointers keeps code honest for the real asymmetric setting.
//!
//! [`Sandbox::NoSyscalls`] limits the system calls of the friend *thread*: no I/O, no new
//! threads or processes, no executable memory, futex waits and wakes only. It does not isolate
//! memory: a friend thread can read and write every byte of hakase data (its heap, its stacks
//! and the return addresses on them), and through them make the unfiltered hakase do anything.
//! It holds against safe Rust friend code and accidental I/O, not against hostile native code in
//! a friend; that needs a friend in a process of its own: [`FriendConfig::process`] (see
//! [`process`]), which shares only its request region with the hakase.
//!
//! # Failures
//!
//! - A panic in an offloaded block is caught on the hakase (whose report names the friend and
//!   the `offload!` site) and re-raised in the friend; a friend that does not catch it is
//!   reported by [`Friends::join`] as such.
//! - `abort()` in a friend, sandboxed or not (a `panic = "abort"` build, a panic while
//!   panicking, an allocation failure), ends the process with `SIGABRT` as it does anywhere.
//! - [`Friends`] borrows the hakase, so the hakase cannot be dropped while friends may offload;
//!   if it goes anyway (the `Friends` leaked), an offloading friend panics with "the hakase is
//!   gone" instead of waiting forever. [`FriendConfig::wait_timeout`] bounds how long a friend
//!   waits for the hakase to take a request.
//! - [`OnDenied::KillProcess`] makes a denied system call end the process with a diagnostic.

#[cfg(not(target_os = "linux"))]
compile_error!(
    "offload runs on Linux only: friends are pinned with sched_setaffinity and sandboxed with \
     seccomp-BPF (see the README's \"Platforms\")"
);

mod call;
mod friend;
mod hakase;
pub mod process;
mod sandbox;
mod symbols;

use core::fmt;

pub use call::{OnHakase, offload, on_friend_thread};
pub use friend::{FriendConfig, FriendId, FriendPanic, FriendStartError, Friends};
pub use gears_runtime::cpu_list::{CpuList, CpuListParseError};
pub use gears_runtime::handoff::WaitStrategy;
pub use hakase::{DEFAULT_SPIN_BEFORE_PARKING, Hakase, ParkedProbe};
pub use sandbox::{OnDenied, Sandbox, SandboxError};
pub use symbols::{Declaration, Export, ExportedSymbol, SymbolError, export_table};
#[doc(hidden)]
pub use symbols::{SameSignature, same_signature};

/// Runs a block on the hakase and returns its value: `offload!({ .. })`, Toshokan's
/// `OFFLOAD({ .. })`.
///
/// Only on a friend thread (one started by [`Hakase::spawn_friends`]); the friend waits until
/// the hakase has run the block. The block sees the friend's locals (it borrows them, so it must
/// be `Send`, as must its value) and may call exported hakase functions with [`exported!`].
/// `offload!(move { .. })` copies (moves) what the block uses from the friend into the request
/// instead: for a few integers that saves the hakase reading them from the friend's stack.
/// `offload!(crate = path, { .. })` names a renamed `offload` dependency.
///
/// A panic in the block is caught on the hakase (which goes on serving) and re-raised here.
///
/// The block must end by producing its value: `return`, `?`, and `break`/`continue` to a loop
/// outside it are compile errors, since in the closure that runs on the hakase they would mean
/// something else.
///
/// ```compile_fail
/// # use offload::prelude::*;
/// fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
///     // error: `?` inside `offload!` would leave the offloaded block early
///     let n = offload!({ text.parse::<u32>()? });
///     Ok(n)
/// }
/// ```
///
/// Write `offload!({ text.parse::<u32>() })?` instead.
pub use gears_macros::offload;

/// Calls an exported hakase function by name inside [`offload!`]:
/// `offload!({ exported!(hakase_print)("hi") })`, Toshokan's `EXPORTED_SYMBOL(..)`.
///
/// The name must be in scope as an exported symbol: a function marked
/// [`#[export_symbol]`](export_symbol) or a signature declared by [`declare_exports!`] (imported
/// with `use`). An unknown name is a compile error at the name (rustc also suggests similar
/// names); a type that is not an exported symbol says so; a plain function that was never
/// exported is rustc's "expected type, found function" (exported symbols live in the type
/// namespace, beside their function). The function is looked up in the hakase's export table,
/// once per call site, with its exact signature.
///
/// It must be called where it stands, `exported!(name)(args)`, and only in the block itself or
/// in a closure that stays inside it: a hakase function taken as a value, a closure calling one
/// returned as the block's value, or a call inside a nested `fn` item could run later on the
/// friend, so each is a compile error (the block's [`OnHakase`] proof, which every `exported!`
/// call uses, cannot leave the block):
///
/// ```compile_fail
/// # use offload::prelude::*;
/// #[export_symbol]
/// pub fn hakase_print(msg: &str) -> usize { msg.len() }
///
/// fn friend() -> usize {
///     // error: lifetime may not live long enough (the closure holds the `OnHakase` proof)
///     let g = offload!({ move |msg: &str| exported!(hakase_print)(msg) });
///     g("x")
/// }
/// ```
///
/// Outside `offload!` it is a compile error, as the seed says (only the hakase can run it):
///
/// ```compile_fail
/// # use offload::prelude::*;
/// #[export_symbol]
/// pub fn hakase_print(msg: &str) -> usize { msg.len() }
///
/// fn friend() -> usize {
///     // error: `exported!` can only be used inside an `offload!({ .. })` block
///     exported!(hakase_print)("hi")
/// }
/// ```
pub use gears_macros::exported;

/// Exports a hakase function to friend code, Toshokan's `EXPORT_SYMBOL(..)`.
///
/// `#[export_symbol]` registers the function in the export table under its name and defines a
/// symbol type of the same name (beside the function, in the type namespace) that
/// [`exported!`] resolves. `#[export_symbol(declared_in = path)]` implements a signature that
/// [`declare_exports!`] declared in module `path`: the signatures are compared at compile time,
/// and the declaration's symbol type is used. `crate = path` names a renamed `offload`.
///
/// Exported functions are free, synchronous, non-generic functions. A function returning a
/// reference or raw pointer is a compile error: friend code cannot use hakase memory (the
/// seed's warning), so such an address would be useless to the friend.
///
/// ```compile_fail
/// # use offload::prelude::*;
/// static HAKASE_VARIABLE: i32 = 0;
///
/// // error: exported function `hakase_func` returns a reference: friend code cannot use
/// // hakase memory
/// #[export_symbol]
/// pub fn hakase_func() -> &'static i32 {
///     &HAKASE_VARIABLE
/// }
/// ```
///
/// An implementation that does not match its declaration:
///
/// ```compile_fail,E0277
/// mod shared {
///     offload::declare_exports! { pub fn hakase_len(msg: &str) -> usize; }
/// }
///
/// // error[E0277]: `hakase_len` is declared as `for<'a> fn(&'a str) -> usize` but implemented
/// // as `for<'a> fn(&'a str) -> u32`
/// #[offload::export_symbol(declared_in = shared)]
/// pub fn hakase_len(msg: &str) -> u32 {
///     msg.len() as u32
/// }
/// ```
///
/// Two exported functions of one name are reported by [`Hakase::new`], with both sites.
pub use gears_macros::export_symbol;

/// Declares exported signatures in a module both sides share (the seed's `shared.h` practice):
/// `declare_exports! { pub fn hakase_print(msg: &str) -> usize; }`.
///
/// Each declaration defines a symbol type friend code can use with [`exported!`], without the
/// implementation in sight. The hakase implements it with
/// `#[export_symbol(declared_in = path)]` (checked at compile time); a declared symbol that no
/// linked crate implements, or one implemented elsewhere with another signature, is reported by
/// [`Hakase::new`]. `crate = path;` first names a renamed `offload`.
///
/// ```
/// mod shared {
///     offload::declare_exports! {
///         /// Adds on the hakase.
///         pub fn hakase_add(a: i64, b: i64) -> i64;
///     }
/// }
///
/// #[offload::export_symbol(declared_in = shared)]
/// pub fn hakase_add(a: i64, b: i64) -> i64 {
///     a + b
/// }
///
/// use offload::ExportedSymbol;
/// assert_eq!(<shared::hakase_add as ExportedSymbol>::NAME, "hakase_add");
/// ```
pub use gears_macros::declare_exports;

/// The usual imports: `use offload::prelude::*;`.
pub mod prelude {
    pub use crate::{
        FriendConfig, FriendId, Friends, Hakase, OnDenied, Sandbox, declare_exports, export_symbol,
        exported, offload,
    };
}

/// The most friends one [`Hakase::spawn_friends`] starts (threads or processes); a larger
/// [`FriendConfig::count`] is [`Error::TooManyFriends`] before any friend starts. Friends are
/// one per CPU in Toshokan, a few sharing a CPU at most; the cap is far above that, and keeps a
/// mistyped count (`count(100_000)`) from starting threads or `execve`s until the OS refuses.
pub const MAX_FRIENDS: usize = 1024;

/// Everything that can go wrong starting or running friends.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The exported symbols are inconsistent (duplicates, missing implementations, signature
    /// mismatches), from [`Hakase::new`].
    #[error(transparent)]
    Symbols(SymbolError),
    /// A CPU list string was invalid.
    #[error(transparent)]
    CpuList(CpuListParseError),
    /// A CPU list named no CPU.
    #[error("friend CPUs: the CPU list names no CPU")]
    NoCpus,
    /// More friends were asked for ([`FriendConfig::count`]) than one `spawn_friends` starts:
    /// at most [`MAX_FRIENDS`]; none was started.
    #[error(
        "{requested} friends asked for in one spawn_friends; at most {max} are started at once \
         (a friend is a thread or a process of its own: a mistyped count would otherwise start \
         them until the OS refuses)"
    )]
    TooManyFriends {
        /// The count asked for.
        requested: usize,
        /// The cap, [`MAX_FRIENDS`].
        max: usize,
    },
    /// Friend CPUs that this machine does not have.
    #[error("friend CPUs: this machine has no CPU {absent} (its CPUs are {existing})")]
    CpusAbsent {
        /// The configured CPUs that do not exist.
        absent: Box<CpuList>,
        /// The CPUs that do (online).
        existing: Box<CpuList>,
    },
    /// Friends could not be pinned or sandboxed; none ran its body. One entry per failed friend,
    /// in friend order; `Display` lists the first few, each with its causes.
    #[error(fmt = fmt_friend_start)]
    FriendStart(Vec<FriendStartError>),
    /// The sandbox filter could not be built.
    #[error(transparent)]
    Sandbox(SandboxError),
    /// The OS would not start a friend thread.
    #[error("could not start a friend thread")]
    Spawn(#[source] std::io::Error),
    /// Friends whose bodies panicked, from [`Friends::join`] (each says whether the panic came
    /// from a block it offloaded).
    #[error(fmt = fmt_friends_panicked)]
    FriendsPanicked(Vec<FriendPanic>),
    // Process friends (`process/`).
    /// A process friend's body captures something: it must be a `fn` item or a closure that
    /// captures nothing, since the friend's new process has none of the hakase's memory. Holds
    /// the body's type name.
    #[error(
        "a process friend's body must be a fn item or a closure that captures nothing (its \
         process has none of the hakase's memory), but `{0}` captures something; pass what it \
         needs through a declared function's remote call instead"
    )]
    ProcessBody(&'static str),
    /// A process friend's body holds an `offload!` block, which cannot cross processes: the
    /// block is a closure over the friend's locals, and the hakase's process cannot reach the
    /// friend's memory. Refused before any friend starts; holds the body's type and where the
    /// `offload!` is.
    #[error(
        "the process friend body `{body}` uses offload! (at {site}), which cannot cross \
         processes: an offload! block is a closure over the friend's locals, and a process \
         friend shares no memory with the hakase; declare the hakase function with \
         declare_exports! and call `name::remote(args..)` instead, whose arguments and value \
         are copied through the region"
    )]
    OffloadInProcess {
        /// The body's type (`crate::module::function`).
        body: &'static str,
        /// Where the `offload!` is: `file:line:column`.
        site: String,
    },
    /// [`FriendConfig::region_bytes`] asked for a region buffer smaller than one cache line of
    /// data or larger than 1 GiB.
    #[error(
        "FriendConfig::region_bytes({bytes}): a process friend's region buffer holds from \
         {min} bytes to {max} bytes"
    )]
    RegionSize {
        /// The size asked for.
        bytes: usize,
        /// The least it may be.
        min: usize,
        /// The most it may be.
        max: usize,
    },
    /// The OS would not start a friend process (or make its region).
    #[error("could not start a friend process")]
    ProcessSpawn(#[source] std::io::Error),
    /// Process friends that did not return, from [`Friends::join`]: each one's end.
    #[error(fmt = fmt_friends_failed)]
    FriendsFailed(Vec<(FriendId, process::FriendExit)>),
}

fn fmt_friend_start(failures: &[FriendStartError], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    /// Enough to see the pattern; the rest are counted.
    const SHOWN: usize = 8;
    f.write_str("could not start the friends (none ran):")?;
    for failure in failures.iter().take(SHOWN) {
        // Several failures, so none is this error's source: each is printed with its causes.
        write!(f, "\n  {failure}")?;
        let mut cause = std::error::Error::source(failure);
        while let Some(error) = cause {
            write!(f, ": {error}")?;
            cause = error.source();
        }
    }
    if failures.len() > SHOWN {
        write!(f, "\n  and {} more friends", failures.len() - SHOWN)?;
    }
    Ok(())
}

fn fmt_friends_panicked(panics: &[FriendPanic], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("friends panicked:")?;
    for panic in panics {
        write!(f, "\n  {panic}")?;
    }
    Ok(())
}

fn fmt_friends_failed(
    exits: &[(FriendId, process::FriendExit)],
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    f.write_str("friend processes did not return:")?;
    for (id, exit) in exits {
        write!(f, "\n  {id} {exit}")?;
    }
    Ok(())
}

/// Paths used by code the gears macros generate. Not a public API: it may change at any time.
#[doc(hidden)]
pub mod __private {
    pub use crate::call::{OnHakase, offload};
    pub use crate::process::{
        OffloadSite, RemoteEntry, RemoteId, decode_arg, encode_arg, remote_call, view_arg,
    };
    pub use crate::process::{Reader, RemoteError, Wire, WireError, Writer};
    pub use crate::symbols::{
        Declaration, Export, ExportedSymbol, SameSignature, SymbolCache, same_signature,
    };
    pub use core::any::TypeId;
    pub use gears_runtime;
    pub use gears_runtime::registry::inventory;
    pub use gears_runtime::site;
}
