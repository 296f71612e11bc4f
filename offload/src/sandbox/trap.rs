//! [`OnDenied::KillProcess`](super::OnDenied::KillProcess): the `SIGSYS` handler that a denied
//! call traps into, the record it leaves for the hakase, and the hakase's side that prints it.
//!
//! The handler runs on the friend thread, under the friend's filter, so it can only do what the
//! filter allows: it writes the friend and the call into a [`DenialRecord`] (atomics only), waits
//! up to a second (reading the vDSO clock) for the hakase to acknowledge that it printed the
//! diagnostic, and then makes a call the filter denies once more. `SIGSYS` is blocked while its
//! handler runs, and the kernel delivers a seccomp trap that finds its signal blocked with the
//! default action, which ends the whole process, killed by `SIGSYS`.
//!
//! The record is reached through a thread-local pointer set when the friend starts, so a friend
//! in another process can point it into the region it shares with its hakase.

use core::cell::Cell;
use std::sync::Once;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use super::filter::syscall_name;
use crate::friend::FriendId;

const EMPTY: u32 = 0;
const WRITING: u32 = 1;
const FULL: u32 = 2;
const PRINTED: u32 = 3;

/// The first denied call of a `KillProcess` friend: which friend, which system call.
#[repr(C)]
pub(crate) struct DenialRecord {
    state: AtomicU32,
    friend: AtomicU32,
    syscall: AtomicI64,
}

impl DenialRecord {
    pub(crate) const fn new() -> Self {
        Self {
            state: AtomicU32::new(EMPTY),
            friend: AtomicU32::new(0),
            syscall: AtomicI64::new(0),
        }
    }
}

/// The record of this process's thread friends.
static RECORD: DenialRecord = DenialRecord::new();

thread_local! {
    /// Which friend this thread is, and where its denials go (null: not a `KillProcess` friend).
    static IDENTITY: Cell<(u32, *const DenialRecord)> =
        const { Cell::new((0, core::ptr::null())) };
}

/// Makes this friend thread's denied calls report as `id` (call before installing the filter).
pub(crate) fn set_trap_identity(id: FriendId) {
    let id = u32::try_from(id.0).unwrap_or(u32::MAX);
    IDENTITY.with(|identity| identity.set((id, &raw const RECORD)));
}

/// Installs the `SIGSYS` handler for the whole process (once).
pub(crate) fn arm_trap() {
    static ARMED: Once = Once::new();
    ARMED.call_once(|| {
        // SAFETY: all-zero bytes are a valid sigaction (no handler, no flags, empty mask).
        let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
        action.sa_sigaction = on_sigsys as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        // SAFETY: the handler has the three-argument signature SA_SIGINFO promises, and only
        // touches atomics, a thread-local Cell (no destructor, const-initialised) and the vDSO
        // clock; the sigaction it is installed with lives across the call.
        unsafe { libc::sigaction(libc::SIGSYS, &raw const action, core::ptr::null_mut()) };
    });
}

/// The `AUDIT_ARCH_*` of this process's own system call entry (64-bit, little-endian).
#[cfg(target_arch = "x86_64")]
const NATIVE_ARCH: u32 = 62 | 0x8000_0000 | 0x4000_0000;
#[cfg(target_arch = "aarch64")]
const NATIVE_ARCH: u32 = 183 | 0x8000_0000 | 0x4000_0000;
#[cfg(target_arch = "riscv64")]
const NATIVE_ARCH: u32 = 243 | 0x8000_0000 | 0x4000_0000;
// seccompiler supports only the three above; elsewhere the filter cannot be built at all.
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
const NATIVE_ARCH: u32 = 0;
/// Marks a recorded call number as another architecture's (see `on_sigsys`).
const FOREIGN_ARCH: i64 = 1 << 40;

