//! The generated agent against the kernel's rules and the hand-written scheduler: same
//! decisions as plain Rust, recovery from stale barriers, boosted agents yielding, RPCs, and
//! errors that name the message or decision and the task.

use std::collections::VecDeque;

use gears_examples::ghost::centralized::CentralizedFifo;
use gears_examples::ghost::hand_fifo::HandFifo;
use gears_examples::ghost::smp::SmpFifo;
use ghost_dsl::prelude::*;
use ghost_dsl::sim::workloads::{large, large_agent_config, large_with_interference};
use ghost_dsl::sim::{Interference, TaskSpec, Workload};

#[test]
fn the_generated_smp_fifo_decides_exactly_as_the_hand_written_one() {
    for seed in [1, 2] {
        let hand = SimEnclave::new(large(seed, 64))
            .unwrap()
            .run(&mut HandFifo::new(), &large_agent_config())
            .unwrap();
        let generated = SmpFifo::default()
            .run(
                SimEnclave::new(large(seed, 64)).unwrap(),
                large_agent_config(),
            )
            .unwrap();
        // Byte-identical simulations: every message, commit and context switch in the same order.
        assert_eq!(generated.trace_hash, hand.trace_hash, "seed {seed}");
        assert_eq!(generated.messages, hand.messages);
        assert!(
            generated.messages > 30_000,
            "a real workload: {}",
            generated.messages
        );
        assert!(
            generated.tasks.iter().all(|t| t.end_ns.is_some()),
            "every task finished"
        );
    }
}

#[test]
fn stale_agent_barriers_fail_commits_and_the_loop_recovers() {
    let full = SmpFifo::default()
        .full_agent(SimEnclave::new(large(3, 64)).unwrap(), large_agent_config())
        .unwrap();
    let report = full.run().unwrap();
    assert!(
        report.failed(TxnState::AgentStale) > 0,
        "the workload provokes stale commits"
    );
    assert!(
        report.tasks.iter().all(|t| t.end_ns.is_some()),
        "and every task still finished"
    );
}

#[test]
fn boosted_agents_yield_to_the_higher_class_and_resume() {
    let mut full = SmpFifo::default()
        .full_agent(
            SimEnclave::new(large_with_interference(4, 32)).unwrap(),
            large_agent_config(),
        )
        .unwrap();
    while full.run_until(full.now_ns() + 10_000_000).unwrap() != ghost_dsl::sim::SimStatus::Finished
    {
    }
    assert!(full.stats().boosted_yields > 0, "{:?}", full.stats());
    let report = full.report();
    assert!(report.cpus.iter().any(|c| c.interference_ns > 0));
    assert!(report.tasks.iter().all(|t| t.end_ns.is_some()));
    // The hand-written FIFO yields the same way: the same simulation.
    let hand = SimEnclave::new(large_with_interference(4, 32))
        .unwrap()
        .run(&mut HandFifo::new(), &large_agent_config())
        .unwrap();
    assert_eq!(report.trace_hash, hand.trace_hash);
}

#[test]
fn the_centralized_agent_batches_commits_for_every_cpu_but_its_own() {
    let report = CentralizedFifo::default()
        .run(SimEnclave::new(large(5, 48)).unwrap(), large_agent_config())
        .unwrap();
    assert!(report.tasks.iter().all(|t| t.end_ns.is_some()));
    assert_eq!(
        report.cpus[0].task_ns, 0,
        "the global agent's CPU runs no task"
    );
    assert!(report.cpus[1..].iter().all(|c| c.task_ns > 0));
}

/// FIFO that peeks instead of popping and forgets to drop blocked tasks: the bug the tutorial's
/// CHECKs exist for.
#[derive(Default)]
struct Leaky {
    rq: VecDeque<Gtid>,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl Leaky {
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
        if msg.runnable {
            self.rq.push_back(task.gtid());
        }
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, _task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {}
    fn task_preempted(&mut self, _task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {}
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.front().copied()
    }
}

#[test]
fn a_decision_about_a_blocked_task_is_an_error_naming_the_decision_and_the_task() {
    let workload = Workload::new(vec![
        TaskSpec::new("s").run(100_000).sleep(100_000).run(100_000),
    ]);
    let enclave = SimEnclave::new(SimConfig::new(Topology::test_default(), workload)).unwrap();
    let err = Leaky::default()
        .run(enclave, AgentConfig::new("0".parse().unwrap()))
        .unwrap_err();
    let Some((first, _)) = err.as_transition() else {
        panic!("a transition error, not {err}");
    };
    // The error carries the report as the run ended: the task had run before the bad decision.
    let report = err.report().expect("the report so far");
    assert!(report.task("s").unwrap().runtime_ns >= 100_000);
    assert_eq!(first.gtid.tid(), 1);
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        text.starts_with("task state check failed: pick_next(cpu0) -> task 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "pick_next chose a task that is blocked (its latest message is MSG_TASK_BLOCKED)"
        ),
        "{text}"
    );
}

/// Answers RPC 1 with the number of queued tasks (the tutorial's `RpcHandler`).
#[derive(Default)]
struct WithRpc {
    rq: VecDeque<Gtid>,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl WithRpc {
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
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.pop_front()
    }
    fn rpc(&mut self, req: i64, _args: &AgentRpcArgs, _cx: &mut Cx<'_>) -> AgentRpcResponse {
        let response_code = if req == 1 {
            self.rq.len() as i64
        } else {
            ghost_dsl::RPC_ENODEV
        };
        AgentRpcResponse {
            response_code,
            buffer: Vec::new(),
        }
    }
}

