//! `Worker::scope`: any number of jobs spawned in a loop and synced by handle, borrowing from
//! the caller's stack; panics carried to the scope's end; nothing left running.

mod support;

use support::within;

use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use gears_runtime::pool::{Pool, current_worker};

/// Spins until `flag` is set; panics (failing the job, hence the test) after `limit`.
fn wait_for(flag: &AtomicBool, limit: Duration, what: &str) {
    let start = Instant::now();
    while !flag.load(Ordering::Acquire) {
        assert!(start.elapsed() < limit, "gave up waiting for {what}");
        std::hint::spin_loop();
    }
}

#[test]
fn a_loop_of_jobs_borrows_the_stack_and_syncs_in_any_order() {
    within(Duration::from_secs(60), || {
        for workers in 1..=3 {
            let pool = Pool::new(workers).unwrap();
            let data: Vec<u64> = (0..10_000).collect();
            let chunks: Vec<&[u64]> = data.chunks(97).collect();
            let mut squares = vec![0u64; chunks.len()];
            let (forward, backward) = pool.install(|w| {
                w.scope(|s| {
                    let handles: Vec<_> = chunks
                        .iter()
                        .zip(squares.iter_mut())
                        .map(|(chunk, out)| {
                            s.spawn(move |_| {
                                *out = chunk.iter().map(|x| x * x).sum();
                                chunk.iter().sum::<u64>()
                            })
                        })
                        .collect();
                    assert_eq!(s.spawned(), chunks.len());
                    let forward: Vec<u64> = handles.into_iter().map(|h| h.sync()).collect();
                    // A second round, synced last-first.
                    let mut again: Vec<_> = chunks
                        .iter()
                        .map(|chunk| s.spawn(move |_| chunk.len() as u64))
                        .collect();
                    let mut backward = Vec::new();
                    while let Some(h) = again.pop() {
                        backward.push(h.sync());
                    }
                    (forward, backward)
                })
            });
            let expected: Vec<u64> = chunks.iter().map(|c| c.iter().sum()).collect();
            assert_eq!(forward, expected, "{workers} workers");
            let lengths: Vec<u64> = chunks.iter().rev().map(|c| c.len() as u64).collect();
            assert_eq!(backward, lengths, "{workers} workers");
            let want: Vec<u64> = chunks
                .iter()
                .map(|c| c.iter().map(|x| x * x).sum())
                .collect();
            assert_eq!(
                squares, want,
                "{workers} workers: every job wrote its output"
            );
        }
    });
}

#[test]
fn jobs_not_synced_by_handle_run_before_the_scope_returns() {
    within(Duration::from_secs(30), || {
        let pool = Pool::new(2).unwrap();
        let ran = AtomicUsize::new(0);
        pool.install(|w| {
            w.scope(|s| {
                for i in 0..100 {
                    let ran = &ran;
                    let handle = s.spawn(move |_| {
                        ran.fetch_add(1, Ordering::Relaxed);
                        i
                    });
                    match i % 3 {
                        // Dropped or leaked: the scope still runs the job.
                        0 => {
                            let _dropped = handle;
                        }
                        1 => _ = Box::leak(Box::new(handle)),
                        _ => assert_eq!(handle.sync(), i),
                    }
                }
            });
            // Checked inside the pool, before anything else could run them.
            assert_eq!(ran.load(Ordering::Relaxed), 100);
        });
    });
}

