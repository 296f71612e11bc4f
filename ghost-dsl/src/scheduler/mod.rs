//! `#[ghost_scheduler]` and the support it generates code against.
//!
//! A scheduling policy is an `impl` block of handlers, one per ghOSt message, plus the decision:
//!
//! ```
//! use std::collections::VecDeque;
//! use ghost_dsl::prelude::*;
//!
//! #[derive(Default)]
//! struct Fifo { rq: VecDeque<Gtid> }
//!
//! #[ghost_scheduler(model = per_cpu, task = ())]
//! impl Fifo {
//!     fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
//!         if msg.runnable { self.rq.push_back(task.gtid()); }
//!     }
//!     fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
//!         self.rq.push_back(task.gtid());
//!     }
//!     fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
//!     fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
//!         self.rq.push_back(task.gtid());
//!     }
//!     fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
//!         self.rq.push_front(task.gtid());
//!     }
//!     fn task_departed(&mut self, task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {
//!         let gtid = task.gtid();
//!         self.rq.retain(|g| *g != gtid);
//!     }
//!     fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
//!     fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
//!         self.rq.pop_front()
//!     }
//! }
//!
//! let workload = ghost_dsl::sim::Workload::new(vec![
//!     ghost_dsl::sim::TaskSpec::new("t1").run(1_000_000),
//!     ghost_dsl::sim::TaskSpec::new("t2").run(1_000_000),
//! ]);
//! let enclave = SimEnclave::new(SimConfig::new(Topology::test_default(), workload))?;
//! let report = Fifo::default().run(enclave, AgentConfig::new("0".parse()?))?;
//! // One CPU, FIFO: t2 starts when t1 ends.
//! assert!(report.task("t2").unwrap().start_ns >= report.task("t1").unwrap().end_ns);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Arguments: `model = per_cpu | centralized`, `task = T` (the per-task state, made with
//! `Default`), optionally `crate = path` for a renamed `ghost-dsl`. Required handlers:
//! `task_new`, `task_runnable` (`MSG_TASK_WAKEUP`), `task_blocked`, `task_yield`,
//! `task_preempted`, `task_departed`, `task_dead`, `pick_next`; optional: `task_affinity_changed`,
//! `cpu_tick`, `cpu_not_idle`, `cpu_available`, `commit_failed`, `rpc`, `enclave_ready`
//! (signatures: the methods of [`Scheduler`]; `commit_failed` is written
//! `fn commit_failed(&mut self, task: &mut Task<T>, cpu: Cpu, state: TxnState, cx: &mut Cx<'_>)`). Other methods are helpers; one whose name looks like a handler's
//! (`task_*`, `cpu_*`, or a near miss) is reported as an unknown handler unless marked
//! `#[helper]`. The macro generates `impl Scheduler for Fifo` and `Fifo::run` /
//! `Fifo::full_agent`.
//!
//! Mistakes are compile errors on the user's tokens, all at once. Missing handlers are named in
//! one error:
//!
//! ```compile_fail
//! use ghost_dsl::prelude::*;
//! #[derive(Default)]
//! struct Fifo;
//! #[ghost_scheduler(model = per_cpu, task = ())]
//! impl Fifo { // error: this scheduler is missing the required handlers `task_runnable`, ...
//!     fn task_new(&mut self, _task: &mut Task<()>, _msg: &TaskNew, _cx: &mut Cx<'_>) {}
//! }
//! ```
//!
//! and a handler with the wrong parameters shows the expected signature:
//!
//! ```compile_fail
//! use ghost_dsl::prelude::*;
//! #[derive(Default)]
//! struct Fifo;
//! #[ghost_scheduler(model = per_cpu, task = ())]
//! impl Fifo {
//!     // error: handler `task_new` has the wrong signature: the message parameter must be
//!     // `&TaskNew`, expected: `fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, ..)`
//!     fn task_new(&mut self, _task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {}
//!     fn task_runnable(&mut self, _task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {}
//!     fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
//!     fn task_yield(&mut self, _task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {}
//!     fn task_preempted(&mut self, _task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {}
//!     fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
//!     fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
//!     fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> { None }
//! }
//! ```
//!
//! # What is generated, and what is generic
//!
//! A scheduler is a [`Scheduler`]
//! (its handlers), driven by the generic [`SchedulerAgent`] (the tutorial's `Scheduler` +
//! `Agent` subclasses: task allocator, channels, `DispatchMessage`, the agent loop) inside a
//! [`FullAgent`] (the tutorial's `FullAgent` / `AgentProcess`).
//!
//! What the agent does for every scheduler, so that handlers only hold policy:
//!
//! - **Task allocation.** A [`Task`] (gtid, seqnum, [`TaskState`], channel CPU, the task's
//!   [`attrs`](Task::attrs) — priority, weight, deadline, a user value — and the scheduler's
//!   `T::default()`) is made on `MSG_TASK_NEW` and freed after `MSG_TASK_DEAD` /
//!   `MSG_TASK_DEPARTED`.
//! - **Seqnums.** A task message's seqnum becomes the task's before its handler runs (its
//!   barrier for commits); a message whose seqnum is not newer is dropped as ghOSt does.
//! - **State checks.** Every message is checked against the task's state (wakeup of a blocked
//!   task; blocked / preempted / yielded from a CPU; dead when blocked; a per-CPU agent only
//!   hears about its own tasks), and every `pick_next` choice must be a live runnable task. A
//!   broken rule is a [`TransitionError`] naming the message (or decision) and the task; the run
//!   ends with [`ErrorKind::Transition`].
//! - **The loop.** Read the agent barrier, drain the channel, yield with `RTLA_ON_IDLE` when
//!   boosted, ask `pick_next`, open a transaction with the target's seqnum and the agent barrier,
//!   commit. A commit that fails for a passing reason (stale barrier, CPU briefly unavailable)
//!   goes to `commit_failed`, which takes the task back, and the next iteration asks `pick_next`
//!   again (so a task that arrived meanwhile can go first); without that handler the agent
//!   commits the same task first (ghost-userspace's FIFO: back to the front of the queue). A
//!   commit of a task that is gone (`GHOST_TXN_TARGET_NOT_FOUND`) is forgotten; any other
//!   failure is an error. Centralized: one global agent asks `pick_next` for every free CPU but
//!   its own, and for busy CPUs the policy wants reconsidered ([`Cx::preempt`], or a time slice
//!   over: [`Cx::set_time_slice`]), and commits them in one batch (`commit_run_requests`); one
//!   task chosen for two CPUs is a `pick_next` error naming both.
//! - **From handlers.** [`Cx::commit`] commits a task to a CPU at once (a remote commit, e.g. a
//!   woken task onto an idle CPU); [`Cx::set_deliver_ticks`] turns ticks on and off (the seed's
//!   `SetDeliverTicks(true)` in `enclave_ready`); [`Cx::associate_task`], [`Cx::ping`].
//! - **Faults.** The first broken rule, or a handler's panic (caught; the error names the
//!   handler, the message and the task), stops the run at once; the [`Error`] carries the
//!   enclave's report as it was then.
//! - **Any enclave.** The generated `run` and `full_agent` take any [`Backend`]: the simulator
//!   (`SimEnclave`) or the thread enclave, with the same handlers and the same rules.

