//! Ready-made simulations: the tutorial's experiment and a large workload for throughput.

use super::{RandomInterference, SimConfig, SimRng, TaskSpec, Workload};
use crate::{AgentConfig, Topology};

/// The tutorial's experiment: two busy loops `t1` and `t2` of `loop_ns` CPU time each, `t2`
/// created 10 µs after `t1` (as the test program creates them one after the other).
///
/// On the tutorial's machine a loop took about 1.4 s. FIFO on one CPU runs them one after the
/// other (t2 starts when t1 ends), round-robin on ticks interleaves them (both end near 2T), and
/// SMP runs them side by side (both end near T).
pub fn tutorial_busy_loops(loop_ns: u64) -> Workload {
    Workload::new(vec![
        TaskSpec::new("t1").run(loop_ns),
        TaskSpec::new("t2").start_at(10_000).run(loop_ns),
    ])
}

/// Rounds of run/sleep each task of [`large`] does.
pub const LARGE_ROUNDS: u32 = 200;

/// A large simulation for throughput measurements: `n_tasks` tasks on the default test machine
/// (8 CPUs), arriving over the first millisecond, each doing [`LARGE_ROUNDS`] rounds of
/// run 5-50 µs / sleep 20-200 µs (lengths drawn per task from `seed`), then exiting. The machine
/// is overloaded, so most wakeups preempt a running task: about three messages per round
/// (`WAKEUP`, `PREEMPT`, `BLOCKED`), i.e. about `600 * n_tasks` messages. Run it with
/// [`large_agent_config`].
pub fn large(seed: u64, n_tasks: usize) -> SimConfig {
    let mut rng = SimRng::new(seed);
    let tasks = (0..n_tasks)
        .map(|i| {
            TaskSpec::new(format!("w{i}"))
                .start_at(rng.range(0, 1_000_000))
                .run(rng.range(5_000, 50_000))
                .sleep(rng.range(20_000, 200_000))
                .repeat(LARGE_ROUNDS)
        })
        .collect();
    SimConfig::new(Topology::test_default(), Workload::new(tasks)).with_seed(seed)
}

/// The agent configuration for [`large`]: every CPU of the default test machine, no ticks.
pub fn large_agent_config() -> AgentConfig {
    AgentConfig::new(*Topology::test_default().all_cpus())
}

/// `large` with random higher-class bursts (mean gap 2 ms, mean length 100 µs) on every CPU.
pub fn large_with_interference(seed: u64, n_tasks: usize) -> SimConfig {
    large(seed, n_tasks).with_random_interference(RandomInterference {
        mean_gap_ns: 2_000_000,
        mean_len_ns: 100_000,
    })
}
