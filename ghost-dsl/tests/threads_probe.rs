//! More of what a hostile user tries on the thread enclave: durations at their extremes (zero
//! and `Duration::MAX` for every knob), a thread that leaves through a raw `exit` system call,
//! an enclave run from inside a managed thread of another. Each test runs in a child process
//! with a time limit, so a hang or an abort fails the test instead of the suite.

mod threads_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use gears_examples::ghost::fifo::Fifo;
use ghost_dsl::prelude::*;
use ghost_dsl::threads::{self, ThreadConfig, ThreadEnclave, ThreadError};
use threads_support::{in_child, on, patient, spin, thread_error};

const LIMIT: Duration = Duration::from_secs(30);

/// Two short threads that sleep and yield; returns the counter they bump.
fn two_threads(enclave: &ThreadEnclave) -> Arc<AtomicU64> {
    let done = Arc::new(AtomicU64::new(0));
    for name in ["a", "b"] {
        let done = done.clone();
        enclave
            .spawn(name, move || {
                spin(10_000);
                threads::sleep(Duration::from_millis(2));
                threads::yield_now();
                spin(10_000);
                done.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
    done
}

#[test]
fn durations_of_duration_max_neither_panic_nor_end_the_run_early() {
    in_child(
        "durations_of_duration_max_neither_panic_nor_end_the_run_early",
        LIMIT,
        || {
            // `Duration::MAX` as nanoseconds does not fit a u64: truncated, it would be a limit
            // of a few seconds or less; added to an `Instant`, it overflows.
            let config = ThreadConfig::new()
                .with_time_limit(Some(Duration::MAX))
                .with_watchdog(Some(Duration::MAX))
                .with_grace(Duration::MAX);
            let enclave = ThreadEnclave::new(config).unwrap();
            let done = two_threads(&enclave);
            let report = Fifo::default().run(enclave, on("0-1")).unwrap();
            assert_eq!(done.load(Ordering::SeqCst), 2);
            assert_eq!(report.tasks.len(), 2);
            // Just over 584 years: 2^64 ns and 0.29 s (truncated to a u64, about 0.29 s).
            let millennium = Duration::from_secs(18_446_744_074);
            let config = ThreadConfig::new()
                .with_time_limit(Some(millennium))
                .with_watchdog(Some(millennium));
            let enclave = ThreadEnclave::new(config).unwrap();
            enclave
                .spawn("sleeps", || threads::sleep(Duration::from_millis(800)))
                .unwrap();
            Fifo::default().run(enclave, on("0")).unwrap();
        },
    );
}

#[test]
fn a_tick_period_of_duration_max_is_a_run_without_ticks_due() {
    in_child(
        "a_tick_period_of_duration_max_is_a_run_without_ticks_due",
        LIMIT,
        || {
            let enclave = ThreadEnclave::new(patient().with_tick(Duration::MAX)).unwrap();
            let done = two_threads(&enclave);
            let report = Fifo::default()
                .run(enclave, on("0-1").with_ticks(CpuTickConfig::AllTicks))
                .unwrap();
            assert_eq!(done.load(Ordering::SeqCst), 2);
            assert_eq!(report.tasks.len(), 2);
        },
    );
}

#[test]
fn a_huge_poll_period_still_lets_a_plain_run_end() {
    in_child(
        "a_huge_poll_period_still_lets_a_plain_run_end",
        LIMIT,
        || {
            let enclave = ThreadEnclave::new(patient().with_poll(Duration::MAX)).unwrap();
            let done = two_threads(&enclave);
            Fifo::default().run(enclave, on("0-1")).unwrap();
            assert_eq!(done.load(Ordering::SeqCst), 2);
        },
    );
}

#[test]
fn a_zero_time_limit_ends_the_run_at_once_and_its_threads_still_finish() {
    in_child(
        "a_zero_time_limit_ends_the_run_at_once_and_its_threads_still_finish",
        LIMIT,
        || {
            let config = ThreadConfig::new().with_time_limit(Some(Duration::ZERO));
            let enclave = ThreadEnclave::new(config).unwrap();
            let done = two_threads(&enclave);
            let err = Fifo::default().run(enclave, on("0-1")).unwrap_err();
            match thread_error(&err) {
                ThreadError::TimeLimit { left_running, .. } => {
                    assert!(left_running.is_empty(), "{left_running:?}")
                }
                other => panic!("expected the time limit, got {other:?}"),
            }
            assert_eq!(
                done.load(Ordering::SeqCst),
                2,
                "released threads ran to their end"
            );
        },
    );
}

#[test]
fn a_huge_grace_does_not_keep_a_deadlocked_run_whose_threads_ended() {
    in_child(
        "a_huge_grace_does_not_keep_a_deadlocked_run_whose_threads_ended",
        LIMIT,
        || {
            let enclave =
                ThreadEnclave::new(ThreadConfig::new().with_grace(Duration::MAX)).unwrap();
            let returned = Arc::new(AtomicBool::new(false));
            let r = returned.clone();
            drop(
                enclave
                    .spawn("sleeper", move || {
                        threads::park();
                        r.store(true, Ordering::SeqCst);
                    })
                    .unwrap(),
            );
            let err = Fifo::default().run(enclave, on("0")).unwrap_err();
            assert!(
                matches!(thread_error(&err), ThreadError::Deadlock { .. }),
                "{err:?}"
            );
            assert!(returned.load(Ordering::SeqCst));
        },
    );
}

#[test]
fn sleeping_for_duration_max_is_bounded_by_the_time_limit() {
    in_child(
        "sleeping_for_duration_max_is_bounded_by_the_time_limit",
        LIMIT,
        || {
            let config = ThreadConfig::new()
                .with_time_limit(Some(Duration::from_millis(300)))
                .with_grace(Duration::from_millis(100));
            let enclave = ThreadEnclave::new(config).unwrap();
            let handle = enclave.handle();
            enclave
                .spawn("forever", || threads::sleep(Duration::MAX))
                .unwrap();
            let err = Fifo::default().run(enclave, on("0")).unwrap_err();
            match thread_error(&err) {
                ThreadError::TimeLimit { left_running, .. } => {
                    assert_eq!(left_running.len(), 1, "{left_running:?}");
                    assert!(left_running[0].starts_with("forever"), "{left_running:?}");
                }
                other => panic!("expected the time limit, got {other:?}"),
            }
            let panics = handle.thread_report().panics;
            assert!(
                panics.is_empty(),
                "sleep(Duration::MAX) does not panic: {panics:?}"
            );
        },
    );
}

/// Ends the calling OS thread without unwinding or running any destructor, as a C library's
/// thread exit might.
fn raw_thread_exit() -> ! {
    // SAFETY: SYS_exit ends only the calling thread; nothing of this thread's stack is used
    // again (the closure's captures are leaked with it).
    unsafe { libc::syscall(libc::SYS_exit, 0) };
    unreachable!("SYS_exit returned")
}

#[test]
fn a_thread_that_leaves_through_a_raw_exit_system_call() {
    in_child(
        "a_thread_that_leaves_through_a_raw_exit_system_call",
        LIMIT,
        || {
            // No time limit: the run must notice by itself that the thread is gone, free its
            // CPU for the other one, and end.
            let enclave = ThreadEnclave::new(patient()).unwrap();
            let handle = enclave.handle();
            let done = Arc::new(AtomicU64::new(0));
            let d = done.clone();
            enclave
                .spawn("vanishes", || {
                    spin(10_000);
                    raw_thread_exit();
                })
                .unwrap();
            enclave
                .spawn("normal", move || {
                    spin(10_000);
                    d.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            let report = Fifo::default().run(enclave, on("0")).unwrap();
            assert_eq!(done.load(Ordering::SeqCst), 1, "the other thread still ran");
            let vanished = report.task("vanishes").unwrap();
            assert!(vanished.end_ns.is_some(), "{vanished:?}");
            let normal = report.task("normal").unwrap();
            assert!(
                normal.start_ns.unwrap() >= vanished.end_ns.unwrap(),
                "one CPU, FIFO: the second thread ran after the first was gone: {report:?}"
            );
            let panics = handle.thread_report().panics;
            assert_eq!(panics.len(), 1, "{panics:?}");
            let text = format!("{panics:?}");
            assert!(text.contains("vanishes") && text.contains("exit"), "{text}");
        },
    );
}

#[test]
fn a_released_thread_that_leaves_through_a_raw_exit_system_call() {
    in_child(
        "a_released_thread_that_leaves_through_a_raw_exit_system_call",
        LIMIT,
        || {
            // Released at once by a zero time limit; the thread exits under the OS scheduler,
            // where no monitor watches it: the run's join must not trip over it.
            let config = ThreadConfig::new().with_time_limit(Some(Duration::ZERO));
            let enclave = ThreadEnclave::new(config).unwrap();
            enclave
                .spawn("vanishes", || {
                    std::thread::sleep(Duration::from_millis(20));
                    raw_thread_exit();
                })
                .unwrap();
            let err = Fifo::default().run(enclave, on("0")).unwrap_err();
            assert!(
                matches!(thread_error(&err), ThreadError::TimeLimit { .. }),
                "{err:?}"
            );
        },
    );
}

#[test]
fn an_enclave_created_inside_a_managed_thread_of_another() {
    in_child(
        "an_enclave_created_inside_a_managed_thread_of_another",
        LIMIT,
        || {
            // The host thread is pinned to CPU 0 by the outer enclave: an inner enclave on CPU 1
            // is refused with an error that says why (the creating thread's affinity), and one
            // on the host's own CPU runs its thread to the end.
            let outer = ThreadEnclave::new(patient()).unwrap();
            let inner_done = Arc::new(AtomicU64::new(0));
            let d = inner_done.clone();
            let outcome = Arc::new(std::sync::Mutex::new(Vec::new()));
            let o = outcome.clone();
            outer
                .spawn("host", move || {
                    let mut results = Vec::new();
                    for cpus in ["1", "0"] {
                        let inner = ThreadEnclave::new(patient()).unwrap();
                        let d = d.clone();
                        inner
                            .spawn("guest", move || {
                                threads::yield_now();
                                d.fetch_add(1, Ordering::SeqCst);
                            })
                            .unwrap();
                        // The inner run blocks the host in the kernel: let the outer enclave
                        // know, so its CPU is not held meanwhile.
                        let result = threads::blocking(|| Fifo::default().run(inner, on(cpus)));
                        results.push(result.map(|_| ()).map_err(|e| e.to_string()));
                    }
                    *o.lock().unwrap() = results;
                })
                .unwrap();
            Fifo::default().run(outer, on("0")).unwrap();
            let results = outcome.lock().unwrap().clone();
            println!("{results:?}");
            assert_eq!(results.len(), 2, "{results:?}");
            let refused = results[0].as_ref().unwrap_err();
            assert!(
                refused.contains("\"1\"") && refused.contains("thread that created the enclave"),
                "{refused}"
            );
            assert_eq!(results[1], Ok(()), "{results:?}");
            // The guest of the refused enclave ran too, released when its enclave was dropped.
            assert_eq!(inner_done.load(Ordering::SeqCst), 2);
        },
    );
}

#[test]
fn a_thread_name_with_a_nul_byte_is_an_error_and_loses_nothing() {
    in_child(
        "a_thread_name_with_a_nul_byte_is_an_error_and_loses_nothing",
        LIMIT,
        || {
            let enclave = ThreadEnclave::new(patient()).unwrap();
            let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                enclave.spawn("bad\0name", || {}).map(|_| ())
            }));
            println!("spawn with a NUL in the name: {spawned:?}");
            let err = spawned
                .expect("spawn returns, it does not panic")
                .expect_err("a NUL byte in a thread name is refused");
            assert!(
                matches!(&err, ThreadError::ThreadName { name } if name == "bad\0name"),
                "{err:?}"
            );
            assert!(err.to_string().contains("NUL byte"), "{err}");
            let done = Arc::new(AtomicU64::new(0));
            let d = done.clone();
            enclave
                .spawn("fine", move || {
                    d.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            let report = Fifo::default().run(enclave, on("0")).unwrap();
            assert_eq!(done.load(Ordering::SeqCst), 1);
            assert!(report.task("fine").is_some());
        },
    );
}
