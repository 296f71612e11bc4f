//! What an enclave measured: per task, per CPU, wait-time percentiles, and counters of the kernel
//! ABI as a whole. Both backends fill the same [`Report`].

use std::fmt;

use super::trace::Trace;
use crate::{Gtid, MessageKind, TxnState};

/// One task's life in the enclave. Times are in ns since the enclave started.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskReport {
    /// The task.
    pub gtid: Gtid,
    /// Its name (in the workload, or given at spawn).
    pub name: String,
    /// When it joined the enclave.
    pub arrival_ns: u64,
    /// When it first ran (`None` if it never did).
    pub start_ns: Option<u64>,
    /// When it exited or departed (`None` if it had not when the simulation stopped).
    pub end_ns: Option<u64>,
    /// CPU time it received.
    pub runtime_ns: u64,
    /// Time it spent runnable but not on a CPU: from becoming runnable (arrival, wakeup,
    /// preemption, yield) to the commit that placed it.
    pub wait_ns: u64,
    /// How many times it was put on a CPU.
    pub context_switches: u64,
    /// How many times it was preempted.
    pub preemptions: u64,
}

impl TaskReport {
    /// `end - start` (the tutorial's "elapsed"), if it started and ended.
    pub fn elapsed_ns(&self) -> Option<u64> {
        Some(self.end_ns? - self.start_ns?)
    }
}

/// One CPU's time in the enclave, over `[0, end_ns)` of the report.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuReport {
    /// The CPU.
    pub cpu: usize,
    /// Time running ghOSt tasks.
    pub task_ns: u64,
    /// Time running the agent.
    pub agent_ns: u64,
    /// Time running higher-class tasks.
    pub interference_ns: u64,
    /// Time switching into tasks (context-switch cost).
    pub switch_ns: u64,
    /// How many times a task was put on this CPU.
    pub context_switches: u64,
    /// `task_ns / end_ns` of the report (0 when the report is empty).
    pub utilisation: f64,
}

/// Everything an enclave measured (the simulator's and the thread enclave's report alike).
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Time when it stopped (the last task's end when all finished), ns since the start.
    pub end_ns: u64,
    /// Per task, in tid order.
    pub tasks: Vec<TaskReport>,
    /// Per enclave CPU, in CPU order.
    pub cpus: Vec<CpuReport>,
    /// The time tasks spent runnable before they got a CPU, one sample per wait (from becoming
    /// runnable to the commit that placed the task).
    pub waits: WaitStats,
    /// Messages posted.
    pub messages: u64,
    /// Messages posted per kind, in [`MessageKind::ALL`] order.
    pub messages_by_kind: Vec<(MessageKind, u64)>,
    /// Agent loop iterations ([`Agent::run`](crate::Agent::run) calls).
    pub agent_runs: u64,
    /// Successful commits.
    pub commits: u64,
    /// Failed commits per reason, in [`TxnState::FAILURES`] order.
    pub failed_commits: Vec<(TxnState, u64)>,
    /// `local_yield` calls that failed because the barrier was stale.
    pub failed_yields: u64,
    /// Successful [`Channel::associate_task`](crate::Channel::associate_task) calls.
    pub associations: u64,
    /// Failed ones.
    pub failed_associations: u64,
    /// Hash of every trace event, recorded or not: equal for equal simulations.
    pub trace_hash: u64,
    /// The events, when recording was asked for
    /// ([`SimConfig::record_trace`](crate::sim::SimConfig::record_trace) in the simulator).
    pub trace: Option<Trace>,
}

impl Report {
    /// The task named `name`.
    pub fn task(&self, name: &str) -> Option<&TaskReport> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// Failed commits with reason `state`.
    pub fn failed(&self, state: TxnState) -> u64 {
        self.failed_commits
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n)
    }

    /// Messages posted of kind `kind`.
    pub fn messages_of(&self, kind: MessageKind) -> u64 {
        self.messages_by_kind
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| *n)
    }
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

