//! What a run on real threads measured: the ABI's [`Report`] (the simulator's tables, wait-time
//! percentiles, counters, the trace), and what only real threads have ([`ThreadReport`]: panics,
//! kernel blocks, whether agents got real-time priority, whether the run fell back).

use std::fmt;

use super::kernel::State;
use crate::abi::{CpuReport, Report, TaskReport, Trace, TraceEvent, WaitRecorder};
use crate::{MessageKind, TxnState};

/// A managed thread's panic, as its `MSG_TASK_DEAD` reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadPanic {
    /// The thread's name.
    pub name: String,
    /// The panic message.
    pub message: String,
}

/// How a run noticed managed threads blocking in the kernel outside the enclave's calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlockDetection {
    /// `sched:sched_switch` records (through `perf_event_open`), confirmed in `/proc`, each
    /// monitor poll; a `/proc` sweep every 16 polls as a safety net.
    Tracepoints,
    /// `/proc/self/task/<tid>/stat` of every committed thread, each poll.
    Polling,
    /// Not at all ([`ThreadConfig::with_kernel_block_detection`](super::ThreadConfig)).
    Off,
}

/// The [`Report`] of a thread-enclave run, and what only real threads have.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadReport {
    /// The report every backend gives. Times are wall-clock ns since the run started; a thread's
    /// runtime is the time it was committed to a CPU (an agent iteration on that CPU at
    /// real-time priority falls inside it).
    pub report: Report,
    /// Threads whose closure panicked (each also ended with `MSG_TASK_DEAD`).
    pub panics: Vec<ThreadPanic>,
    /// Blocks in the kernel outside the enclave's calls that the monitor detected.
    pub kernel_blocks: u64,
    /// Whether every agent thread got `SCHED_FIFO` priority.
    pub realtime_agents: bool,
    /// Whether the threads were released to the OS scheduler (a fault, a stop, a drop).
    pub fell_back: bool,
    /// How kernel blocks were detected.
    pub block_detection: BlockDetection,
    /// Why the tracepoints could not be used, when they were asked for and were not.
    pub block_detection_note: Option<String>,
    /// `sched_switch` records read from the tracepoints.
    pub switch_records: u64,
}

/// FNV-1a over the events' words, as the simulator's trace hash (times differ run to run, so
/// it identifies one run, not a policy).
fn hash(events: &[TraceEvent]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for e in events {
        let word = format!("{e:?}");
        for b in word.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

pub(crate) fn report_of(st: &State) -> Report {
    let end_ns = st.now_ns();
    let mut waits = WaitRecorder::new();
    let tasks = st
        .threads
        .iter()
        .map(|t| {
            for &w in &t.waits {
                waits.record(w);
            }
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
    let trace = st.trace.as_ref().map(|events| {
        let mut task_names = vec![String::new()];
        task_names.extend(st.threads.iter().map(|t| t.name.clone()));
        Trace {
            events: events.clone(),
            cpus: st.cpus.iter().map(|c| c.cpu.id()).collect(),
            task_names,
            title: "ghOSt enclave (real threads)",
        }
    });
    Report {
        end_ns,
        tasks,
        cpus,
        waits: waits.stats(),
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
        trace_hash: st.trace.as_deref().map_or(0, hash),
        trace,
    }
}

pub(crate) fn thread_report_of(st: &State, realtime_agents: bool) -> ThreadReport {
    ThreadReport {
        report: report_of(st),
        panics: st
            .threads
            .iter()
            .filter_map(|t| {
                Some(ThreadPanic {
                    name: t.name.clone(),
                    message: t.panic.clone()?,
                })
            })
            .collect(),
        kernel_blocks: st.stats.kernel_blocks,
        realtime_agents,
        fell_back: st.fallen_back,
        block_detection: st.block_detection,
        block_detection_note: st.block_detection_note.clone(),
        switch_records: st.stats.switch_records,
    }
}

impl fmt::Display for ThreadReport {
    /// The report's tables, then what real threads add.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.report)?;
        write!(
            f,
            "\nagents {}; {} kernel blocks detected ({:?}){}",
            if self.realtime_agents {
                "at SCHED_FIFO priority"
            } else {
                "in the normal class (no permission for SCHED_FIFO)"
            },
            self.kernel_blocks,
            self.block_detection,
            if self.fell_back {
                "; threads were released to the OS scheduler"
            } else {
                ""
            }
        )?;
        for p in &self.panics {
            write!(f, "\nthread {} panicked: {}", p.name, p.message)?;
        }
        Ok(())
    }
}
