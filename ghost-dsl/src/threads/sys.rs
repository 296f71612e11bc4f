//! The Linux calls the thread enclave is built on: futex waits and wakes, thread ids, `tgkill`,
//! affinity, `SCHED_FIFO`, the preemption signal's handler, and `/proc/<tid>/stat`.
//!
//! Every function here is a thin wrapper over one system call; the ones the signal handler uses
//! ([`futex_wait`]) are async-signal-safe (a raw `syscall`, no allocation, no lock).

use std::io;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Waits while `*word == expected`, at most `timeout` (forever with `None`). Returns on a wake,
/// a changed word, a signal or the timeout; callers re-check their condition.
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, timeout: Option<Duration>) {
    let ts = timeout.map(|d| libc::timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: libc::c_long::from(d.subsec_nanos() as i32),
    });
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |ts| ts as *const libc::timespec);
    // SAFETY: `word` is a live, aligned 32-bit atomic for the whole call; FUTEX_WAIT only reads
    // it; `ts_ptr` is null or points to `ts`, alive until the call returns. The result (0,
    // EAGAIN, EINTR, ETIMEDOUT) is deliberately ignored: every caller loops on its condition.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            ts_ptr,
        );
    }
}

/// Wakes every thread waiting on `word`.
pub(crate) fn futex_wake_all(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned 32-bit atomic; FUTEX_WAKE does not access user memory
    // beyond the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        );
    }
}

/// The calling thread's kernel thread id.
pub(crate) fn gettid() -> i32 {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::gettid() }
}

/// Sends signal `sig` to thread `tid` of this process.
pub(crate) fn tgkill(tid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: getpid has no arguments and cannot fail.
    let pid = unsafe { libc::getpid() };
    // SAFETY: plain syscall with integer arguments; a wrong tid gives ESRCH, never UB.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Restricts thread `tid` (0: the caller) to the CPUs in `cpus`. For a thread running elsewhere
/// the kernel migrates it before the call returns.
pub(crate) fn set_affinity(tid: i32, cpus: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &cpu in cpus {
        // SAFETY: CPU_SET writes one bit of `set`; `cpu` is below CPU_SETSIZE (MAX_CPUS).
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes the calling thread `SCHED_FIFO` at `priority`; `EPERM` without `CAP_SYS_NICE` (or an
/// `RLIMIT_RTPRIO` allowing it).
pub(crate) fn set_fifo_priority(priority: i32) -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: priority,
    };
    // SAFETY: `param` is a valid sched_param; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The real-time signal the enclave stops preempted threads with (`SIGRTMIN + 3`: glibc keeps
/// the first two for itself, and the third is a common choice of other libraries).
pub(crate) fn preempt_signal() -> i32 {
    libc::SIGRTMIN() + 3
}

/// Installs `handler` for the preemption signal, once per process. `SA_RESTART` so that a system
/// call the signal interrupts is restarted after the thread is committed again; the signal is
/// blocked while its handler runs.
pub(crate) fn install_handler(handler: extern "C" fn(i32)) -> io::Result<()> {
    // SAFETY: sigaction is plain data; zeroed is "no flags, empty mask, SIG_DFL".
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as usize;
    action.sa_flags = libc::SA_RESTART;
    // SAFETY: `action.sa_mask` is a valid sigset_t inside `action`.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: a valid sigaction for a valid signal number; the old action is not requested.
    let rc = unsafe { libc::sigaction(preempt_signal(), &action, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The scheduler state letter of thread `tid` of this process (`R`, `S`, `D`, ...), from
/// `/proc/self/task/<tid>/stat`; `None` once the thread is gone.
pub(crate) fn thread_state(tid: i32) -> Option<u8> {
    let stat = std::fs::read(format!("/proc/self/task/{tid}/stat")).ok()?;
    // "tid (comm) S ...": comm may hold spaces and parentheses, so take the last ')'.
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat.get(close + 2).copied()
}

/// Whether thread `tid` of this process has ended as far as the kernel is concerned: its
/// `/proc/self/task` entry is gone, or it is a zombie waiting to be reaped.
pub(crate) fn thread_gone(tid: i32) -> bool {
    is_gone(thread_state(tid))
}

/// Whether a [`thread_state`] says the thread has ended (no entry, or a zombie).
pub(crate) fn is_gone(state: Option<u8>) -> bool {
    matches!(state, None | Some(b'Z' | b'X'))
}

/// Joins `handle`, the thread with kernel id `tid` (0: unknown), unless that thread ended
/// without returning from its closure (a raw `exit` system call, `pthread_exit`): std's `join`
/// panics on such a thread ("threads should not terminate unexpectedly"), so it is detached
/// instead. Returns whether it was joined.
///
/// A thread that returns drops its result packet before its OS thread ends, so once its tid is
/// gone `is_finished` is either already true or never will be.
pub(crate) fn join_unless_vanished(handle: std::thread::JoinHandle<()>, tid: i32) -> bool {
    if tid > 0 {
        while !handle.is_finished() {
            if thread_gone(tid) {
                if handle.is_finished() {
                    break;
                }
                // Dropping the handle detaches the (already ended) thread.
                return false;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
    let _ = handle.join();
    true
}

/// Waits (briefly, bounded) until the joined threads `tids` have left `/proc/self/task`.
///
/// `join` returns when the kernel clears a thread's id, slightly before it removes the thread
/// from the process; without this wait, a thread count read right after a run could still
/// include threads the run has joined. Tids of 0 (never started) are skipped. Gives up after
/// 200 ms: the threads are joined either way, this only makes the count settle.
pub(crate) fn await_reaped(tids: &[i32]) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(200);
    for &tid in tids.iter().filter(|&&t| t > 0) {
        while std::path::Path::new(&format!("/proc/self/task/{tid}")).exists() {
            if std::time::Instant::now() > deadline {
                return;
            }
            std::thread::yield_now();
        }
    }
}

/// How many threads this process has (entries of `/proc/self/task`).
///
/// A run and the drop of an enclave wait (up to 200 ms) until the threads they joined have left
/// `/proc/self/task`, so a count read right after them is settled. A thread the caller joined
/// itself can still be counted for a moment: `join` returns when the kernel clears the thread's
/// id, a little before it removes the thread from the process.
pub fn process_threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}
