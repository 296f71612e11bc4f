//! Kernel → agent messages with their payloads (ghOSt's `MSG_*` and `ghost_msg_payload_*`).
//!
//! A [`Message`] is a small `Copy` value: its [`seqnum`](Message::seqnum) and a [`Payload`].
//! Task messages carry the task's new seqnum (1 for `MSG_TASK_NEW`, then +1 per message);
//! CPU messages carry the barrier of the agent they were posted to.
//!
//! Task state transitions the kernel reports (the tutorial's diagram):
//!
//! | message | from → to |
//! |---|---|
//! | [`TaskNew`] | (new) → runnable or blocked, per [`TaskNew::runnable`] |
//! | [`TaskWakeup`] | blocked → runnable |
//! | [`TaskBlocked`] | on CPU → blocked (also sent first when a running task exits) |
//! | [`TaskPreempt`] | on CPU → runnable |
//! | [`TaskYield`] | on CPU → runnable |
//! | [`TaskDead`] | blocked → gone |
//! | [`TaskDeparted`] | any → gone (left the ghOSt class) |
//! | [`TaskAffinityChanged`] | no change (the allowed CPUs changed) |

use std::fmt;

use crate::{BarrierToken, Cpu, Gtid};

/// `MSG_TASK_NEW`: a task joined the enclave. Always the first message of a task (seqnum 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskNew {
    /// The task.
    pub gtid: Gtid,
    /// Whether the task is runnable now (otherwise it is blocked and a [`TaskWakeup`] follows).
    pub runnable: bool,
    /// CPU time the task has had so far.
    pub runtime_ns: u64,
}

/// `MSG_TASK_WAKEUP`: a blocked task became runnable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskWakeup {
    /// The task.
    pub gtid: Gtid,
    /// Whether the wakeup may be deferred (ghOSt's `deferrable`; the simulator never defers).
    pub deferrable: bool,
    /// The CPU the task last ran on, if it ever ran.
    pub last_ran_cpu: Option<Cpu>,
}

/// `MSG_TASK_BLOCKED`: the running task blocked (went to sleep or is exiting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskBlocked {
    /// The task.
    pub gtid: Gtid,
    /// CPU time the task has had so far.
    pub runtime_ns: u64,
    /// The CPU it was running on.
    pub cpu: Cpu,
    /// Whether it blocked from a `switchto` chain (never in the simulator).
    pub from_switchto: bool,
}

/// `MSG_TASK_PREEMPT`: the running task lost its CPU (to the agent, to a higher scheduling class,
/// or to another task a commit put there). It is still runnable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskPreempt {
    /// The task.
    pub gtid: Gtid,
    /// CPU time the task has had so far.
    pub runtime_ns: u64,
    /// The CPU it was running on.
    pub cpu: Cpu,
    /// Whether it was preempted from a `switchto` chain (never in the simulator).
    pub from_switchto: bool,
    /// Whether it was latched (committed but not yet running) rather than running.
    pub was_latched: bool,
}

/// `MSG_TASK_YIELD`: the running task called `sched_yield`. It is still runnable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskYield {
    /// The task.
    pub gtid: Gtid,
    /// CPU time the task has had so far.
    pub runtime_ns: u64,
    /// The CPU it was running on.
    pub cpu: Cpu,
    /// Whether it yielded from a `switchto` chain (never in the simulator).
    pub from_switchto: bool,
}

/// `MSG_TASK_DEAD`: the task exited; it was blocked (a [`TaskBlocked`] came first if it was
/// running). The last message of the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskDead {
    /// The task.
    pub gtid: Gtid,
}

/// `MSG_TASK_DEPARTED`: the task left the ghOSt scheduling class. The last message of the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskDeparted {
    /// The task.
    pub gtid: Gtid,
    /// The CPU it was running on, if it was running.
    pub cpu: Option<Cpu>,
    /// Whether it departed from a `switchto` chain (never in the simulator).
    pub from_switchto: bool,
    /// Whether it was the task running on `cpu` when it left.
    pub was_current: bool,
}

/// `MSG_TASK_AFFINITY_CHANGED`: the set of CPUs the task may run on changed (ask the enclave for
/// the new set). Commits of the task on a CPU outside it fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskAffinityChanged {
    /// The task.
    pub gtid: Gtid,
}

/// `MSG_CPU_TICK`: a timer tick on a CPU that was running a ghOSt task (only with
/// [`CpuTickConfig::AllTicks`](crate::CpuTickConfig)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuTick {
    /// The CPU.
    pub cpu: Cpu,
}

/// `MSG_CPU_NOT_IDLE`: a task of a higher scheduling class took a CPU the agent had been
/// scheduling (centralized model).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuNotIdle {
    /// The CPU.
    pub cpu: Cpu,
}

/// `MSG_CPU_AVAILABLE`: a CPU taken by a higher scheduling class is free for ghOSt again
/// (centralized model).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuAvailable {
    /// The CPU.
    pub cpu: Cpu,
}

/// A message's type and payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// `MSG_TASK_NEW`.
    TaskNew(TaskNew),
    /// `MSG_TASK_WAKEUP`.
    TaskWakeup(TaskWakeup),
    /// `MSG_TASK_BLOCKED`.
    TaskBlocked(TaskBlocked),
    /// `MSG_TASK_PREEMPT`.
    TaskPreempt(TaskPreempt),
    /// `MSG_TASK_YIELD`.
    TaskYield(TaskYield),
    /// `MSG_TASK_DEAD`.
    TaskDead(TaskDead),
    /// `MSG_TASK_DEPARTED`.
    TaskDeparted(TaskDeparted),
    /// `MSG_TASK_AFFINITY_CHANGED`.
    TaskAffinityChanged(TaskAffinityChanged),
    /// `MSG_CPU_TICK`.
    CpuTick(CpuTick),
    /// `MSG_CPU_NOT_IDLE`.
    CpuNotIdle(CpuNotIdle),
    /// `MSG_CPU_AVAILABLE`.
    CpuAvailable(CpuAvailable),
}

