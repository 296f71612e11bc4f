//! The kernel's rules as the simulator enforces them: barriers, association, boosting.

mod common;

use common::{MiniFifo, OnBoost, SLOW_AGENT, commit, config, drain, per_cpu};
use gears_examples::ghost::hand_fifo::HandFifo;
use ghost_dsl::sim::{Interference, SimEnclave, SimError, TaskSpec, TraceEvent, Workload};
use ghost_dsl::{
    AgentConfig, AssociateError, BarrierToken, Gtid, MessageKind, Payload, RunFlags, TxnState,
};

fn cpus(s: &str) -> AgentConfig {
    AgentConfig::new(s.parse().expect("a valid CPU list"))
}

/// t1 arrives at 0 and wakes the agent, which reads barrier 1; t2 arrives at 5 µs, inside the
/// 10 µs window before the agent decides. The agent drains both NEWs (it does see t2) but its
/// commit of t1 carries barrier 1 while the kernel is at 2: GHOST_TXN_AGENT_STALE. The next
/// iteration reads barrier 2 and the same commit succeeds.
#[test]
fn stale_agent_barrier_fails_and_the_loop_recovers() {
    let workload = Workload::new(vec![
        TaskSpec::new("t1").run(100_000),
        TaskSpec::new("t2").start_at(5_000).run(100_000),
    ]);
    let sim = SimEnclave::new(config(workload).with_costs(SLOW_AGENT).with_trace(true)).unwrap();
    let mut fifo = HandFifo::new();
    let report = sim.run(&mut fifo, &cpus("0")).unwrap();

    assert_eq!(report.failed(TxnState::AgentStale), 1);
    assert_eq!(fifo.failed_commits, 1);
    // First iteration: start 0, decide at 10 µs after draining 2 messages (0.2 µs): fails.
    // Second: start 10.2 µs, decide 20.2 µs, t1 runs after the 1 µs context switch.
    let t1 = report.task("t1").unwrap();
    assert_eq!(t1.start_ns, Some(21_200));
    assert_eq!(t1.end_ns, Some(121_200));
    let t2 = report.task("t2").unwrap();
    assert!(t2.start_ns.unwrap() >= t1.end_ns.unwrap());
    let trace = report.trace.unwrap();
    let failures: Vec<_> = trace
        .events()
        .iter()
        .filter_map(|e| match e {
            TraceEvent::CommitFailed {
                time_ns,
                target,
                state,
                ..
            } => Some((*time_ns, target.tid(), *state)),
            _ => None,
        })
        .collect();
    assert_eq!(failures, [(10_000, 1, TxnState::AgentStale)]);
}

/// Without the wide window nothing is stale: the failure above comes from the window, not from
/// the FIFO.
#[test]
fn no_stale_commit_when_nothing_arrives_in_the_window() {
    let workload = Workload::new(vec![
        TaskSpec::new("t1").run(100_000),
        TaskSpec::new("t2").start_at(50_000).run(100_000),
    ]);
    let sim = SimEnclave::new(config(workload).with_costs(SLOW_AGENT)).unwrap();
    let report = sim.run(&mut HandFifo::new(), &cpus("0")).unwrap();
    assert_eq!(report.failed(TxnState::AgentStale), 0);
    // Decision at 10 µs + 1 drained message (0.1 µs), then the 1 µs context switch.
    assert_eq!(report.task("t1").unwrap().start_ns, Some(11_100));
}

/// A task that arrives blocked and wakes 1 µs later has seqnum 2 by the time the agent looks.
/// Committing it with the barrier of its NEW (1) fails with GHOST_TXN_TARGET_STALE; with 2 it
/// succeeds.
#[test]
fn stale_target_barrier_fails() {
    let workload = Workload::new(vec![TaskSpec::new("t").sleep(1_000).run(10_000)]);
    let mut iteration = 0;
    let mut states = Vec::new();
    let mut gtid = None;
    let mut agent = per_cpu(|cpu, enclave| {
        iteration += 1;
        let barrier = enclave.agent_barrier();
        for msg in drain(enclave) {
            if msg.kind() == MessageKind::TaskNew {
                gtid = msg.gtid();
            }
        }
        let t = gtid.expect("NEW comes first");
        match iteration {
            // Drained NEW and WAKEUP with a barrier read before the WAKEUP: just loop.
            1 => {}
            2 => states.push(commit(enclave, cpu, t, BarrierToken(1), barrier)),
            3 => states.push(commit(enclave, cpu, t, BarrierToken(2), barrier)),
            _ => {
                enclave.local_yield(barrier, RunFlags::NONE);
            }
        }
    });
    let sim = SimEnclave::new(config(workload).with_costs(SLOW_AGENT)).unwrap();
    let report = sim.run(&mut agent, &cpus("0")).unwrap();
    assert_eq!(states, [TxnState::TargetStale, TxnState::Complete]);
    assert_eq!(report.failed(TxnState::TargetStale), 1);
    assert_eq!(report.commits, 1);
    assert!(report.task("t").unwrap().end_ns.is_some());
}

