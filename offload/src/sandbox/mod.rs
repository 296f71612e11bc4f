//! The friend sandbox: a seccomp-BPF filter, installed on each friend thread only, that lets
//! through the few system calls ordinary computing code needs (memory, locks, time, randomness,
//! ending the thread or the process) with their arguments checked, and denies everything else,
//! above all every call that opens, reads or writes a file, socket or device: Toshokan's
//! asymmetry, enforced by the kernel, while the blocks a friend offloads run on the hakase
//! unrestricted.
//!
//! The allow list, one system call at a time with the reason for each, is in `filter.rs`
//! ([`Sandbox::NoSyscalls`] summarises it). The filter is built from a [`FilterSpec`], so that a
//! friend in another process can install the very same filter.
//!
//! # What a per-thread filter in a shared address space gives, and what it does not
//!
//! It limits what the friend thread can ask the *kernel* for: no I/O, no new processes or
//! threads, no signals to others, no executable memory (so the friend cannot write code and run
//! it, nor make the hakase's code writable and executable again after patching it). It does
//! **not** isolate memory: friend threads and the hakase share one address space, so friend code
//! can read and write any hakase data (its heap, its stacks, the return addresses on them, its
//! function pointers) and so can make the hakase, which has no filter, do anything. Against a
//! friend that runs hostile or memory-unsafe native code, it is a speed bump, not a boundary. It
//! is a firm boundary for safe Rust friend code (which cannot reach hakase memory it was not
//! handed), and it turns accidental I/O in friend code into an error instead of a side effect.
//! A friend in a process of its own, sharing only the handoff region, is the memory boundary.

mod filter;
mod trap;

pub use filter::SandboxError;
pub(crate) use filter::{Filter, FilterSpec};
pub(crate) use trap::{arm_trap, check_denials, set_trap_identity};

/// What a friend thread may do with system calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Sandbox {
    /// No restriction: the friend is an ordinary thread (it can still offload).
    #[default]
    None,
    /// A seccomp filter on the friend thread denies every system call except those ordinary
    /// code that does no I/O needs, each with its arguments checked:
    ///
    /// - memory: `mmap` (anonymous only, never executable), `mprotect` (never to executable),
    ///   `munmap`, `mremap`, `brk`, `madvise` (only `MADV_DONTNEED`, `MADV_FREE`,
    ///   `MADV_HUGEPAGE`, `MADV_NOHUGEPAGE`), so allocators work and code cannot be made;
    /// - locks: `futex` with wait and wake operations only (no priority-inheritance or requeue
    ///   operations), for `Mutex`, `Condvar`, `Once`, channels and the allocator's locks;
    /// - time: `clock_gettime`, `clock_getres`, `gettimeofday` (normally answered by the vDSO
    ///   without a system call), `clock_nanosleep`, `nanosleep` (`thread::sleep`),
    ///   `sched_yield` (`thread::yield_now`), `restart_syscall`;
    /// - randomness: `getrandom` (`HashMap::new`'s keys);
    /// - identity: `getpid`, `gettid`, `sched_getaffinity` (`available_parallelism`);
    /// - ending: `exit`, `exit_group`, `rt_sigreturn`, `sigaltstack`, `rt_sigprocmask`,
    ///   `rt_sigaction` for `SIGABRT`, `SIGSEGV` and `SIGBUS` only, and `tgkill` of this process
    ///   with `SIGABRT` only: what `abort()` (a `panic = "abort"` build, a panic while
    ///   panicking, an allocation failure) and std's fault handlers need to end the process the
    ///   usual way.
    ///
    /// What a denied call does is [`OnDenied`]: it fails with `EPERM` by default. So in a
    /// sandboxed friend `println!` panics (its write fails), `writeln!(std::io::stdout(), ..)`
    /// returns the error, `File::open` and `TcpStream::connect` return it, `thread::spawn`
    /// fails, `std::process::Command` fails; inside `offload!` all of them work. `HashMap`,
    /// `thread::sleep`, `Instant`, `Mutex`, `mpsc` and allocation work in the friend itself.
    ///
    /// A sandboxed friend waiting for the hakase spins without system calls (see
    /// [`FriendConfig::wait`](crate::FriendConfig::wait)), so pin sandboxed friends to CPUs the
    /// hakase does not run on, as Toshokan's friends have cores of their own.
    NoSyscalls,
}

/// What happens when a sandboxed friend makes a system call its filter denies (Firecracker
/// offers the same choice).
///
/// The default is [`Errno`](Self::Errno): the sandbox here limits system calls but does not
/// isolate memory (see the crate docs), so ending the process buys none of the containment it
/// buys a process sandbox, while failing the call keeps ordinary code working: std and most
/// libraries turn `EPERM` into an `io::Error` the friend can handle, and a friend that panics
/// on it is reported by [`Friends::join`](crate::Friends::join). Choose
/// [`KillProcess`](Self::KillProcess) when a denied call can only mean that friend code is
/// broken or compromised, and you want it loud.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnDenied {
    /// The call fails with `EPERM`; the friend goes on.
    #[default]
    Errno,
    /// The process ends, killed by `SIGSYS`, after the hakase has printed which friend made
    /// which system call (`offload: friend 0 made the system call openat (257), which its
    /// sandbox denies; ending the process`).
    ///
    /// The denied call traps into a `SIGSYS` handler (installed for the whole process when such
    /// friends first start, replacing any `SIGSYS` handler the program had) that records the friend and the call where the hakase looks for it: every
    /// sweep of [`Hakase::try_receive`](crate::Hakase::try_receive), every park of
    /// [`serve_until`](crate::Hakase::serve_until), and [`Friends::join`](crate::Friends::join).
    /// The friend waits up to one second for the hakase to print it, then ends the process
    /// either way.
    KillProcess,
}

impl Sandbox {
    /// The system calls this sandbox lets through (some only with certain arguments), each
    /// with the reason it is allowed, in review order: empty for [`Sandbox::None`], which
    /// restricts nothing.
    ///
    /// ```
    /// let allowed = offload::Sandbox::NoSyscalls.allowed_calls();
    /// assert!(allowed.iter().any(|&(name, _why)| name == "getrandom"));
    /// assert!(!allowed.iter().any(|&(name, _why)| name == "openat" || name == "write"));
    /// ```
    #[must_use]
    pub fn allowed_calls(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Self::None => Vec::new(),
            Self::NoSyscalls => filter::allow_list(FilterSpec::for_this_process(OnDenied::Errno))
                .map(|list| list.into_iter().map(|a| (a.name, a.why)).collect())
                .unwrap_or_default(),
        }
    }
}
