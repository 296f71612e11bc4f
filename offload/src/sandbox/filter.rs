//! The `NoSyscalls` filter: the allow list, reviewed one system call at a time (as Firecracker
//! reviews its per-thread filters), and its compilation with `seccompiler`.
//!
//! Each entry says why the call is needed and why it cannot do I/O or escape the sandbox; each
//! argument rule says what it keeps out. Anything not listed is denied with the
//! [`OnDenied`](super::OnDenied) action, and so is a listed call whose arguments match none of
//! its rules.
//!
//! Calls considered and left out: `pkey_mprotect` and `pkey_alloc` (nothing in std needs them,
//! and `pkey_mprotect` could make memory executable), `clone`/`clone3` (a new thread would be
//! a new place to run from; spawning is the hakase's job), `kill`, `tkill` (`tkill` takes any
//! thread id on the system), `prctl`, `ioctl`, `membarrier`, `rseq`, `set_robust_list`, `mlock`
//! (the thread's start-up calls run before the filter is installed), `futex_waitv`, and every
//! call on file descriptors.

use std::collections::BTreeMap;
use std::fmt;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use super::OnDenied;

/// What to build a filter for: the policy and the process it will run in (`tgkill` is allowed
/// only towards that process). A process friend builds its own spec with its own pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FilterSpec {
    pub(crate) on_denied: OnDenied,
    pub(crate) pid: u32,
}

impl FilterSpec {
    /// The spec for friend threads of this process.
    pub(crate) fn for_this_process(on_denied: OnDenied) -> Self {
        Self {
            on_denied,
            pid: std::process::id(),
        }
    }
}

/// One allowed system call: its number, the rules its arguments must match (any one of them;
/// none means any arguments), and the reason it is allowed.
pub(crate) struct Allowed {
    pub(crate) name: &'static str,
    pub(crate) nr: i64,
    pub(crate) rules: Vec<SeccompRule>,
    pub(crate) why: &'static str,
}

/// A 32-bit argument whose bits under `mask` equal `value`.
fn masked(arg: u8, mask: u64, value: u64) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::MaskedEq(mask),
        value,
    )
}

/// A 32-bit argument equal to `value`.
fn equals(arg: u8, value: u64) -> Result<SeccompCondition, seccompiler::BackendError> {
    SeccompCondition::new(arg, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, value)
}

/// One rule per value: the argument equals one of `values`.
fn one_of(arg: u8, values: &[i32]) -> Result<Vec<SeccompRule>, seccompiler::BackendError> {
    values
        .iter()
        .map(|&v| SeccompRule::new(vec![equals(arg, v as u64)?]))
        .collect()
}

const PROT_EXEC: u64 = libc::PROT_EXEC as u64;

