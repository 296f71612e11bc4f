//! The child-process harness the offload tests share: a test re-executes its own binary with
//! `OFFLOAD_CHILD` naming the case, within a time limit, so that a hang, an abort or a sandbox
//! hole fails that test instead of hanging or killing the suite.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The variable naming the case a child runs.
pub(crate) const CHILD: &str = "OFFLOAD_CHILD";

/// What a child run ended with.
pub(crate) struct Ended {
    /// The exit code, if the child exited.
    pub(crate) code: Option<i32>,
    /// The signal that ended the child, if one did.
    pub(crate) signal: Option<i32>,
    /// Its stdout, then its stderr.
    pub(crate) output: String,
}

/// Whether this process is the child running `case` (then the test body runs the scenario).
pub(crate) fn is_child(case: &str) -> bool {
    std::env::var(CHILD).is_ok_and(|c| c == case)
}

/// Runs this test binary's test `case` as a child with `CHILD=case`, within `limit`.
///
/// The limit does not count the time the child spent waiting for a CPU it was ready to run on
/// (the largest `run_delay` in `/proc/<pid>/task/*/schedstat` seen over its threads), up to
/// [`STARVED_CAP`] times `limit` in all: at `nice 19` on a loaded 2-core machine a child needing
/// a few ms of CPU can take seconds. A child hung blocked accrues no such wait and is killed
/// at `limit`; one spinning on a loaded machine at the latest at `STARVED_CAP * limit`.
pub(crate) fn run_child(case: &str, limit: Duration) -> Ended {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([case, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, case)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut starved = Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        starved = starved.max(longest_run_delay(child.id()));
        if start.elapsed() > (limit + starved).min(limit * STARVED_CAP) {
            child.kill().unwrap();
            let _ = child.wait();
            panic!(
                "child {case} still running after {:?} ({limit:?} plus {starved:?} it waited for \
                 a CPU): it hangs",
                start.elapsed()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    Ended {
        code: status.code(),
        signal: status.signal(),
        output,
    }
}

/// How many times its limit a child may take in all when it was kept waiting for a CPU.
pub(crate) const STARVED_CAP: u32 = 4;

/// The longest time any live thread of process `pid` has waited, runnable, for a CPU (the
/// scheduler's `run_delay`, the second field of `schedstat`); zero where there is none.
fn longest_run_delay(pid: u32) -> Duration {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().nth(1)?.parse().ok())
        .map(Duration::from_nanos)
        .max()
        .unwrap_or(Duration::ZERO)
}

/// Runs the child `case` within `limit` (see [`run_child`]) and fails unless it exited with
/// status 0; its output.
pub(crate) fn assert_child_passed(case: &str, limit: Duration) -> String {
    let ended = run_child(case, limit);
    assert_eq!(
        (ended.code, ended.signal),
        (Some(0), None),
        "child {case} failed:\n{}",
        ended.output
    );
    ended.output
}
