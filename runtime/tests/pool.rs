//! Behaviour of the spawn/sync pool: values, borrowing, stealing, panics, nesting, shutdown.

mod support;

use support::{fib, within};

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use gears_runtime::pool::{Pool, PoolError, Worker, current_worker};

fn fib_seq(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib_seq(n - 1) + fib_seq(n - 2)
    }
}

/// Spins in the continuation until a helper claimed the job, so the test exercises the stolen
/// path for sure (only meaningful with two or more workers).
fn wait_until_claimed<F, T>(handle: &gears_runtime::pool::JobHandle<'_, F, T>)
where
    F: FnOnce(&Worker) -> T + Send,
    T: Send,
{
    let start = Instant::now();
    while !handle.was_claimed() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no helper ever claimed the job"
        );
        std::hint::spin_loop();
    }
}

#[test]
fn zero_workers_is_an_error() {
    let err = Pool::new(0).unwrap_err();
    assert!(matches!(err, PoolError::NoWorkers));
    assert_eq!(err.to_string(), "a pool needs at least one worker (got 0)");
}

#[test]
fn fib_is_correct_on_one_two_and_four_workers() {
    for workers in [1, 2, 4] {
        let pool = Pool::new(workers).unwrap();
        for n in [0, 1, 2, 10, 22] {
            assert_eq!(
                pool.install(|w| fib(w, n)),
                fib_seq(n),
                "fib({n}) on {workers}"
            );
        }
    }
}

#[test]
fn jobs_borrow_and_mutate_the_callers_data() {
    fn fill(w: &Worker, data: &mut [u64], offset: u64) {
        if data.len() <= 4 {
            for (i, x) in data.iter_mut().enumerate() {
                *x = (offset + i as u64) * 3;
            }
            return;
        }
        let mid = data.len() / 2;
        let (left, right) = data.split_at_mut(mid);
        w.join(
            |w| fill(w, left, offset),
            |w| fill(w, right, offset + mid as u64),
        );
    }
    let pool = Pool::new(2).unwrap();
    let mut data = vec![0u64; 10_000];
    pool.install(|w| fill(w, &mut data, 0));
    assert!(data.iter().enumerate().all(|(i, &x)| x == i as u64 * 3));
}

#[test]
fn a_claimed_job_runs_on_another_worker_and_returns_its_value() {
    within(Duration::from_secs(30), || {
        let pool = Pool::new(2).unwrap();
        let (spawner, runner, value) = pool.install(|w| {
            w.spawn(
                |_| (current_worker(), 40 + 2),
                |w, handle| {
                    wait_until_claimed(&handle);
                    let (runner, value) = handle.sync();
                    (w.index(), runner, value)
                },
            )
        });
        assert_eq!(value, 42);
        let runner = runner.expect("a job runs on a pool worker");
        assert_ne!(runner, spawner, "a claimed job runs on the helper");
        assert!(spawner < 2 && runner < 2);
    });
}

#[test]
fn current_worker_is_none_outside_and_the_index_inside() {
    assert_eq!(current_worker(), None);
    let pool = Pool::new(3).unwrap();
    let (from_worker, from_fn) = pool.install(|w| (w.index(), current_worker()));
    assert_eq!(Some(from_worker), from_fn);
    assert!(from_worker < 3);
    assert_eq!(pool.install(|w| w.num_workers()), 3);
}

#[test]
fn an_unclaimed_job_runs_inline_on_sync() {
    let pool = Pool::new(1).unwrap();
    let (spawner, runner) =
        pool.install(|w| w.spawn(|w| w.index(), |w, handle| (w.index(), handle.sync())));
    assert_eq!(spawner, runner);
}

#[test]
fn a_job_panic_is_reraised_by_sync_inline_and_stolen() {
    within(Duration::from_secs(30), || {
        for stolen in [false, true] {
            let pool = Pool::new(2).unwrap();
            let caught = panic::catch_unwind(AssertUnwindSafe(|| {
                pool.install(|w| {
                    w.spawn(
                        |_| -> u32 { panic!("job failed on purpose") },
                        |_, handle| {
                            if stolen {
                                wait_until_claimed(&handle);
                            }
                            handle.sync()
                        },
                    )
                })
            }));
            let payload = caught.expect_err("the job's panic reaches install's caller");
            assert_eq!(
                payload.downcast_ref::<&str>(),
                Some(&"job failed on purpose")
            );
            // The pool keeps working after a panic.
            assert_eq!(pool.install(|w| fib(w, 15)), 610);
        }
    });
}

