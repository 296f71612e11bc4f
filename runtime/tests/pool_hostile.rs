//! What an impatient user tries on the pool: absurd worker counts, pools inside pools, panics in
//! nested scopes, leaked handles, many callers at once. Each case that could hang runs on its own
//! thread under a time limit, so a deadlock fails the test instead of hanging the suite.

mod support;

use support::{fib, within};

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use gears_runtime::cpu_list::CpuList;
use gears_runtime::pool::{MAX_WORKERS, Pool, PoolError};

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn absurd_worker_counts_are_refused_with_the_cap_in_the_message() {
    for requested in [MAX_WORKERS + 1, 100_000, usize::MAX] {
        let err = Pool::new(requested).unwrap_err();
        match &err {
            PoolError::TooManyWorkers {
                requested: r, max, ..
            } => {
                assert_eq!(*r, requested);
                assert_eq!(*max, MAX_WORKERS);
            }
            other => panic!("Pool::new({requested}): expected TooManyWorkers, got {other:?}"),
        }
        let text = err.to_string();
        assert!(
            text.contains(&requested.to_string()) && text.contains(&MAX_WORKERS.to_string()),
            "{text}"
        );
    }
    let err = Pool::builder()
        .workers(MAX_WORKERS + 1)
        .build()
        .unwrap_err();
    assert!(matches!(err, PoolError::TooManyWorkers { .. }), "{err:?}");
    assert!(matches!(Pool::new(0), Err(PoolError::NoWorkers)));
}

#[test]
fn a_thread_name_with_a_nul_byte_is_an_error_not_a_panic() {
    let err = Pool::builder()
        .workers(2)
        .thread_name("bad\0name")
        .build()
        .unwrap_err();
    assert!(
        matches!(&err, PoolError::ThreadName { prefix } if prefix == "bad\0name"),
        "{err:?}"
    );
    assert!(err.to_string().contains("NUL byte"), "{err}");
}

#[test]
fn more_workers_than_cpus_still_compute_and_shut_down() {
    // 32 workers on a 2-vCPU machine: oversubscribed, but bounded and correct.
    within(Duration::from_secs(60), || {
        let pool = Pool::new(32).unwrap();
        assert_eq!(pool.num_workers(), 32);
        assert_eq!(pool.install(|w| fib(w, 20)), 6765);
    });
}

#[test]
fn a_stack_too_large_to_allocate_is_a_spawn_error_not_a_crash() {
    within(Duration::from_secs(30), || {
        let err = Pool::builder()
            .workers(2)
            .stack_size(usize::MAX / 2)
            .build()
            .unwrap_err();
        assert!(matches!(err, PoolError::Spawn { index: 0, .. }), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
        // A tiny stack is rounded up by the OS, and the pool still works.
        let pool = Pool::builder().workers(2).stack_size(0).build().unwrap();
        assert_eq!(pool.install(|w| fib(w, 10)), 55);
    });
}

#[test]
fn pinning_to_a_cpu_beyond_any_machine_fails_cleanly() {
    within(Duration::from_secs(30), || {
        let cpus = CpuList::single(511).unwrap();
        let err = Pool::builder().workers(3).pin_to(cpus).build().unwrap_err();
        assert!(matches!(err, PoolError::Pin { cpu: 511, .. }), "{err:?}");
    });
}

#[test]
fn a_pool_installed_from_a_worker_of_another_pool_and_back() {
    // A (one worker) -> B (one worker) -> A again: the inner `A.install` runs on B's worker and
    // must be run by A's only worker, which is itself waiting inside `B.install`.
    within(Duration::from_secs(20), || {
        let a = Arc::new(Pool::new(1).unwrap());
        let b = Arc::new(Pool::new(1).unwrap());
        let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
        let got = a.install(move |wa| {
            let outer = wa.index();
            b2.install(|_| a2.install(|w| fib(w, 15) + outer as u64))
        });
        assert_eq!(got, 610);
    });
}

#[test]
fn two_pools_installing_into_each_other_from_many_jobs() {
    within(Duration::from_secs(30), || {
        let a = Arc::new(Pool::new(2).unwrap());
        let b = Arc::new(Pool::new(2).unwrap());
        let b2 = Arc::clone(&b);
        let a2 = Arc::clone(&a);
        let total = a.install(move |w| {
            w.scope(|s| {
                let handles: Vec<_> = (0..16u64)
                    .map(|i| {
                        let (a2, b2) = (&a2, &b2);
                        s.spawn(move |_| b2.install(|_| a2.install(|w| fib(w, 10) + i)))
                    })
                    .collect();
                handles.into_iter().map(|h| h.sync()).sum::<u64>()
            })
        });
        assert_eq!(total, 16 * 55 + (0..16).sum::<u64>());
    });
}

#[test]
fn a_panic_deep_in_nested_scopes_reaches_install_after_every_job_finished() {
    within(Duration::from_secs(30), || {
        let pool = Pool::new(2).unwrap();
        let finished = AtomicUsize::new(0);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.install(|w| {
                w.scope(|outer| {
                    for i in 0..8 {
                        let finished = &finished;
                        outer.spawn(move |w| {
                            w.scope(|inner| {
                                for j in 0..8 {
                                    inner.spawn(move |_| {
                                        if i == 3 && j == 5 {
                                            panic!("job 3.5 failed");
                                        }
                                        thread::sleep(Duration::from_micros(200));
                                        finished.fetch_add(1, Ordering::SeqCst);
                                    });
                                }
                            });
                        });
                    }
                })
            })
        }));
        let payload = result.expect_err("the job's panic reaches install");
        assert_eq!(panic_message(&*payload), "job 3.5 failed");
        assert_eq!(
            finished.load(Ordering::SeqCst),
            63,
            "every other job ran to its end before the panic left the pool"
        );
        // The pool is still usable afterwards.
        assert_eq!(pool.install(|w| fib(w, 12)), 144);
    });
}

