//! Message dispatch: the seqnum rule, the state check of every task message, the task table,
//! and the call of the handler.

use crate::{AgentEnclave, AgentModel, Cpu, Message, Payload};

use super::{SchedulerAgent, leave_cpu, record};
use crate::abi::AsKernel;
use crate::scheduler::{Cx, Scheduler, Task, TaskState, TransitionError};

/// The handler a message goes to (its name in the scheduler).
pub(super) fn handler_name(payload: &Payload) -> &'static str {
    match payload {
        Payload::TaskNew(_) => "task_new",
        Payload::TaskWakeup(_) => "task_runnable",
        Payload::TaskBlocked(_) => "task_blocked",
        Payload::TaskPreempt(_) => "task_preempted",
        Payload::TaskYield(_) => "task_yield",
        Payload::TaskDead(_) => "task_dead",
        Payload::TaskDeparted(_) => "task_departed",
        Payload::TaskAffinityChanged(_) => "task_affinity_changed",
        Payload::CpuTick(_) => "cpu_tick",
        Payload::CpuNotIdle(_) => "cpu_not_idle",
        Payload::CpuAvailable(_) => "cpu_available",
    }
}

/// Records a broken rule of `msg` (cold: the dispatch's fast path does not pay for it).
#[cold]
#[inline(never)]
fn fail_on(
    first_error: &mut Option<TransitionError>,
    errors: &mut usize,
    msg: &Message,
    cpu: Cpu,
    gtid: crate::Gtid,
    now_ns: u64,
    problem: String,
) {
    let during = msg.to_string();
    record(
        first_error,
        errors,
        TransitionError {
            now_ns,
            cpu,
            gtid,
            during,
            problem,
        },
    );
}

impl<S: Scheduler> SchedulerAgent<S> {
    /// One message: seqnum rules, the state check, the handler, the state change.
    pub(super) fn dispatch<K: ?Sized + AsKernel>(
        &mut self,
        cpu: Cpu,
        msg: &Message,
        enclave: &mut AgentEnclave<'_, K>,
    ) {
        self.stats.messages += 1;
        let payload = *msg.payload();
        if let Payload::TaskNew(new) = payload {
            self.task_new(cpu, msg, &new, enclave);
            return;
        }
        let Some(gtid) = msg.gtid() else {
            self.cpu_message(msg, enclave);
            return;
        };
        let Self {
            scheduler,
            tasks,
            cpus,
            first_error,
            errors,
            stats,
            enclave_cpus,
            orphans,
            requests,
            ..
        } = self;
        // Errors are rare: the time is read and the message formatted only for them, out of
        // line (a closure capturing the error slots cost every message its setup).
        let mut fail = |now_ns: u64, problem: String| {
            fail_on(first_error, errors, msg, cpu, gtid, now_ns, problem);
        };
        let Some(task) = tasks.get_mut(gtid) else {
            fail(
                enclave.now_ns(),
                "the scheduler has no such task: no MSG_TASK_NEW was seen for it, or it is \
                  already dead or departed"
                    .to_owned(),
            );
            return;
        };
        // ghOSt's seqnum rule: a task message carries the task's new seqnum; one not newer than
        // what the agent has seen is already reflected and is dropped.
        let seqnum = msg.seqnum();
        let delta = seqnum.0.wrapping_sub(task.seqnum().0) as i32;
        if delta <= 0 {
            stats.stale_messages += 1;
            return;
        }
        if delta != 1 {
            stats.seqnum_gaps += 1;
        }
        task.set_seqnum(seqnum, msg.kind());
        // The tutorial's CHECK_EQ(task->GetCpu(), MyCpu()): a per-CPU agent only hears about
        // the tasks associated with its channel.
        if S::MODEL == AgentModel::PerCpu && task.channel_cpu() != cpu {
            fail(
                enclave.now_ns(),
                format!(
                    "the message was drained on {cpu}, but the task is associated with {}'s channel",
                    task.channel_cpu()
                ),
            );
        }
        let state = task.state();
        let on_cpu = matches!(state, TaskState::OnCpu(_));
        let mut cx = Cx::new(enclave, requests);
        // Each arm checks the rule, moves the task, and runs the handler; a broken rule skips the
        // handler (it would act on a state that is not the task's) and says what was needed and
        // the state the kernel moved the task to.
        let broken: Option<(&str, Option<TaskState>)> = match payload {
            Payload::TaskWakeup(m) if state == TaskState::Blocked => {
                task.set_state(TaskState::Runnable);
                scheduler.task_runnable(task, &m, &mut cx);
                None
            }
            Payload::TaskWakeup(_) => {
                Some(("a wakeup needs a blocked task", Some(TaskState::Runnable)))
            }
            Payload::TaskBlocked(m) if on_cpu => {
                leave_cpu(cpus, gtid, state);
                task.set_state(TaskState::Blocked);
                scheduler.task_blocked(task, &m, &mut cx);
                None
            }
            Payload::TaskBlocked(_) => Some(("a task blocks from a CPU", Some(TaskState::Blocked))),
            Payload::TaskPreempt(m) if on_cpu => {
                leave_cpu(cpus, gtid, state);
                task.set_state(TaskState::Runnable);
                scheduler.task_preempted(task, &m, &mut cx);
                None
            }
            Payload::TaskPreempt(_) => Some((
                "only a running task is preempted",
                Some(TaskState::Runnable),
            )),
            Payload::TaskYield(m) if on_cpu => {
                leave_cpu(cpus, gtid, state);
                task.set_state(TaskState::Runnable);
                scheduler.task_yield(task, &m, &mut cx);
                None
            }
            Payload::TaskYield(_) => {
                Some(("only a running task yields", Some(TaskState::Runnable)))
            }
            Payload::TaskDead(m) if state == TaskState::Blocked => {
                scheduler.task_dead(task, &m, &mut cx);
                None
            }
            Payload::TaskDead(_) => {
                Some(("a task dies blocked (MSG_TASK_BLOCKED comes first)", None))
            }
            Payload::TaskDeparted(m) => {
                leave_cpu(cpus, gtid, state);
                scheduler.task_departed(task, &m, &mut cx);
                None
            }
            Payload::TaskAffinityChanged(m) => {
                scheduler.task_affinity_changed(task, &m, &mut cx);
                None
            }
            Payload::TaskNew(_)
            | Payload::CpuTick(_)
            | Payload::CpuNotIdle(_)
            | Payload::CpuAvailable(_) => None,
        };
        if let Some((needs, after)) = broken {
            if let Some(after) = after {
                leave_cpu(cpus, gtid, state);
                task.set_state(after);
            }
            fail(
                enclave.now_ns(),
                format!("{needs}, but the task is {}", state.describe()),
            );
        }
        if matches!(payload, Payload::TaskDead(_) | Payload::TaskDeparted(_)) {
            tasks.remove(gtid);
            for &other in enclave_cpus.iter() {
                if cpus[other].retry == Some(gtid) {
                    cpus[other].retry = None;
                }
            }
            orphans.retain(|orphan| *orphan != gtid);
        }
    }