#[test]
fn a_panic_leaves_the_scope_only_after_every_job_is_finished() {
    within(Duration::from_secs(30), || {
        let pool = Pool::new(2).unwrap();
        let finished = AtomicBool::new(false);
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.install(|w| {
                w.spawn(
                    |_| {
                        thread::sleep(Duration::from_millis(200));
                        finished.store(true, Ordering::SeqCst);
                    },
                    |_, handle| {
                        wait_until_claimed(&handle);
                        panic!("continuation failed while the job runs elsewhere");
                    },
                )
            })
        }));
        assert!(caught.is_err());
        assert!(
            finished.load(Ordering::SeqCst),
            "the panic escaped before the running job finished"
        );
    });
}

#[test]
fn an_unstarted_job_is_cancelled_when_its_scope_unwinds() {
    let pool = Pool::new(1).unwrap();
    let ran = AtomicBool::new(false);
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.install(|w| {
            w.spawn(
                |_| ran.store(true, Ordering::SeqCst),
                |_, _handle| -> () { panic!("before sync") },
            )
        })
    }));
    assert!(caught.is_err());
    assert!(
        !ran.load(Ordering::SeqCst),
        "a job nobody started is cancelled, not run"
    );
}

#[test]
fn a_job_that_is_never_synced_still_runs_and_its_panic_surfaces() {
    let pool = Pool::new(2).unwrap();
    let ran = AtomicBool::new(false);
    let value = pool.install(|w| w.spawn(|_| ran.store(true, Ordering::SeqCst), |_, _| 7));
    assert_eq!(value, 7);
    assert!(ran.load(Ordering::SeqCst));

    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        pool.install(|w| w.spawn(|_| panic!("unsynced job failed"), |_, _| 7))
    }));
    let payload = caught.expect_err("the unsynced job's panic is not lost");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"unsynced job failed"));
}

#[test]
fn jobs_can_be_synced_out_of_spawn_order() {
    let pool = Pool::new(2).unwrap();
    for _ in 0..200 {
        let (a, b) = pool.install(|w| {
            w.spawn(
                |w| fib(w, 12),
                |w, a| {
                    w.spawn(
                        |w| fib(w, 13),
                        |w, b| {
                            let a = a.sync();
                            let c = fib(w, 5);
                            (a + c, b.sync())
                        },
                    )
                },
            )
        });
        assert_eq!((a, b), (144 + 5, 233));
    }
}

#[test]
fn nesting_much_deeper_than_the_worker_count_does_not_deadlock() {
    // A chain: every level spawns the next level and waits for it, 5000 levels deep on 2
    // workers, with some levels sleeping so that helpers claim and park at different depths.
    fn chain(w: &Worker, depth: u32) -> u32 {
        if depth == 0 {
            return 0;
        }
        w.spawn(
            move |w| chain(w, depth - 1),
            move |_, below| {
                if depth.is_multiple_of(1000) {
                    thread::sleep(Duration::from_millis(5));
                }
                below.sync() + 1
            },
        )
    }
    within(Duration::from_secs(60), || {
        let pool = Pool::new(2).unwrap();
        assert_eq!(pool.install(|w| chain(w, 5000)), 5000);
    });
}

#[test]
fn waiting_workers_help_instead_of_blocking() {
    // A wide tree whose leaves block briefly: with every job waiting on stolen children, only
    // helping keeps the pool moving. Counts every leaf exactly once.
    fn tree(w: &Worker, depth: u32, leaves: &AtomicUsize) {
        if depth == 0 {
            thread::sleep(Duration::from_micros(200));
            leaves.fetch_add(1, Ordering::Relaxed);
            return;
        }
        w.join(
            |w| tree(w, depth - 1, leaves),
            |w| tree(w, depth - 1, leaves),
        );
    }
    within(Duration::from_secs(60), || {
        let pool = Pool::new(3).unwrap();
        let leaves = AtomicUsize::new(0);
        pool.install(|w| tree(w, 9, &leaves));
        assert_eq!(leaves.load(Ordering::Relaxed), 512);
    });
}

