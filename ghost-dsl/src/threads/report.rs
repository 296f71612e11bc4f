//! What a run on real threads measured: the simulator's tables plus wait-time percentiles,
//! panics, and how the agents were set up.

use std::fmt;

use super::kernel::State;
use crate::sim::{CpuReport, TaskReport, Trace};
use crate::{MessageKind, TxnState};

/// Percentiles of the time threads waited runnable before a commit placed them, in ns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WaitPercentiles {
    /// How many waits were measured (one per commit).
    pub samples: usize,
    /// Median.
    pub p50_ns: u64,
    /// 99th percentile (nearest rank).
    pub p99_ns: u64,
    /// Longest.
    pub max_ns: u64,
}

impl WaitPercentiles {
    /// Nearest-rank percentiles of `waits` (sorted in place).
    pub fn of(waits: &mut [u64]) -> Self {
        if waits.is_empty() {
            return Self::default();
        }
        waits.sort_unstable();
        let rank = |p: f64| {
            let k = ((p * waits.len() as f64).ceil() as usize).clamp(1, waits.len());
            waits[k - 1]
        };
        Self {
            samples: waits.len(),
            p50_ns: rank(0.50),
            p99_ns: rank(0.99),
            max_ns: waits[waits.len() - 1],
        }
    }
}

/// A managed thread's panic, as its `MSG_TASK_DEAD` reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadPanic {
    /// The thread's name.
    pub name: String,
    /// The panic message.
    pub message: String,
}

/// Everything a [`ThreadEnclave`](super::ThreadEnclave) run measured. Times are wall-clock ns
/// since the enclave was created; runtime is time committed to a CPU (an agent iteration on the
/// same CPU at real-time priority is inside it).
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadReport {
    /// When the run stopped.
    pub end_ns: u64,
    /// Per managed thread, in spawn order (tid order).
    pub tasks: Vec<TaskReport>,
    /// Per enclave CPU.
    pub cpus: Vec<CpuReport>,
    /// Percentiles over every wait of every thread.
    pub wait: WaitPercentiles,
    /// Messages posted.
    pub messages: u64,
    /// Messages per kind, in [`MessageKind::ALL`] order.
    pub messages_by_kind: Vec<(MessageKind, u64)>,
    /// Agent iterations.
    pub agent_runs: u64,
    /// Successful commits.
    pub commits: u64,
    /// Failed commits per reason, in [`TxnState::FAILURES`] order.
    pub failed_commits: Vec<(TxnState, u64)>,
    /// Failed `local_yield` calls (stale barrier).
    pub failed_yields: u64,
    /// Successful `associate_task` calls.
    pub associations: u64,
    /// Failed ones.
    pub failed_associations: u64,
    /// Blocks in the kernel outside the enclave's calls that the monitor detected.
    pub kernel_blocks: u64,
    /// Threads whose closure panicked.
    pub panics: Vec<ThreadPanic>,
    /// Whether every agent thread got `SCHED_FIFO` priority.
    pub realtime_agents: bool,
    /// Whether the run fell back to the OS scheduler.
    pub fell_back: bool,
    /// The events, when [`ThreadConfig::with_trace`](super::ThreadConfig::with_trace) was set.
    pub trace: Option<Trace>,
}

impl ThreadReport {
    pub(crate) fn from_state(st: &State, realtime_agents: bool) -> Self {
        let end_ns = st.now_ns();
        let mut all_waits = Vec::new();
        let tasks = st
            .threads
            .iter()
            .map(|t| {
                all_waits.extend_from_slice(&t.waits);
                TaskReport {
                    gtid: t.gtid,
                    name: t.name.clone(),
                    arrival_ns: t.arrival_ns,
                    start_ns: t.start_ns,
                    end_ns: t.end_ns,
                    runtime_ns: t.runtime_ns,
                    wait_ns: t.waits.iter().sum(),
                    context_switches: t.switches,
                    preemptions: t.preemptions,
                }
            })
            .collect();
        let cpus = st
            .cpus
            .iter()
            .map(|c| CpuReport {
                cpu: c.cpu.id(),
                task_ns: c.task_ns,
                agent_ns: c.agent_ns,
                interference_ns: 0,
                switch_ns: 0,
                context_switches: c.switches,
                utilisation: if end_ns == 0 {
                    0.0
                } else {
                    c.task_ns as f64 / end_ns as f64
                },
            })
            .collect();
        let panics = st
            .threads
            .iter()
            .filter_map(|t| {
                Some(ThreadPanic {
                    name: t.name.clone(),
                    message: t.panic.clone()?,
                })
            })
            .collect();
        let trace = st.trace.as_ref().map(|events| {
            let mut task_names = vec![String::new()];
            task_names.extend(st.threads.iter().map(|t| t.name.clone()));
            Trace {
                events: events.clone(),
                cpus: st.cpus.iter().map(|c| c.cpu.id()).collect(),
                task_names,
            }
        });
        Self {
            end_ns,
            tasks,
            cpus,
            wait: WaitPercentiles::of(&mut all_waits),
            messages: st.stats.messages,
            messages_by_kind: MessageKind::ALL
                .iter()
                .map(|&k| (k, st.stats.by_kind[k as usize]))
                .collect(),
            agent_runs: st.stats.agent_runs,
            commits: st.stats.commits,
            failed_commits: TxnState::FAILURES
                .iter()
                .zip(st.stats.failed)
                .map(|(&s, n)| (s, n))
                .collect(),
            failed_yields: st.stats.failed_yields,
            associations: st.stats.associations,
            failed_associations: st.stats.failed_associations,
            kernel_blocks: st.stats.kernel_blocks,
            panics,
            realtime_agents,
            fell_back: st.fallen_back,
            trace,
        }
    }

    /// The thread named `name`.
    pub fn task(&self, name: &str) -> Option<&TaskReport> {
        self.tasks.iter().find(|t| t.name == name)
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

impl fmt::Display for ThreadReport {
    /// The simulator's tables (tasks, CPUs), the counters, and the wait percentiles.
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
            "{:<6} {:>8} {:>10} {:>10} {:>8}",
            "cpu", "util", "task ms", "agent ms", "switches"
        )?;
        for c in &self.cpus {
            writeln!(
                f,
                "{:<6} {:>7.1}% {:>10.3} {:>10.3} {:>8}",
                c.cpu,
                c.utilisation * 100.0,
                ms(c.task_ns),
                ms(c.agent_ns),
                c.context_switches
            )?;
        }
        let failed: u64 = self.failed_commits.iter().map(|(_, n)| n).sum();
        writeln!(
            f,
            "{} messages, {} agent runs, {} commits ({} failed), end at {:.3} ms",
            self.messages,
            self.agent_runs,
            self.commits,
            failed,
            ms(self.end_ns)
        )?;
        write!(
            f,
            "wait p50 {:.1} us, p99 {:.1} us, max {:.1} us over {} commits",
            self.wait.p50_ns as f64 / 1e3,
            self.wait.p99_ns as f64 / 1e3,
            self.wait.max_ns as f64 / 1e3,
            self.wait.samples
        )?;
        for p in &self.panics {
            write!(f, "\nthread {} panicked: {}", p.name, p.message)?;
        }
        Ok(())
    }
}