mod agent;
mod cx;
mod error;
mod full_agent;
mod task;

pub use agent::{AgentStats, SchedulerAgent};
pub use cx::Cx;
pub(crate) use cx::Requests;
pub use error::{Error, ErrorKind, HandlerPanic, TransitionError};
pub use full_agent::{Backend, FullAgent};
pub use task::{Task, TaskState};

use crate::{
    AgentModel, AgentRpcArgs, AgentRpcResponse, Cpu, CpuAvailable, CpuNotIdle, CpuTick, Gtid,
    RPC_ENODEV, TaskAffinityChanged, TaskBlocked, TaskDead, TaskDeparted, TaskNew, TaskPreempt,
    TaskWakeup, TaskYield, TxnState,
};

/// What [`Scheduler::commit_failed`] did with the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailedCommit {
    /// Nothing: the agent keeps the task and commits it again, before asking `pick_next`, at
    /// its next decision for that CPU (ghost-userspace's FIFO: back to the front of its queue).
    /// The default.
    Retry,
    /// The policy took the task back (into its run queue): the next decision asks `pick_next`
    /// again, so a task that arrived meanwhile can go first.
    Requeued,
}

/// What a scheduler's per-task state must be: made with `Default` when the task arrives.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the per-task state of a ghost scheduler: it does not implement `Default`",
    label = "the `task = ..` type of #[ghost_scheduler]",
    note = "the agent makes each task's state with `Default::default()` when its MSG_TASK_NEW arrives: derive or implement `Default` for `{Self}`"
)]
pub trait TaskData: Sized + 'static {
    /// The state of a task that just arrived.
    fn new_task() -> Self;
}

