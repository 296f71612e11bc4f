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
///
/// The limit does not count the time the child spent waiting for a CPU it was ready to run on
/// (the largest `run_delay` of `/proc/<pid>/task/*/schedstat` seen over its threads), up to
/// [`STARVED_CAP`] times `limit` in all: at `nice 19` on a 2-core machine shared with other
/// builds a child that needs 100 ms of CPU was seen to take over 30 s of wall time, and was
/// killed although it was making progress. A child hung blocked accrues no such wait and is
/// killed at `limit`; one spinning on a loaded machine at the latest at `STARVED_CAP * limit`.
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
    let start = Instant::now();
    let mut starved = Starved::default();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        let waited = starved.update(child.id());
        let allowed = (limit + waited).min(limit * STARVED_CAP);
        if start.elapsed() > allowed {
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
        None => panic!(
            "the child test `{name}` did not finish within {limit:?} (plus {:?} it waited for a \
             CPU; {:?} in all) and was killed:\n{log}",
            starved.max,
            start.elapsed()
        ),
    }
}

/// How many times its limit a child may take in all when it was kept waiting for a CPU.
pub const STARVED_CAP: u32 = 4;

/// The longest time any thread of a child process has waited, runnable, for a CPU (the
/// scheduler's `run_delay`), from `/proc/<pid>/task/*/schedstat`. Threads that have ended take
/// their figures with them, so the largest value seen so far is kept. Zero where the kernel
/// has no schedstat (the limit is then plain wall time).
#[derive(Default)]
struct Starved {
    max: Duration,
}

impl Starved {
    fn update(&mut self, pid: u32) -> Duration {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            return self.max;
        };
        for task in tasks.flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            // "<ns on a CPU> <ns waiting on a run queue> <timeslices>"
            if let Some(delay) = stat.split_whitespace().nth(1).and_then(|d| d.parse().ok()) {
                self.max = self.max.max(Duration::from_nanos(delay));
            }
        }
        self.max
    }
}

/// The watchdog for tests that are not about the watchdog: threads that queue behind a
/// calibrated loop (FIFO policies) wait for as long as the loop takes, and a 30 ms loop was seen
/// to take 5.5 s at `nice 19` on the loaded 2-core machine, past the default 5 s watchdog. A
/// lost thread still ends such a test, with the watchdog's error naming it, well within its
/// child's limit.
pub const PATIENT_WATCHDOG: Duration = Duration::from_secs(20);

/// A [`ThreadConfig`](ghost_dsl::threads::ThreadConfig) with [`PATIENT_WATCHDOG`].
pub fn patient() -> ghost_dsl::threads::ThreadConfig {
    ghost_dsl::threads::ThreadConfig::new().with_watchdog(Some(PATIENT_WATCHDOG))
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

/// An agent configuration on the CPUs `cpus` (a cpu list such as `"0-1"`).
pub fn on(cpus: &str) -> ghost_dsl::AgentConfig {
    ghost_dsl::AgentConfig::new(ghost_dsl::parse_cpu_str(cpus).unwrap())
}

/// The `ThreadError` inside a generated run's error.
pub fn thread_error(err: &ghost_dsl::Error) -> &ghost_dsl::threads::ThreadError {
    err.as_enclave::<ghost_dsl::threads::ThreadError>()
        .unwrap_or_else(|| panic!("expected a thread enclave error, got {err:?}"))
}
