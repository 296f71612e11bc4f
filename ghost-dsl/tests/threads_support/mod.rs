//! Shared by the `threads_*` tests: running a test body in a child process with a time limit
//! (real threads can hang; a hung child is killed and the test fails with its output), and a
//! calibrated busy loop.

#![allow(dead_code, unreachable_pub)]

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "GHOST_THREADS_TEST_CHILD";

/// Runs `body` in a child process (this test binary, running only the test `name`), killed
/// after `limit`. In the child, runs `body` itself. Fails with the child's output on a non-zero
/// exit or a timeout.
pub fn in_child(name: &str, limit: Duration, body: impl FnOnce()) {
    if std::env::var_os(CHILD_ENV).is_some() {
        body();
        return;
    }
    let out = std::env::temp_dir().join(format!("ghost-threads-{}-{name}.log", std::process::id()));
    let file = std::fs::File::create(&out).expect("a log file for the child");
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            name,
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::from(file.try_clone().expect("dup")))
        .stderr(Stdio::from(file))
        .spawn()
        .expect("spawn the child test");
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let log = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    match status {
        Some(s) if s.success() && log.contains("1 passed") => print!("{log}"),
        Some(s) => panic!("the child test `{name}` failed ({s}):\n{log}"),
        None => {
            panic!("the child test `{name}` did not finish within {limit:?} and was killed:\n{log}")
        }
    }
}

/// One unit of busy work (about a microsecond or less).
#[inline(never)]
pub fn spin(iterations: u64) -> u64 {
    let mut x = 0u64;
    for i in 0..iterations {
        x = black_box(x.wrapping_add(i));
    }
    x
}

/// Iterations of [`spin`] that take about `target` on this machine now (best of a few tries, so
/// that a loaded moment does not inflate the loop).
pub fn calibrate(target: Duration) -> u64 {
    let probe = 200_000;
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        black_box(spin(probe));
        best = best.min(t.elapsed());
    }
    let per = best.as_nanos().max(1) as f64 / probe as f64;
    (target.as_nanos() as f64 / per) as u64
}

/// The CPU the calling thread runs on.
pub fn current_cpu() -> usize {
    // SAFETY: sched_getcpu has no arguments and no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).unwrap_or(usize::MAX)
}

/// The process's thread count once it reaches `expected`, or the count after `limit`.
///
/// `join` returns when the kernel clears the joined thread's id, slightly before the thread
/// leaves `/proc/self/task`, so a count read right after a run can include threads that have
/// already been joined. Polling for up to `limit` (seconds, not milliseconds: a loaded machine
/// can delay the kernel's reaping) tells a lingering joined thread from one left running.
pub fn settled_threads(expected: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let now = ghost_dsl::threads::process_threads();
        if now == expected || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}
