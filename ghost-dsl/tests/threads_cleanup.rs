//! No thread is left behind: after a run, after a fault, when an enclave that never ran is
//! dropped, and when the program is interrupted (SIGINT). Thread counts come from
//! `/proc/self/task`; each test runs alone in a child process, so nothing else spawns threads.

mod threads_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gears_examples::ghost::smp::SmpFifo;
use ghost_dsl::threads::{self, ThreadEnclave, process_threads};
use ghost_dsl::{Agent, AgentEnclave, AgentModel, Cpu, EnclaveBackend};
use threads_support::{calibrate, in_child, on, patient, settled_threads, spin};

const LIMIT: Duration = Duration::from_secs(30);
/// How long a joined thread may stay visible in `/proc/self/task` (see [`settled_threads`]).
const SETTLE: Duration = Duration::from_secs(3);

#[test]
fn a_run_joins_every_agent_and_managed_thread() {
    in_child("a_run_joins_every_agent_and_managed_thread", LIMIT, || {
        let before = process_threads();
        let enclave = ThreadEnclave::new(patient()).unwrap();
        let iters = calibrate(Duration::from_millis(5));
        for i in 0..6 {
            enclave
                .spawn(format!("t{i}"), move || {
                    spin(iters);
                    threads::sleep(Duration::from_millis(2));
                })
                .unwrap();
        }
        assert_eq!(process_threads(), before + 6, "six managed threads wait");
        SmpFifo::default().run(enclave, on("0-1")).unwrap();
        assert_eq!(
            settled_threads(before, SETTLE),
            before,
            "threads left after the run"
        );
    });
}

#[test]
fn dropping_an_enclave_that_never_ran_runs_and_joins_its_threads() {
    in_child(
        "dropping_an_enclave_that_never_ran_runs_and_joins_its_threads",
        LIMIT,
        || {
            let before = process_threads();
            let done = Arc::new(AtomicU64::new(0));
            {
                let enclave = ThreadEnclave::new(patient()).unwrap();
                for i in 0..3 {
                    let done = done.clone();
                    enclave
                        .spawn(format!("t{i}"), move || {
                            threads::sleep(Duration::from_millis(1));
                            done.fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap();
                }
            }
            assert_eq!(done.load(Ordering::SeqCst), 3, "released threads ran");
            assert_eq!(
                settled_threads(before, SETTLE),
                before,
                "threads left behind"
            );
        },
    );
}

/// An agent that panics in its first iteration.
struct Crashing;

impl Agent for Crashing {
    fn model(&self) -> AgentModel {
        AgentModel::PerCpu
    }
    fn run(&mut self, _cpu: Cpu, _enclave: &mut AgentEnclave<'_>) {
        panic!("agent crashed");
    }
}

#[test]
fn a_fault_leaves_no_thread_behind() {
    in_child("a_fault_leaves_no_thread_behind", LIMIT, || {
        let before = process_threads();
        let mut enclave = ThreadEnclave::new(patient()).unwrap();
        for i in 0..3 {
            enclave
                .spawn(format!("t{i}"), || threads::sleep(Duration::from_millis(5)))
                .unwrap();
        }
        let mut agent = Crashing;
        enclave.attach(&mut agent, &on("0-1")).unwrap();
        assert!(enclave.run_to_end(&mut agent).is_err());
        drop(enclave);
        assert_eq!(
            settled_threads(before, SETTLE),
            before,
            "threads left behind"
        );
    });
}

/// The target of `sigint_ends_the_program_and_every_thread`: runs an enclave of busy threads
/// that would take a minute, after printing READY.
#[test]
#[ignore = "a helper run by sigint_ends_the_program_and_every_thread"]
fn sigint_target() {
    if std::env::var_os("GHOST_THREADS_SIGINT_TARGET").is_none() {
        return;
    }
    let enclave = ThreadEnclave::new(patient()).unwrap();
    for i in 0..3 {
        enclave
            .spawn(format!("busy{i}"), || {
                let end = Instant::now() + Duration::from_secs(60);
                while Instant::now() < end {
                    spin(10_000);
                }
            })
            .unwrap();
    }
    println!("READY");
    let _ = SmpFifo::default().run(enclave, on("0-1"));
}

/// Sends `signal` to a program in the middle of a run: it ends with the signal's default
/// action, and every thread with it.
fn a_signal_ends_the_program_and_every_thread(signal: i32) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["sigint_target", "--exact", "--nocapture", "--ignored"])
        .env("GHOST_THREADS_SIGINT_TARGET", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("READY") {
                let _ = tx.send(());
            }
        }
    });
    if rx.recv_timeout(Duration::from_secs(20)).is_err() {
        let _ = child.kill();
        panic!("the target never got ready");
    }
    std::thread::sleep(Duration::from_millis(200));
    let pid_i32 = i32::try_from(pid).unwrap();
    // SAFETY: kill with a pid we spawned and a valid signal number.
    assert_eq!(unsafe { libc::kill(pid_i32, signal) }, 0);
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the program did not end within 5 s of signal {signal}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(signal), "{status}");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the process is gone, and every thread with it"
    );
}

#[test]
fn sigint_ends_the_program_and_every_thread() {
    a_signal_ends_the_program_and_every_thread(libc::SIGINT);
}

#[test]
fn sigterm_ends_the_program_and_every_thread() {
    a_signal_ends_the_program_and_every_thread(libc::SIGTERM);
}
