//! The thread enclave's API as a user meets it: the centralized model, bad CPU lists, spawning
//! from a managed thread, `blocking`, `handoff`, RPCs. Each test runs in a child process.

mod threads_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use gears_examples::ghost::centralized::CentralizedFifo;
use gears_examples::ghost::fifo::Fifo;
use ghost_dsl::prelude::*;
use ghost_dsl::threads::{self, ThreadEnclave, ThreadError, ThreadHandle};
use ghost_dsl::{MessageKind, RPC_ENODEV};
use threads_support::{calibrate, current_cpu, in_child, on, patient, spin};

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn the_centralized_agent_keeps_its_cpu_and_schedules_the_other() {
    in_child(
        "the_centralized_agent_keeps_its_cpu_and_schedules_the_other",
        LIMIT,
        || {
            let enclave = ThreadEnclave::new(patient()).unwrap();
            let iters = calibrate(Duration::from_millis(30));
            let cpus = Arc::new(Mutex::new(Vec::new()));
            for name in ["t1", "t2"] {
                let cpus = cpus.clone();
                enclave
                    .spawn(name, move || {
                        spin(iters);
                        cpus.lock().unwrap().push(current_cpu());
                    })
                    .unwrap();
            }
            let report = CentralizedFifo::default().run(enclave, on("0-1")).unwrap();
            println!("{report}");
            // CPU 0 is the global agent's: both loops ran on CPU 1, one after the other.
            assert_eq!(*cpus.lock().unwrap(), [1, 1]);
            let [a, b] = ["t1", "t2"].map(|n| {
                let t = report.task(n).unwrap();
                (t.start_ns.unwrap(), t.end_ns.unwrap())
            });
            assert!(
                a.0.max(b.0) >= a.1.min(b.1),
                "one task CPU runs one loop at a time"
            );
        },
    );
}

#[test]
fn bad_cpu_lists_are_refused_with_the_usable_cpus() {
    in_child(
        "bad_cpu_lists_are_refused_with_the_usable_cpus",
        LIMIT,
        || {
            let enclave = ThreadEnclave::new(patient()).unwrap();
            enclave.spawn("t", || {}).unwrap();
            let text = Fifo::default()
                .run(enclave, on("0-200"))
                .unwrap_err()
                .to_string();
            assert!(
                text.contains("\"0-200\"") && text.contains("may run on"),
                "{text}"
            );
            // An empty list says so, not that "" names CPUs the process may not use.
            let enclave = ThreadEnclave::new(patient()).unwrap();
            enclave.spawn("t", || {}).unwrap();
            let error = Fifo::default().run(enclave, on("")).unwrap_err();
            assert!(
                matches!(error.as_enclave::<ThreadError>(), Some(ThreadError::NoCpus)),
                "{error}"
            );
            assert!(error.to_string().contains("names no CPU"), "{error}");
            let enclave = ThreadEnclave::new(patient()).unwrap();
            let text = CentralizedFifo::default()
                .run(enclave, on("0"))
                .unwrap_err()
                .to_string();
            assert!(text.contains("at least two CPUs"), "{text}");
        },
    );
}

