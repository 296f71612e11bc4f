//! Faults end a thread-enclave run cleanly: an agent that panics, a policy that breaks a rule or
//! panics in a handler, and a policy that never schedules a runnable thread (the watchdog) each
//! release every managed thread to the OS scheduler, which runs it to completion, and the run
//! returns the error with the report so far. Each test runs in a child process with a limit.

mod threads_support;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ghost_dsl::EnclaveBackend;
use ghost_dsl::prelude::*;
use ghost_dsl::threads::{self, ThreadConfig, ThreadEnclave, ThreadError};
use threads_support::{calibrate, in_child, on, spin};

const LIMIT: Duration = Duration::from_secs(30);

/// A FIFO whose `pick_next` panics on its `fail_at`-th call, or (with `lose`) forgets every
/// task it is told about, or (with `stale`) returns a task that has died.
#[derive(Default)]
struct Faulty {
    rq: VecDeque<Gtid>,
    picks: u32,
    fail_at: Option<u32>,
    lose: bool,
    dead: Option<Gtid>,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl Faulty {
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
        if msg.runnable && !self.lose {
            self.rq.push_back(task.gtid());
        }
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        if !self.lose {
            self.rq.push_back(task.gtid());
        }
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.rq.push_front(task.gtid());
    }
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {
        self.dead = Some(task.gtid());
    }
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.picks += 1;
        if Some(self.picks) == self.fail_at {
            panic!("pick_next bug");
        }
        if let Some(dead) = self.dead.filter(|_| self.fail_at == Some(0)) {
            return Some(dead);
        }
        self.rq.pop_front()
    }
}

