//! The simulation's trace: what ran where and when, which messages were posted and which commits
//! failed; exported as Chrome / Perfetto trace JSON (one track per CPU).

use std::io;
use std::path::Path;

use serde_json::{Value, json};

use crate::{Gtid, MessageKind, TxnState};

/// One thing that happened in the simulation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceEvent {
    /// A task ran on a CPU over `[start_ns, end_ns)`.
    Task {
        /// The CPU.
        cpu: usize,
        /// The task.
        gtid: Gtid,
        /// Start.
        start_ns: u64,
        /// End.
        end_ns: u64,
    },
    /// An agent iteration on a CPU over `[start_ns, end_ns)` (barrier read to decision).
    Agent {
        /// The CPU.
        cpu: usize,
        /// Start.
        start_ns: u64,
        /// End.
        end_ns: u64,
    },
    /// A higher scheduling class ran on a CPU over `[start_ns, end_ns)`.
    Interference {
        /// The CPU.
        cpu: usize,
        /// Start.
        start_ns: u64,
        /// End.
        end_ns: u64,
    },
    /// A message was posted to the channel that wakes the agent of `cpu`.
    Message {
        /// When.
        time_ns: u64,
        /// The CPU of the agent the channel wakes.
        cpu: usize,
        /// The message type.
        kind: MessageKind,
        /// The task, for task messages.
        gtid: Option<Gtid>,
        /// The message's seqnum.
        seqnum: u32,
    },
    /// A commit failed.
    CommitFailed {
        /// When.
        time_ns: u64,
        /// The CPU of the transaction.
        cpu: usize,
        /// The target.
        target: Gtid,
        /// Why.
        state: TxnState,
    },
}

impl TraceEvent {
    fn words(&self) -> [u64; 6] {
        match *self {
            Self::Task {
                cpu,
                gtid,
                start_ns,
                end_ns,
            } => [1, cpu as u64, gtid.raw(), start_ns, end_ns, 0],
            Self::Agent {
                cpu,
                start_ns,
                end_ns,
            } => [2, cpu as u64, 0, start_ns, end_ns, 0],
            Self::Interference {
                cpu,
                start_ns,
                end_ns,
            } => [3, cpu as u64, 0, start_ns, end_ns, 0],
            Self::Message {
                time_ns,
                cpu,
                kind,
                gtid,
                seqnum,
            } => [
                4,
                cpu as u64,
                gtid.map_or(0, Gtid::raw),
                time_ns,
                kind as u64,
                u64::from(seqnum),
            ],
            Self::CommitFailed {
                time_ns,
                cpu,
                target,
                state,
            } => [5, cpu as u64, target.raw(), time_ns, state as u64, 0],
        }
    }
}

/// Records events and folds every one into a hash (FNV-1a over 64-bit words), so two runs can be
/// compared for identity without keeping their events.
#[derive(Clone, Debug)]
pub(crate) struct TraceRecorder {
    hash: u64,
    events: Option<Vec<TraceEvent>>,
    /// At most this many events are kept; past it recording stops and `overflowed` is set (the
    /// hash still covers every event).
    max_events: usize,
    overflowed: bool,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl TraceRecorder {
    /// Keeps at most `max_events` events.
    pub(crate) fn with_cap(keep_events: bool, max_events: usize) -> Self {
        Self {
            hash: FNV_OFFSET,
            events: keep_events.then(Vec::new),
            max_events,
            overflowed: false,
        }
    }

    /// The most events kept.
    pub(crate) fn cap(&self) -> usize {
        self.max_events
    }

    /// Whether more events came than the cap allows.
    #[inline]
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }

    #[inline]
    pub(crate) fn record(&mut self, event: TraceEvent) {
        for w in event.words() {
            self.hash = (self.hash ^ w).wrapping_mul(FNV_PRIME);
        }
        if let Some(events) = &mut self.events {
            if events.len() < self.max_events {
                events.push(event);
            } else {
                self.overflowed = true;
            }
        }
    }

    /// Whether events are kept (callers skip building slices of zero length otherwise too).
    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    pub(crate) fn events(&self) -> Option<&[TraceEvent]> {
        self.events.as_deref()
    }
}