#[test]
fn a_waiting_owner_keeps_feeding_helpers_the_scopes_later_jobs() {
    // Job 0 is claimed by the helper and waits until job 1 has started. Job 1 is still local to
    // the owner when the owner syncs job 0: only if waiting republishes it (and runs it) does
    // job 0 ever finish.
    within(Duration::from_secs(30), || {
        let pool = Pool::new(2).unwrap();
        let first_started = AtomicBool::new(false);
        let second_started = AtomicBool::new(false);
        let ran_on = pool.install(|w| {
            w.scope(|s| {
                let (first, second) = (&first_started, &second_started);
                let h0 = s.spawn(move |_| {
                    first.store(true, Ordering::Release);
                    wait_for(second, Duration::from_secs(20), "job 1 to start");
                    current_worker()
                });
                let h1 = s.spawn(move |_| {
                    second.store(true, Ordering::Release);
                    current_worker()
                });
                wait_for(first, Duration::from_secs(20), "a helper to claim job 0");
                let a = h0.sync();
                let b = h1.sync();
                (a, b, s.worker().index())
            })
        });
        assert_ne!(ran_on.0, Some(ran_on.2), "job 0 ran on the helper");
        assert!(ran_on.1.is_some(), "job 1 ran in the pool");
    });
}

#[test]
fn an_unsynced_jobs_panic_reaches_the_caller_after_every_other_job_finished() {
    within(Duration::from_secs(30), || {
        let pool = Pool::new(2).unwrap();
        let finished = AtomicUsize::new(0);
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.install(|w| {
                w.scope(|s| {
                    for i in 0..50u32 {
                        let finished = &finished;
                        s.spawn(move |_| {
                            if i == 7 {
                                panic!("job 7 failed");
                            }
                            thread::sleep(Duration::from_micros(200));
                            finished.fetch_add(1, Ordering::SeqCst);
                        });
                    }
                });
                unreachable!("the scope re-raises job 7's panic");
            })
        }));
        let payload = caught.expect_err("the panic reaches install's caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"job 7 failed"));
        assert_eq!(
            finished.load(Ordering::SeqCst),
            49,
            "every other job finished first"
        );
        // The pool is still usable.
        assert_eq!(pool.install(|w| w.scope(|s| s.spawn(|_| 5).sync())), 5);
    });
}

#[test]
fn a_synced_panic_is_raised_by_sync_and_can_be_handled_there() {
    within(Duration::from_secs(30), || {
        let pool = Pool::new(2).unwrap();
        let outcome = pool.install(|w| {
            w.scope(|s| {
                let bad = s.spawn(|_| -> u32 { panic!("bad job") });
                let good = s.spawn(|_| 3u32);
                let bad = panic::catch_unwind(AssertUnwindSafe(|| bad.sync())).is_err();
                (bad, good.sync())
            })
        });
        assert_eq!(outcome, (true, 3));
    });
}

#[test]
fn a_panicking_scope_closure_cancels_or_waits_for_its_jobs() {
    within(Duration::from_secs(30), || {
        let pool = Pool::new(2).unwrap();
        let running = AtomicUsize::new(0);
        let peak_after = Mutex::new(None);
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.install(|w| {
                w.scope(|s| {
                    for _ in 0..20 {
                        let running = &running;
                        s.spawn(move |_| {
                            running.fetch_add(1, Ordering::SeqCst);
                            thread::sleep(Duration::from_millis(2));
                            running.fetch_sub(1, Ordering::SeqCst);
                        });
                    }
                    panic!("the closure failed");
                })
            })
        }));
        *peak_after.lock().unwrap() = Some(running.load(Ordering::SeqCst));
        assert!(caught.is_err());
        assert_eq!(
            *peak_after.lock().unwrap(),
            Some(0),
            "no job was still running when the panic left the pool"
        );
    });
}

#[test]
fn scopes_nest_inside_jobs() {
    within(Duration::from_secs(30), || {
        let pool = Pool::new(3).unwrap();
        let total: u64 = pool.install(|w| {
            w.scope(|s| {
                let outer: Vec<_> = (0..8u64)
                    .map(|i| {
                        s.spawn(move |w| {
                            w.scope(|inner| {
                                let hs: Vec<_> =
                                    (0..8u64).map(|j| inner.spawn(move |_| i * 8 + j)).collect();
                                hs.into_iter().map(|h| h.sync()).sum::<u64>()
                            })
                        })
                    })
                    .collect();
                outer.into_iter().map(|h| h.sync()).sum()
            })
        });
        assert_eq!(total, (0..64).sum::<u64>());
    });
}
