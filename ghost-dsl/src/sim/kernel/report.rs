//! What the simulated kernel tells at the end: the report, and the unfinished tasks of a stall or
//! a time limit.

use super::{Kernel, TaskState};
use crate::TxnState;
use crate::abi::trace::Trace;
use crate::abi::{CpuReport, Report, TaskReport};
use crate::message::MessageKind;
use crate::sim::{SimError, StuckTask};

impl Kernel {
    pub(super) fn stuck(&self) -> Vec<StuckTask> {
        self.tasks
            .iter()
            .zip(&self.specs)
            .filter(|(t, _)| t.end.is_none())
            .map(|(t, spec)| StuckTask {
                gtid: t.gtid,
                name: spec.name.clone(),
                state: match t.state {
                    TaskState::NotArrived => "not arrived".into(),
                    TaskState::Runnable => "runnable".into(),
                    TaskState::OnCpu(c) => format!("on cpu{c}"),
                    TaskState::Blocked => "blocked".into(),
                    TaskState::Gone => "gone".into(),
                },
                channel: t.word.channel() as usize,
                pending_messages: t.word.pending(),
            })
            .collect()
    }

    pub(crate) fn stalled(&self) -> SimError {
        SimError::Stalled {
            now_ns: self.now,
            stuck: self.stuck(),
        }
    }

    pub(crate) fn time_limit(&self) -> SimError {
        SimError::TimeLimit {
            limit_ns: self.max_time_ns,
            stuck: self.stuck(),
        }
    }

    pub(crate) fn no_progress(&self) -> SimError {
        SimError::NoProgress {
            now_ns: self.now,
            iterations: self.idle_iterations,
            stuck: self.stuck(),
        }
    }

    pub(crate) fn report(&self) -> Report {
        // The last task's end when all finished (agents may still have drained its messages
        // after it), else now.
        let end_ns = self.finished_at.unwrap_or(self.now);
        let tasks = self
            .tasks
            .iter()
            .zip(&self.specs)
            .map(|(t, spec)| TaskReport {
                gtid: t.gtid,
                name: spec.name.clone(),
                arrival_ns: t.arrival,
                // Running now, past its context switch: it has started.
                start_ns: t.first_run.or(match t.state {
                    TaskState::OnCpu(_) if self.now >= t.run_start => Some(t.run_start),
                    _ => None,
                }),
                end_ns: t.end,
                runtime_ns: t.runtime,
                wait_ns: t.wait,
                context_switches: t.switches,
                preemptions: t.preemptions,
            })
            .collect();
        let cpus = self
            .enclave_cpus
            .iter()
            .map(|id| {
                let s = &self.cpus[id];
                CpuReport {
                    cpu: id,
                    task_ns: s.task_ns,
                    agent_ns: s.agent_ns,
                    interference_ns: s.interference_ns,
                    switch_ns: s.switch_ns,
                    context_switches: s.switches,
                    utilisation: if end_ns == 0 {
                        0.0
                    } else {
                        s.task_ns as f64 / end_ns as f64
                    },
                }
            })
            .collect();
        let mut task_names = vec![String::new()];
        task_names.extend(self.specs.iter().map(|s| s.name.clone()));
        Report {
            end_ns,
            tasks,
            cpus,
            waits: self.waits.stats(),
            messages: self.stats.messages,
            messages_by_kind: MessageKind::ALL
                .iter()
                .map(|k| (*k, self.stats.by_kind[*k as usize]))
                .collect(),
            agent_runs: self.stats.agent_runs,
            commits: self.stats.commits,
            failed_commits: TxnState::FAILURES
                .iter()
                .enumerate()
                .map(|(k, s)| (*s, self.stats.failed[k]))
                .collect(),
            failed_yields: self.stats.failed_yields,
            associations: self.stats.associations,
            failed_associations: self.stats.failed_associations,
            trace_hash: self.trace.hash(),
            trace: self.trace.events().map(|events| Trace {
                events: events.to_vec(),
                cpus: self.enclave_cpus.iter().collect(),
                task_names,
                title: "ghOSt enclave (simulated)",
            }),
        }
    }
}
