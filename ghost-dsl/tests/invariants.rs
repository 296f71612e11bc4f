//! Consistency of the simulator on random workloads (every phase kind, ticks, interference),
//! checked from the outside: what the trace and report say must add up.

use std::collections::HashMap;

use gears_examples::ghost::hand_fifo::HandFifo;
use ghost_dsl::sim::{
    Costs, RandomInterference, SimConfig, SimEnclave, SimRng, TaskSpec, TraceEvent, Workload,
};
use ghost_dsl::{AgentConfig, CpuList, CpuTickConfig, MessageKind, Topology};

fn random_workload(rng: &mut SimRng, n: usize) -> Workload {
    let tasks = (0..n)
        .map(|i| {
            let mut t = TaskSpec::new(format!("r{i}")).start_at(rng.range(0, 200_000));
            if rng.range(0, 3) == 0 {
                t = t.sleep(rng.range(1_000, 50_000));
            }
            for _ in 0..rng.range(1, 4) {
                t = match rng.range(0, 9) {
                    0 => t.yield_now(),
                    1 => t.set_affinity(CpuList::try_from_cpus(0..8).unwrap()),
                    2..=4 => t.sleep(rng.range(1_000, 100_000)),
                    _ => t.run(rng.range(1_000, 300_000)),
                };
            }
            t = t
                .run(rng.range(1_000, 50_000))
                .repeat(rng.range(1, 6) as u32);
            if rng.range(0, 4) == 0 { t.depart() } else { t }
        })
        .collect();
    Workload::new(tasks)
}

#[test]
fn random_simulations_are_consistent() {
    // What the seeds exercised, so that the test cannot pass vacuously.
    let mut seen: HashMap<MessageKind, u64> = HashMap::new();
    let mut interference_ns = 0;
    let mut failed_commits = 0;
    for seed in 0..12 {
        let mut rng = SimRng::new(seed);
        let n = rng.range(1, 40) as usize;
        let workload = random_workload(&mut rng, n);
        let expected_runtime: Vec<u64> =
            workload.tasks.iter().map(TaskSpec::total_run_ns).collect();
        let costs = Costs {
            agent_loop_ns: rng.range(0, 5_000),
            per_message_ns: rng.range(0, 500),
            context_switch_ns: rng.range(0, 3_000),
        };
        let mut config = SimConfig::new(Topology::test_default(), workload)
            .with_seed(seed)
            .with_costs(costs)
            .with_tick_ns(rng.range(50_000, 1_000_000))
            .with_trace(true);
        if seed % 2 == 0 {
            config = config.with_random_interference(RandomInterference {
                mean_gap_ns: 300_000,
                mean_len_ns: 50_000,
            });
        }
        let agent_cpus = CpuList::try_from_cpus(0..rng.range(1, 8) as usize).unwrap();
        let ticks = if seed % 3 == 0 {
            CpuTickConfig::AllTicks
        } else {
            CpuTickConfig::NoTicks
        };
        let report = SimEnclave::new(config)
            .unwrap()
            .run(
                &mut HandFifo::new(),
                &AgentConfig::new(agent_cpus).with_ticks(ticks),
            )
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let trace = report.trace.as_ref().unwrap();

        // Every task ran exactly the CPU time its phases ask for, and finished.
        for (t, want) in report.tasks.iter().zip(&expected_runtime) {
            assert_eq!(t.runtime_ns, *want, "seed {seed}: {t:?}");
            assert!(t.end_ns.is_some(), "seed {seed}: {t:?}");
        }

        // On each CPU, task, agent and interference slices never overlap, and add up to the
        // report's per-CPU totals.
        let mut slices: HashMap<usize, Vec<(u64, u64)>> = HashMap::new();
        let mut task_ns: HashMap<usize, u64> = HashMap::new();
        let mut runtime_by_task: HashMap<u32, u64> = HashMap::new();
        for event in trace.events() {
            let (cpu, start, end) = match *event {
                TraceEvent::Task {
                    cpu,
                    gtid,
                    start_ns,
                    end_ns,
                } => {
                    *task_ns.entry(cpu).or_default() += end_ns - start_ns;
                    *runtime_by_task.entry(gtid.tid()).or_default() += end_ns - start_ns;
                    (cpu, start_ns, end_ns)
                }
                TraceEvent::Agent {
                    cpu,
                    start_ns,
                    end_ns,
                }
                | TraceEvent::Interference {
                    cpu,
                    start_ns,
                    end_ns,
                } => (cpu, start_ns, end_ns),
                _ => continue,
            };
            assert!(start <= end, "seed {seed}: {event:?}");
            if start < end {
                slices.entry(cpu).or_default().push((start, end));
            }
        }
        for (cpu, mut list) in slices {
            list.sort_unstable();
            for pair in list.windows(2) {
                assert!(
                    pair[0].1 <= pair[1].0,
                    "seed {seed}: overlapping slices on cpu{cpu}: {pair:?}"
                );
            }
        }
        for c in &report.cpus {
            assert_eq!(
                task_ns.get(&c.cpu).copied().unwrap_or(0),
                c.task_ns,
                "seed {seed}"
            );
            assert!(c.task_ns + c.agent_ns + c.interference_ns <= report.end_ns);
        }
        for t in &report.tasks {
            let traced = runtime_by_task.get(&t.gtid.tid()).copied().unwrap_or(0);
            assert_eq!(traced, t.runtime_ns, "seed {seed}: {}", t.name);
        }

        // Per task, message seqnums go 1, 2, 3, ...; NEW first, DEAD or DEPARTED last.
        let mut per_task: HashMap<u32, Vec<(u32, MessageKind)>> = HashMap::new();
        for event in trace.events() {
            if let TraceEvent::Message {
                gtid: Some(gtid),
                seqnum,
                kind,
                ..
            } = *event
            {
                per_task.entry(gtid.tid()).or_default().push((seqnum, kind));
            }
        }
        assert_eq!(per_task.len(), n, "seed {seed}");
        for (tid, msgs) in per_task {
            for (i, (seq, _)) in msgs.iter().enumerate() {
                assert_eq!(*seq as usize, i + 1, "seed {seed}: task {tid}: {msgs:?}");
            }
            assert_eq!(msgs[0].1, MessageKind::TaskNew);
            let last = msgs.last().unwrap().1;
            assert!(
                last == MessageKind::TaskDead || last == MessageKind::TaskDeparted,
                "seed {seed}: task {tid} ends with {last}"
            );
        }
        let messages: u64 = report.messages_by_kind.iter().map(|(_, n)| n).sum();
        assert_eq!(messages, report.messages);
        for (kind, n) in &report.messages_by_kind {
            *seen.entry(*kind).or_default() += n;
        }
        interference_ns += report.cpus.iter().map(|c| c.interference_ns).sum::<u64>();
        failed_commits += report.failed_commits.iter().map(|(_, n)| n).sum::<u64>();
    }
    for kind in [
        MessageKind::TaskYield,
        MessageKind::TaskDeparted,
        MessageKind::TaskAffinityChanged,
        MessageKind::TaskPreempt,
        MessageKind::CpuTick,
    ] {
        assert!(
            seen.get(&kind).copied().unwrap_or(0) > 0,
            "no {kind} in any seed"
        );
    }
    assert!(interference_ns > 0 && failed_commits > 0);
}
