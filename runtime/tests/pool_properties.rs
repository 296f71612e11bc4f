//! Property test: random fork/join trees on pools of 1-3 workers behave like the sequential
//! program: same value, a panic exactly when the tree contains one, every leaf run exactly once.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gears_runtime::pool::{Pool, Worker};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Plan {
    Leaf(u64),
    Panic,
    Fork {
        job: Box<Plan>,
        continuation: Box<Plan>,
        /// Sync the job before running the continuation's own work (else after).
        sync_first: bool,
        /// Sleep in the continuation first, so helpers get a chance to claim the job.
        pause_us: u16,
    },
}

impl Plan {
    fn has_panic(&self) -> bool {
        match self {
            Plan::Leaf(_) => false,
            Plan::Panic => true,
            Plan::Fork {
                job, continuation, ..
            } => job.has_panic() || continuation.has_panic(),
        }
    }

    fn leaves(&self) -> usize {
        match self {
            Plan::Leaf(_) => 1,
            Plan::Panic => 0,
            Plan::Fork {
                job, continuation, ..
            } => job.leaves() + continuation.leaves(),
        }
    }

    fn sequential(&self) -> u64 {
        match self {
            Plan::Leaf(v) => *v,
            Plan::Panic => unreachable!("only called on panic-free plans"),
            Plan::Fork {
                job, continuation, ..
            } => combine(job.sequential(), continuation.sequential()),
        }
    }
}

fn combine(job: u64, continuation: u64) -> u64 {
    job.wrapping_mul(31).wrapping_add(continuation) ^ 0x5bd1
}

fn run(w: &Worker, plan: &Plan, leaves_run: &AtomicUsize) -> u64 {
    match plan {
        Plan::Leaf(v) => {
            leaves_run.fetch_add(1, Ordering::Relaxed);
            *v
        }
        Plan::Panic => panic!("planned panic"),
        Plan::Fork {
            job,
            continuation,
            sync_first,
            pause_us,
        } => w.spawn(
            |w| run(w, job, leaves_run),
            |w, handle| {
                if *pause_us > 0 {
                    std::thread::sleep(Duration::from_micros(u64::from(*pause_us)));
                }
                if *sync_first {
                    let a = handle.sync();
                    combine(a, run(w, continuation, leaves_run))
                } else {
                    let b = run(w, continuation, leaves_run);
                    combine(handle.sync(), b)
                }
            },
        ),
    }
}

fn plan() -> impl Strategy<Value = Plan> {
    let leaf = prop_oneof![20 => any::<u64>().prop_map(Plan::Leaf), 1 => Just(Plan::Panic)];
    leaf.prop_recursive(8, 256, 2, |inner| {
        (
            inner.clone(),
            inner,
            any::<bool>(),
            prop_oneof![4 => Just(0u16), 1 => 1u16..300],
        )
            .prop_map(|(job, continuation, sync_first, pause_us)| Plan::Fork {
                job: Box::new(job),
                continuation: Box::new(continuation),
                sync_first,
                pause_us,
            })
    })
}

fn silence_planned_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"planned panic") {
                default(info);
            }
        }));
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn pool_runs_random_fork_join_trees_like_the_sequential_program(
        plan in plan(),
        workers in 1usize..=3,
    ) {
        silence_planned_panics();
        let pool = Pool::new(workers).unwrap();
        let leaves_run = AtomicUsize::new(0);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.install(|w| run(w, &plan, &leaves_run))
        }));
        if plan.has_panic() {
            let payload = outcome.expect_err("a planned panic must reach install's caller");
            prop_assert_eq!(payload.downcast_ref::<&str>(), Some(&"planned panic"));
            prop_assert!(leaves_run.load(Ordering::Relaxed) <= plan.leaves());
        } else {
            prop_assert_eq!(outcome.ok(), Some(plan.sequential()));
            prop_assert_eq!(leaves_run.load(Ordering::Relaxed), plan.leaves());
        }
        // The pool is still usable afterwards.
        prop_assert_eq!(pool.install(|w| w.join(|_| 1, |_| 2)), (1, 2));
    }
}
