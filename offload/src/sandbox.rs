//! The friend sandbox: a seccomp-BPF filter, installed on the friend thread only, under which
//! every system call fails with `EPERM` except the few a spinning, allocating, exiting thread
//! needs. None of those can do I/O: a sandboxed friend cannot open, read or write anything,
//! exactly Toshokan's asymmetry, while the blocks it offloads run on the hakase unrestricted.

use std::collections::BTreeMap;
use std::fmt;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// What a friend thread may do with system calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Sandbox {
    /// No restriction: the friend is an ordinary thread (it can still offload).
    #[default]
    None,
    /// A seccomp filter on the friend thread makes every system call fail with `EPERM`, except:
    ///
    /// - `exit`, `exit_group`, `rt_sigreturn`: ending the thread (or the process, on abort) and
    ///   returning from a signal handler;
    /// - `futex`: waking a thread that waits on memory the friend shares with it (std's locks and
    ///   `Once`, glibc's allocator locks); without it, a lock the friend releases could leave the
    ///   hakase asleep forever;
    /// - anonymous memory: `mmap` with `MAP_ANONYMOUS` only (no file can be mapped), `munmap`,
    ///   `mremap`, `mprotect`, `madvise`, `brk`, so that the allocator can grow and the thread's
    ///   stacks be released;
    /// - `sigaltstack`, `rt_sigprocmask`: std and glibc tear down the thread's signal stack and
    ///   mask as it exits.
    ///
    /// Nothing on the list opens, reads or writes a file, socket or device, or waits for time.
    /// Waiting for the hakase spins without system calls (see
    /// [`FriendConfig::wait`](crate::FriendConfig::wait)). `println!` on a sandboxed friend
    /// panics (its write fails with `EPERM`); `writeln!(std::io::stdout(), ..)` returns that
    /// error, and inside `offload!` both work.
    ///
    /// A sandboxed friend waiting for the hakase gives its CPU back only when the scheduler
    /// preempts it, so pin sandboxed friends to CPUs the hakase does not run on (as Toshokan's
    /// friends have cores of their own).
    NoSyscalls,
}

/// A compiled filter, ready to install on friend threads.
pub(crate) struct Filter(BpfProgram);

impl fmt::Debug for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Filter({} instructions)", self.0.len())
    }
}

/// Why the sandbox could not be built or installed. The cause, from seccompiler, is the
/// [`source`](std::error::Error::source) (boxed, so that seccompiler's types are not part of
/// this API).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// The seccomp filter of [`Sandbox::NoSyscalls`] could not be compiled for this machine.
    #[error("could not build the friend sandbox filter")]
    Build(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The kernel refused the filter on the friend thread (`prctl` or `seccomp` failed).
    #[error("could not install the friend sandbox")]
    Install(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The system calls `Sandbox::NoSyscalls` lets through unconditionally.
const ALLOWED: &[i64] = &[
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_rt_sigreturn,
    libc::SYS_futex,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_mprotect,
    libc::SYS_madvise,
    libc::SYS_brk,
    libc::SYS_sigaltstack,
    libc::SYS_rt_sigprocmask,
];

impl Filter {
    /// Compiles the `NoSyscalls` filter for this architecture.
    pub(crate) fn no_syscalls() -> Result<Self, SandboxError> {
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| SandboxError::Build(Box::new(e)))?;
        let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
            ALLOWED.iter().map(|&nr| (nr, Vec::new())).collect();
        // mmap only with MAP_ANONYMOUS set in its flags (argument 3): memory, never a file.
        let anonymous = SeccompCondition::new(
            3,
            SeccompCmpArgLen::Dword,
            SeccompCmpOp::MaskedEq(libc::MAP_ANONYMOUS as u64),
            libc::MAP_ANONYMOUS as u64,
        )
        .and_then(|condition| SeccompRule::new(vec![condition]))
        .map_err(|e| SandboxError::Build(Box::new(e)))?;
        rules.insert(libc::SYS_mmap, vec![anonymous]);
        let filter = SeccompFilter::new(
            rules,
            SeccompAction::Errno(libc::EPERM as u32),
            SeccompAction::Allow,
            arch,
        )
        .map_err(|e| SandboxError::Build(Box::new(e)))?;
        let program: BpfProgram = filter
            .try_into()
            .map_err(|e: seccompiler::BackendError| SandboxError::Build(Box::new(e)))?;
        Ok(Self(program))
    }

    /// Installs the filter on the calling thread only (other threads are not affected). It
    /// cannot be removed: the thread stays sandboxed until it ends.
    pub(crate) fn install_on_this_thread(&self) -> Result<(), SandboxError> {
        seccompiler::apply_filter(&self.0).map_err(|e| SandboxError::Install(Box::new(e)))
    }
}
