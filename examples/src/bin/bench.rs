//! `bench [suite..] [--quick]`: measures gears against its anchors in the same run.
//!
//! Prints `bench <suite>.<metric> <value> <unit>` and `ratio <suite>.<metric> <ours/anchor>`.

use clap::Parser;
use gears_examples::bench::{self, Effort};

const SUITES: &[&str] = &[
    "pool",
    "dispatch",
    "check",
    "offload",
    "ghost",
    "ghost-threads",
];

/// Suites run only when named: parts of a default suite, for profiling.
const PARTS: &[&str] = &["offload-process", "check-parallel"];

#[derive(Parser, Debug)]
#[command(about = "Measure gears against its anchors, in the same run")]
struct Args {
    /// Suites to run (default: all). Known: pool, dispatch, check, offload, ghost, ghost-threads;
    /// and offload-process (the process-friend figures of offload alone, only when named),
    /// check-parallel (the 2-worker figures of check alone, likewise).
    suites: Vec<String>,
    /// Small inputs and few repetitions (a smoke run, for CI).
    #[arg(long)]
    quick: bool,
}

fn main() -> std::process::ExitCode {
    // The offload suite's iceoryx2 anchor runs its server in a child process of this binary.
    bench::offload::iceoryx2::serve_if_child();
    let args = Args::parse();
    let effort = if args.quick {
        Effort::Quick
    } else {
        Effort::Full
    };
    let suites: Vec<&str> = if args.suites.is_empty() {
        SUITES.to_vec()
    } else {
        args.suites.iter().map(String::as_str).collect()
    };
    if let Some(unknown) = suites
        .iter()
        .find(|s| !SUITES.contains(s) && !PARTS.contains(s))
    {
        eprintln!(
            "bench: unknown suite `{unknown}`; known suites: {}, and {}",
            SUITES.join(", "),
            PARTS.join(", ")
        );
        return std::process::ExitCode::FAILURE;
    }
    for suite in suites {
        match suite {
            "pool" => bench::pool::run(effort),
            "dispatch" => bench::dispatch::run(effort),
            "ghost" => bench::ghost::run(effort),
            "ghost-threads" => bench::ghost_threads::run(effort),
            "check" => bench::check::run(effort),
            "offload" => bench::offload::run(effort),
            "offload-process" => bench::offload::run_process_only(effort),
            "check-parallel" => bench::check::run_parallel_only(effort),
            _ => unreachable!("checked against SUITES above"),
        }
    }
    std::process::ExitCode::SUCCESS
}