impl fmt::Display for Report {
    /// Two tables (tasks, CPUs) and the kernel counters, times in ms.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<12} {:>10} {:>10} {:>10} {:>10} {:>10} {:>8}",
            "task", "start ms", "end ms", "elapsed", "runtime", "wait", "switches"
        )?;
        let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| format!("{:.3}", ms(v)));
        for t in &self.tasks {
            writeln!(
                f,
                "{:<12} {:>10} {:>10} {:>10} {:>10.3} {:>10.3} {:>8}",
                t.name,
                opt(t.start_ns),
                opt(t.end_ns),
                opt(t.elapsed_ns()),
                ms(t.runtime_ns),
                ms(t.wait_ns),
                t.context_switches
            )?;
        }
        writeln!(
            f,
            "{:<6} {:>8} {:>10} {:>10} {:>10} {:>8}",
            "cpu", "util", "task ms", "agent ms", "other ms", "switches"
        )?;
        for c in &self.cpus {
            writeln!(
                f,
                "{:<6} {:>7.1}% {:>10.3} {:>10.3} {:>10.3} {:>8}",
                c.cpu,
                c.utilisation * 100.0,
                ms(c.task_ns),
                ms(c.agent_ns),
                ms(c.interference_ns),
                c.context_switches
            )?;
        }
        writeln!(f, "waits: {}", self.waits)?;
        let failed: u64 = self.failed_commits.iter().map(|(_, n)| n).sum();
        write!(
            f,
            "{} messages, {} agent runs, {} commits ({} failed), end at {:.3} ms",
            self.messages,
            self.agent_runs,
            self.commits,
            failed,
            ms(self.end_ns)
        )
    }
}

/// Percentiles of the waits of a run (see [`Report::waits`]), nearest-rank, exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitStats {
    /// How many waits were measured.
    pub count: u64,
    /// Median, ns.
    pub p50_ns: u64,
    /// 99th percentile, ns.
    pub p99_ns: u64,
    /// Longest, ns.
    pub max_ns: u64,
}

impl fmt::Display for WaitStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} waits, p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            self.count,
            ms(self.p50_ns),
            ms(self.p99_ns),
            ms(self.max_ns)
        )
    }
}

/// Collects wait samples for [`WaitStats`]: one push per wait, the percentiles computed when a
/// report is made.
#[derive(Clone, Debug, Default)]
pub struct WaitRecorder {
    samples: Vec<u64>,
}

impl WaitRecorder {
    /// No sample yet.
    pub const fn new() -> Self {
        Self {
            samples: Vec::new(),
        }
    }

    /// One wait of `ns`.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.samples.push(ns);
    }

    /// The percentiles of the samples so far (nearest rank: the smallest sample with at least
    /// p% of the samples at or below it).
    pub fn stats(&self) -> WaitStats {
        let n = self.samples.len();
        if n == 0 {
            return WaitStats::default();
        }
        // Two selections (O(n) each) instead of a sort: reports are made often in benchmarks.
        let mut samples = self.samples.clone();
        let index = |p: usize| (n * p).div_ceil(100).max(1) - 1;
        let (p50, p99) = (index(50), index(99));
        let (_, &mut p99_ns, above) = samples.select_nth_unstable(p99);
        let max_ns = above.iter().copied().max().unwrap_or(p99_ns);
        let (_, &mut p50_ns, _) = samples[..=p99].select_nth_unstable(p50);
        WaitStats {
            count: n as u64,
            p50_ns,
            p99_ns,
            max_ns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WaitRecorder;

    #[test]
    fn nearest_rank_percentiles() {
        let mut waits = WaitRecorder::new();
        assert_eq!(waits.stats().count, 0);
        for ns in (1..=200).rev() {
            waits.record(ns);
        }
        let stats = waits.stats();
        assert_eq!(
            (stats.count, stats.p50_ns, stats.p99_ns, stats.max_ns),
            (200, 100, 198, 200)
        );
        let mut skewed = WaitRecorder::new();
        for ns in [5, 1, 1_000, 3, 2, 4] {
            skewed.record(ns);
        }
        let stats = skewed.stats();
        assert_eq!(
            (stats.p50_ns, stats.p99_ns, stats.max_ns),
            (3, 1_000, 1_000)
        );
        let mut one = WaitRecorder::new();
        one.record(7);
        let stats = one.stats();
        assert_eq!((stats.p50_ns, stats.p99_ns, stats.max_ns), (7, 7, 7));
    }
}