impl<T: Default + 'static> TaskData for T {
    #[inline]
    fn new_task() -> Self {
        T::default()
    }
}

/// A scheduling policy: the handlers of ghOSt's `BasicDispatchScheduler` and the decision.
///
/// `#[ghost_scheduler]` implements it for an `impl` block of handlers; it can also be
/// implemented by hand. Handlers run inside the agent's drain, after the agent has updated the
/// task's seqnum and state, and must not block.
pub trait Scheduler {
    /// The scheduler's per-task state (`task = ..`).
    type TaskData: 'static;
    /// One agent per CPU, or one global agent.
    const MODEL: AgentModel;

    /// `MSG_TASK_NEW`: a task joined; it is [`TaskState::Runnable`] or [`TaskState::Blocked`]
    /// per `msg.runnable`. Associate it with a CPU's channel here if the policy spreads tasks.
    fn task_new(&mut self, task: &mut Task<Self::TaskData>, msg: &TaskNew, cx: &mut Cx<'_>);
    /// `MSG_TASK_WAKEUP`: blocked → runnable.
    fn task_runnable(&mut self, task: &mut Task<Self::TaskData>, msg: &TaskWakeup, cx: &mut Cx<'_>);
    /// `MSG_TASK_BLOCKED`: on a CPU → blocked.
    fn task_blocked(&mut self, task: &mut Task<Self::TaskData>, msg: &TaskBlocked, cx: &mut Cx<'_>);
    /// `MSG_TASK_YIELD`: on a CPU → runnable.
    fn task_yield(&mut self, task: &mut Task<Self::TaskData>, msg: &TaskYield, cx: &mut Cx<'_>);
    /// `MSG_TASK_PREEMPT`: on a CPU → runnable (every per-CPU agent wakeup preempts its CPU's
    /// task).
    fn task_preempted(
        &mut self,
        task: &mut Task<Self::TaskData>,
        msg: &TaskPreempt,
        cx: &mut Cx<'_>,
    );
    /// `MSG_TASK_DEPARTED`: the task left ghOSt, from any state; freed after this returns.
    fn task_departed(
        &mut self,
        task: &mut Task<Self::TaskData>,
        msg: &TaskDeparted,
        cx: &mut Cx<'_>,
    );
    /// `MSG_TASK_DEAD`: the blocked task exited; freed after this returns.
    fn task_dead(&mut self, task: &mut Task<Self::TaskData>, msg: &TaskDead, cx: &mut Cx<'_>);
    /// `MSG_TASK_AFFINITY_CHANGED` (optional).
    fn task_affinity_changed(
        &mut self,
        task: &mut Task<Self::TaskData>,
        msg: &TaskAffinityChanged,
        cx: &mut Cx<'_>,
    ) {
        let _ = (task, msg, cx);
    }
    /// `MSG_CPU_TICK` (optional; only with ticks enabled in the `AgentConfig`).
    fn cpu_tick(&mut self, cpu: Cpu, msg: &CpuTick, cx: &mut Cx<'_>) {
        let _ = (cpu, msg, cx);
    }
    /// `MSG_CPU_NOT_IDLE` (optional): a higher class took `cpu`; the agent stops committing there.
    fn cpu_not_idle(&mut self, cpu: Cpu, msg: &CpuNotIdle, cx: &mut Cx<'_>) {
        let _ = (cpu, msg, cx);
    }
    /// `MSG_CPU_AVAILABLE` (optional): `cpu` is free for ghOSt again.
    fn cpu_available(&mut self, cpu: Cpu, msg: &CpuAvailable, cx: &mut Cx<'_>) {
        let _ = (cpu, msg, cx);
    }
    /// The state of a task that just arrived (generated as `<T as TaskData>::new_task()`, i.e.
    /// `T::default()`).
    fn new_task_data() -> Self::TaskData;
    /// The decision: the task to run on `cpu` now, or `None` to leave it idle. The task must be
    /// runnable ([`Task::is_runnable`]); the agent commits it with its seqnum as barrier.
    fn pick_next(&mut self, cpu: Cpu, cx: &mut Cx<'_>) -> Option<Gtid>;
    /// A commit of `task` on `cpu` failed for a passing reason (`state`:
    /// `GHOST_TXN_AGENT_STALE`, `GHOST_TXN_TARGET_STALE` or `GHOST_TXN_CPU_UNAVAIL`); the task
    /// is runnable and not on a CPU (optional). A handler written with `#[ghost_scheduler]`
    /// (`fn commit_failed(&mut self, task: &mut Task<T>, cpu: Cpu, state: TxnState, cx: &mut
    /// Cx<'_>)`) takes the task back into the policy's queue and returns
    /// [`FailedCommit::Requeued`]; without one, the agent retries the task first
    /// ([`FailedCommit::Retry`]). A commit of a task that is gone (`GHOST_TXN_TARGET_NOT_FOUND`)
    /// does not come here: its `MSG_TASK_DEAD` or `MSG_TASK_DEPARTED` follows.
    fn commit_failed(
        &mut self,
        task: &mut Task<Self::TaskData>,
        cpu: Cpu,
        state: TxnState,
        cx: &mut Cx<'_>,
    ) -> FailedCommit {
        let _ = (task, cpu, state, cx);
        FailedCommit::Retry
    }
    /// ghOSt's `RpcHandler` (optional): answers [`RPC_ENODEV`] by default.
    fn rpc(&mut self, req: i64, args: &AgentRpcArgs, cx: &mut Cx<'_>) -> AgentRpcResponse {
        let _ = (req, args, cx);
        AgentRpcResponse {
            response_code: RPC_ENODEV,
            buffer: Vec::new(),
        }
    }
    /// ghOSt's `EnclaveReady` (optional): once, before the first message.
    fn enclave_ready(&mut self, cx: &mut Cx<'_>) {
        let _ = cx;
    }
}

/// The paths generated code uses (through `ghost_dsl::__private::scheduler`).
#[doc(hidden)]
pub mod __private {
    pub use super::{
        Backend, Cx, Error, FailedCommit, FullAgent, Scheduler, SchedulerAgent, Task, TaskData,
    };
    pub use crate::TxnState;
    pub use crate::abi::Report;
    pub use crate::sim::SimEnclave;
    pub use crate::{AgentConfig, AgentModel as Model, AgentRpcArgs, AgentRpcResponse, Cpu, Gtid};

    /// The message payload types handlers take.
    pub mod msg {
        pub use crate::{
            CpuAvailable, CpuNotIdle, CpuTick, TaskAffinityChanged, TaskBlocked, TaskDead,
            TaskDeparted, TaskNew, TaskPreempt, TaskWakeup, TaskYield,
        };
    }
}
