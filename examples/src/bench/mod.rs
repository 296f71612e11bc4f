//! The benchmark suites of `bench`: each measures ours beside its anchor in the same run.
//!
//! Output, one line per figure: `bench <suite>.<metric> <value> <unit>`, and per comparison
//! `ratio <suite>.<metric> <ours/anchor>` (below 1 means we are faster / cheaper).

use std::time::{Duration, Instant};

pub mod check;
mod compile_cost;
pub mod dispatch;
pub mod ghost;
pub mod ghost_threads;
pub mod offload;
pub mod pool;

/// How long a suite may spend: full runs for the README table, quick runs for CI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effort {
    /// Enough repetitions for stable medians.
    Full,
    /// A smoke run: the same code paths, smaller inputs, fewer repetitions.
    Quick,
}

/// Prints a measured figure.
pub fn report(metric: &str, value: f64, unit: &str) {
    println!("bench {metric} {value:.3} {unit}");
}

/// Prints ours/anchor.
pub fn report_ratio(metric: &str, ours: f64, anchor: f64) {
    println!("ratio {metric} {:.3}", ours / anchor);
}

/// Times each closure `reps` times, interleaved (A B A B ..) so that drift on a shared machine
/// hits both alike, and returns the median of each.
pub fn interleaved_medians(reps: usize, runs: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(reps); runs.len()];
    for _ in 0..reps {
        for (run, samples) in runs.iter_mut().zip(samples.iter_mut()) {
            let start = Instant::now();
            run();
            samples.push(start.elapsed());
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort();
            s[s.len() / 2]
        })
        .collect()
}
