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
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("child {case} still running after {limit:?}: it hangs");
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
