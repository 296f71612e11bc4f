//! Suite `pool`: the spawn/sync pool against `rayon::join`, on 1 and 2 workers.
//!
//! On one worker: per-join overhead = (time on the pool - time of the same recursion without a
//! pool) / joins; nothing is ever stolen, so this is the pure cost of a spawn+sync pair. On two
//! workers: wall time, and speedup over the plain recursion.

use std::hint::black_box;

use gears_runtime::pool::Pool;

use super::{Effort, interleaved_medians, report, report_ratio};
use crate::workloads::{
    Tree, fib, fib_joins, fib_rayon, fib_sequential, tree_sum, tree_sum_rayon, tree_sum_sequential,
};

/// Runs the suite and prints its figures.
pub fn run(effort: Effort) {
    let (fib_n, depth, reps) = match effort {
        Effort::Full => (32, 22, 15),
        Effort::Quick => (22, 14, 3),
    };
    let tree = Tree::complete(depth);
    for workers in [1, 2] {
        let ours = Pool::new(workers).expect("start the gears pool");
        let rayon = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .expect("start the rayon pool");

        let expected = fib_sequential(fib_n);
        let medians = interleaved_medians(
            reps,
            &mut [
                &mut || assert_eq!(ours.install(|w| fib(w, black_box(fib_n))), expected),
                &mut || assert_eq!(rayon.install(|| fib_rayon(black_box(fib_n))), expected),
                &mut || assert_eq!(fib_sequential(black_box(fib_n)), expected),
            ],
        );
        figures(
            &format!("pool.fib{fib_n}_w{workers}"),
            workers,
            fib_joins(fib_n),
            &medians,
        );

        let expected = Tree::expected_sum(depth);
        let medians = interleaved_medians(
            reps,
            &mut [
                &mut || assert_eq!(ours.install(|w| tree_sum(w, black_box(&tree))), expected),
                &mut || assert_eq!(rayon.install(|| tree_sum_rayon(black_box(&tree))), expected),
                &mut || assert_eq!(tree_sum_sequential(black_box(&tree)), expected),
            ],
        );
        figures(
            &format!("pool.tree{depth}_w{workers}"),
            workers,
            Tree::joins(depth),
            &medians,
        );
    }
}

fn figures(prefix: &str, workers: usize, joins: u64, medians: &[std::time::Duration]) {
    let [ours, rayon, sequential] = [medians[0], medians[1], medians[2]].map(|d| d.as_secs_f64());
    report(&format!("{prefix}.time"), ours * 1e3, "ms");
    report(&format!("{prefix}.time_rayon"), rayon * 1e3, "ms");
    report(&format!("{prefix}.time_sequential"), sequential * 1e3, "ms");
    report_ratio(&format!("{prefix}.time"), ours, rayon);
    if workers == 1 {
        // Nothing is stolen on one worker: the difference to the plain recursion is the cost of
        // the spawn+sync pairs themselves.
        let per_join = |t: f64| (t - sequential) * 1e9 / joins as f64;
        report(&format!("{prefix}.join_overhead"), per_join(ours), "ns");
        report(
            &format!("{prefix}.join_overhead_rayon"),
            per_join(rayon),
            "ns",
        );
        report_ratio(
            &format!("{prefix}.join_overhead"),
            per_join(ours),
            per_join(rayon),
        );
    } else {
        report(&format!("{prefix}.speedup"), sequential / ours, "x");
        report(&format!("{prefix}.speedup_rayon"), sequential / rayon, "x");
    }
}