/// The other checks of a commit, each refused with its own state.
#[test]
fn commit_checks_target_state_cpu_and_affinity() {
    let only_cpu1 = "1".parse().unwrap();
    let workload = Workload::new(vec![
        TaskSpec::new("sleeper").sleep(1_000_000).run(1_000),
        TaskSpec::new("pinned").set_affinity(only_cpu1).run(1_000),
    ]);
    let mut states = Vec::new();
    let mut iteration = 0;
    let mut agent = per_cpu(|cpu, enclave| {
        let barrier = enclave.agent_barrier();
        let msgs = drain(enclave);
        let (sleeper, pinned) = (Gtid::new(1, 1), Gtid::new(2, 1));
        let cpu1 = enclave.topology().cpu(1).unwrap();
        if cpu.id() == 0 && iteration < 2 {
            iteration += 1;
            if iteration == 1 {
                assert_eq!(msgs.len(), 2, "both NEWs arrive at 0");
                let cpu5 = enclave.topology().cpu(5).unwrap();
                states.push(commit(enclave, cpu, sleeper, BarrierToken(1), barrier));
                states.push(commit(
                    enclave,
                    cpu,
                    Gtid::new(9, 1),
                    BarrierToken(1),
                    barrier,
                ));
                states.push(commit(enclave, cpu5, pinned, BarrierToken(1), barrier));
                states.push(commit(enclave, cpu, pinned, BarrierToken(1), barrier));
                // cpu1's agent holds its CPU (every agent starts awake): not now.
                states.push(commit(enclave, cpu1, pinned, BarrierToken(1), barrier));
                return; // no yield: run again
            }
            // cpu1's agent has yielded: a remote commit runs pinned there; then it is on a CPU.
            states.push(commit(enclave, cpu1, pinned, BarrierToken(1), barrier));
            states.push(commit(enclave, cpu1, pinned, BarrierToken(1), barrier));
        }
        // Run the sleeper when it wakes; otherwise idle.
        if let Some(msg) = msgs.iter().find(|m| m.kind() == MessageKind::TaskWakeup) {
            let s = commit(enclave, cpu, msg.gtid().unwrap(), msg.seqnum(), barrier);
            assert_eq!(s, TxnState::Complete);
            return;
        }
        enclave.local_yield(barrier, RunFlags::NONE);
    });
    let sim = SimEnclave::new(config(workload)).unwrap();
    let report = sim.run(&mut agent, &cpus("0-1")).unwrap();
    assert_eq!(
        states,
        [
            TxnState::TargetNotRunnable,
            // No live task has the gtid: the kernel's lookup fails (not an invalid target).
            TxnState::TargetNotFound,
            TxnState::InvalidCpu,
            TxnState::NotPermitted,
            TxnState::CpuUnavail,
            TxnState::Complete,
            TxnState::TargetOnCpu,
        ]
    );
    assert!(report.tasks.iter().all(|t| t.end_ns.is_some()));
}

