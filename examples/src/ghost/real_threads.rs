//! The tutorial's experiment on real threads: the seed's `simple_exp` (two busy loops started as
//! ghOSt threads) under the generated FIFO, round-robin and SMP schedulers, on CPUs "0-1" of
//! this machine, through [`ThreadEnclave`]: the same scheduler types the simulated section runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ghost_dsl::parse_cpu_str;
use ghost_dsl::prelude::*;
use ghost_dsl::scheduler::Error;
use ghost_dsl::threads::{ThreadConfig, ThreadEnclave};

use super::fifo::Fifo;
use super::round_robin::RoundRobin;
use super::smp::SmpFifo;
use super::tutorial::{Policy, target_dir};

/// The CPUs of this machine the enclave manages.
pub const CPUS: &str = "0-1";

/// The seed's `BusyLoop`: `iterations` additions the optimiser cannot remove.
#[inline(never)]
pub fn busy_loop(iterations: u64) -> u64 {
    let mut x = 0u64;
    for i in 0..iterations {
        x = black_box(x.wrapping_add(i));
    }
    x
}

/// Iterations of [`busy_loop`] that take about `target` on one CPU of this machine (the best of
/// a few timings, so that a loaded moment does not inflate it).
pub fn calibrate(target: Duration) -> u64 {
    let probe = 2_000_000;
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        black_box(busy_loop(black_box(probe)));
        best = best.min(t.elapsed());
    }
    (target.as_secs_f64() / best.as_secs_f64() * probe as f64) as u64
}

/// Runs `t1` and `t2`, loops of `iterations` each, as managed threads under `policy` on
/// [`CPUS`]; `trace` records a Perfetto trace.
///
/// # Errors
///
/// The enclave cannot be made (CPUs "0-1" not usable by this process) or the run fails.
pub fn run_experiment(policy: Policy, iterations: u64, trace: bool) -> Result<Report, Error> {
    let enclave = ThreadEnclave::new(ThreadConfig::new().with_trace(trace))?;
    for name in ["t1", "t2"] {
        enclave.spawn(name, move || {
            black_box(busy_loop(iterations));
        })?;
    }
    let agents = AgentConfig::new(parse_cpu_str(CPUS).expect("a valid CPU list"));
    match policy {
        Policy::Fifo => Fifo::default().run(enclave, agents),
        Policy::RoundRobin => {
            RoundRobin::default().run(enclave, agents.with_ticks(CpuTickConfig::AllTicks))
        }
        Policy::Smp => SmpFifo::default().run(enclave, agents),
        Policy::Centralized => super::centralized::CentralizedFifo::default().run(enclave, agents),
    }
}

/// The same two loops as plain threads under the OS scheduler (the seed's `kCfs`): (start, end)
/// of each in ns since the start.
pub fn run_os(iterations: u64) -> [(u64, u64); 2] {
    let start = Instant::now();
    let handles = [0, 1].map(|_| {
        std::thread::spawn(move || {
            let s = start.elapsed().as_nanos() as u64;
            black_box(busy_loop(iterations));
            (s, start.elapsed().as_nanos() as u64)
        })
    });
    handles.map(|h| h.join().expect("a busy loop does not panic"))
}

fn row(label: &str, name: &str, start: Option<u64>, end: Option<u64>) -> String {
    let ms = |ns: Option<u64>| ns.map_or_else(|| "-".to_owned(), |ns| (ns / 1_000_000).to_string());
    let elapsed = match (start, end) {
        (Some(s), Some(e)) => Some(e - s),
        _ => None,
    };
    format!(
        "{label:<12} [ {name} ] start: {:>5} ms  end: {:>5} ms  elapsed: {:>5} ms",
        ms(start),
        ms(end),
        ms(elapsed)
    )
}

/// The tour's section: the experiment under each policy on real CPUs, the seed's table, and
/// the round-robin run's Perfetto trace in `target/ghost-threads-trace.json`.
///
/// # Errors
///
/// A run that fails, or the trace that cannot be written.
pub fn tour_section(quick: bool) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== ghOSt scheduler DSL on real threads");
    let target = if quick {
        Duration::from_millis(100)
    } else {
        Duration::from_millis(1400)
    };
    let iterations = calibrate(target);
    println!(
        "two busy loops of {iterations} iterations (about {} ms alone), managed threads on CPUs \
         \"{CPUS}\" of this machine; agents on the same CPUs; times since the run started",
        target.as_millis()
    );
    for policy in [Policy::Fifo, Policy::RoundRobin, Policy::Smp] {
        let report = run_experiment(policy, iterations, policy == Policy::RoundRobin)?;
        for name in ["t1", "t2"] {
            if let Some(t) = report.task(name) {
                println!("{}", row(policy.name(), name, t.start_ns, t.end_ns));
            }
        }
        println!(
            "{:<12} {} messages, {} commits, {} agent runs; {}",
            "", report.messages, report.commits, report.agent_runs, report.waits
        );
        if let Some(trace) = &report.trace {
            let path = target_dir().join("ghost-threads-trace.json");
            trace.write_chrome_json(&path)?;
            println!(
                "{:<12} trace: {} ({} events; open in ui.perfetto.dev)",
                "",
                path.display(),
                trace.events().len()
            );
        }
    }
    let os = run_os(iterations);
    for (name, (s, e)) in ["t1", "t2"].iter().zip(os) {
        println!("{}", row("os (cfs)", name, Some(s), Some(e)));
    }
    Ok(())
}