/// A recorded simulation trace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    pub(crate) events: Vec<TraceEvent>,
    /// The CPUs that get a track, in order.
    pub(crate) cpus: Vec<usize>,
    /// Task names by tid (index 0 unused).
    pub(crate) task_names: Vec<String>,
    /// The process track's name (which enclave made the trace).
    pub(crate) title: &'static str,
}

impl Trace {
    /// The events in the order they were recorded (slices are recorded when they end).
    pub fn events(&self) -> &[TraceEvent] {
        &self.events
    }

    /// The CPUs that get a track.
    pub fn cpus(&self) -> &[usize] {
        &self.cpus
    }

    fn task_name(&self, gtid: Gtid) -> &str {
        self.task_names
            .get(gtid.tid() as usize)
            .map_or("?", String::as_str)
    }

    /// The trace as Chrome trace-event JSON, which ui.perfetto.dev and `chrome://tracing` open:
    /// process 1 is the enclave, thread `n` is CPU `n` (one track per CPU, named `CPU n`), task
    /// runs, agent iterations and higher-class bursts are complete (`X`) events, messages and
    /// failed commits are instant (`i`) events on the CPU's track. Times are in microseconds with
    /// nanosecond precision. The output depends only on the events, so equal traces give equal
    /// bytes.
    pub fn to_chrome_json(&self) -> String {
        let us = |ns: u64| ns as f64 / 1000.0;
        let mut out: Vec<Value> = Vec::with_capacity(self.events.len() + self.cpus.len() + 1);
        out.push(json!({
            "ph": "M", "pid": 1, "tid": 0, "name": "process_name",
            "args": { "name": self.title }
        }));
        for &cpu in &self.cpus {
            out.push(json!({
                "ph": "M", "pid": 1, "tid": cpu, "name": "thread_name",
                "args": { "name": format!("CPU {cpu}") }
            }));
            out.push(json!({
                "ph": "M", "pid": 1, "tid": cpu, "name": "thread_sort_index",
                "args": { "sort_index": cpu }
            }));
        }
        for event in &self.events {
            out.push(match *event {
                TraceEvent::Task {
                    cpu,
                    gtid,
                    start_ns,
                    end_ns,
                } => json!({
                    "ph": "X", "pid": 1, "tid": cpu, "cat": "task",
                    "name": self.task_name(gtid),
                    "ts": us(start_ns), "dur": us(end_ns - start_ns),
                    "args": { "tid": gtid.tid() }
                }),
                TraceEvent::Agent {
                    cpu,
                    start_ns,
                    end_ns,
                } => json!({
                    "ph": "X", "pid": 1, "tid": cpu, "cat": "agent", "name": "agent",
                    "ts": us(start_ns), "dur": us(end_ns - start_ns)
                }),
                TraceEvent::Interference {
                    cpu,
                    start_ns,
                    end_ns,
                } => json!({
                    "ph": "X", "pid": 1, "tid": cpu, "cat": "interference",
                    "name": "higher class",
                    "ts": us(start_ns), "dur": us(end_ns - start_ns)
                }),
                TraceEvent::Message {
                    time_ns,
                    cpu,
                    kind,
                    gtid,
                    seqnum,
                } => json!({
                    "ph": "i", "s": "t", "pid": 1, "tid": cpu, "cat": "message",
                    "name": kind.name(), "ts": us(time_ns),
                    "args": { "task": gtid.map(|g| g.tid()), "seqnum": seqnum }
                }),
                TraceEvent::CommitFailed {
                    time_ns,
                    cpu,
                    target,
                    state,
                } => json!({
                    "ph": "i", "s": "t", "pid": 1, "tid": cpu, "cat": "txn",
                    "name": state.name(), "ts": us(time_ns),
                    "args": { "target": target.tid() }
                }),
            });
        }
        json!({ "displayTimeUnit": "ns", "traceEvents": out }).to_string()
    }

    /// Writes [`to_chrome_json`](Self::to_chrome_json) to `path`, creating its directory.
    ///
    /// # Errors
    ///
    /// The I/O error, if the directory or file cannot be written.
    pub fn write_chrome_json(&self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.to_chrome_json())
    }
}