/// The type of a message without its payload, for tables, counters and error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MessageKind {
    /// `MSG_TASK_NEW`.
    TaskNew,
    /// `MSG_TASK_WAKEUP`.
    TaskWakeup,
    /// `MSG_TASK_BLOCKED`.
    TaskBlocked,
    /// `MSG_TASK_PREEMPT`.
    TaskPreempt,
    /// `MSG_TASK_YIELD`.
    TaskYield,
    /// `MSG_TASK_DEAD`.
    TaskDead,
    /// `MSG_TASK_DEPARTED`.
    TaskDeparted,
    /// `MSG_TASK_AFFINITY_CHANGED`.
    TaskAffinityChanged,
    /// `MSG_CPU_TICK`.
    CpuTick,
    /// `MSG_CPU_NOT_IDLE`.
    CpuNotIdle,
    /// `MSG_CPU_AVAILABLE`.
    CpuAvailable,
}

impl MessageKind {
    /// Every kind, in declaration order.
    pub const ALL: [MessageKind; 11] = [
        Self::TaskNew,
        Self::TaskWakeup,
        Self::TaskBlocked,
        Self::TaskPreempt,
        Self::TaskYield,
        Self::TaskDead,
        Self::TaskDeparted,
        Self::TaskAffinityChanged,
        Self::CpuTick,
        Self::CpuNotIdle,
        Self::CpuAvailable,
    ];

    /// ghOSt's name, e.g. `"MSG_TASK_NEW"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::TaskNew => "MSG_TASK_NEW",
            Self::TaskWakeup => "MSG_TASK_WAKEUP",
            Self::TaskBlocked => "MSG_TASK_BLOCKED",
            Self::TaskPreempt => "MSG_TASK_PREEMPT",
            Self::TaskYield => "MSG_TASK_YIELD",
            Self::TaskDead => "MSG_TASK_DEAD",
            Self::TaskDeparted => "MSG_TASK_DEPARTED",
            Self::TaskAffinityChanged => "MSG_TASK_AFFINITY_CHANGED",
            Self::CpuTick => "MSG_CPU_TICK",
            Self::CpuNotIdle => "MSG_CPU_NOT_IDLE",
            Self::CpuAvailable => "MSG_CPU_AVAILABLE",
        }
    }

    /// Whether messages of this kind are about a task (rather than a CPU).
    pub const fn is_task_message(self) -> bool {
        !matches!(self, Self::CpuTick | Self::CpuNotIdle | Self::CpuAvailable)
    }
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One message from the kernel, as drained from a [`Channel`](crate::Channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    seqnum: BarrierToken,
    payload: Payload,
}

impl Message {
    /// A message with this seqnum and payload (the kernel builds them; this is for testing
    /// dispatch code without a simulation).
    pub const fn new(seqnum: BarrierToken, payload: Payload) -> Self {
        Self { seqnum, payload }
    }

    /// For a task message, the task's seqnum after this message (use it as the task's barrier);
    /// for a CPU message, the barrier of the agent it was posted to.
    pub const fn seqnum(&self) -> BarrierToken {
        self.seqnum
    }

    /// The payload.
    pub const fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The type of the message.
    pub const fn kind(&self) -> MessageKind {
        match self.payload {
            Payload::TaskNew(_) => MessageKind::TaskNew,
            Payload::TaskWakeup(_) => MessageKind::TaskWakeup,
            Payload::TaskBlocked(_) => MessageKind::TaskBlocked,
            Payload::TaskPreempt(_) => MessageKind::TaskPreempt,
            Payload::TaskYield(_) => MessageKind::TaskYield,
            Payload::TaskDead(_) => MessageKind::TaskDead,
            Payload::TaskDeparted(_) => MessageKind::TaskDeparted,
            Payload::TaskAffinityChanged(_) => MessageKind::TaskAffinityChanged,
            Payload::CpuTick(_) => MessageKind::CpuTick,
            Payload::CpuNotIdle(_) => MessageKind::CpuNotIdle,
            Payload::CpuAvailable(_) => MessageKind::CpuAvailable,
        }
    }

    /// The task a task message is about; `None` for CPU messages.
    pub const fn gtid(&self) -> Option<Gtid> {
        match self.payload {
            Payload::TaskNew(p) => Some(p.gtid),
            Payload::TaskWakeup(p) => Some(p.gtid),
            Payload::TaskBlocked(p) => Some(p.gtid),
            Payload::TaskPreempt(p) => Some(p.gtid),
            Payload::TaskYield(p) => Some(p.gtid),
            Payload::TaskDead(p) => Some(p.gtid),
            Payload::TaskDeparted(p) => Some(p.gtid),
            Payload::TaskAffinityChanged(p) => Some(p.gtid),
            Payload::CpuTick(_) | Payload::CpuNotIdle(_) | Payload::CpuAvailable(_) => None,
        }
    }

    /// The CPU a CPU message is about; `None` for task messages.
    pub const fn cpu(&self) -> Option<Cpu> {
        match self.payload {
            Payload::CpuTick(p) => Some(p.cpu),
            Payload::CpuNotIdle(p) => Some(p.cpu),
            Payload::CpuAvailable(p) => Some(p.cpu),
            _ => None,
        }
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} seq={}", self.kind(), self.seqnum)?;
        if let Some(gtid) = self.gtid() {
            write!(f, " {gtid}")?;
        }
        if let Some(cpu) = self.cpu() {
            write!(f, " {cpu}")?;
        }
        Ok(())
    }
}
