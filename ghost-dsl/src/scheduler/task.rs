//! [`Task`]: one task as the generated agent tracks it, with the scheduler's own state inside.

use std::ops::{Deref, DerefMut};

use crate::{BarrierToken, Cpu, Gtid, MessageKind, TaskAttrs};

/// Where a task is, as its messages and the agent's commits have told the agent.
///
/// The generated agent keeps it and checks every message against it (the `CHECK`s the tutorial
/// writes by hand): a wakeup needs a blocked task, `BLOCKED` / `PREEMPT` / `YIELD` a task on a
/// CPU, `DEAD` a blocked one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Not runnable (asleep, or exiting).
    Blocked,
    /// Runnable and not on a CPU: in the scheduler's queue, or about to be committed.
    Runnable,
    /// Committed onto this CPU and running there (the tutorial's `kRunning`).
    OnCpu(Cpu),
}

impl TaskState {
    /// A short description for error messages.
    pub fn describe(self) -> String {
        match self {
            Self::Blocked => "blocked".to_owned(),
            Self::Runnable => "runnable (not on a CPU)".to_owned(),
            Self::OnCpu(cpu) => format!("running on {cpu}"),
        }
    }
}

/// A task of the enclave as the scheduler's handlers see it: the agent's bookkeeping (gtid,
/// seqnum, [`TaskState`], the CPU whose channel gets its messages) and the scheduler's per-task
/// state `T` (the `task = T` of `#[ghost_scheduler]`), reachable through `Deref`.
///
/// Created with `T::default()` when the task's `MSG_TASK_NEW` arrives and freed after its
/// `MSG_TASK_DEAD` or `MSG_TASK_DEPARTED` handler returns (ghOSt's `TaskAllocator`).
#[derive(Debug)]
pub struct Task<T> {
    // Field names are prefixed so that `task.field` reaches the scheduler's own fields through
    // `Deref` without colliding with these.
    __gears_gtid: Gtid,
    __gears_seqnum: BarrierToken,
    __gears_state: TaskState,
    __gears_channel_cpu: Cpu,
    __gears_last_message: MessageKind,
    /// `None` for the default attributes (most tasks): boxed, so that the task table stays
    /// small and cache-friendly (the attributes are read rarely, the rest on every message).
    __gears_attrs: Option<Box<TaskAttrs>>,
    __gears_data: T,
}

/// What [`Task::attrs`] returns for a task created with the default attributes.
static DEFAULT_ATTRS: TaskAttrs = TaskAttrs::new();

impl<T> Task<T> {
    pub(crate) fn new(
        gtid: Gtid,
        seqnum: BarrierToken,
        state: TaskState,
        channel_cpu: Cpu,
        attrs: TaskAttrs,
        data: T,
    ) -> Self {
        Self {
            __gears_gtid: gtid,
            __gears_seqnum: seqnum,
            __gears_state: state,
            __gears_channel_cpu: channel_cpu,
            __gears_last_message: MessageKind::TaskNew,
            __gears_attrs: (!attrs.is_default()).then(|| Box::new(attrs)),
            __gears_data: data,
        }
    }

    /// The task's gtid.
    #[inline]
    pub fn gtid(&self) -> Gtid {
        self.__gears_gtid
    }

    /// The seqnum of the task's latest message the agent has processed: its barrier for commits
    /// and associations (ghOSt's `task->seqnum`, updated before each handler runs).
    #[inline]
    pub fn seqnum(&self) -> BarrierToken {
        self.__gears_seqnum
    }

    /// Where the task is.
    #[inline]
    pub fn state(&self) -> TaskState {
        self.__gears_state
    }

    /// Whether the task is blocked.
    #[inline]
    pub fn is_blocked(&self) -> bool {
        self.__gears_state == TaskState::Blocked
    }

    /// Whether the task is runnable and waiting for a CPU (the tutorial's `kQueued`).
    #[inline]
    pub fn is_runnable(&self) -> bool {
        self.__gears_state == TaskState::Runnable
    }

    /// The CPU the task runs on, if it is running.
    #[inline]
    pub fn on_cpu(&self) -> Option<Cpu> {
        match self.__gears_state {
            TaskState::OnCpu(cpu) => Some(cpu),
            _ => None,
        }
    }

    /// The CPU whose channel receives the task's messages: the first enclave CPU's (the default
    /// channel) until [`Cx::associate_task`](super::Cx::associate_task) moves it (the tutorial's
    /// `GetCpu()` in the SMP scheduler).
    #[inline]
    pub fn channel_cpu(&self) -> Cpu {
        self.__gears_channel_cpu
    }

    /// The kind of the latest message about this task.
    #[inline]
    pub fn last_message(&self) -> MessageKind {
        self.__gears_last_message
    }

    /// The attributes the task was given when it was created (a workload task's
    /// [`TaskSpec::attrs`](crate::sim::TaskSpec::attrs), a managed thread's spawn options):
    /// priority, weight, deadline, a user value. Read once, at `MSG_TASK_NEW`.
    #[inline]
    pub fn attrs(&self) -> &TaskAttrs {
        self.__gears_attrs.as_deref().unwrap_or(&DEFAULT_ATTRS)
    }

    /// The scheduler's state of this task.
    #[inline]
    pub fn data(&self) -> &T {
        &self.__gears_data
    }

    /// The scheduler's state of this task, mutably.
    #[inline]
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.__gears_data
    }

    #[inline]
    pub(crate) fn set_state(&mut self, state: TaskState) {
        self.__gears_state = state;
    }

    #[inline]
    pub(crate) fn set_seqnum(&mut self, seqnum: BarrierToken, kind: MessageKind) {
        self.__gears_seqnum = seqnum;
        self.__gears_last_message = kind;
    }

    #[inline]
    pub(crate) fn set_channel_cpu(&mut self, cpu: Cpu) {
        self.__gears_channel_cpu = cpu;
    }
}

impl<T> Deref for Task<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.__gears_data
    }
}

impl<T> DerefMut for Task<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.__gears_data
    }
}
