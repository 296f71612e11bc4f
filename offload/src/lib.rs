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
//!     friends.join()
//! }
//! ```
//!
//! - [`offload!`] runs its block on the hakase and returns the block's value. The block is a
//!   closure over the friend's locals, passed by reference through the friend's own handoff
//!   slot; the friend spins (then backs off, without system calls) until the hakase has run it.
//!   A panic in the block is caught on the hakase, which keeps serving, and re-raised in the
//!   friend. `return`, `?`, `break` and `continue` that would leave the block are compile errors.
//! - [`Hakase::try_receive`] serves whatever is pending, one request per friend, and returns at
//!   once if nothing is; [`Hakase::serve_until`] loops. Every friend has its own slot, so
//!   requests from several friends are served back to back, each exactly once, with no lock.
//! - [`#[export_symbol]`](export_symbol) exports a hakase function; [`declare_exports!`]
//!   declares signatures in a crate both sides share (Toshokan's `shared.h`); [`exported!`]
//!   calls an exported function from inside an `offload!` block. Returning a reference or raw
//!   pointer from an exported function is a compile error: friend code cannot use hakase memory.
//!
//! # Memory
//!
//! Friends and the hakase are threads of one process here, so unlike Toshokan's friends, a
//! friend could dereference a hakase address; the compile-time rule against exported functions
//! returning references or pointers keeps code honest for the real asymmetric setting.

mod call;
mod friend;
mod hakase;
mod sandbox;
mod symbols;

use core::fmt;

pub use call::{offload, on_friend_thread};
pub use friend::{FriendConfig, FriendId, FriendPanic, Friends};
pub use gears_runtime::cpu_list::{CpuList, CpuListParseError};
pub use gears_runtime::handoff::WaitStrategy;
pub use hakase::Hakase;
pub use sandbox::Sandbox;
pub use symbols::{Declaration, Export, ExportedSymbol, SymbolError, export_table};

pub use gears_macros::{declare_exports, export_symbol, exported, offload};

/// The usual imports: `use offload::prelude::*;`.
pub mod prelude {
    pub use crate::{
        FriendConfig, FriendId, Friends, Hakase, Sandbox, declare_exports, export_symbol, exported,
        offload,
    };
}

/// Everything that can go wrong starting or running friends.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The exported symbols are inconsistent (duplicates, missing implementations, signature
    /// mismatches), from [`Hakase::new`].
    Symbols(SymbolError),
    /// A CPU list string was invalid.
    CpuList(CpuListParseError),
    /// A CPU list named no CPU.
    NoCpus,
    /// Friends could not be pinned or sandboxed; none ran its body.
    FriendStart(Vec<(FriendId, String)>),
    /// The sandbox filter could not be built.
    Sandbox(String),
    /// A sandboxed friend was configured to yield to the OS, which is a system call.
    SandboxCannotYield,
    /// The OS would not start a friend thread.
    Spawn(std::io::Error),
    /// Friends whose bodies panicked outside an offloaded block, from [`Friends::join`].
    FriendsPanicked(Vec<FriendPanic>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Symbols(error) => error.fmt(f),
            Self::CpuList(error) => write!(f, "friend CPUs: {error}"),
            Self::NoCpus => f.write_str("friend CPUs: the CPU list names no CPU"),
            Self::FriendStart(failures) => {
                f.write_str("could not start the friends (none ran):")?;
                for (id, why) in failures {
                    write!(f, "\n  {id}: {why}")?;
                }
                Ok(())
            }
            Self::Sandbox(why) => write!(f, "friend sandbox: {why}"),
            Self::SandboxCannotYield => f.write_str(
                "a sandboxed friend cannot wait with a strategy that yields to the OS \
                 (sched_yield is a system call); use WaitStrategy::spin_only",
            ),
            Self::Spawn(error) => write!(f, "could not start a friend thread: {error}"),
            Self::FriendsPanicked(panics) => {
                f.write_str("friends panicked outside an offloaded block:")?;
                for panic in panics {
                    write!(f, "\n  {panic}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Symbols(error) => Some(error),
            Self::CpuList(error) => Some(error),
            Self::Spawn(error) => Some(error),
            _ => None,
        }
    }
}

/// Paths used by code the gears macros generate. Not a public API: it may change at any time.
#[doc(hidden)]
pub mod __private {
    pub use crate::call::offload;
    pub use crate::symbols::{Declaration, Export, ExportedSymbol, SymbolCache};
    pub use core::any::TypeId;
    pub use gears_runtime;
    pub use gears_runtime::registry::inventory;
    pub use gears_runtime::site;
}
