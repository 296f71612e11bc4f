//! The simulated kernel against the ghOSt kernel's ABI (kernel/sched/ghost.c, the uapi header)
//! and the corrections found using it as a user would: a reaped task's commit, pings and
//! barriers, association with pending messages, the uapi flag values, a latched task's start, the
//! clock of `run_until`, the last messages of a run.

mod common;

use std::collections::VecDeque;

use common::{commit, config, drain, per_cpu};
use gears_examples::ghost::hand_fifo::HandFifo;
use ghost_dsl::prelude::*;
use ghost_dsl::sim::{SimStatus, TaskSpec, TraceEvent, Workload};

fn cpus(s: &str) -> AgentConfig {
    AgentConfig::new(s.parse().expect("a valid CPU list"))
}

#[test]
fn flags_have_the_uapi_values() {
    // include/uapi/linux/ghost.h: COMMIT_AT_TXN_COMMIT (1 << 1), RTLA_ON_IDLE (1 << 5); the
    // userspace default commit_flags is 0, which the kernel treats as commit-at-txn-commit.
    assert_eq!(CommitFlags::COMMIT_AT_TXN_COMMIT.bits(), 2);
    assert_eq!(CommitFlags::default().bits(), 0);
    assert_eq!(RunFlags::RTLA_ON_IDLE.bits(), 32);
    assert_eq!(
        TxnState::TargetNotFound.name(),
        "GHOST_TXN_TARGET_NOT_FOUND"
    );
    assert!(TxnState::TargetNotFound.is_passing());
    assert!(!TxnState::InvalidTarget.is_passing());
}

/// After `MSG_TASK_DEAD` the task is reaped: a commit of it is `GHOST_TXN_TARGET_NOT_FOUND`
/// (the kernel's gtid lookup fails), not `GHOST_TXN_INVALID_TARGET`.
#[test]
fn a_commit_of_a_reaped_task_is_target_not_found() {
    let workload = Workload::new(vec![
        TaskSpec::new("short").run(1_000),
        TaskSpec::new("long").start_at(50_000).run(100_000),
    ]);
    /// The hand FIFO, plus one late commit of the first task once it is long gone.
    struct Late {
        fifo: HandFifo,
        late: Option<TxnState>,
    }
    impl Agent for Late {
        fn model(&self) -> AgentModel {
            AgentModel::PerCpu
        }
        fn enclave_ready(&mut self, enclave: &mut AgentEnclave<'_>) {
            self.fifo.enclave_ready(enclave);
        }
        fn run(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_>) {
            if self.late.is_none() && enclave.now_ns() > 50_000 {
                let barrier = enclave.agent_barrier();
                self.late = Some(commit(
                    enclave,
                    cpu,
                    Gtid::new(1, 1),
                    BarrierToken(3),
                    barrier,
                ));
            }
            self.fifo.run(cpu, enclave);
        }
    }
    let mut agent = Late {
        fifo: HandFifo::new(),
        late: None,
    };
    let sim = SimEnclave::new(config(workload)).unwrap();
    let report = sim.run(&mut agent, &cpus("0")).unwrap();
    assert_eq!(agent.late, Some(TxnState::TargetNotFound));
    assert_eq!(report.failed(TxnState::TargetNotFound), 1);
    assert_eq!(report.failed(TxnState::InvalidTarget), 0);
}

