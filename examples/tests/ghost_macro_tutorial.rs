//! The tutorial's experiment with the `#[ghost_scheduler]` schedulers, in simulated time: two busy
//! loops of length T. FIFO on one CPU runs them one after the other, round-robin on ticks
//! interleaves them (both end near 2T), SMP and centralized run them side by side (both near T).

use gears_examples::ghost::tutorial::{Policy, run_experiment};
use ghost_dsl::sim::{SimReport, TaskReport};

const T: u64 = 50_000_000; // 50 ms: 50 ticks of 1 ms for round-robin.
const MS: u64 = 1_000_000;

fn run(policy: Policy) -> SimReport {
    run_experiment(policy, T, false).unwrap_or_else(|err| panic!("{}: {err}", policy.name()))
}

fn tasks(report: &SimReport) -> (&TaskReport, &TaskReport) {
    (report.task("t1").unwrap(), report.task("t2").unwrap())
}

#[test]
fn fifo_on_one_cpu_runs_t2_when_t1_ends() {
    let report = run(Policy::Fifo);
    let (t1, t2) = tasks(&report);
    let (t1_start, t1_end) = (t1.start_ns.unwrap(), t1.end_ns.unwrap());
    let (t2_start, t2_end) = (t2.start_ns.unwrap(), t2.end_ns.unwrap());
    assert!(t1_start < MS / 10, "t1 starts at once: {t1:?}");
    // t1 runs uninterrupted: T of CPU time plus the agent's and switches' microseconds.
    assert!((T..T + MS / 10).contains(&t1_end), "{t1:?}");
    // t2 starts when t1 ends (a context switch later), and runs T.
    assert!(
        t2_start >= t1_end && t2_start - t1_end < MS / 10,
        "{t1:?} {t2:?}"
    );
    assert!((t2_start + T..2 * T + MS / 5).contains(&t2_end), "{t2:?}");
    // Everything ran on the default channel's CPU.
    let busy: Vec<usize> = report
        .cpus
        .iter()
        .filter(|c| c.task_ns > 0)
        .map(|c| c.cpu)
        .collect();
    assert_eq!(busy, [0]);
}

#[test]
fn round_robin_interleaves_and_both_end_near_2t() {
    let report = run(Policy::RoundRobin);
    let (t1, t2) = tasks(&report);
    // t2 starts at the first tick, long before t1 could have finished.
    assert!(t2.start_ns.unwrap() <= 2 * MS, "{t2:?}");
    for task in [t1, t2] {
        let end = task.end_ns.unwrap();
        assert!(
            end > 2 * T - 2 * MS && end < 2 * T + 2 * MS,
            "near 2T: {task:?}"
        );
        // Interleaved: about one switch per tick.
        assert!(task.context_switches > 20, "{task:?}");
        assert!(task.wait_ns > T - 2 * MS, "waited about T: {task:?}");
    }
}

#[test]
fn smp_runs_them_side_by_side_and_both_end_near_t() {
    let report = run(Policy::Smp);
    let (t1, t2) = tasks(&report);
    for task in [t1, t2] {
        let end = task.end_ns.unwrap();
        assert!((T..T + MS / 10).contains(&end), "near T: {task:?}");
        // At most the one preemption of t1 when t2's MSG_TASK_NEW wakes the default channel's
        // agent on t1's CPU.
        assert!(task.context_switches <= 2, "not time-shared: {task:?}");
    }
    let busy: Vec<usize> = report
        .cpus
        .iter()
        .filter(|c| c.task_ns > 0)
        .map(|c| c.cpu)
        .collect();
    assert_eq!(
        busy,
        [0, 1],
        "placed on the enclave's first two CPUs in turn"
    );
}

#[test]
fn centralized_runs_them_side_by_side_off_the_agent_cpu() {
    let report = run(Policy::Centralized);
    let (t1, t2) = tasks(&report);
    for task in [t1, t2] {
        let end = task.end_ns.unwrap();
        assert!((T..T + MS / 10).contains(&end), "near T: {task:?}");
    }
    let busy: Vec<usize> = report
        .cpus
        .iter()
        .filter(|c| c.task_ns > 0)
        .map(|c| c.cpu)
        .collect();
    assert_eq!(busy, [1, 4], "the global agent's CPU 0 runs no task");
}

#[test]
fn the_same_run_gives_the_same_trace() {
    for policy in Policy::ALL {
        let a = run_experiment(policy, T, true).unwrap();
        let b = run_experiment(policy, T, true).unwrap();
        assert_eq!(a.trace_hash, b.trace_hash, "{}", policy.name());
        let json_a = a.trace.unwrap().to_chrome_json();
        assert_eq!(
            json_a,
            b.trace.unwrap().to_chrome_json(),
            "{}",
            policy.name()
        );
        assert!(
            json_a.contains("\"traceEvents\""),
            "a Chrome/Perfetto trace"
        );
    }
}