#[test]
fn managed_threads_spawn_managed_threads() {
    in_child("managed_threads_spawn_managed_threads", LIMIT, || {
        let enclave = ThreadEnclave::new(patient()).unwrap();
        let ran = Arc::new(AtomicU64::new(0));
        let r = ran.clone();
        enclave
            .spawn("parent", move || {
                let r2 = r.clone();
                threads::spawn("child", move || {
                    r2.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
                r.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        assert!(
            threads::spawn("outside", || {}).is_err(),
            "not from a managed thread"
        );
        let report = Fifo::default().run(enclave, on("0")).unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 2);
        assert_eq!(report.messages_of(MessageKind::TaskNew), 2);
        assert!(report.task("child").unwrap().end_ns.is_some());
    });
}

#[test]
fn blocking_gives_the_cpu_away_for_the_call() {
    in_child("blocking_gives_the_cpu_away_for_the_call", LIMIT, || {
        let enclave = ThreadEnclave::new(patient()).unwrap();
        let handle = enclave.handle();
        let order = Arc::new(Mutex::new(Vec::new()));
        let (o1, o2) = (order.clone(), order.clone());
        enclave
            .spawn("io", move || {
                let v = threads::blocking(|| {
                    std::thread::sleep(Duration::from_millis(50));
                    7
                });
                o1.lock().unwrap().push(format!("io done {v}"));
            })
            .unwrap();
        enclave
            .spawn("cpu", move || {
                o2.lock().unwrap().push("cpu ran".to_owned());
            })
            .unwrap();
        let report = Fifo::default().run(enclave, on("0")).unwrap();
        // FIFO on one CPU: `cpu` ran while `io` waited in its call.
        assert_eq!(*order.lock().unwrap(), ["cpu ran", "io done 7"]);
        assert!(report.messages_of(MessageKind::TaskWakeup) >= 1);
        assert_eq!(handle.thread_report().kernel_blocks, 0);
    });
}

#[test]
fn handoff_alternates_two_threads_on_one_cpu() {
    in_child("handoff_alternates_two_threads_on_one_cpu", LIMIT, || {
        let enclave = ThreadEnclave::new(patient()).unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let handles: Arc<OnceLock<[ThreadHandle; 2]>> = Arc::default();
        let turn = Arc::new(AtomicU64::new(0));
        let mut spawned = Vec::new();
        for me in 0..2u64 {
            let (log, handles, turn) = (log.clone(), handles.clone(), turn.clone());
            spawned.push(
                enclave
                    .spawn(format!("p{me}"), move || {
                        let other = &handles.get().unwrap()[1 - me as usize];
                        for _ in 0..50 {
                            while turn.load(Ordering::SeqCst) != me {
                                threads::park();
                            }
                            log.lock().unwrap().push(me);
                            turn.store(1 - me, Ordering::SeqCst);
                            other.handoff();
                        }
                        other.unpark();
                    })
                    .unwrap(),
            );
        }
        let _ = handles.set([spawned[0].clone(), spawned[1].clone()]);
        let report = Fifo::default().run(enclave, on("1")).unwrap();
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 100);
        assert!(
            log.iter()
                .enumerate()
                .all(|(i, &who)| who == (i % 2) as u64)
        );
        assert!(report.messages_of(MessageKind::TaskBlocked) >= 100);
    });
}

#[test]
fn rpcs_reach_the_agent_of_a_thread_enclave() {
    in_child("rpcs_reach_the_agent_of_a_thread_enclave", LIMIT, || {
        let enclave = ThreadEnclave::new(patient()).unwrap();
        enclave.spawn("t", || {}).unwrap();
        let mut full = FullAgent::new(Fifo::default(), enclave, on("0")).unwrap();
        let answer = full.rpc(1, &AgentRpcArgs::default()).unwrap();
        assert_eq!(answer.response_code, RPC_ENODEV);
        let report = full.run().unwrap();
        assert_eq!(report.messages_of(MessageKind::TaskDead), 1);
    });
}

/// A centralized round-robin: time slices, preempted tasks to the back (the agent-loop tests'
/// `Sliced`, on real threads).
#[derive(Default)]
struct Sliced {
    rq: std::collections::VecDeque<Gtid>,
    slice: Option<u64>,
}

#[ghost_scheduler(model = centralized, task = ())]
impl Sliced {
    fn enclave_ready(&mut self, cx: &mut Cx<'_>) {
        cx.set_time_slice(self.slice);
    }
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
        if msg.runnable {
            self.rq.push_back(task.gtid());
        }
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.pop_front()
    }
}

#[test]
fn the_centralized_agent_slices_time_by_preempting_a_remote_cpu() {
    in_child(
        "the_centralized_agent_slices_time_by_preempting_a_remote_cpu",
        LIMIT,
        || {
            let enclave = ThreadEnclave::new(patient().with_trace(true)).unwrap();
            let iters = calibrate(Duration::from_millis(60));
            for name in ["t1", "t2"] {
                enclave
                    .spawn(name, move || {
                        spin(iters);
                        assert_eq!(current_cpu(), 1, "ran on the task CPU");
                    })
                    .unwrap();
            }
            let report = Sliced {
                slice: Some(5_000_000),
                ..Sliced::default()
            }
            .run(enclave, on("0-1"))
            .unwrap();
            println!("{report}");
            let [a, b] = ["t1", "t2"].map(|n| report.task(n).unwrap().clone());
            // Interleaved on CPU 1 by remote commits to a busy CPU (each a MSG_TASK_PREEMPT and
            // a signal that stops the running thread).
            assert!(
                a.start_ns.unwrap().max(b.start_ns.unwrap())
                    < a.end_ns.unwrap().min(b.end_ns.unwrap()),
                "{report}"
            );
            assert!(a.preemptions >= 3 && b.preemptions >= 3, "{report}");
            assert!(report.messages_of(MessageKind::CpuTick) >= 10, "{report}");
        },
    );
}

/// Highest `TaskAttrs::priority` first, on one CPU.
#[derive(Default)]
struct ByPriority {
    rq: Vec<(i32, Gtid)>,
}

impl ByPriority {
    fn push(&mut self, task: &Task<()>) {
        self.rq.push((task.attrs().priority, task.gtid()));
        self.rq.sort();
    }
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl ByPriority {
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, cx: &mut Cx<'_>) {
        // The user value given at spawn comes through too (a panic here fails the run).
        let attrs = cx
            .task_attrs(task.gtid())
            .expect("a live task has attributes");
        assert_eq!(attrs.priority, task.attrs().priority);
        assert!(
            attrs.user::<&'static str>().is_some(),
            "the label given at spawn"
        );
        if msg.runnable {
            self.push(task);
        }
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.push(task);
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.push(task);
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.push(task);
    }
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.pop().map(|(_, gtid)| gtid)
    }
}

#[test]
fn spawn_attributes_reach_the_handlers() {
    in_child("spawn_attributes_reach_the_handlers", LIMIT, || {
        let enclave = ThreadEnclave::new(patient()).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        for (name, priority) in [("low", 1), ("high", 9), ("mid", 5)] {
            let order = order.clone();
            enclave
                .spawn_with(
                    name,
                    TaskAttrs::new()
                        .with_priority(priority)
                        .with_user::<&'static str>(name),
                    move || order.lock().unwrap().push(name),
                )
                .unwrap();
        }
        ByPriority::default().run(enclave, on("0")).unwrap();
        assert_eq!(*order.lock().unwrap(), ["high", "mid", "low"]);
    });
}
