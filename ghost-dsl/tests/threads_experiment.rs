//! The seed's experiment (two busy loops, `simple_exp`) on real threads under the generated
//! FIFO, round-robin and SMP schedulers of the tutorial, on CPUs "0-1": the shape the tutorial
//! shows, and that no CPU ever had two managed threads committed at once.
//!
//! Tolerances: the loops are calibrated to about 120 ms each; only orderings are asserted
//! (they hold however loaded the machine is), plus the physical CPUs each thread observed.

mod threads_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gears_examples::ghost::fifo::Fifo;
use gears_examples::ghost::round_robin::RoundRobin;
use gears_examples::ghost::smp::SmpFifo;
use ghost_dsl::sim::TraceEvent;
use ghost_dsl::threads::ThreadEnclave;
use ghost_dsl::{AgentConfig, CpuTickConfig, MessageKind, parse_cpu_str};
use threads_support::{calibrate, current_cpu, in_child, patient, spin};

const LIMIT: Duration = Duration::from_secs(30);

/// Spawns t1 and t2, each a loop of `iters` in chunks, recording the CPUs it ran on.
fn experiment(enclave: &ThreadEnclave, iters: u64) -> Arc<Mutex<Vec<(String, usize)>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    for name in ["t1", "t2"] {
        let seen = seen.clone();
        enclave
            .spawn(name, move || {
                let mut cpus = std::collections::BTreeSet::new();
                let chunk = (iters / 200).max(1);
                let mut done = 0;
                while done < iters {
                    spin(chunk);
                    done += chunk;
                    cpus.insert(current_cpu());
                }
                let mut seen = seen.lock().unwrap();
                for cpu in cpus {
                    seen.push((name.to_owned(), cpu));
                }
            })
            .unwrap();
    }
    seen
}

fn agents() -> AgentConfig {
    AgentConfig::new(parse_cpu_str("0-1").unwrap())
}

/// (start, end) of t1 and t2, ns.
fn spans(report: &ghost_dsl::Report) -> [(u64, u64); 2] {
    ["t1", "t2"].map(|n| {
        let t = report.task(n).expect("both threads are in the report");
        (t.start_ns.expect("started"), t.end_ns.expect("ended"))
    })
}

/// No two task slices on one CPU overlap (the kernel's view: one committed thread per CPU).
fn assert_one_thread_per_cpu(report: &ghost_dsl::Report) {
    let trace = report.trace.as_ref().expect("the trace was recorded");
    let mut slices: Vec<(usize, u64, u64)> = trace
        .events()
        .iter()
        .filter_map(|e| match *e {
            TraceEvent::Task {
                cpu,
                start_ns,
                end_ns,
                ..
            } => Some((cpu, start_ns, end_ns)),
            _ => None,
        })
        .collect();
    assert!(!slices.is_empty());
    slices.sort();
    for w in slices.windows(2) {
        if w[0].0 == w[1].0 {
            assert!(
                w[1].1 >= w[0].2,
                "two threads committed to cpu {} at once: {:?} and {:?}",
                w[0].0,
                w[0],
                w[1]
            );
        }
    }
}

#[test]
fn fifo_runs_the_loops_one_after_the_other_on_one_cpu() {
    in_child(
        "fifo_runs_the_loops_one_after_the_other_on_one_cpu",
        LIMIT,
        || {
            let iters = calibrate(Duration::from_millis(120));
            let enclave = ThreadEnclave::new(patient().with_trace(true)).unwrap();
            let seen = experiment(&enclave, iters);
            // The tutorial's FIFO keeps one queue whose `pick_next` ignores the CPU, as the
            // round-robin does (see below): with an agent on CPU 1 too, that agent may take the
            // queued loop whenever it happens to iterate, which under load can be after both
            // loops were queued. One agent CPU is the experiment the tutorial runs.
            let one_cpu = AgentConfig::new(parse_cpu_str("0").unwrap());
            let report = Fifo::default().run(enclave, one_cpu).unwrap();
            let [(s1, e1), (s2, e2)] = spans(&report);
            println!("{report}");
            // One after the other: whichever started second started after the first ended.
            let (first_end, second_start) = if s1 <= s2 { (e1, s2) } else { (e2, s1) };
            assert!(second_start >= first_end, "FIFO overlapped the loops");
            assert_eq!(report.messages_of(MessageKind::TaskNew), 2);
            assert_eq!(report.messages_of(MessageKind::TaskDead), 2);
            // Physically on the first enclave CPU only (the default channel's).
            for (name, cpu) in seen.lock().unwrap().iter() {
                assert_eq!(*cpu, 0, "{name} ran on cpu {cpu}");
            }
            assert_one_thread_per_cpu(&report);
        },
    );
}

#[test]
fn round_robin_interleaves_the_loops() {
    in_child("round_robin_interleaves_the_loops", LIMIT, || {
        let iters = calibrate(Duration::from_millis(120));
        let enclave = ThreadEnclave::new(patient().with_trace(true)).unwrap();
        let seen = experiment(&enclave, iters);
        // The tutorial's round-robin is a FIFO on one CPU: its `pick_next` ignores the CPU, so
        // on an enclave of two CPUs the second CPU's agent may take the queued loop whenever it
        // happens to iterate (under load, its first iteration can come after both loops were
        // queued). One CPU is the experiment the tutorial runs.
        let one_cpu = AgentConfig::new(parse_cpu_str("0").unwrap());
        let report = RoundRobin::default()
            .run(enclave, one_cpu.with_ticks(CpuTickConfig::AllTicks))
            .unwrap();
        println!("{report}");
        let [(s1, e1), (s2, e2)] = spans(&report);
        // Interleaved: both started before either ended, with many switches between them.
        assert!(
            s1.max(s2) < e1.min(e2),
            "round-robin ran them one after the other"
        );
        assert!(report.messages_of(MessageKind::CpuTick) >= 10);
        assert!(report.messages_of(MessageKind::TaskPreempt) >= 10);
        let switches: u64 = report.tasks.iter().map(|t| t.context_switches).sum();
        assert!(switches >= 10, "{switches} switches");
        for (name, cpu) in seen.lock().unwrap().iter() {
            assert_eq!(*cpu, 0, "{name} ran on cpu {cpu}");
        }
        assert_one_thread_per_cpu(&report);
    });
}

#[test]
fn smp_runs_the_loops_side_by_side() {
    in_child("smp_runs_the_loops_side_by_side", LIMIT, || {
        let iters = calibrate(Duration::from_millis(120));
        let enclave = ThreadEnclave::new(patient().with_trace(true)).unwrap();
        let seen = experiment(&enclave, iters);
        let report = SmpFifo::default().run(enclave, agents()).unwrap();
        println!("{report}");
        let [(s1, e1), (s2, e2)] = spans(&report);
        assert!(s1.max(s2) < e1.min(e2), "SMP did not overlap the loops");
        // One loop per CPU, physically too.
        let seen = seen.lock().unwrap();
        let cpus_of = |name: &str| -> Vec<usize> {
            seen.iter()
                .filter(|(n, _)| n == name)
                .map(|(_, c)| *c)
                .collect()
        };
        let (c1, c2) = (cpus_of("t1"), cpus_of("t2"));
        assert_eq!(c1.len(), 1, "t1 moved between CPUs: {c1:?}");
        assert_eq!(c2.len(), 1, "t2 moved between CPUs: {c2:?}");
        assert_ne!(c1, c2, "both loops ran on one CPU");
        assert_one_thread_per_cpu(&report);
    });
}