extern "C" fn on_sigsys(
    _signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    // SAFETY: for SIGSYS the kernel fills `_sigsys { void *call_addr; int syscall; unsigned arch }`
    // right after the three ints of the header, padded to 8: `syscall` is at byte 24 on 64-bit
    // Linux.
    let field = unsafe { info.cast::<u8>().add(24) };
    // SAFETY: as above: an int the kernel wrote, aligned to 8.
    let syscall = unsafe { field.cast::<libc::c_int>().read() };
    // SAFETY: `arch`, the unsigned int right after `syscall`: byte 28, in the same struct.
    let arch_field = unsafe { field.add(4) };
    // SAFETY: as above: a u32 the kernel wrote, aligned to 4.
    let arch = unsafe { arch_field.cast::<u32>().read() };
    // A call through another architecture's entry (`int 0x80`) has that architecture's number:
    // marked, so the report does not name the native call of the same number.
    let syscall = i64::from(syscall) | if arch == NATIVE_ARCH { 0 } else { FOREIGN_ARCH };
    let (friend, record) = IDENTITY.with(Cell::get);
    if record.is_null() {
        // Not a friend's SIGSYS: restore the default action and re-raise it; it is delivered
        // (and ends the process) as this handler returns.
        // SAFETY: async-signal-safe calls without memory arguments.
        unsafe { libc::signal(libc::SIGSYS, libc::SIG_DFL) };
        // SAFETY: as above.
        unsafe { libc::raise(libc::SIGSYS) };
        return;
    }
    // SAFETY: set by `set_trap_identity` to a record that lives as long as the process.
    let record = unsafe { &*record };
    if record
        .state
        .compare_exchange(EMPTY, WRITING, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
    {
        record.friend.store(friend, Ordering::Relaxed);
        record.syscall.store(syscall, Ordering::Relaxed);
        record.state.store(FULL, Ordering::Release);
    }
    let start = monotonic_ns();
    while record.state.load(Ordering::Acquire) != PRINTED
        && monotonic_ns().saturating_sub(start) < 1_000_000_000
    {
        core::hint::spin_loop();
    }
    loop {
        // SAFETY: a system call without arguments. `getppid` is denied on a friend thread, so
        // the kernel traps again, finds SIGSYS blocked (we are in its handler) and delivers it
        // with the default action: the process ends, killed by SIGSYS.
        unsafe { libc::syscall(libc::SYS_getppid) };
    }
}

fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write to; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &raw mut now) };
    (now.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(now.tv_nsec as u64)
}

/// The hakase's look at the record: one relaxed load while nothing was denied. If a friend's
/// call was denied, prints the diagnostic to stderr (one `write`, no lock: the friend may hold
/// std's stderr lock), tells the friend, and waits for the process to end.
#[inline]
pub(crate) fn check_denials() {
    if RECORD.state.load(Ordering::Relaxed) == FULL {
        report_denial(&RECORD);
    }
}

#[cold]
fn report_denial(record: &DenialRecord) -> ! {
    // Pairs with the handler's release store of FULL.
    let _ = record.state.load(Ordering::Acquire);
    let friend = record.friend.load(Ordering::Relaxed);
    let syscall = record.syscall.load(Ordering::Relaxed);
    let call = if syscall & FOREIGN_ARCH != 0 {
        format!(
            "number {} through another architecture's entry (int 0x80: an i386 call)",
            syscall & !FOREIGN_ARCH
        )
    } else {
        format!("{} ({syscall})", syscall_name(syscall).unwrap_or("?"))
    };
    let message = format!(
        "offload: friend {friend} made the system call {call}, which its sandbox denies \
         (OnDenied::KillProcess); ending the process\n"
    );
    // SAFETY: writes the bytes of a live String to stderr.
    unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
    record.state.store(PRINTED, Ordering::Release);
    // The friend ends the process as soon as it sees PRINTED; if it somehow does not, abort.
    std::thread::sleep(std::time::Duration::from_secs(2));
    std::process::abort()
}
