//! The offload seed's examples (Toshokan's `OFFLOAD`, `EXPORT_SYMBOL`, several friends), as the
//! tour runs them.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use offload::prelude::*;

pub mod process;

/// What both sides share: the seed's `shared.h`.
pub mod shared {
    offload::declare_exports! {
        /// Prints a line on the hakase and returns its length.
        pub fn hakase_print(msg: &str) -> usize;
        /// The seed's `func`: a hakase function that returns 0.
        pub fn hakase_func() -> i32;
    }
}

/// The hakase's implementation of [`shared::hakase_print`].
#[export_symbol(declared_in = shared)]
pub fn hakase_print(msg: &str) -> usize {
    // On the hakase, stdout works; a failed write would only lose a tour line.
    let _ = writeln!(std::io::stdout(), "  [hakase prints] {msg}");
    msg.len()
}

/// The hakase's implementation of [`shared::hakase_func`].
#[export_symbol(declared_in = shared)]
pub fn hakase_func() -> i32 {
    0
}

use shared::{hakase_func, hakase_print};

/// The seed's first example: a friend sets its local `x` in an offloaded block. Returns `x`
/// after the block, as the friend saw it.
pub fn set_x_in_offloaded_block(hakase: &Hakase, cpus: &str) -> Result<i32, offload::Error> {
    static SEEN: Mutex<Option<i32>> = Mutex::new(None);
    let friends = hakase.spawn_friends(FriendConfig::cpus(cpus)?, |_| {
        let mut x = 0;
        offload!({
            // executed on hakase
            x = 1;
        });
        // x == 1
        offload!({ *SEEN.lock().unwrap_or_else(|e| e.into_inner()) = Some(x) });
    })?;
    hakase.serve_until(|| friends.finished());
    friends.join()?;
    Ok(SEEN.lock().unwrap_or_else(|e| e.into_inner()).unwrap_or(-1))
}

/// What the sandboxed friend of [`sandboxed_friend_calls_exports`] saw.
#[derive(Debug, Default, Clone)]
pub struct SandboxReport {
    /// Its own `println!`: the panic message (std panics when a print fails).
    pub own_println: String,
    /// Its own `writeln!(stdout)`.
    pub own_write: String,
    /// Its own `File::open`.
    pub own_open: String,
    /// `exported!(hakase_func)()` in a block.
    pub func: i32,
    /// `exported!(hakase_print)(..)` in a block: the length printed.
    pub printed: usize,
}

/// The seed's second example, in a sandboxed friend: its own write and open fail with EPERM,
/// while `exported!(hakase_print)` and `exported!(hakase_func)` inside `offload!` work.
pub fn sandboxed_friend_calls_exports(
    hakase: &Hakase,
    cpus: &str,
) -> Result<SandboxReport, offload::Error> {
    static REPORT: Mutex<Option<SandboxReport>> = Mutex::new(None);
    let config = FriendConfig::cpus(cpus)?.sandbox(Sandbox::NoSyscalls);
    let friends = hakase.spawn_friends(config, |_| {
        // `println!` panics when its write fails; the panic hook's own report to stderr fails
        // silently, so catching it is quiet.
        let own_println = std::panic::catch_unwind(|| println!("the friend prints by itself"))
            .err()
            .map(|payload| offload_panic_message(&*payload))
            .unwrap_or_else(|| "printed (not sandboxed?)".to_owned());
        // `writeln!` hands the error back instead.
        let own_write = writeln!(std::io::stdout(), "the friend prints by itself");
        let own_open = std::fs::File::open("/etc/hostname");
        let (func, printed) = offload!({
            let func = exported!(hakase_func)();
            (
                func,
                exported!(hakase_print)("Hello World! (from a sandboxed friend)"),
            )
        });
        let report = SandboxReport {
            own_println,
            own_write: format!("{:?}", own_write.err()),
            own_open: format!("{:?}", own_open.err()),
            func,
            printed,
        };
        offload!(move { *REPORT.lock().unwrap_or_else(|e| e.into_inner()) = Some(report) });
    })?;
    hakase.serve_until(|| friends.finished());
    friends.join()?;
    Ok(REPORT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default())
}