#[test]
fn rpcs_reach_the_handler_and_default_to_enodev() {
    let workload = Workload::new(
        (0..3)
            .map(|i| TaskSpec::new(format!("t{i}")).run(1_000_000))
            .collect(),
    );
    let config = SimConfig::new(Topology::test_default(), workload);
    let mut full = WithRpc::default()
        .full_agent(
            SimEnclave::new(config.clone()).unwrap(),
            AgentConfig::new("0".parse().unwrap()),
        )
        .unwrap();
    full.run_until(500_000).unwrap();
    // One task runs, two wait.
    assert_eq!(
        full.rpc(1, &AgentRpcArgs::default()).unwrap().response_code,
        2
    );
    assert_eq!(
        full.rpc(7, &AgentRpcArgs::default()).unwrap().response_code,
        -19
    );
    // Without a handler the agent answers -ENODEV, as the tutorial's first agent does.
    let mut plain = SmpFifo::default()
        .full_agent(
            SimEnclave::new(config).unwrap(),
            AgentConfig::new("0".parse().unwrap()),
        )
        .unwrap();
    assert_eq!(
        plain
            .rpc(1, &AgentRpcArgs::default())
            .unwrap()
            .response_code,
        -19
    );
}

#[test]
fn a_higher_class_burst_on_the_only_cpu_delays_the_task_by_its_length() {
    let workload = Workload::new(vec![TaskSpec::new("t").run(1_000_000)]);
    let config =
        SimConfig::new(Topology::test_default(), workload).with_interference(Interference {
            cpu: 0,
            start_ns: 200_000,
            duration_ns: 300_000,
        });
    let mut full = SmpFifo::default()
        .full_agent(
            SimEnclave::new(config).unwrap(),
            AgentConfig::new("0".parse().unwrap()),
        )
        .unwrap();
    while full.run_until(full.now_ns() + 1_000_000).unwrap() != ghost_dsl::sim::SimStatus::Finished
    {
    }
    assert_eq!(full.stats().boosted_yields, 1);
    let end = full.report().task("t").unwrap().end_ns.unwrap();
    assert!(
        (1_300_000..1_400_000).contains(&end),
        "1 ms of work + 0.3 ms of burst: {end}"
    );
}

#[test]
fn association_with_a_stale_barrier_fails_and_the_task_stays_put() {
    // Tasks that arrive blocked and wake 50 ns later: when the agent handles MSG_TASK_NEW, the
    // task's MSG_TASK_WAKEUP is already posted (seqnum 2), so `associate_task` with the NEW's
    // seqnum is stale and fails, and the task stays with the CPU that received it.
    let workload = Workload::new(
        (0..6)
            .map(|i| {
                TaskSpec::new(format!("s{i}"))
                    .start_at(i * 5_000)
                    .sleep(50)
                    .run(200_000)
            })
            .collect(),
    );
    let config = SimConfig::new(Topology::test_default(), workload);
    let mut full = SmpFifo::default()
        .full_agent(
            SimEnclave::new(config).unwrap(),
            AgentConfig::new("0-3".parse().unwrap()),
        )
        .unwrap();
    while full.run_until(full.now_ns() + 1_000_000).unwrap() != ghost_dsl::sim::SimStatus::Finished
    {
    }
    let report = full.report();
    assert!(report.failed_associations > 0, "{report}");
    assert_eq!(
        full.scheduler().failed_associations,
        report.failed_associations,
        "every failure reached the scheduler's fallback"
    );
    assert!(report.tasks.iter().all(|t| t.end_ns.is_some()));
}

#[test]
fn the_centralized_agent_stops_and_resumes_committing_around_higher_class_bursts() {
    let report = CentralizedFifo::default()
        .run(
            SimEnclave::new(large_with_interference(6, 48)).unwrap(),
            large_agent_config(),
        )
        .unwrap();
    use ghost_dsl::MessageKind;
    assert!(report.messages_of(MessageKind::CpuNotIdle) > 0, "{report}");
    assert!(
        report.messages_of(MessageKind::CpuAvailable) > 0,
        "{report}"
    );
    assert!(report.tasks.iter().all(|t| t.end_ns.is_some()));
}

#[test]
fn round_robin_survives_ticks_racing_with_blocks_and_wakeups() {
    use gears_examples::ghost::round_robin::RoundRobin;
    // The tutorial's warning: MSG_CPU_TICK can arrive beside MSG_TASK_BLOCKED. Tasks that run a
    // few ticks, sleep, and run again make that happen; the agent's state checks would catch a
    // handler acting on a state the task is not in.
    let workload = Workload::new(
        (0..4)
            .map(|i| {
                TaskSpec::new(format!("r{i}"))
                    .start_at(i * 300_000)
                    .run(2_500_000)
                    .sleep(700_000)
                    .repeat(10)
            })
            .collect(),
    );
    let config = SimConfig::new(Topology::test_default(), workload);
    let agents = AgentConfig::new("0".parse().unwrap()).with_ticks(CpuTickConfig::AllTicks);
    let mut full = RoundRobin::default()
        .full_agent(SimEnclave::new(config).unwrap(), agents)
        .unwrap();
    while full.run_until(full.now_ns() + 10_000_000).unwrap() != ghost_dsl::sim::SimStatus::Finished
    {
    }
    let report = full.report();
    assert!(report.tasks.iter().all(|t| t.end_ns.is_some()));
    assert!(
        report.messages_of(ghost_dsl::MessageKind::CpuTick) > 50,
        "{report}"
    );
    assert!(
        full.scheduler().rotations > 20,
        "ticks rotated the queue: {}",
        full.scheduler().rotations
    );
}