/// A ping increments the pinged agent's barrier (as the kernel's agent wakeup does): the pinged
/// agent's next iteration reads it, and a yield or local commit with the old one fails.
#[test]
fn a_ping_bumps_the_pinged_agents_barrier() {
    let workload = Workload::new(vec![TaskSpec::new("t").start_at(100_000).run(1_000)]);
    let mut cpu1_barriers = Vec::new();
    let mut pinged = false;
    let mut self_ping = None;
    let mut agent = per_cpu(|cpu, enclave| {
        let barrier = enclave.agent_barrier();
        let msgs = drain(enclave);
        if cpu.id() == 1 {
            cpu1_barriers.push(barrier.0);
            enclave.local_yield(barrier, RunFlags::NONE);
            return;
        }
        if !pinged {
            pinged = true;
            assert!(enclave.ping(enclave.topology().cpu(1).unwrap()));
            // Pinging itself makes its own barrier stale: the yield fails, the agent runs again.
            assert!(enclave.ping(cpu));
            self_ping = Some(enclave.local_yield(barrier, RunFlags::NONE));
            return;
        }
        if let Some(new) = msgs.iter().find(|m| m.kind() == MessageKind::TaskNew) {
            let state = commit(enclave, cpu, new.gtid().unwrap(), new.seqnum(), barrier);
            assert_eq!(state, TxnState::Complete);
            return;
        }
        enclave.local_yield(barrier, RunFlags::NONE);
    });
    let sim = SimEnclave::new(config(workload)).unwrap();
    sim.run(&mut agent, &cpus("0-1")).unwrap();
    assert_eq!(self_ping, Some(false));
    // cpu1: its first iteration at barrier 0; the ping woke it with barrier 1; nothing else.
    assert_eq!(cpu1_barriers, [0, 1]);
}

/// Association compares the barrier with the task's seqnum and nothing else: with the current
/// seqnum (read from the status word) it succeeds although an older message of the task still
/// waits in the old channel; that message is drained there, later ones go to the new channel.
#[test]
fn association_with_the_current_barrier_succeeds_while_older_messages_wait() {
    let workload = Workload::new(vec![TaskSpec::new("t").sleep(1_000).run(10_000)]);
    let mut result = None;
    let mut seen_on = [Vec::new(), Vec::new()];
    let mut phase = 0;
    let mut agent = per_cpu(|cpu, enclave| {
        let barrier = enclave.agent_barrier();
        let ch = enclave.agent_channel();
        let gtid = Gtid::new(1, 1);
        if cpu.id() == 0 && phase == 0 {
            // Drain only the NEW (seq 1); wait until the WAKEUP (seq 2) is posted.
            if let Some(new) = enclave.next_message(ch) {
                seen_on[0].push(new.kind());
            }
            let status = enclave.task_status(gtid);
            if status.is_some_and(|s| s.barrier() == BarrierToken(2)) {
                let target = enclave.channel(enclave.topology().cpu(1).unwrap());
                result = Some(target.associate_task(enclave, gtid, BarrierToken(2)));
                phase = 1;
            }
            return; // run again
        }
        let msgs = drain(enclave);
        seen_on[cpu.id()].extend(msgs.iter().map(|m| m.kind()));
        if cpu.id() == 0
            && phase == 1
            && let Some(w) = msgs.iter().find(|m| m.kind() == MessageKind::TaskWakeup)
        {
            phase = 2;
            assert_eq!(
                commit(enclave, cpu, gtid, w.seqnum(), barrier),
                TxnState::Complete
            );
            return;
        }
        enclave.local_yield(barrier, RunFlags::NONE);
    });
    let sim = SimEnclave::new(config(workload).with_trace(true)).unwrap();
    let report = sim.run(&mut agent, &cpus("0-1")).unwrap();
    assert_eq!(result, Some(Ok(())));
    // The WAKEUP, posted before the association, was drained from cpu0's channel; BLOCKED and
    // DEAD, posted after, went to cpu1's (and its agent drained them before the run ended).
    assert_eq!(seen_on[0], [MessageKind::TaskNew, MessageKind::TaskWakeup]);
    assert_eq!(
        seen_on[1],
        [MessageKind::TaskBlocked, MessageKind::TaskDead]
    );
    let posted: Vec<_> = report
        .trace
        .as_ref()
        .unwrap()
        .events()
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Message { cpu, kind, .. } => Some((*kind, *cpu)),
            _ => None,
        })
        .collect();
    assert_eq!(
        posted,
        [
            (MessageKind::TaskNew, 0),
            (MessageKind::TaskWakeup, 0),
            (MessageKind::TaskBlocked, 1),
            (MessageKind::TaskDead, 1),
        ]
    );
    assert_eq!((report.associations, report.failed_associations), (1, 0));
}