/// Spawns `n` threads that each spin `iters` in a few chunks and count themselves done.
fn workers(enclave: &ThreadEnclave, n: usize, iters: u64, done: &Arc<AtomicU64>) {
    for i in 0..n {
        let done = done.clone();
        enclave
            .spawn(format!("w{i}"), move || {
                for _ in 0..4 {
                    spin(iters / 4);
                    threads::yield_now();
                }
                done.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
    }
}

#[test]
fn a_panicking_handler_releases_every_thread_and_names_the_handler() {
    in_child(
        "a_panicking_handler_releases_every_thread_and_names_the_handler",
        LIMIT,
        || {
            let enclave = ThreadEnclave::new(ThreadConfig::new()).unwrap();
            let handle = enclave.handle();
            let done = Arc::new(AtomicU64::new(0));
            workers(&enclave, 3, calibrate(Duration::from_millis(20)), &done);
            let policy = Faulty {
                fail_at: Some(3),
                ..Faulty::default()
            };
            let err = policy.run(enclave, on("0")).unwrap_err();
            println!("{err}");
            let panic = err.as_handler_panic().expect("a handler panic");
            assert_eq!(panic.handler, "pick_next");
            assert!(panic.payload.contains("pick_next bug"));
            // Every thread ran to completion under the OS scheduler before `run` returned.
            assert_eq!(done.load(Ordering::SeqCst), 3);
            let report = err.report().expect("the report so far");
            assert_eq!(report.tasks.len(), 3);
            assert!(report.tasks.iter().all(|t| t.end_ns.is_some()));
            assert!(handle.thread_report().fell_back);
        },
    );
}

#[test]
fn a_broken_rule_releases_every_thread() {
    in_child("a_broken_rule_releases_every_thread", LIMIT, || {
        let enclave = ThreadEnclave::new(ThreadConfig::new()).unwrap();
        let done = Arc::new(AtomicU64::new(0));
        workers(&enclave, 3, calibrate(Duration::from_millis(10)), &done);
        // After the first death, pick_next keeps choosing the dead task.
        let policy = Faulty {
            fail_at: Some(0),
            ..Faulty::default()
        };
        let err = policy.run(enclave, on("0")).unwrap_err();
        println!("{err}");
        let (first, _) = err.as_transition().expect("a broken task state rule");
        assert!(first.during.starts_with("pick_next"), "{first}");
        assert_eq!(done.load(Ordering::SeqCst), 3);
    });
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
fn an_agent_panic_releases_every_thread() {
    in_child("an_agent_panic_releases_every_thread", LIMIT, || {
        let mut enclave = ThreadEnclave::new(ThreadConfig::new()).unwrap();
        let done = Arc::new(AtomicU64::new(0));
        workers(&enclave, 2, calibrate(Duration::from_millis(10)), &done);
        let mut agent = Crashing;
        enclave.attach(&mut agent, &on("0-1")).unwrap();
        let err = enclave.run_to_end(&mut agent).unwrap_err();
        println!("{err}");
        match &err {
            ThreadError::AgentPanicked { message, .. } => assert_eq!(message, "agent crashed"),
            other => panic!("expected an agent panic, got {other:?}"),
        }
        assert_eq!(done.load(Ordering::SeqCst), 2);
        assert!(enclave.thread_report().fell_back);
    });
}

#[test]
fn the_watchdog_ends_a_run_whose_threads_are_never_scheduled() {
    in_child(
        "the_watchdog_ends_a_run_whose_threads_are_never_scheduled",
        LIMIT,
        || {
            let limit = Duration::from_millis(300);
            let enclave =
                ThreadEnclave::new(ThreadConfig::new().with_watchdog(Some(limit))).unwrap();
            let done = Arc::new(AtomicU64::new(0));
            workers(&enclave, 2, calibrate(Duration::from_millis(5)), &done);
            let policy = Faulty {
                lose: true,
                ..Faulty::default()
            };
            let start = Instant::now();
            let err = policy.run(enclave, on("0")).unwrap_err();
            let took = start.elapsed();
            let text = err.to_string();
            println!("{text} (after {took:?})");
            assert!(text.contains("watchdog"), "{text}");
            assert!(
                text.contains("w0") && text.contains("w1"),
                "names the threads: {text}"
            );
            assert!(took >= limit, "ended before the limit");
            assert_eq!(done.load(Ordering::SeqCst), 2, "released threads completed");
        },
    );
}

#[test]
fn a_thread_blocked_in_the_kernel_does_not_stall_the_enclave() {
    in_child(
        "a_thread_blocked_in_the_kernel_does_not_stall_the_enclave",
        LIMIT,
        || {
            // `holder` takes a std Mutex and yields while holding it; `waiter` then blocks on
            // it in the kernel. Only if the enclave notices that block does `holder` get the
            // CPU back to release the lock.
            let enclave =
                ThreadEnclave::new(ThreadConfig::new().with_watchdog(Some(Duration::from_secs(3))))
                    .unwrap();
            let handle = enclave.handle();
            let lock = Arc::new(std::sync::Mutex::new(0u32));
            let (l1, l2) = (lock.clone(), lock.clone());
            enclave
                .spawn("holder", move || {
                    let mut guard = l1.lock().unwrap();
                    threads::yield_now();
                    *guard += 1;
                })
                .unwrap();
            enclave
                .spawn("waiter", move || {
                    *l2.lock().unwrap() += 1;
                })
                .unwrap();
            let report = Faulty::default().run(enclave, on("0")).unwrap();
            assert_eq!(*lock.lock().unwrap(), 2);
            let details = handle.thread_report();
            assert!(details.kernel_blocks >= 1, "{details}");
            assert!(
                report.end_ns < 2_000_000_000,
                "took {} ms",
                report.end_ns / 1_000_000
            );
        },
    );
}

#[test]
fn without_kernel_block_detection_the_watchdog_names_the_starved_thread() {
    in_child(
        "without_kernel_block_detection_the_watchdog_names_the_starved_thread",
        LIMIT,
        || {
            let enclave = ThreadEnclave::new(
                ThreadConfig::new()
                    .with_kernel_block_detection(false)
                    .with_watchdog(Some(Duration::from_millis(300))),
            )
            .unwrap();
            let lock = Arc::new(std::sync::Mutex::new(0u32));
            let (l1, l2) = (lock.clone(), lock.clone());
            enclave
                .spawn("holder", move || {
                    let _guard = l1.lock().unwrap();
                    threads::yield_now();
                })
                .unwrap();
            enclave
                .spawn("waiter", move || {
                    *l2.lock().unwrap() += 1;
                })
                .unwrap();
            let text = Faulty::default()
                .run(enclave, on("0"))
                .unwrap_err()
                .to_string();
            println!("{text}");
            assert!(
                text.contains("watchdog") && text.contains("holder"),
                "{text}"
            );
            assert_eq!(
                *lock.lock().unwrap(),
                1,
                "released, the waiter got the lock"
            );
        },
    );
}

/// A per-CPU FIFO written by hand that, once `trap` is set and it has committed another thread
/// (stopping the one holding `lock`), takes `lock` in its next iteration: the agent waits for a
/// thread that waits for the agent.
struct Trapped {
    rq: VecDeque<(Gtid, BarrierToken)>,
    lock: Arc<std::sync::Mutex<()>>,
    trap: Arc<std::sync::atomic::AtomicBool>,
    armed: bool,
}

impl Agent for Trapped {
    fn model(&self) -> AgentModel {
        AgentModel::PerCpu
    }
    fn run(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_>) {
        let barrier = enclave.agent_barrier();
        let channel = enclave.agent_channel();
        while let Some(msg) = enclave.next_message(channel) {
            let Some(gtid) = msg.gtid() else { continue };
            self.rq.retain(|(g, _)| *g != gtid);
            if matches!(
                msg.payload(),
                Payload::TaskNew(_) | Payload::TaskWakeup(_) | Payload::TaskPreempt(_)
            ) {
                self.rq.push_back((gtid, msg.seqnum()));
            }
        }
        if self.armed {
            drop(self.lock.lock().unwrap());
        }
        let Some((target, target_barrier)) = self.rq.pop_front() else {
            enclave.local_yield(barrier, RunFlags::NONE);
            return;
        };
        let mut req = enclave.run_request(cpu);
        req.open(RunRequestOptions {
            target,
            target_barrier,
            agent_barrier: barrier,
            commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
        });
        if !req.commit() {
            self.rq.push_front((target, target_barrier));
        } else if self.trap.load(Ordering::SeqCst) {
            self.armed = true;
        }
    }
}

#[test]
fn an_agent_stuck_on_a_stopped_threads_lock_is_broken_by_the_watchdog() {
    in_child(
        "an_agent_stuck_on_a_stopped_threads_lock_is_broken_by_the_watchdog",
        LIMIT,
        || {
            let limit = Duration::from_millis(300);
            let mut enclave = ThreadEnclave::new(
                ThreadConfig::new()
                    .with_watchdog(Some(limit))
                    .with_inline_agent(false),
            )
            .unwrap();
            let lock = Arc::new(std::sync::Mutex::new(()));
            let trap = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let done = Arc::new(AtomicU64::new(0));
            let (d, t) = (done.clone(), trap.clone());
            enclave
                .spawn("waker", move || {
                    // Its wakeups preempt `holder`; it goes on once one of them found `holder`
                    // holding the lock. (One 20 ms sleep was not enough: on a starved machine
                    // `holder` had not run yet when it ended, so nothing was ever trapped.)
                    while !t.load(Ordering::SeqCst) {
                        threads::sleep(Duration::from_millis(1));
                    }
                    d.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            let (l, t, d) = (lock.clone(), trap.clone(), done.clone());
            let iters = calibrate(Duration::from_millis(200));
            enclave
                .spawn("holder", move || {
                    let _guard = l.lock().unwrap();
                    t.store(true, Ordering::SeqCst);
                    spin(iters); // preempted (and stopped) in here, holding the lock
                    d.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            let mut agent = Trapped {
                rq: VecDeque::new(),
                lock,
                trap,
                armed: false,
            };
            enclave.attach(&mut agent, &on("0")).unwrap();
            let start = Instant::now();
            let err = enclave.run_to_end(&mut agent).unwrap_err();
            println!("{err} (after {:?})", start.elapsed());
            assert!(matches!(err, ThreadError::AgentStalled { .. }), "{err:?}");
            assert_eq!(done.load(Ordering::SeqCst), 2, "both threads completed");
        },
    );
}
