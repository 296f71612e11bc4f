//! Helpers shared by the pool's test binaries (each uses a subset, hence the `dead_code`
//! allowances: a test binary compiles this module on its own).

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use gears_runtime::pool::Worker;

/// Runs `f` on a fresh thread and fails the test if it does not finish in time (a deadlock).
#[allow(dead_code)]
pub(crate) fn within<R: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let result = panic::catch_unwind(AssertUnwindSafe(f));
        let _ = tx.send(result);
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => value,
        Ok(Err(payload)) => panic::resume_unwind(payload),
        Err(_) => panic!("did not finish within {limit:?}: deadlock or livelock"),
    }
}

/// Fibonacci by fork-join: the first call spawned, the second run in the continuation.
#[allow(dead_code)]
pub(crate) fn fib(w: &Worker, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    w.spawn(
        |w| fib(w, n - 1),
        |w, first| {
            let second = fib(w, n - 2);
            first.sync() + second
        },
    )
}