/// Association with a barrier older than the task's seqnum fails, whether the newer message was
/// drained or not (the kernel compares the barrier with the task's seqnum, nothing else); with the
/// current barrier it succeeds, and the task's later messages go to the new channel (waking the
/// other CPU's agent).
#[test]
fn association_fails_with_a_stale_barrier() {
    let workload = Workload::new(vec![TaskSpec::new("t").sleep(1_000).run(10_000)]);
    let mut results = Vec::new();
    let mut seen_on = [Vec::new(), Vec::new()];
    let mut iteration = 0;
    let mut woken = None;
    let mut agent = per_cpu(|cpu, enclave| {
        let barrier = enclave.agent_barrier();
        let ch = enclave.agent_channel();
        if cpu.id() == 0 && iteration < 2 {
            iteration += 1;
            if iteration == 1 {
                // NEW (seq 1) and WAKEUP (seq 2) are both queued on the default channel.
                let new = enclave.next_message(ch).unwrap();
                let gtid = new.gtid().unwrap();
                let target = enclave.channel(enclave.topology().cpu(1).unwrap());
                results.push(target.associate_task(enclave, gtid, new.seqnum()));
                let wakeup = enclave.next_message(ch).unwrap();
                results.push(target.associate_task(enclave, gtid, new.seqnum()));
                results.push(target.associate_task(enclave, gtid, wakeup.seqnum()));
                seen_on[0].extend([new.kind(), wakeup.kind()]);
                woken = Some((gtid, wakeup.seqnum()));
                // The WAKEUP came after this iteration read its barrier: loop once more.
                return;
            }
            // Run it here; its next messages (BLOCKED, DEAD) go to cpu1's channel.
            let (gtid, seq) = woken.unwrap();
            assert_eq!(commit(enclave, cpu, gtid, seq, barrier), TxnState::Complete);
            return;
        }
        for msg in drain(enclave) {
            seen_on[cpu.id()].push(msg.kind());
        }
        enclave.local_yield(barrier, RunFlags::NONE);
    });
    let sim = SimEnclave::new(config(workload).with_costs(SLOW_AGENT).with_trace(true)).unwrap();
    let report = sim.run(&mut agent, &cpus("0-1")).unwrap();
    let gtid = Gtid::new(1, 1);
    assert_eq!(
        results,
        [
            // The WAKEUP (seq 2) is posted: barrier 1 is stale, drained or not.
            Err(AssociateError::Stale {
                gtid,
                barrier: BarrierToken(1),
                current: BarrierToken(2)
            }),
            Err(AssociateError::Stale {
                gtid,
                barrier: BarrierToken(1),
                current: BarrierToken(2)
            }),
            Ok(()),
        ]
    );
    assert_eq!(seen_on[0], [MessageKind::TaskNew, MessageKind::TaskWakeup]);
    // The run stops when the last task exits, before cpu1's agent drains; the trace says where
    // each message was posted (the CPU of the agent its channel wakes).
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
    assert_eq!((report.associations, report.failed_associations), (1, 2));
    assert!(
        results[0]
            .unwrap_err()
            .to_string()
            .contains("barrier 1 is stale, the task is at seqnum 2"),
        "{}",
        results[0].unwrap_err()
    );
}

fn burst_workload() -> (Workload, Interference) {
    let workload = Workload::new(vec![TaskSpec::new("t1").run(1_000_000)]);
    let burst = Interference {
        cpu: 0,
        start_ns: 200_000,
        duration_ns: 300_000,
    };
    (workload, burst)
}

/// A higher-class burst preempts the task and boosts the agent; the agent yields with
/// RTLA_ON_IDLE, the burst runs its 300 µs, and the agent is woken when it ends and resumes t1.
#[test]
fn boosted_agent_yields_and_is_woken_when_the_cpu_is_idle() {
    let (workload, burst) = burst_workload();
    let sim = SimEnclave::new(config(workload).with_interference(burst).with_trace(true)).unwrap();
    let mut fifo = MiniFifo::new(OnBoost::YieldOnIdle);
    let report = sim.run(&mut fifo, &cpus("0")).unwrap();
    let t1 = report.task("t1").unwrap();
    assert_eq!(t1.preemptions, 1);
    assert_eq!(t1.runtime_ns, 1_000_000);
    let cpu0 = &report.cpus[0];
    // The burst ran its whole 300 µs, from the end of the boosted agent's iteration (which took
    // 1 µs loop + 1 message).
    assert_eq!(cpu0.interference_ns, 300_000);
    let trace = report.trace.as_ref().unwrap();
    let bursts: Vec<_> = trace
        .events()
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Interference {
                start_ns, end_ns, ..
            } => Some((*start_ns, *end_ns)),
            _ => None,
        })
        .collect();
    assert_eq!(bursts, [(201_100, 501_100)]);
    // t1 resumed after the burst: its end is past 1 ms + the 300 µs burst.
    assert!(t1.end_ns.unwrap() > 1_300_000 && t1.end_ns.unwrap() < 1_310_000);
    assert!(fifo.commit_states.iter().all(|s| *s == TxnState::Complete));
    assert_eq!(report.messages_of(MessageKind::TaskPreempt), 1);
}

/// An agent that ignores its boost and commits anyway is refused with GHOST_TXN_CPU_UNAVAIL on
/// every try; the burst, starved by the spinning agent, never runs (it needs the CPU for its
/// whole length), so neither does t1 again, and the run ends with the time-limit error.
#[test]
fn boosted_agent_that_does_not_yield_cannot_commit() {
    let (workload, burst) = burst_workload();
    let mut sim = SimEnclave::new(
        config(workload)
            .with_interference(burst)
            .with_max_time_ns(20_000_000),
    )
    .unwrap();
    let mut fifo = MiniFifo::new(OnBoost::Ignore);
    sim.attach(&mut fifo, &cpus("0")).unwrap();
    let err = sim.run_until(&mut fifo, u64::MAX).unwrap_err();
    match &err {
        SimError::TimeLimit { limit_ns, stuck } => {
            assert_eq!(*limit_ns, 20_000_000);
            assert_eq!(stuck.len(), 1);
            assert_eq!(stuck[0].state, "runnable");
        }
        other => panic!("expected the time limit, got {other}"),
    }
    assert!(
        err.to_string()
            .contains("check that the agent yields when boosted"),
        "{err}"
    );
    let report = sim.report();
    assert!(report.failed(TxnState::CpuUnavail) > 100);
    assert!(fifo.commit_states.contains(&TxnState::CpuUnavail));
    assert_eq!(report.cpus[0].interference_ns, 0);
    assert!(report.task("t1").unwrap().end_ns.is_none());
}

