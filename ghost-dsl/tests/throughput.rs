//! The simulator's throughput with the hand-written FIFO on the large workload (ignored by
//! default: a measurement, run it in release):
//!
//! ```sh
//! cargo test --release -p ghost-dsl --test throughput -- --ignored --nocapture
//! ```
//!
//! The `ghost` suite of the bench binary measures the same workload against the generated
//! scheduler; this test gives the simulator's own figure without the macro.

use std::time::Instant;

use gears_examples::ghost::hand_fifo::HandFifo;
use ghost_dsl::sim::{SimEnclave, workloads};

#[test]
#[ignore = "a measurement; run in release with --ignored --nocapture"]
fn messages_per_second_with_the_hand_fifo() {
    let n_tasks = 4000;
    let mut best = f64::MAX;
    let mut messages = 0;
    for _ in 0..5 {
        let sim = SimEnclave::new(workloads::large(1, n_tasks)).unwrap();
        let mut fifo = HandFifo::new();
        let start = Instant::now();
        let report = sim
            .run(&mut fifo, &workloads::large_agent_config())
            .unwrap();
        let secs = start.elapsed().as_secs_f64();
        assert!(report.tasks.iter().all(|t| t.end_ns.is_some()));
        messages = report.messages;
        best = best.min(secs);
    }
    println!(
        "ghost sim: {n_tasks} tasks, {messages} messages, best of 5 {:.1} ms, {:.2} M messages/s",
        best * 1e3,
        messages as f64 / best / 1e6
    );
}