// The handle has no `Drop` today; what is tested is that the scope does not rely on one.
#[allow(clippy::drop_non_drop, clippy::forget_non_drop)]
#[test]
fn leaked_and_dropped_handles_are_still_synced_at_the_scope_end() {
    within(Duration::from_secs(30), || {
        let pool = Pool::new(2).unwrap();
        let mut outputs = vec![0u64; 64];
        pool.install(|w| {
            w.scope(|s| {
                for (i, out) in outputs.iter_mut().enumerate() {
                    let handle = s.spawn(move |_| {
                        thread::sleep(Duration::from_micros(100));
                        *out = i as u64 * 3;
                    });
                    match i % 3 {
                        0 => drop(handle),
                        1 => std::mem::forget(handle),
                        _ => handle.sync(),
                    }
                }
            })
        });
        let want: Vec<u64> = (0..64).map(|i| i * 3).collect();
        assert_eq!(outputs, want);
    });
}

#[test]
fn many_threads_install_at_once_and_each_gets_its_own_answer() {
    within(Duration::from_secs(60), || {
        let pool = Arc::new(Pool::new(2).unwrap());
        let callers: Vec<_> = (0..8u64)
            .map(|i| {
                let pool = Arc::clone(&pool);
                thread::spawn(move || {
                    (0..20)
                        .map(|round| pool.install(|w| fib(w, 12) + i * 1000 + round))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for (i, caller) in callers.into_iter().enumerate() {
            let got = caller.join().unwrap();
            let want: Vec<u64> = (0..20).map(|round| 144 + i as u64 * 1000 + round).collect();
            assert_eq!(got, want);
        }
    });
}

#[test]
fn every_job_of_a_scope_panicking_gives_one_panic_and_a_usable_pool() {
    within(Duration::from_secs(30), || {
        let pool = Pool::new(2).unwrap();
        let started = AtomicUsize::new(0);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.install(|w| {
                w.scope(|s| {
                    for i in 0..32 {
                        let started = &started;
                        s.spawn(move |_| {
                            started.fetch_add(1, Ordering::SeqCst);
                            panic!("job {i} failed");
                        });
                    }
                })
            })
        }));
        let payload = result.expect_err("a job's panic reaches install");
        let message = panic_message(&*payload);
        assert!(
            message.starts_with("job ") && message.ends_with(" failed"),
            "{message}"
        );
        assert_eq!(
            started.load(Ordering::SeqCst),
            32,
            "every job ran before the panic left"
        );
        assert_eq!(pool.install(|w| fib(w, 15)), 610);
    });
}