/// A task committed and preempted before its context switch ends (latched) has not run: its
/// start is the start of the stretch it really ran.
#[test]
fn a_task_preempted_while_latched_starts_when_it_really_runs() {
    let workload = Workload::new(vec![
        TaskSpec::new("t").run(100_000),
        // Arrives 400 ns after t's commit (at 1.1 µs), before t's context switch ends (2.1 µs):
        // the agent's wakeup preempts t while latched.
        TaskSpec::new("u").start_at(1_500).run(100_000),
    ]);
    let sim = SimEnclave::new(config(workload).with_trace(true)).unwrap();
    let report = sim.run(&mut HandFifo::new(), &cpus("0")).unwrap();
    let t = report.task("t").unwrap();
    assert_eq!(t.preemptions, 1);
    let first_slice = report
        .trace
        .as_ref()
        .unwrap()
        .events()
        .iter()
        .find_map(|e| match e {
            TraceEvent::Task { gtid, start_ns, .. } if gtid.tid() == 1 => Some(*start_ns),
            _ => None,
        })
        .expect("t ran");
    assert!(first_slice > 2_100, "{first_slice}");
    assert_eq!(t.start_ns, Some(first_slice), "{report}");
}

#[test]
fn run_until_moves_the_clock_to_its_bound() {
    let workload = Workload::new(vec![TaskSpec::new("t").run(10_000_000)]);
    let mut sim = SimEnclave::new(config(workload)).unwrap();
    let mut fifo = HandFifo::new();
    sim.attach(&mut fifo, &cpus("0")).unwrap();
    assert_eq!(
        sim.run_until(&mut fifo, 5_000_000).unwrap(),
        SimStatus::Running
    );
    assert_eq!(sim.now_ns(), 5_000_000);
    assert_eq!(
        sim.run_until(&mut fifo, 5_000_001).unwrap(),
        SimStatus::Running
    );
    assert_eq!(sim.now_ns(), 5_000_001);
    assert_eq!(
        sim.run_until(&mut fifo, u64::MAX).unwrap(),
        SimStatus::Finished
    );
    let end = sim.report().task("t").unwrap().end_ns.unwrap();
    assert!((10_000_000..10_010_000).contains(&end), "{end}");
}

/// Counts the deaths it hears of.
#[derive(Default)]
struct Counting {
    rq: VecDeque<Gtid>,
    dead: u32,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl Counting {
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
        self.rq.push_front(task.gtid());
    }
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {
        self.dead += 1;
    }
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.pop_front()
    }
}

/// The last task's exit posts `MSG_TASK_BLOCKED` and `MSG_TASK_DEAD`; the agent gets to handle
/// them before the run ends, so every task is freed, and the report still ends at that exit.
#[test]
fn the_last_messages_of_a_run_reach_the_agent() {
    let workload = Workload::new(vec![
        TaskSpec::new("a").run(100_000),
        TaskSpec::new("b").run(200_000),
    ]);
    let enclave = SimEnclave::new(config(workload)).unwrap();
    let mut full = Counting::default().full_agent(enclave, cpus("0")).unwrap();
    assert_eq!(full.run_until(u64::MAX).unwrap(), SimStatus::Finished);
    assert_eq!(full.scheduler().dead, 2);
    assert_eq!(full.agent().live_tasks(), 0);
    let report = full.report();
    assert_eq!(report.end_ns, report.task("b").unwrap().end_ns.unwrap());
    assert!(full.now_ns() > report.end_ns, "the agent ran after the end");
}
