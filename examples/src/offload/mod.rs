//! The offload seed's examples (Toshokan's `OFFLOAD`, `EXPORT_SYMBOL`, several friends), as the
//! tour runs them.

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use offload::prelude::*;

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
