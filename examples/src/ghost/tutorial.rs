//! The tutorial's experiment on the simulated enclave: two busy loops `t1`, `t2` of the same
//! length under each of the tutorial's schedulers, the start / end / elapsed table it prints,
//! and a Perfetto trace.

use std::path::{Path, PathBuf};

use ghost_dsl::parse_cpu_str;
use ghost_dsl::prelude::*;
use ghost_dsl::scheduler::Error;
use ghost_dsl::sim::workloads::tutorial_busy_loops;

use super::centralized::CentralizedFifo;
use super::fifo::Fifo;
use super::round_robin::RoundRobin;
use super::smp::SmpFifo;

/// The length of one busy loop on the tutorial's machine (its FIFO table: about 1.4 s each).
pub const TUTORIAL_LOOP_NS: u64 = 1_400_000_000;

/// The CPUs the tutorial's agent manages (`ParseCpuStr("0-1,4")`).
pub const TUTORIAL_CPUS: &str = "0-1,4";

/// The tutorial's schedulers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// FIFO on the default channel's CPU ([`Fifo`]).
    Fifo,
    /// Round-robin on CPU ticks ([`RoundRobin`]).
    RoundRobin,
    /// Per-CPU FIFO with `associate_task` in `task_new` ([`SmpFifo`]).
    Smp,
    /// One global agent ([`CentralizedFifo`]).
    Centralized,
}

impl Policy {
    /// Every policy, in the tutorial's order.
    pub const ALL: [Policy; 4] = [
        Policy::Fifo,
        Policy::RoundRobin,
        Policy::Smp,
        Policy::Centralized,
    ];

    /// A short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Fifo => "fifo",
            Policy::RoundRobin => "round-robin",
            Policy::Smp => "smp",
            Policy::Centralized => "centralized",
        }
    }
}

/// Runs the experiment (two loops of `loop_ns`) under `policy` on the tutorial's CPUs of the
/// default test machine; `trace` records the events for [`Trace::to_chrome_json`](ghost_dsl::sim::Trace).
///
/// # Errors
///
/// A broken task state rule or a simulation that does not finish.
pub fn run_experiment(policy: Policy, loop_ns: u64, trace: bool) -> Result<SimReport, Error> {
    let config =
        SimConfig::new(Topology::test_default(), tutorial_busy_loops(loop_ns)).with_trace(trace);
    let enclave = SimEnclave::new(config)?;
    let cpus = parse_cpu_str(TUTORIAL_CPUS).expect("a valid CPU list");
    let agents = AgentConfig::new(cpus);
    match policy {
        Policy::Fifo => Fifo::default().run(enclave, agents),
        Policy::RoundRobin => {
            RoundRobin::default().run(enclave, agents.with_ticks(CpuTickConfig::AllTicks))
        }
        Policy::Smp => SmpFifo::default().run(enclave, agents),
        Policy::Centralized => CentralizedFifo::default().run(enclave, agents),
    }
}

/// The tutorial's table for one run: start, end and elapsed of `t1` and `t2`, in ms.
pub fn table_rows(policy: Policy, report: &SimReport) -> Vec<String> {
    let ms =
        |ns: Option<u64>| ns.map_or_else(|| "-".to_owned(), |ns| format!("{}", ns / 1_000_000));
    ["t1", "t2"]
        .iter()
        .filter_map(|name| report.task(name))
        .map(|task| {
            format!(
                "{:<12} [ {} ] start: {:>5} ms  end: {:>5} ms  elapsed: {:>5} ms",
                policy.name(),
                task.name,
                ms(task.start_ns),
                ms(task.end_ns),
                ms(task.elapsed_ns())
            )
        })
        .collect()
}

/// Where build outputs go: `$CARGO_TARGET_DIR`, else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("examples/ lives in the workspace")
            .join("target"),
    }
}

/// The tour's section: the experiment under every policy, the tutorial's table, and the
/// round-robin run's Perfetto trace written to `target/ghost-trace.json`.
///
/// # Errors
///
/// A run that fails, or the trace file that cannot be written.
pub fn tour_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== ghOSt scheduler DSL on the simulated enclave (the tutorial's experiment)");
    let loop_ns = if quick { 140_000_000 } else { TUTORIAL_LOOP_NS };
    println!(
        "two busy loops of {} ms each, CPUs \"{TUTORIAL_CPUS}\" of a simulated 8-CPU machine",
        loop_ns / 1_000_000
    );
    for policy in Policy::ALL {
        let report = run_experiment(policy, loop_ns, policy == Policy::RoundRobin)?;
        for row in table_rows(policy, &report) {
            println!("{row}");
        }
        if let Some(trace) = &report.trace {
            let path = target_dir().join("ghost-trace.json");
            std::fs::create_dir_all(target_dir())?;
            trace.write_chrome_json(&path)?;
            println!(
                "{:<12} trace: {} ({} events; open in ui.perfetto.dev)",
                "",
                path.display(),
                trace.events().len()
            );
        }
    }
    Ok(())
}
