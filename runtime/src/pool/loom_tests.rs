//! loom models of the pool's claim/complete protocol and its sleep handshake.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p gears-runtime --lib --release pool::loom_tests`.
//! They drive the shipped code (`Worker::spawn`, `JobHandle::sync`, `JobSlot`, `Shared::sleep`),
//! built against loom's atomics, `UnsafeCell` and park/unpark through `crate::sync`.

use std::panic::{self, AssertUnwindSafe};

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use super::job::JobHeader;
use super::shared::Shared;
use super::worker::Worker;
use crate::sync::Arc;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

/// A worker of `shared` running on the current loom thread.
fn worker(shared: &Arc<Shared>, index: usize) -> Worker {
    shared.register_thread(index, thread::current());
    Worker::new(index, Arc::clone(shared))
}

/// One attempt by worker `index` to claim worker 0's published job and run it.
fn try_steal_once(shared: &Arc<Shared>, index: usize) -> bool {
    let thief = worker(shared, index);
    match shared.slot(0).steal() {
        Some(job) => {
            // SAFETY: claimed from the slot; the owner waits for `done` before its frame ends.
            unsafe { JobHeader::execute(job, &thief) };
            true
        }
        None => false,
    }
}

/// Runs `owner_side` as worker 0 of a two-worker pool while worker 1 tries once to steal.
fn owner_with_one_thief(owner_side: impl Fn(&Worker) + Sync + Send + 'static) {
    model(move || {
        let shared = Arc::new(Shared::new(2));
        let thief_shared = Arc::clone(&shared);
        let thief = thread::spawn(move || try_steal_once(&thief_shared, 1));
        owner_side(&worker(&shared, 0));
        thief.join().unwrap();
    });
}

#[test]
fn sync_gets_the_value_whether_the_job_was_stolen_or_not() {
    owner_with_one_thief(|owner| {
        let borrowed = 21u64;
        let value = owner.spawn(|_| borrowed * 2, |_, handle| handle.sync());
        assert_eq!(value, 42);
    });
}

#[test]
fn a_published_job_is_claimed_exactly_once() {
    model(|| {
        let shared = Arc::new(Shared::new(3));
        let runs = Arc::new(AtomicUsize::new(0));
        let thieves: Vec<_> = (1..3)
            .map(|index| {
                let shared = Arc::clone(&shared);
                thread::spawn(move || try_steal_once(&shared, index))
            })
            .collect();

        let owner = worker(&shared, 0);
        let counted = Arc::clone(&runs);
        owner.spawn(
            move |_| {
                counted.fetch_add(1, Ordering::Relaxed);
            },
            |_, handle| handle.sync(),
        );
        let claims = thieves
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|&c| c)
            .count();
        assert!(claims <= 1, "two thieves claimed one job");
        assert_eq!(runs.load(Ordering::Relaxed), 1, "the job ran exactly once");
    });
}

#[test]
fn a_stolen_jobs_panic_reaches_sync() {
    model(|| {
        let shared = Arc::new(Shared::new(2));
        let thief_shared = Arc::clone(&shared);
        let thief = thread::spawn(move || try_steal_once(&thief_shared, 1));

        let owner = worker(&shared, 0);
        let caught = panic::catch_unwind(AssertUnwindSafe(|| {
            owner.spawn(
                |_| -> u32 { panic!("job failed") },
                |_, handle| handle.sync(),
            )
        }));
        assert!(caught.is_err(), "the job's panic is re-raised by sync");
        thief.join().unwrap();
    });
}

#[test]
fn a_sleeping_worker_is_woken_for_published_work_and_for_shutdown() {
    model(|| {
        let shared = Arc::new(Shared::new(2));
        let helper_shared = Arc::clone(&shared);
        let helper = thread::spawn(move || worker(&helper_shared, 1).run_loop());

        let owner = worker(&shared, 0);
        let value = owner.spawn(|_| 7u32, |_, handle| handle.sync());
        assert_eq!(value, 7);
        shared.terminate();
        helper.join().unwrap();
    });
}

#[test]
fn a_scopes_jobs_each_run_once_and_are_settled_before_it_returns() {
    // Two jobs in a loop: the first is published at once and may be stolen; the second is local
    // and gets published while the owner waits (`refill_slot`). The second handle is never synced:
    // the scope itself must settle it before freeing it.
    owner_with_one_thief(|owner| {
        let runs = Arc::new(AtomicUsize::new(0));
        let total = owner.scope(|s| {
            let first = {
                let runs = Arc::clone(&runs);
                s.spawn(move |_| {
                    runs.fetch_add(1, Ordering::Relaxed);
                    10u32
                })
            };
            let second = {
                let runs = Arc::clone(&runs);
                s.spawn(move |_| {
                    runs.fetch_add(1, Ordering::Relaxed);
                    5u32
                })
            };
            let _never_synced = second;
            first.sync()
        });
        assert_eq!(total, 10);
        assert_eq!(runs.load(Ordering::Relaxed), 2, "each job ran exactly once");
    });
}