/// The seed's arbitration case: `friends` friends offload `requests` increments each of one
/// hakase counter; returns the counter (every request served exactly once: friends × requests).
pub fn friends_contending(
    hakase: &Hakase,
    cpus: &str,
    friends: usize,
    requests: u64,
) -> Result<u64, offload::Error> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.store(0, Ordering::Relaxed);
    let started = hakase.spawn_friends(FriendConfig::cpus(cpus)?.count(friends), move |_| {
        for _ in 0..requests {
            // A plain load and store, not an atomic increment: the blocks run one at a time, on
            // the hakase, so no increment can be lost.
            offload!({
                let now = COUNTER.load(Ordering::Relaxed);
                COUNTER.store(now + 1, Ordering::Relaxed);
            });
        }
    })?;
    hakase.serve_until(|| started.finished());
    started.join()?;
    Ok(COUNTER.load(Ordering::Relaxed))
}

fn offload_panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// What the sandboxed friend of [`the_sandbox_holds`] saw.
#[derive(Debug, Default, Clone)]
pub struct HoldReport {
    /// A `HashMap` (random keys through `getrandom`), `thread::sleep` and a `Mutex` in the
    /// friend itself: what ordinary no-I/O std code needs works.
    pub std_works: String,
    /// `mprotect` of a page of hakase code to read-write-execute (the escape the filter blocks).
    pub mprotect_rwx: String,
    /// An anonymous read-write-execute `mmap`.
    pub mmap_rwx: String,
}

/// The sandbox holds where an escape would start, and lets ordinary std code run.
pub fn the_sandbox_holds(hakase: &Hakase, cpus: &str) -> Result<HoldReport, offload::Error> {
    static REPORT: Mutex<Option<HoldReport>> = Mutex::new(None);
    let config = FriendConfig::cpus(cpus)?.sandbox(Sandbox::NoSyscalls);
    let friends = hakase.spawn_friends(config, |_| {
        let map: std::collections::HashMap<&str, u32> = [("a", 1), ("b", 2)].into();
        let start = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(1));
        let lock = Mutex::new(map.len());
        let std_works = format!(
            "HashMap of {}, slept {:?}, Mutex holds {}",
            map.len(),
            start.elapsed().max(std::time::Duration::from_millis(1)),
            *lock.lock().unwrap_or_else(|e| e.into_inner())
        );
        let rwx = libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC;
        let page = (hakase_func as *const () as usize) & !4095;
        // SAFETY: denied by the filter, it changes nothing; were it allowed, the page of hakase
        // code would become writable too (which is what the tour shows does not happen).
        let r = unsafe { libc::mprotect(page as *mut libc::c_void, 4096, rwx) };
        let mprotect_rwx = format!("{r} ({})", std::io::Error::last_os_error());
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing, if any.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                4096,
                rwx,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        let mmap_rwx = if p == libc::MAP_FAILED {
            format!("MAP_FAILED ({})", std::io::Error::last_os_error())
        } else {
            // SAFETY: the mapping just made.
            unsafe { libc::munmap(p, 4096) };
            "mapped (the sandbox has a hole)".to_owned()
        };
        let report = HoldReport {
            std_works,
            mprotect_rwx,
            mmap_rwx,
        };
        offload!(move { *REPORT.lock().unwrap_or_else(|e| e.into_inner()) = Some(report) });
    })?;
    friends.join()?;
    Ok(REPORT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default())
}

/// The hakase's own CPU time and the wall time while it serves one friend that sleeps for
/// `sleep`: an idle hakase parks instead of spinning.
pub fn idle_hakase(
    hakase: &Hakase,
    cpus: &str,
    sleep: std::time::Duration,
) -> Result<(std::time::Duration, std::time::Duration), offload::Error> {
    let friends = hakase.spawn_friends(FriendConfig::cpus(cpus)?, move |_| {
        std::thread::sleep(sleep);
        offload!({});
    })?;
    let thread_cpu = || {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes a timespec we own.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
        std::time::Duration::new(
            u64::try_from(now.tv_sec).unwrap_or(0),
            u32::try_from(now.tv_nsec).unwrap_or(0),
        )
    };
    let (cpu, wall) = (thread_cpu(), std::time::Instant::now());
    friends.join()?;
    Ok((thread_cpu() - cpu, wall.elapsed()))
}
