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

/// Percentiles of the waits of a run (see [`Report::waits`]): nearest rank, each rounded down to
/// 1/64 relative precision (exact below 128 ns); the maximum is exact.
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

/// Sub-buckets per power of two: 64, so a bucket is at most 1/64 of its values wide.
const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Buckets for every `u64`: values below `2 * SUB` one each, then `SUB` per power of two.
const BUCKETS: usize = 2 * SUB + (64 - SUB_BITS as usize - 1) * SUB;

/// Collects wait samples for [`WaitStats`] in a log-linear histogram: recording is a few
/// instructions and never allocates (it runs once per dispatch in the simulator's hot path);
/// percentiles are read from the buckets.
#[derive(Clone, Debug)]
pub struct WaitRecorder {
    counts: Vec<u64>,
    count: u64,
    max: u64,
}

impl Default for WaitRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl WaitRecorder {
    /// No sample yet.
    pub fn new() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            count: 0,
            max: 0,
        }
    }

    fn bucket(ns: u64) -> usize {
        if ns < 2 * SUB as u64 {
            return ns as usize;
        }
        let msb = 63 - ns.leading_zeros();
        let shift = msb - SUB_BITS;
        // `ns >> shift` is in [SUB, 2 * SUB): the top SUB_BITS + 1 bits.
        2 * SUB + (shift as usize - 1) * SUB + ((ns >> shift) as usize - SUB)
    }

    /// The smallest value of bucket `index`.
    fn floor(index: usize) -> u64 {
        if index < 2 * SUB {
            return index as u64;
        }
        let shift = (index - 2 * SUB) / SUB + 1;
        let top = (index - 2 * SUB) % SUB + SUB;
        (top as u64) << shift
    }

    /// One wait of `ns`.
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.counts[Self::bucket(ns)] += 1;
        self.count += 1;
        self.max = self.max.max(ns);
    }

    /// The percentiles of the samples so far (nearest rank: the smallest sample with at least
    /// p% of the samples at or below it, rounded down to its bucket).
    pub fn stats(&self) -> WaitStats {
        let n = self.count;
        if n == 0 {
            return WaitStats::default();
        }
        let rank = |p: u64| (n * p).div_ceil(100).max(1);
        let (r50, r99) = (rank(50), rank(99));
        let (mut p50, mut p99) = (None, None);
        let mut seen = 0;
        for (index, &c) in self.counts.iter().enumerate() {
            seen += c;
            if p50.is_none() && seen >= r50 {
                p50 = Some(Self::floor(index));
            }
            if seen >= r99 {
                p99 = Some(Self::floor(index));
                break;
            }
        }
        WaitStats {
            count: n,
            p50_ns: p50.unwrap_or(self.max),
            p99_ns: p99.unwrap_or(self.max).min(self.max),
            max_ns: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WaitRecorder;

    #[test]
    fn buckets_cover_every_value_and_round_down_by_at_most_a_64th() {
        for ns in (0..5_000u64).chain([u64::MAX, u64::MAX / 3, 1 << 40, (1 << 40) + 12_345]) {
            let floor = WaitRecorder::floor(WaitRecorder::bucket(ns));
            assert!(floor <= ns && ns - floor <= ns / 64, "{ns} -> {floor}");
        }
        assert_eq!(WaitRecorder::bucket(u64::MAX), super::BUCKETS - 1);
    }

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