    pub(super) fn task_new<K: ?Sized + AsKernel>(
        &mut self,
        cpu: Cpu,
        msg: &Message,
        new: &crate::TaskNew,
        enclave: &mut AgentEnclave<'_, K>,
    ) {
        if self.tasks.contains(new.gtid) {
            self.record(TransitionError {
                now_ns: enclave.now_ns(),
                cpu,
                gtid: new.gtid,
                during: msg.to_string(),
                problem: "the scheduler already has this task (a second MSG_TASK_NEW)".to_owned(),
            });
            return;
        }
        let state = if new.runnable {
            TaskState::Runnable
        } else {
            TaskState::Blocked
        };
        let attrs = enclave.task_attrs(new.gtid).unwrap_or_default();
        let task = Task::new(
            new.gtid,
            msg.seqnum(),
            state,
            cpu,
            attrs,
            S::new_task_data(),
        );
        if self.tasks.insert(new.gtid, task).is_err() {
            self.record(TransitionError {
                now_ns: enclave.now_ns(),
                cpu,
                gtid: new.gtid,
                during: msg.to_string(),
                problem: "its tid is still held by a live task of another generation".to_owned(),
            });
            return;
        }
        let task = self.tasks.get_mut(new.gtid).expect("inserted just above");
        self.scheduler
            .task_new(task, new, &mut Cx::new(enclave, &mut self.requests));
    }

    pub(super) fn cpu_message<K: ?Sized + AsKernel>(
        &mut self,
        msg: &Message,
        enclave: &mut AgentEnclave<'_, K>,
    ) {
        let mut cx = Cx::new(enclave, &mut self.requests);
        match *msg.payload() {
            Payload::CpuTick(m) => self.scheduler.cpu_tick(m.cpu, &m, &mut cx),
            Payload::CpuNotIdle(m) => {
                self.cpus[m.cpu].available = false;
                self.scheduler.cpu_not_idle(m.cpu, &m, &mut cx);
            }
            Payload::CpuAvailable(m) => {
                self.cpus[m.cpu].available = true;
                self.scheduler.cpu_available(m.cpu, &m, &mut cx);
            }
            _ => {}
        }
    }
}
