//! The centralized model: one global agent on the first CPU schedules the others with remote
//! commits, singly and in batches, and learns about higher-class bursts from CPU messages.

mod common;

use std::collections::VecDeque;

use common::config;
use ghost_dsl::sim::{Interference, SimEnclave, TaskSpec, Workload, workloads};
use ghost_dsl::{
    Agent, AgentConfig, AgentEnclave, AgentModel, BarrierToken, CommitFlags, Cpu, CpuList, Gtid,
    MessageKind, Payload, RunFlags, RunRequestOptions, TxnState,
};

/// A centralized FIFO: a global queue, idle CPUs filled in one batch per iteration.
#[derive(Default)]
struct CentralFifo {
    queue: VecDeque<(Gtid, BarrierToken)>,
    running: Vec<Option<Gtid>>,
    unavailable: CpuList,
    batch_sizes: Vec<usize>,
    failures: Vec<TxnState>,
    cpu_messages: Vec<MessageKind>,
    own_cpu_commit: Option<TxnState>,
}

impl CentralFifo {
    fn stop_running(&mut self, gtid: Gtid) {
        for slot in &mut self.running {
            if *slot == Some(gtid) {
                *slot = None;
            }
        }
    }
}

impl Agent for CentralFifo {
    fn model(&self) -> AgentModel {
        AgentModel::Centralized
    }

    fn enclave_ready(&mut self, enclave: &mut AgentEnclave<'_>) {
        self.running = vec![None; enclave.topology().num_cpus()];
    }

    fn run(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_>) {
        let barrier = enclave.agent_barrier();
        let ch = enclave.agent_channel();
        assert_eq!(ch, enclave.default_channel());
        while let Some(msg) = enclave.next_message(ch) {
            match *msg.payload() {
                Payload::TaskNew(n) if n.runnable => self.queue.push_back((n.gtid, msg.seqnum())),
                Payload::TaskWakeup(w) => self.queue.push_back((w.gtid, msg.seqnum())),
                Payload::TaskPreempt(p) => {
                    self.stop_running(p.gtid);
                    self.queue.push_front((p.gtid, msg.seqnum()));
                }
                Payload::TaskBlocked(b) => self.stop_running(b.gtid),
                Payload::CpuNotIdle(c) => {
                    self.cpu_messages.push(msg.kind());
                    self.unavailable.insert(c.cpu.id()).unwrap();
                }
                Payload::CpuAvailable(c) => {
                    self.cpu_messages.push(msg.kind());
                    self.unavailable.remove(c.cpu.id());
                }
                _ => {}
            }
        }
        if self.own_cpu_commit.is_none()
            && let Some(&(gtid, seq)) = self.queue.front()
        {
            let mut req = enclave.run_request(cpu);
            req.open(RunRequestOptions {
                target: gtid,
                target_barrier: seq,
                agent_barrier: barrier,
                commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
            });
            req.commit();
            self.own_cpu_commit = Some(req.state());
        }
        let mut batch = CpuList::new();
        let mut picked = Vec::new();
        for id in enclave.cpus().iter().filter(|&id| id != cpu.id()) {
            if self.running[id].is_some() || self.unavailable.contains(id) {
                continue;
            }
            let Some((gtid, seq)) = self.queue.pop_front() else {
                break;
            };
            let target = enclave.topology().cpu(id).unwrap();
            enclave.run_request(target).open(RunRequestOptions {
                target: gtid,
                target_barrier: seq,
                agent_barrier: barrier,
                commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
            });
            batch.insert(id).unwrap();
            picked.push((target, gtid, seq));
        }
        if !picked.is_empty() {
            self.batch_sizes.push(picked.len());
            enclave.commit_run_requests(&batch);
            for (target, gtid, seq) in picked {
                let state = enclave.run_request(target).state();
                if state == TxnState::Complete {
                    self.running[target.id()] = Some(gtid);
                } else {
                    self.failures.push(state);
                    self.queue.push_front((gtid, seq));
                }
            }
        }
        enclave.local_yield(barrier, RunFlags::NONE);
    }
}

const T: u64 = 10_000_000;

#[test]
fn global_agent_runs_the_loops_side_by_side_on_the_other_cpus() {
    let sim = SimEnclave::new(config(workloads::tutorial_busy_loops(T))).unwrap();
    let mut agent = CentralFifo::default();
    let report = sim
        .run(&mut agent, &AgentConfig::new("0-2".parse().unwrap()))
        .unwrap();
    assert_eq!(agent.own_cpu_commit, Some(TxnState::InvalidCpu));
    for t in &report.tasks {
        assert!(t.end_ns.unwrap() < T + 50_000, "{t:?}");
    }
    assert_eq!(report.cpus[0].task_ns, 0, "the agent's CPU runs no task");
    assert!(report.cpus[1].task_ns >= T && report.cpus[2].task_ns >= T);
    assert!(agent.failures.is_empty(), "{:?}", agent.failures);
}

#[test]
fn one_batch_fills_every_idle_cpu() {
    let tasks = (0..3)
        .map(|i| TaskSpec::new(format!("t{i}")).run(1_000_000))
        .collect();
    let sim = SimEnclave::new(config(Workload::new(tasks))).unwrap();
    let mut agent = CentralFifo::default();
    let report = sim
        .run(&mut agent, &AgentConfig::new("0-3".parse().unwrap()))
        .unwrap();
    assert_eq!(agent.batch_sizes[0], 3);
    assert_eq!(report.commits, 3);
    assert!(report.tasks.iter().all(|t| t.start_ns.unwrap() < 5_000));
}

#[test]
fn bursts_on_task_cpus_are_reported_to_the_global_agent() {
    let workload = Workload::new(vec![TaskSpec::new("t").run(1_000_000)]);
    let burst = Interference {
        cpu: 1,
        start_ns: 100_000,
        duration_ns: 200_000,
    };
    let sim = SimEnclave::new(config(workload).with_interference(burst)).unwrap();
    let mut agent = CentralFifo::default();
    let report = sim
        .run(&mut agent, &AgentConfig::new("0-2".parse().unwrap()))
        .unwrap();
    assert_eq!(
        agent.cpu_messages,
        [MessageKind::CpuNotIdle, MessageKind::CpuAvailable]
    );
    let t = report.task("t").unwrap();
    assert_eq!(t.preemptions, 1);
    // Preempted on cpu1 at 100 µs, re-placed on cpu2 right away: no 200 µs gap.
    assert!(t.end_ns.unwrap() < 1_050_000, "{t:?}");
    assert_eq!(report.cpus[1].interference_ns, 200_000);
    assert!(report.cpus[2].task_ns > 800_000);
}

#[test]
fn centralized_needs_two_cpus() {
    let sim = SimEnclave::new(config(workloads::tutorial_busy_loops(1000))).unwrap();
    let err = sim
        .run(
            &mut CentralFifo::default(),
            &AgentConfig::new("3".parse().unwrap()),
        )
        .unwrap_err();
    assert!(err.to_string().contains("needs at least two CPUs"), "{err}");
}