/// The allow list, in review order.
#[allow(clippy::too_many_lines)] // one entry per call, each with its reason: a table.
pub(crate) fn allow_list(spec: FilterSpec) -> Result<Vec<Allowed>, seccompiler::BackendError> {
    let any = Vec::new;
    // The futex operations std, glibc and the hakase bell use, with or without the private and
    // clock flags: waits and wakes. Not FUTEX_LOCK_PI/UNLOCK_PI/TRYLOCK_PI/LOCK_PI2,
    // FUTEX_WAIT_REQUEUE_PI, FUTEX_CMP_REQUEUE(_PI), FUTEX_REQUEUE, FUTEX_WAKE_OP, FUTEX_FD:
    // nothing a friend runs needs them, and the PI and requeue paths are where the kernel's
    // futex bugs have been (CVE-2014-3153 among others).
    let futex_flags = !((libc::FUTEX_PRIVATE_FLAG | libc::FUTEX_CLOCK_REALTIME) as u32) as u64;
    let futex_ops = [
        libc::FUTEX_WAIT,
        libc::FUTEX_WAKE,
        libc::FUTEX_WAIT_BITSET,
        libc::FUTEX_WAKE_BITSET,
    ]
    .iter()
    .map(|&op| SeccompRule::new(vec![masked(1, futex_flags, op as u64)?]))
    .collect::<Result<Vec<_>, _>>()?;
    Ok(vec![
        // --- ending the thread or the process ---
        Allowed {
            name: "exit",
            nr: libc::SYS_exit,
            rules: any(),
            why: "a friend thread ends with it",
        },
        Allowed {
            name: "exit_group",
            nr: libc::SYS_exit_group,
            rules: any(),
            why: "std::process::exit; ending the process is no escape",
        },
        Allowed {
            name: "rt_sigreturn",
            nr: libc::SYS_rt_sigreturn,
            rules: any(),
            why: "returning from a signal handler (std's fault handler, the SIGSYS trap)",
        },
        Allowed {
            name: "sigaltstack",
            nr: libc::SYS_sigaltstack,
            rules: any(),
            why: "std disables the thread's signal stack as the thread exits",
        },
        Allowed {
            name: "rt_sigprocmask",
            nr: libc::SYS_rt_sigprocmask,
            rules: any(),
            why: "glibc masks signals as a thread exits and abort() unblocks SIGABRT; it changes \
                  this thread's mask only",
        },
        Allowed {
            name: "rt_sigaction",
            nr: libc::SYS_rt_sigaction,
            // SIGABRT: abort() resets it to the default if a handler returned. SIGSEGV, SIGBUS:
            // std's fault handler resets them to the default so that a fault that is not a
            // stack overflow kills the process (denied, the fault would repeat forever at full
            // speed). Other signals' handlers stay the hakase's.
            rules: one_of(0, &[libc::SIGABRT, libc::SIGSEGV, libc::SIGBUS])?,
            why: "abort() and std's fault handler restore default actions, so that a fault or \
                  an abort ends the process instead of spinning",
        },
        Allowed {
            name: "getpid",
            nr: libc::SYS_getpid,
            rules: any(),
            why: "abort() raises SIGABRT with tgkill(getpid(), ..); std::process::id",
        },
        Allowed {
            name: "gettid",
            nr: libc::SYS_gettid,
            rules: any(),
            why: "a thread's own id; reveals nothing the friend could not compute",
        },
        Allowed {
            name: "tgkill",
            nr: libc::SYS_tgkill,
            // This process only (argument 0 is the thread group), SIGABRT only (argument 2): what
            // raise(SIGABRT) in abort() does. Killing our own process is no more than
            // exit_group; no other process and no other signal can be sent.
            rules: vec![SeccompRule::new(vec![
                equals(0, u64::from(spec.pid))?,
                equals(2, libc::SIGABRT as u64)?,
            ])?],
            why: "abort() ends the process by sending itself SIGABRT",
        },
        // --- memory ---
        Allowed {
            name: "mmap",
            nr: libc::SYS_mmap,
            // MAP_ANONYMOUS set in the flags (argument 3): memory, never a file. PROT_EXEC clear
            // in the protection (argument 2): never code. Both in one rule, so both must hold.
            rules: vec![SeccompRule::new(vec![
                masked(3, libc::MAP_ANONYMOUS as u64, libc::MAP_ANONYMOUS as u64)?,
                masked(2, PROT_EXEC, 0)?,
            ])?],
            why: "allocators get memory from it (anonymous, not executable)",
        },
        Allowed {
            name: "mprotect",
            nr: libc::SYS_mprotect,
            // PROT_EXEC clear (argument 2). Without this rule a friend could make a page of
            // hakase code writable, patch it, and make it executable again: the hakase, which
            // has no filter, would then run the friend's code.
            rules: vec![SeccompRule::new(vec![masked(2, PROT_EXEC, 0)?])?],
            why: "glibc's allocator commits arena memory read-write; never executable",
        },
        Allowed {
            name: "munmap",
            nr: libc::SYS_munmap,
            rules: any(),
            why: "allocators and thread exit give memory back; unmapping cannot make code",
        },
        Allowed {
            name: "mremap",
            nr: libc::SYS_mremap,
            rules: any(),
            why: "realloc of large blocks; a moved mapping keeps its protection, so it cannot \
                  gain execute permission",
        },
        Allowed {
            name: "brk",
            nr: libc::SYS_brk,
            rules: any(),
            why: "glibc's main arena grows with it (read-write memory)",
        },
        Allowed {
            name: "madvise",
            nr: libc::SYS_madvise,
            // Advice (argument 2) limited to what allocators and thread exit use. Not
            // MADV_REMOVE (frees the pages of shared files), MADV_HWPOISON/SOFT_OFFLINE,
            // MADV_MERGEABLE (same-page merging, a side channel), MADV_PAGEOUT/COLD (evicting the
            // hakase's memory), MADV_DONTFORK/WIPEONFORK or MADV_POPULATE_*.
            rules: one_of(
                2,
                &[
                    libc::MADV_DONTNEED,
                    libc::MADV_FREE,
                    libc::MADV_HUGEPAGE,
                    libc::MADV_NOHUGEPAGE,
                ],
            )?,
            why: "allocators return pages (DONTNEED, FREE) and choose huge pages",
        },
        // --- locks ---
        Allowed {
            name: "futex",
            nr: libc::SYS_futex,
            rules: futex_ops,
            why: "std's Mutex, Condvar, Once and channels, glibc's allocator locks, and waking a \
                  parked hakase; waits and wakes only",
        },
        // --- time ---
        Allowed {
            name: "clock_gettime",
            nr: libc::SYS_clock_gettime,
            rules: any(),
            why: "Instant::now and SystemTime::now (the vDSO answers them without a system call \
                  unless the clock source needs the kernel); reads a clock",
        },
        Allowed {
            name: "clock_getres",
            nr: libc::SYS_clock_getres,
            rules: any(),
            why: "reads a clock's resolution",
        },
        Allowed {
            name: "gettimeofday",
            nr: libc::SYS_gettimeofday,
            rules: any(),
            why: "the older clock call, as clock_gettime",
        },
        Allowed {
            name: "clock_nanosleep",
            nr: libc::SYS_clock_nanosleep,
            rules: any(),
            why: "std::thread::sleep (it asserts that the sleep succeeded); waits, no I/O",
        },
        Allowed {
            name: "nanosleep",
            nr: libc::SYS_nanosleep,
            rules: any(),
            why: "the older sleep call, as clock_nanosleep",
        },
        Allowed {
            name: "restart_syscall",
            nr: libc::SYS_restart_syscall,
            rules: any(),
            why: "the kernel restarts an interrupted sleep or futex wait with it",
        },
        Allowed {
            name: "sched_yield",
            nr: libc::SYS_sched_yield,
            rules: any(),
            why: "std::thread::yield_now; gives the CPU back, nothing more",
        },
        Allowed {
            name: "sched_getaffinity",
            nr: libc::SYS_sched_getaffinity,
            rules: any(),
            why: "std::thread::available_parallelism; reads which CPUs may run a thread",
        },
        // --- randomness ---
        Allowed {
            name: "getrandom",
            nr: libc::SYS_getrandom,
            rules: any(),
            why: "HashMap::new's random keys; reads the kernel's random generator, no file",
        },
    ])
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
    /// The seccomp filter of [`Sandbox::NoSyscalls`](super::Sandbox::NoSyscalls) could not be
    /// compiled for this machine.
    #[error("could not build the friend sandbox filter")]
    Build(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The kernel refused the filter on the friend thread (`prctl` or `seccomp` failed).
    #[error("could not install the friend sandbox")]
    Install(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Filter {
    /// Compiles the `NoSyscalls` filter for this architecture.
    pub(crate) fn build(spec: FilterSpec) -> Result<Self, SandboxError> {
        let build = |e: seccompiler::BackendError| SandboxError::Build(Box::new(e));
        let arch = TargetArch::try_from(std::env::consts::ARCH)
            .map_err(|e| SandboxError::Build(Box::new(e)))?;
        let rules: BTreeMap<i64, Vec<SeccompRule>> = allow_list(spec)
            .map_err(build)?
            .into_iter()
            .map(|allowed| (allowed.nr, allowed.rules))
            .collect();
        let denied = match spec.on_denied {
            OnDenied::Errno => SeccompAction::Errno(libc::EPERM as u32),
            OnDenied::KillProcess => SeccompAction::Trap,
        };
        let denied_code = match spec.on_denied {
            OnDenied::Errno => libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
            OnDenied::KillProcess => libc::SECCOMP_RET_TRAP,
        };
        let filter =
            SeccompFilter::new(rules, denied, SeccompAction::Allow, arch).map_err(build)?;
        let mut program: BpfProgram = filter.try_into().map_err(build)?;
        deny_other_architectures(&mut program, denied_code)?;
        Ok(Self(program))
    }

    /// Installs the filter on the calling thread only (other threads are not affected). It
    /// cannot be removed: the thread stays sandboxed until it ends.
    pub(crate) fn install_on_this_thread(&self) -> Result<(), SandboxError> {
        seccompiler::apply_filter(&self.0).map_err(|e| SandboxError::Install(Box::new(e)))
    }
}

/// Makes a call through another architecture's entry (on x86-64, `int 0x80` or `sysenter`:
/// the i386 numbers, which the allow list does not speak) denied like any other call, with the
/// policy's action, instead of seccompiler's fixed `SECCOMP_RET_KILL_PROCESS`: a friend's
/// `int 0x80` then fails with `EPERM` (or is reported, with `OnDenied::KillProcess`) rather than
/// ending the process without a word.
///
/// seccompiler starts every program with "load the architecture; if it is ours skip one; return
/// KILL_PROCESS". That third instruction is rewritten, after checking the first two are what
/// they should be, so a change of seccompiler's layout fails the build of the filter (and every
/// sandbox test) instead of rewriting some other instruction.
fn deny_other_architectures(program: &mut BpfProgram, denied: u32) -> Result<(), SandboxError> {
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JMP_JEQ_K: u16 = 0x15;
    const BPF_RET_K: u16 = 0x06;
    // `offsetof(struct seccomp_data, arch)`.
    const ARCH_OFFSET: u32 = 4;
    let shape_ok = program.len() > 3
        && program[0].code == BPF_LD_W_ABS
        && program[0].k == ARCH_OFFSET
        && program[1].code == BPF_JMP_JEQ_K
        && (program[1].jt, program[1].jf) == (1, 0)
        && program[2].code == BPF_RET_K
        && program[2].k == libc::SECCOMP_RET_KILL_PROCESS;
    if !shape_ok {
        return Err(SandboxError::Build(
            "seccompiler's architecture check is not the expected three instructions; the \
             friend sandbox needs revisiting for this seccompiler version"
                .into(),
        ));
    }
    program[2].k = denied;
    Ok(())
}

/// The name of a system call, for diagnostics: the allowed ones and the usual suspects.
pub(crate) fn syscall_name(nr: i64) -> Option<&'static str> {
    macro_rules! names {
        ($($name:ident),* $(,)?) => {
            [$((libc::$name, &stringify!($name)[4..])),*]
        };
    }
    let known: &[(i64, &str)] = &names![
        SYS_read,
        SYS_write,
        SYS_openat,
        SYS_close,
        SYS_readv,
        SYS_writev,
        SYS_pread64,
        SYS_pwrite64,
        SYS_lseek,
        SYS_ioctl,
        SYS_fcntl,
        SYS_statx,
        SYS_newfstatat,
        SYS_fstat,
        SYS_getdents64,
        SYS_readlinkat,
        SYS_unlinkat,
        SYS_mkdirat,
        SYS_renameat2,
        SYS_socket,
        SYS_connect,
        SYS_accept4,
        SYS_bind,
        SYS_listen,
        SYS_sendto,
        SYS_recvfrom,
        SYS_sendmsg,
        SYS_recvmsg,
        SYS_shutdown,
        SYS_pipe2,
        SYS_dup3,
        SYS_eventfd2,
        SYS_epoll_create1,
        SYS_epoll_ctl,
        SYS_epoll_pwait,
        SYS_ppoll,
        SYS_pselect6,
        SYS_clone,
        SYS_clone3,
        SYS_execve,
        SYS_execveat,
        SYS_wait4,
        SYS_kill,
        SYS_tkill,
        SYS_tgkill,
        SYS_prctl,
        SYS_ptrace,
        SYS_mmap,
        SYS_mprotect,
        SYS_pkey_mprotect,
        SYS_pkey_alloc,
        SYS_madvise,
        SYS_futex,
        SYS_memfd_create,
        SYS_getuid,
        SYS_getppid,
        SYS_uname,
        SYS_sysinfo,
        SYS_rt_sigaction,
        SYS_membarrier,
        SYS_rseq,
        SYS_set_robust_list,
        SYS_process_vm_readv,
        SYS_process_vm_writev,
        SYS_io_uring_setup,
        SYS_bpf,
        SYS_userfaultfd,
        SYS_perf_event_open,
    ];
    known
        .iter()
        .find(|&&(number, _)| number == nr)
        .map(|&(_, name)| name)
        .or_else(|| {
            allow_list(FilterSpec::for_this_process(OnDenied::Errno))
                .ok()?
                .into_iter()
                .find(|allowed| allowed.nr == nr)
                .map(|allowed| allowed.name)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_allowed_call_has_a_reason_and_appears_once() {
        let list = allow_list(FilterSpec::for_this_process(OnDenied::Errno)).unwrap();
        let mut numbers: Vec<i64> = list.iter().map(|a| a.nr).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), list.len(), "a call is listed twice");
        for allowed in &list {
            assert!(allowed.why.len() > 20, "{} needs a reason", allowed.name);
            assert_eq!(syscall_name(allowed.nr), Some(allowed.name));
        }
        // The calls an escape or I/O needs are not on it.
        for nr in [
            libc::SYS_pkey_mprotect,
            libc::SYS_openat,
            libc::SYS_write,
            libc::SYS_clone,
            libc::SYS_clone3,
            libc::SYS_execve,
            libc::SYS_kill,
            libc::SYS_tkill,
            libc::SYS_memfd_create,
            libc::SYS_process_vm_writev,
        ] {
            assert!(!numbers.contains(&nr), "{:?} is allowed", syscall_name(nr));
        }
    }

    #[test]
    fn both_denial_actions_compile() {
        for on_denied in [OnDenied::Errno, OnDenied::KillProcess] {
            let filter = Filter::build(FilterSpec::for_this_process(on_denied)).unwrap();
            assert!(filter.0.len() > 30, "{filter:?}");
        }
    }
}
