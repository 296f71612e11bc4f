//! Suite `ghost`: the `#[ghost_scheduler]` per-CPU FIFO ([`SmpFifo`]) against the hand-written
//! one ([`HandFifo`], plain Rust on the same `SimEnclave` API) on the same large simulation,
//! interleaved in the same run; and the simulator's own throughput in messages per second.
//!
//! Both schedulers make the same decisions (the suite checks that the two simulations have the
//! same trace hash), so the time difference is the cost of the generated agent: dispatch with
//! seqnum and state checks, the task table, the `Cx` handed to handlers.

use std::hint::black_box;
use std::time::Duration;

use ghost_dsl::sim::workloads::{large, large_agent_config};
use ghost_dsl::sim::{SimConfig, SimEnclave, SimReport};

use super::{Effort, interleaved_medians, report, report_ratio};
use crate::ghost::hand_fifo::HandFifo;
use crate::ghost::smp::SmpFifo;

fn generated(config: &SimConfig) -> SimReport {
    let enclave = SimEnclave::new(config.clone()).expect("a valid simulation");
    SmpFifo::default()
        .run(enclave, large_agent_config())
        .expect("the generated FIFO finishes the workload")
}

fn hand(config: &SimConfig) -> SimReport {
    let enclave = SimEnclave::new(config.clone()).expect("a valid simulation");
    enclave
        .run(&mut HandFifo::new(), &large_agent_config())
        .expect("the hand-written FIFO finishes the workload")
}

/// Runs the suite and prints its figures.
pub fn run(effort: Effort) {
    let (tasks, reps) = match effort {
        Effort::Full => (5_000, 7),
        Effort::Quick => (200, 3),
    };
    let config = large(42, tasks);
    let (ours, anchor) = (generated(&config), hand(&config));
    assert_eq!(
        ours.trace_hash, anchor.trace_hash,
        "the generated and the hand-written FIFO must make the same decisions"
    );
    let messages = anchor.messages;
    let medians = interleaved_medians(
        reps,
        &mut [
            &mut || {
                black_box(generated(black_box(&config)));
            },
            &mut || {
                black_box(hand(black_box(&config)));
            },
        ],
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let per_s = |d: Duration| messages as f64 / d.as_secs_f64();
    report("ghost.tasks", tasks as f64, "tasks");
    report("ghost.messages", messages as f64, "messages");
    report("ghost.generated_fifo", ms(medians[0]), "ms");
    report("ghost.hand_fifo", ms(medians[1]), "ms");
    report_ratio("ghost.generated_vs_hand", ms(medians[0]), ms(medians[1]));
    report(
        "ghost.sim_messages_per_s_generated",
        per_s(medians[0]),
        "msg/s",
    );
    report("ghost.sim_messages_per_s_hand", per_s(medians[1]), "msg/s");
}
