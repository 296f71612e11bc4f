//! Whole simulations: the tutorial's experiment, determinism, the trace export, ticks, and the
//! workload phases.

mod common;

use common::{MiniFifo, OnBoost, config};
use gears_examples::ghost::hand_fifo::HandFifo;
use ghost_dsl::sim::{
    RandomInterference, SimConfig, SimEnclave, SimStatus, TaskSpec, Workload, workloads,
};
use ghost_dsl::{AgentConfig, AgentRpcArgs, CpuTickConfig, MessageKind, RPC_ENODEV, Topology};
use serde_json::Value;

const T: u64 = 1_400_000_000; // the tutorial's busy loop took about 1.4 s

fn cpus(s: &str) -> AgentConfig {
    AgentConfig::new(s.parse().expect("a valid CPU list"))
}

fn tutorial(agent_cpus: &str, trace: bool) -> ghost_dsl::sim::SimReport {
    let sim = SimEnclave::new(config(workloads::tutorial_busy_loops(T)).with_trace(trace)).unwrap();
    sim.run(&mut HandFifo::new(), &cpus(agent_cpus)).unwrap()
}

/// The tutorial's experiment with FIFO on one CPU: t1 runs to completion, t2 starts when t1 ends.
#[test]
fn fifo_on_one_cpu_runs_the_loops_one_after_the_other() {
    let report = tutorial("0", false);
    let (t1, t2) = (report.task("t1").unwrap(), report.task("t2").unwrap());
    let t1_end = t1.end_ns.unwrap();
    let t2_start = t2.start_ns.unwrap();
    assert!(t1.start_ns.unwrap() < 10_000);
    assert!(
        t2_start >= t1_end,
        "t2 started at {t2_start}, before t1 ended at {t1_end}"
    );
    assert!(
        t2_start - t1_end < 10_000,
        "t2 should start right after t1 ({t1_end} -> {t2_start})"
    );
    // t1 ran alone, but t2's NEW woke the agent once (1 µs loop, 2 messages, 1 µs switch back).
    assert_eq!(t1.elapsed_ns(), Some(T + 2_200));
    assert!(t2.end_ns.unwrap() > 2 * T);
    assert_eq!(report.cpus.len(), 1);
    assert!(report.cpus[0].utilisation > 0.999);
}

/// The SMP FIFO places t2 on the second CPU: both loops run side by side and end near T.
#[test]
fn fifo_on_two_cpus_runs_the_loops_side_by_side() {
    let report = tutorial("0-1", false);
    for t in &report.tasks {
        assert!(t.start_ns.unwrap() < 100_000, "{t:?}");
        assert!(t.end_ns.unwrap() < T + 100_000, "{t:?}");
    }
    assert_eq!(report.associations, 2);
}

/// With ticks, every tick on a running CPU is a message that wakes the agent (which preempts
/// and re-commits the task under FIFO); with none, there are no tick messages.
#[test]
fn ticks_are_delivered_only_when_enabled_and_only_to_busy_cpus() {
    let loop_ns = 10_000_000;
    let workload = workloads::tutorial_busy_loops(loop_ns);
    let run = |ticks| {
        let sim = SimEnclave::new(config(workload.clone()).with_tick_ns(1_000_000)).unwrap();
        sim.run(&mut HandFifo::new(), &cpus("0-3").with_ticks(ticks))
            .unwrap()
    };
    let without = run(CpuTickConfig::NoTicks);
    assert_eq!(without.messages_of(MessageKind::CpuTick), 0);
    let with = run(CpuTickConfig::AllTicks);
    // Two CPUs busy for ~10 ms each at 1 tick/ms; CPUs 2 and 3 are idle and get none.
    let ticks = with.messages_of(MessageKind::CpuTick);
    assert!((18..=20).contains(&ticks), "{ticks} ticks");
    // Each tick preempts (unless it finds the agent already awake); t2's NEW preempts t1 once.
    let preempts = with.messages_of(MessageKind::TaskPreempt);
    assert!(
        preempts <= ticks + 1 && preempts + 2 >= ticks,
        "{preempts} preemptions"
    );
    assert!(with.tasks.iter().all(|t| t.preemptions >= 9));
}