#[test]
fn install_from_many_threads_at_once() {
    within(Duration::from_secs(60), || {
        let pool = Arc::new(Pool::new(2).unwrap());
        let results = Mutex::new(Vec::new());
        thread::scope(|s| {
            for n in 10..18 {
                let pool = &pool;
                let results = &results;
                s.spawn(move || {
                    let v = pool.install(|w| fib(w, n));
                    results.lock().unwrap().push((n, v));
                });
            }
        });
        let mut results = results.into_inner().unwrap();
        results.sort();
        assert_eq!(
            results,
            (10..18).map(|n| (n, fib_seq(n))).collect::<Vec<_>>()
        );
    });
}

#[test]
fn install_inside_the_pool_runs_inline() {
    let pool = Pool::new(2).unwrap();
    let (outer, inner) = pool.install(|w| (w.index(), pool.install(|inner| inner.index())));
    assert_eq!(outer, inner);
}

#[test]
fn pools_start_and_shut_down_cleanly() {
    within(Duration::from_secs(60), || {
        for i in 0..40 {
            let pool = Pool::builder()
                .workers(1 + i % 4)
                .thread_name(format!("test-pool-{i}"))
                .build()
                .unwrap();
            if i % 2 == 0 {
                assert_eq!(pool.install(|w| fib(w, 10)), 55);
            }
            if i % 5 == 0 {
                // Let the workers go to sleep before the pool is dropped.
                thread::sleep(Duration::from_millis(20));
            }
        }
    });
}

#[test]
fn a_pool_that_slept_wakes_for_new_work() {
    within(Duration::from_secs(30), || {
        let pool = Pool::new(2).unwrap();
        thread::sleep(Duration::from_millis(100)); // both workers park
        let runners = pool.install(|w| {
            w.spawn(
                |_| current_worker(),
                |w, handle| {
                    wait_until_claimed(&handle);
                    (w.index(), handle.sync())
                },
            )
        });
        assert_ne!(Some(runners.0), runners.1);
    });
}

#[test]
fn workers_pinned_to_cpus_run_there() {
    let allowed = gears_runtime::cpu_list::CpuList::current_thread_affinity().unwrap();
    let pool = Pool::builder().workers(2).pin_to(allowed).build().unwrap();
    let cpus: Vec<usize> = allowed.iter().collect();
    let seen = pool.install(|w| {
        (
            w.index(),
            gears_runtime::cpu_list::CpuList::current_thread_affinity().unwrap(),
        )
    });
    let expected = gears_runtime::cpu_list::CpuList::single(cpus[seen.0 % cpus.len()]).unwrap();
    assert_eq!(seen.1, expected, "worker {} runs only on its CPU", seen.0);
}

#[test]
fn pinning_errors_name_the_worker_and_the_cpu() {
    let empty = gears_runtime::cpu_list::CpuList::new();
    let err = Pool::builder()
        .workers(2)
        .pin_to(empty)
        .build()
        .unwrap_err();
    assert!(matches!(err, PoolError::EmptyCpuList), "{err}");

    // CPU 511 exists on almost no machine; where it does not, the kernel refuses the mask.
    let possible = std::fs::read_to_string("/sys/devices/system/cpu/possible").unwrap_or_default();
    let possible: gears_runtime::cpu_list::CpuList = possible.parse().unwrap_or_default();
    if possible.contains(511) || possible.is_empty() {
        eprintln!("skipped: cannot find a CPU this machine lacks");
        return;
    }
    let missing = gears_runtime::cpu_list::CpuList::single(511).unwrap();
    let err = Pool::builder()
        .workers(1)
        .pin_to(missing)
        .build()
        .unwrap_err();
    match &err {
        PoolError::Pin {
            index: 0, cpu: 511, ..
        } => {}
        other => panic!("expected a pin error for worker 0 on CPU 511, got {other:?}"),
    }
    assert_eq!(err.to_string(), "could not pin pool worker 0 to CPU 511");
    // The cause is a typed source, not repeated in the message.
    let source = std::error::Error::source(&err).expect("the affinity error is the source");
    assert!(
        source
            .downcast_ref::<gears_runtime::cpu_list::AffinityError>()
            .is_some(),
        "{source:?}"
    );
}