/// The no-progress watchdog: an agent that neither commits nor yields while no task runs is a
/// livelock, stopped after `max_idle_iterations` iterations with an error that names it.
#[test]
fn a_livelocking_agent_is_stopped_by_the_watchdog() {
    let workload = Workload::new(vec![TaskSpec::new("t").run(1_000)]);
    let mut agent = per_cpu(|_cpu, enclave| {
        drain(enclave);
    });
    let sim = SimEnclave::new(config(workload).with_max_idle_iterations(1_000)).unwrap();
    let err = sim.run(&mut agent, &cpus("0")).unwrap_err();
    match &err {
        SimError::NoProgress {
            iterations, stuck, ..
        } => {
            assert_eq!(*iterations, 1_001);
            assert_eq!(stuck[0].name, "t");
        }
        other => panic!("expected no progress, got {other}"),
    }
    assert!(err.to_string().contains("made no progress"), "{err}");
}

/// A recorded trace that reaches its cap stops the run with an error, not by eating memory.
#[test]
fn a_trace_past_its_cap_is_an_error() {
    let workload = Workload::new(vec![TaskSpec::new("t").run(1_000_000)]);
    // A livelock that records an agent slice per iteration, with a generous watchdog.
    let mut agent = per_cpu(|_cpu, enclave| {
        drain(enclave);
    });
    let sim =
        SimEnclave::new(config(workload).with_trace(true).with_max_trace_events(500)).unwrap();
    let err = sim.run(&mut agent, &cpus("0")).unwrap_err();
    assert!(
        matches!(err, SimError::TraceTooLarge { limit: 500, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("cap of 500 events"), "{err}");
}

/// An agent that yields without RTLA_ON_IDLE is not woken when the burst ends: with no other
/// message to wake it, t1 is never resumed and the simulation stalls, naming t1.
#[test]
fn boosted_agent_that_yields_without_rtla_on_idle_strands_its_task() {
    let (workload, burst) = burst_workload();
    let sim = SimEnclave::new(config(workload).with_interference(burst)).unwrap();
    let err = sim
        .run(&mut MiniFifo::new(OnBoost::YieldPlain), &cpus("0"))
        .unwrap_err();
    match &err {
        SimError::Stalled { now_ns, stuck } => {
            // The burst ran its 300 µs after the agent yielded at 201.1 µs.
            assert_eq!(*now_ns, 501_100);
            assert_eq!(stuck.len(), 1);
            assert_eq!(stuck[0].name, "t1");
            assert_eq!(stuck[0].state, "runnable");
        }
        other => panic!("expected a stall, got {other}"),
    }
    assert!(err.to_string().contains("t1 (task 1) is runnable"), "{err}");
}

/// A local_yield with a stale barrier fails (the agent runs again) like a commit does.
#[test]
fn local_yield_with_a_stale_barrier_fails() {
    let workload = Workload::new(vec![
        TaskSpec::new("a").run(1_000),
        TaskSpec::new("b").start_at(5_000).run(1_000),
    ]);
    let mut iteration = 0;
    let mut yields = Vec::new();
    let mut pending = std::collections::VecDeque::new();
    let mut agent = per_cpu(|cpu, enclave| {
        iteration += 1;
        let barrier = enclave.agent_barrier();
        for msg in drain(enclave) {
            if let Payload::TaskNew(new) = msg.payload() {
                pending.push_back((new.gtid, msg.seqnum()));
            }
        }
        if iteration > 1
            && let Some((gtid, seq)) = pending.pop_front()
        {
            assert_eq!(commit(enclave, cpu, gtid, seq, barrier), TxnState::Complete);
            return;
        }
        yields.push(enclave.local_yield(barrier, RunFlags::NONE));
    });
    let sim = SimEnclave::new(config(workload).with_costs(SLOW_AGENT)).unwrap();
    let report = sim.run(&mut agent, &cpus("0")).unwrap();
    // Iteration 1 read barrier 1 (a's NEW); b's NEW at 5 µs moved it to 2 before the yield.
    assert_eq!(yields.first(), Some(&false));
    assert_eq!(report.failed_yields, 1);
    assert!(report.tasks.iter().all(|t| t.end_ns.is_some()));
}