/// Same configuration and seed: the same trace hash, the same report, the same JSON bytes.
/// Another seed: another simulation.
#[test]
fn same_seed_same_trace_other_seed_other_trace() {
    let run = |seed| {
        let cfg = workloads::large_with_interference(seed, 60).with_trace(true);
        SimEnclave::new(cfg)
            .unwrap()
            .run(&mut HandFifo::new(), &workloads::large_agent_config())
            .unwrap()
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a, b);
    let (ja, jb) = (
        a.trace.as_ref().unwrap().to_chrome_json(),
        b.trace.as_ref().unwrap().to_chrome_json(),
    );
    assert_eq!(ja, jb);
    assert_ne!(a.trace_hash, c.trace_hash);
    assert!(a.messages > 10_000);
    assert!(a.cpus.iter().all(|c| c.interference_ns > 0));
    // The hash does not depend on keeping the events.
    let unrecorded = SimEnclave::new(workloads::large_with_interference(7, 60))
        .unwrap()
        .run(&mut HandFifo::new(), &workloads::large_agent_config())
        .unwrap();
    assert_eq!(unrecorded.trace_hash, a.trace_hash);
    assert!(unrecorded.trace.is_none());
}

/// The Chrome/Perfetto JSON parses, names one track per enclave CPU, and has the task slices and
/// message instants the simulation produced.
#[test]
fn trace_json_has_one_track_per_cpu_and_the_expected_events() {
    let report = tutorial("0-1", true);
    let json: Value = serde_json::from_str(&report.trace.as_ref().unwrap().to_chrome_json())
        .expect("the trace is JSON");
    let events = json["traceEvents"].as_array().expect("a traceEvents array");
    let tracks: Vec<(u64, &str)> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(tracks, [(0, "CPU 0"), (1, "CPU 1")]);
    let slices = |name: &str| -> Vec<(u64, f64, f64)> {
        events
            .iter()
            .filter(|e| e["ph"] == "X" && e["name"] == name)
            .map(|e| {
                (
                    e["tid"].as_u64().unwrap(),
                    e["ts"].as_f64().unwrap(),
                    e["dur"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    // t1 ran on CPU 0 (cut once by t2's NEW waking the agent), t2 on CPU 1.
    let t1 = slices("t1");
    let t2 = slices("t2");
    assert!(t1.iter().all(|s| s.0 == 0) && t2.iter().all(|s| s.0 == 1));
    let total = |s: &[(u64, f64, f64)]| s.iter().map(|x| x.2).sum::<f64>();
    assert!((total(&t1) - T as f64 / 1000.0).abs() < 1e-3);
    assert!((total(&t2) - T as f64 / 1000.0).abs() < 1e-3);
    assert!(!slices("agent").is_empty());
    let count = |name: &str| {
        events
            .iter()
            .filter(|e| e["ph"] == "i" && e["name"] == name)
            .count()
    };
    assert_eq!(count("MSG_TASK_NEW"), 2);
    assert_eq!(count("MSG_TASK_BLOCKED"), 2);
    assert_eq!(count("MSG_TASK_DEAD"), 2);
    let dir = std::env::temp_dir().join(format!("ghost-dsl-trace-{}", std::process::id()));
    let path = dir.join("trace.json");
    report
        .trace
        .as_ref()
        .unwrap()
        .write_chrome_json(&path)
        .unwrap();
    let back: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(back, json);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Yield, depart and affinity phases produce their messages in order; the FIFO handles them.
#[test]
fn workload_phases_produce_their_messages() {
    let workload = Workload::new(vec![
        TaskSpec::new("yielder").run(10_000).yield_now().run(10_000),
        TaskSpec::new("leaver").run(5_000).depart(),
        TaskSpec::new("mover")
            .run(1_000)
            .set_affinity("0".parse().unwrap())
            .run(1_000)
            .sleep(5_000)
            .repeat(3),
    ]);
    let sim = SimEnclave::new(config(workload).with_trace(true)).unwrap();
    let report = sim.run(&mut HandFifo::new(), &cpus("0")).unwrap();
    assert_eq!(report.messages_of(MessageKind::TaskYield), 1);
    assert_eq!(report.messages_of(MessageKind::TaskDeparted), 1);
    assert_eq!(report.messages_of(MessageKind::TaskAffinityChanged), 3);
    assert_eq!(report.messages_of(MessageKind::TaskDead), 2);
    assert_eq!(report.messages_of(MessageKind::TaskWakeup), 3);
    let mover = report.task("mover").unwrap();
    assert_eq!(mover.runtime_ns, 6_000);
    assert!(report.tasks.iter().all(|t| t.end_ns.is_some()));
}

/// `run_until` stops at a time and resumes; an RPC reaches the agent in between.
#[test]
fn stepping_and_rpc() {
    let workload = workloads::tutorial_busy_loops(1_000_000);
    let mut sim = SimEnclave::new(config(workload)).unwrap();
    let mut fifo = MiniFifo::new(OnBoost::YieldOnIdle);
    assert!(matches!(
        sim.run_until(&mut fifo, 10),
        Err(ghost_dsl::sim::SimError::NotAttached)
    ));
    sim.attach(&mut fifo, &cpus("0")).unwrap();
    assert_eq!(
        sim.run_until(&mut fifo, 500_000).unwrap(),
        SimStatus::Running
    );
    assert!(sim.now_ns() <= 500_000);
    let answer = sim.rpc(&mut fifo, 1, &AgentRpcArgs::default()).unwrap();
    assert_eq!(answer.response_code, RPC_ENODEV);
    assert_eq!(
        sim.run_until(&mut fifo, u64::MAX).unwrap(),
        SimStatus::Finished
    );
    assert!(sim.report().tasks.iter().all(|t| t.end_ns.is_some()));
    assert!(matches!(
        sim.attach(&mut fifo, &cpus("0")),
        Err(ghost_dsl::sim::SimError::AlreadyAttached)
    ));
}

/// Bad configurations are refused with a message that says what to change.
#[test]
fn configuration_errors_say_what_to_fix() {
    let topo = Topology::test_default();
    let run = |cfg: SimConfig, agent_cpus: &str| {
        SimEnclave::new(cfg).and_then(|sim| sim.run(&mut HandFifo::new(), &cpus(agent_cpus)))
    };
    let empty = || SimConfig::new(topo.clone(), workloads::tutorial_busy_loops(1000));
    let err = run(empty(), "8-9").unwrap_err().to_string();
    assert!(
        err.contains("CPUs 8-9 that the simulated machine lacks"),
        "{err}"
    );
    let err = run(empty().with_tick_ns(0), "0").unwrap_err().to_string();
    assert!(err.contains("tick_ns is 0"), "{err}");
    let err = run(
        empty().with_random_interference(RandomInterference {
            mean_gap_ns: 0,
            mean_len_ns: 1,
        }),
        "0",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("mean_gap_ns"), "{err}");
    let err = run(empty().with_max_time_ns(1000), "0")
        .unwrap_err()
        .to_string();
    assert!(err.contains("time limit of 1000 ns"), "{err}");
    assert!(err.contains("t1 (task 1)"), "{err}");
}

/// The large workload finishes under the hand FIFO with the message count its documentation
/// promises (about 600 per task).
#[test]
fn large_workload_finishes_with_about_600_messages_per_task() {
    let n = 50;
    let report = SimEnclave::new(workloads::large(3, n))
        .unwrap()
        .run(&mut HandFifo::new(), &workloads::large_agent_config())
        .unwrap();
    assert!(report.tasks.iter().all(|t| t.end_ns.is_some()));
    let per_task = report.messages / n as u64;
    assert!(
        (400..=700).contains(&per_task),
        "{per_task} messages per task"
    );
    assert_eq!(
        report.messages_of(MessageKind::TaskBlocked),
        (n as u64) * u64::from(workloads::LARGE_ROUNDS + 1)
    );
}

/// With ticks on, a scheduler that drops its tasks still stalls (idle CPUs stop ticking) instead
/// of ticking on until the time limit.
#[test]
fn ticks_stop_on_idle_cpus_so_lost_tasks_stall() {
    let mut committed = false;
    let mut agent = common::per_cpu(|cpu, enclave| {
        let barrier = enclave.agent_barrier();
        let msgs = common::drain(enclave);
        if !committed && let Some(new) = msgs.iter().find(|m| m.kind() == MessageKind::TaskNew) {
            let state = common::commit(enclave, cpu, new.gtid().unwrap(), new.seqnum(), barrier);
            committed = state == ghost_dsl::TxnState::Complete;
            return;
        }
        // Forgets every task from now on, including the one a tick preempts.
        enclave.local_yield(barrier, ghost_dsl::RunFlags::NONE);
    });
    let sim =
        SimEnclave::new(config(workloads::tutorial_busy_loops(10_000_000)).with_tick_ns(1_000_000))
            .unwrap();
    let err = sim
        .run(&mut agent, &cpus("0").with_ticks(CpuTickConfig::AllTicks))
        .unwrap_err();
    match err {
        ghost_dsl::sim::SimError::Stalled { now_ns, stuck } => {
            assert_eq!(stuck.len(), 2);
            assert!(now_ns < 2_000_000, "stalled at {now_ns}");
            assert_eq!(stuck[0].state, "runnable");
        }
        other => panic!("expected a stall, got {other}"),
    }
}
