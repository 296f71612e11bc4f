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
