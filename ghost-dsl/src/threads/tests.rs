//! Mechanics of the enclave under a minimal FIFO driver written against the kernel state
//! directly (the generated agents are tested through the public API in `tests/threads_*.rs`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::agents::Driver;
use super::kernel::State;
use super::*;
use crate::{
    AgentConfig, AgentModel, CommitFlags, Cpu, Gtid, Payload, RunFlags, RunRequestOptions,
    parse_cpu_str,
};

#[derive(Default)]
struct MiniFifo {
    rq: VecDeque<Gtid>,
    seq: std::collections::HashMap<Gtid, crate::BarrierToken>,
    log: Vec<String>,
}

impl Driver for MiniFifo {
    fn ready(&mut self, _st: &mut State, _cpu: Cpu) {}
    fn iterate(&mut self, st: &mut State, cpu: Cpu) {
        let barrier = st.agent_status(cpu).barrier();
        let ch = st.channel_of(cpu);
        while let Some(msg) = st.next_message(ch) {
            if let Some(g) = msg.gtid() {
                self.seq.insert(g, msg.seqnum());
            }
            self.log.push(msg.kind().name().to_owned());
            match msg.payload() {
                Payload::TaskNew(m) => self.rq.push_back(m.gtid),
                Payload::TaskWakeup(m) => self.rq.push_back(m.gtid),
                Payload::TaskPreempt(m) => self.rq.push_front(m.gtid),
                Payload::TaskYield(m) => self.rq.push_back(m.gtid),
                _ => {}
            }
        }
        let Some(target) = self.rq.pop_front() else {
            st.local_yield(cpu, barrier, RunFlags::NONE);
            return;
        };
        st.open(
            cpu,
            RunRequestOptions {
                target,
                target_barrier: self.seq[&target],
                agent_barrier: barrier,
                commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
            },
        );
        if !st.commit(cpu, cpu) {
            self.rq.push_front(target);
        }
    }
    fn stop_requested(&self) -> bool {
        false
    }
}

fn run(enclave: &mut ThreadEnclave, cpus: &str, driver: &mut MiniFifo) -> Result<(), ThreadError> {
    enclave.attach_cpus(
        AgentModel::PerCpu,
        &AgentConfig::new(parse_cpu_str(cpus).unwrap()),
    )?;
    enclave.ready(driver);
    enclave.run_driver(driver)
}

impl<D: Driver> Driver for &mut D {
    fn ready(&mut self, st: &mut State, cpu: Cpu) {
        (**self).ready(st, cpu);
    }
    fn iterate(&mut self, st: &mut State, cpu: Cpu) {
        (**self).iterate(st, cpu);
    }
    fn stop_requested(&self) -> bool {
        (**self).stop_requested()
    }
}

#[test]
fn fifo_on_one_cpu_runs_threads_one_after_the_other() {
    let mut enclave = ThreadEnclave::new(ThreadConfig::new()).unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    for name in ["a", "b", "c"] {
        let order = order.clone();
        enclave
            .spawn(name, move || {
                order.lock().unwrap().push(format!("{name} start"));
                let t = std::time::Instant::now();
                while t.elapsed() < Duration::from_millis(20) {}
                order.lock().unwrap().push(format!("{name} end"));
            })
            .unwrap();
    }
    let mut fifo = MiniFifo::default();
    run(&mut enclave, "0", &mut fifo).unwrap();
    let order = order.lock().unwrap().clone();
    assert_eq!(
        order,
        ["a start", "a end", "b start", "b end", "c start", "c end"]
    );
    let report = enclave.report();
    assert_eq!(report.messages_of(crate::MessageKind::TaskNew), 3);
    assert_eq!(report.messages_of(crate::MessageKind::TaskDead), 3);
    println!("{report}");
}

#[test]
fn sleep_park_yield_post_their_messages() {
    let mut enclave = ThreadEnclave::new(ThreadConfig::new()).unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    let c2 = counter.clone();
    let sleeper = enclave
        .spawn("sleeper", move || {
            sleep(Duration::from_millis(5));
            yield_now();
            park();
            c2.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let s2 = sleeper.clone();
    enclave
        .spawn("waker", move || {
            sleep(Duration::from_millis(30));
            s2.unpark();
        })
        .unwrap();
    let mut fifo = MiniFifo::default();
    run(&mut enclave, "0-1", &mut fifo).unwrap();
    assert_eq!(counter.load(Ordering::SeqCst), 1);
    let report = enclave.report();
    println!("{report}");
    assert!(report.messages_of(crate::MessageKind::TaskBlocked) >= 4);
    assert!(report.messages_of(crate::MessageKind::TaskWakeup) >= 3);
    assert_eq!(report.messages_of(crate::MessageKind::TaskYield), 1);
}

#[test]
#[ignore = "a timing probe, run by hand in release"]
fn probe_switch_cost() {
    for one_call in [true, false] {
        let mut enclave = ThreadEnclave::new(ThreadConfig::new()).unwrap();
        let turn = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let handles: Arc<std::sync::OnceLock<[ThreadHandle; 2]>> = Arc::default();
        let rounds = 20_000u32;
        let mut hs = Vec::new();
        for me in 0..2u32 {
            let (turn, handles) = (turn.clone(), handles.clone());
            hs.push(
                enclave
                    .spawn(format!("s{me}"), move || {
                        let other = &handles.get().unwrap()[1 - me as usize];
                        for _ in 0..rounds {
                            while turn.load(Ordering::Acquire) != me {
                                park();
                            }
                            turn.store(1 - me, Ordering::Release);
                            if one_call {
                                other.handoff();
                            } else {
                                other.unpark();
                            }
                        }
                        other.unpark();
                    })
                    .unwrap(),
            );
        }
        let _ = handles.set([hs[0].clone(), hs[1].clone()]);
        let mut fifo = MiniFifo::default();
        let t = std::time::Instant::now();
        run(&mut enclave, "1", &mut fifo).unwrap();
        let r = enclave.report();
        println!(
            "one_call={one_call}: {:?} per switch, {} agent runs, rt {}",
            t.elapsed() / (2 * rounds),
            r.agent_runs,
            r.realtime_agents
        );
        println!(
            "{:?} yields failed {} commits {}",
            r.messages_by_kind, r.failed_yields, r.commits
        );
    }
}

#[test]
#[ignore = "a timing probe, run by hand in release"]
fn probe_os_switch_cost() {
    let turn = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let handles: Arc<std::sync::OnceLock<[std::thread::Thread; 2]>> = Arc::default();
    let rounds = 20_000u32;
    let mut js = Vec::new();
    for me in 0..2u32 {
        let (turn, handles) = (turn.clone(), handles.clone());
        js.push(std::thread::spawn(move || {
            sys::set_affinity(0, &[1]).unwrap();
            while handles.get().is_none() {
                std::thread::yield_now();
            }
            let other = &handles.get().unwrap()[1 - me as usize];
            for _ in 0..rounds {
                while turn.load(Ordering::Acquire) != me {
                    std::thread::park();
                }
                turn.store(1 - me, Ordering::Release);
                other.unpark();
            }
        }));
    }
    let t = std::time::Instant::now();
    let _ = handles.set([js[0].thread().clone(), js[1].thread().clone()]);
    for j in js {
        j.join().unwrap();
    }
    println!("os: {:?} per switch", t.elapsed() / (2 * rounds));
}
