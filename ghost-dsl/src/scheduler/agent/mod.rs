//! [`SchedulerAgent`]: the tutorial's `BasicDispatchScheduler` + `Agent` for any [`Scheduler`]:
//! task allocation, message dispatch with seqnum rules and state checks ([`dispatch`]), and the
//! agent loop of both models ([`decide`]). Handlers' panics are caught here and end the run with
//! an error naming the handler, the message and the task.

mod decide;
mod dispatch;
#[cfg(test)]
mod tests;

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::abi::{AsKernel, EnclaveKernel};

use crate::{
    Agent, AgentEnclave, AgentModel, AgentRpcArgs, AgentRpcResponse, Cpu, Gtid, Message, PerCpu,
    RPC_ENODEV, RunFlags, TaskAllocator,
};

use super::{Cx, ErrorKind, HandlerPanic, Requests, Scheduler, Task, TaskState, TransitionError};

/// Which handler the agent calls outside the drain (`pick_next`, `commit_failed`,
/// `enclave_ready`, `rpc`), for naming it if it panics. Message handlers are named from the
/// message ([`OnUnwind`]).
#[derive(Clone, Copy, Debug)]
struct During {
    handler: &'static str,
    gtid: Option<Gtid>,
}

thread_local! {
    /// The message whose handler panicked, set while unwinding through the drain (and taken by
    /// `guarded`, which catches the panic on the same thread).
    static UNWOUND_ON: Cell<Option<Message>> = const { Cell::new(None) };
}

/// Held around a message's dispatch and forgotten after it: its `drop` runs only when a handler
/// unwinds, so naming the message costs nothing on the normal path.
struct OnUnwind(Message);

impl Drop for OnUnwind {
    fn drop(&mut self) {
        UNWOUND_ON.with(|on| on.set(Some(self.0)));
    }
}

/// What the agent keeps per CPU.
#[derive(Clone, Copy, Debug)]
struct CpuSlot {
    /// The task committed there and not yet off it.
    current: Option<Gtid>,
    /// A task `pick_next` chose whose commit failed for a passing reason (a stale barrier, the
    /// CPU briefly unavailable): committed again, before asking `pick_next`, by the next
    /// iteration (ghOSt's FIFO puts it back at the front of its queue).
    retry: Option<Gtid>,
    /// False between `MSG_CPU_NOT_IDLE` and `MSG_CPU_AVAILABLE` (centralized model).
    available: bool,
    /// When `current` was committed (for the centralized time slice).
    since_ns: u64,
}

impl Default for CpuSlot {
    fn default() -> Self {
        Self {
            current: None,
            retry: None,
            available: true,
            since_ns: 0,
        }
    }
}

/// Counters of what the agent handled itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Messages dispatched to handlers.
    pub messages: u64,
    /// Task messages dropped because their seqnum was not newer than the task's (ghOSt drops
    /// messages the task's state already reflects).
    pub stale_messages: u64,
    /// Task messages whose seqnum skipped ahead (messages consumed elsewhere); accepted.
    pub seqnum_gaps: u64,
    /// Successful commits.
    pub commits: u64,
    /// Failed commits (retried when the reason was passing).
    pub failed_commits: u64,
    /// Iterations that yielded to a higher scheduling class (`RTLA_ON_IDLE`).
    pub boosted_yields: u64,
}

/// The agent of a [`Scheduler`]: what ghOSt's tutorial writes by hand as the `Scheduler`
/// (channels, `DispatchMessage`, the task allocator) and `Agent` (`AgentThread`'s loop)
/// subclasses. It implements the enclave's [`Agent`]; [`FullAgent`](super::FullAgent) drives it.
pub struct SchedulerAgent<S: Scheduler> {
    scheduler: S,
    tasks: TaskAllocator<Task<S::TaskData>>,
    cpus: PerCpu<CpuSlot>,
    /// The enclave's CPUs in order (filled in `enclave_ready`).
    enclave_cpus: Vec<Cpu>,
    /// CPUs with an open transaction in this centralized iteration (reused buffer).
    opened: Vec<Cpu>,
    /// Centralized: tasks whose commit failed on a CPU that has since become busy or
    /// unavailable; the next free CPU takes them before asking `pick_next`.
    orphans: Vec<Gtid>,
    first_error: Option<TransitionError>,
    errors: usize,
    /// The handler that panicked; the run ends.
    panic: Option<HandlerPanic>,
    during: During,
    /// What handlers asked through `Cx`, applied after each handler.
    requests: Requests,
    stats: AgentStats,
}

impl<S: Scheduler> std::fmt::Debug for SchedulerAgent<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerAgent")
            .field("model", &S::MODEL)
            .field("live_tasks", &self.tasks.len())
            .field("stats", &self.stats)
            .field("first_error", &self.first_error)
            .finish_non_exhaustive()
    }
}

impl<S: Scheduler> SchedulerAgent<S> {
    /// An agent for `scheduler`, with no task yet.
    pub fn new(scheduler: S) -> Self {
        Self {
            scheduler,
            tasks: TaskAllocator::new(),
            cpus: PerCpu::default(),
            enclave_cpus: Vec::new(),
            opened: Vec::new(),
            orphans: Vec::new(),
            first_error: None,
            errors: 0,
            panic: None,
            during: During {
                handler: "",
                gtid: None,
            },
            requests: Requests::default(),
            stats: AgentStats::default(),
        }
    }

    /// The scheduler.
    pub fn scheduler(&self) -> &S {
        &self.scheduler
    }

    /// The scheduler, mutably.
    pub fn scheduler_mut(&mut self) -> &mut S {
        &mut self.scheduler
    }

    /// The live task `gtid`.
    pub fn task(&self, gtid: Gtid) -> Option<&Task<S::TaskData>> {
        self.tasks.get(gtid)
    }

    /// The number of live tasks.
    pub fn live_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// What the agent counted.
    pub fn stats(&self) -> &AgentStats {
        &self.stats
    }

    /// The first broken task state rule and how many were found, if any.
    pub fn transition_errors(&self) -> Option<(&TransitionError, usize)> {
        self.first_error.as_ref().map(|first| (first, self.errors))
    }

    /// The handler panic that ended the run, if one did.
    pub fn handler_panic(&self) -> Option<&HandlerPanic> {
        self.panic.as_ref()
    }

    /// What ended the run, if something did: a handler's panic, else the first broken rule.
    pub fn fault(&self) -> Option<ErrorKind> {
        if let Some(panic) = &self.panic {
            return Some(ErrorKind::HandlerPanicked(panic.clone()));
        }
        self.transition_errors()
            .map(|(first, total)| ErrorKind::Transition {
                first: first.clone(),
                total,
            })
    }

    fn record(&mut self, error: TransitionError) {
        record(&mut self.first_error, &mut self.errors, error);
    }

    /// Runs `f` (a call into the scheduler's handlers); a panic in it is recorded with what
    /// [`During`] says, and the run will stop. Returns `None` after a panic.
    fn guarded<K: ?Sized + AsKernel, R>(
        &mut self,
        enclave: &mut AgentEnclave<'_, K>,
        f: impl FnOnce(&mut Self, &mut AgentEnclave<'_, K>) -> R,
    ) -> Option<R> {
        if self.panic.is_some() {
            return None;
        }
        match catch_unwind(AssertUnwindSafe(|| f(self, enclave))) {
            Ok(r) => Some(r),
            Err(payload) => {
                let payload = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "<non-string panic>".to_owned());
                let (handler, message, gtid) = match UNWOUND_ON.with(Cell::take) {
                    Some(msg) => (dispatch::handler_name(msg.payload()), Some(msg), msg.gtid()),
                    None => (self.during.handler, None, self.during.gtid),
                };
                self.panic = Some(HandlerPanic {
                    handler,
                    message,
                    gtid,
                    cpu: enclave.cpu(),
                    now_ns: enclave.now_ns(),
                    payload,
                });
                None
            }
        }
    }

    /// Notes which handler (outside the drain) runs next, on what task.
    #[inline]
    fn entering(&mut self, handler: &'static str, gtid: Option<Gtid>) {
        self.during = During { handler, gtid };
    }
}

/// The task left `state`: if that was a CPU it was current on, the CPU is free.
fn leave_cpu(cpus: &mut PerCpu<CpuSlot>, gtid: Gtid, state: TaskState) {
    if let TaskState::OnCpu(on) = state
        && cpus[on].current == Some(gtid)
    {
        cpus[on].current = None;
    }
}

fn record(first: &mut Option<TransitionError>, count: &mut usize, error: TransitionError) {
    *count += 1;
    first.get_or_insert(error);
}

impl<S: Scheduler> Agent for SchedulerAgent<S> {
    fn model(&self) -> AgentModel {
        S::MODEL
    }

    fn enclave_ready(&mut self, enclave: &mut AgentEnclave<'_>) {
        self.enclave_cpus = enclave.topology().cpus(enclave.cpus()).collect();
        self.entering("enclave_ready", None);
        self.guarded(enclave, |this, enclave| {
            this.scheduler
                .enclave_ready(&mut Cx::new(enclave, &mut this.requests));
        });
    }

    fn run(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_>) {
        self.run_generic(cpu, enclave);
    }

    fn run_direct<K: EnclaveKernel>(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_, K>) {
        self.run_generic(cpu, enclave);
    }

    fn rpc(
        &mut self,
        request: i64,
        args: &AgentRpcArgs,
        enclave: &mut AgentEnclave<'_>,
    ) -> AgentRpcResponse {
        self.entering("rpc", None);
        self.guarded(enclave, |this, enclave| {
            this.scheduler
                .rpc(request, args, &mut Cx::new(enclave, &mut this.requests))
        })
        .unwrap_or(AgentRpcResponse {
            response_code: RPC_ENODEV,
            buffer: Vec::new(),
        })
    }

    fn stop_requested(&self) -> bool {
        self.first_error.is_some() || self.panic.is_some()
    }
}

impl<S: Scheduler> SchedulerAgent<S> {
    /// [`Agent::run`] for any kernel type: one iteration, its panics caught.
    #[inline]
    fn run_generic<K: ?Sized + AsKernel>(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_, K>) {
        if self
            .guarded(enclave, |this, enclave| this.iteration(cpu, enclave))
            .is_none()
        {
            // A handler panicked: the run ends; yield so that a backend that looks at the
            // iteration's end before it looks at `stop_requested` does not run it again.
            let barrier = enclave.agent_barrier();
            enclave.local_yield(barrier, RunFlags::NONE);
        }
    }

    /// One iteration of the agent loop.
    fn iteration<K: ?Sized + AsKernel>(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_, K>) {
        // (1) The barrier before draining: a message posted during the drain makes the commit
        // fail instead of going unseen.
        let barrier = enclave.agent_barrier();
        // (2) Drain the agent's channel.
        let channel = enclave.agent_channel();
        while let Some(msg) = enclave.next_message(channel) {
            let named = OnUnwind(msg);
            self.dispatch(cpu, &named.0, enclave);
            std::mem::forget(named);
            self.apply_requests(enclave);
        }
        // (3) A higher scheduling class wants the CPU: give it up, and be woken when it idles.
        if enclave.agent_status().boosted_priority() {
            self.stats.boosted_yields += 1;
            enclave.local_yield(barrier, RunFlags::RTLA_ON_IDLE);
            return;
        }
        // (4) Decide, open, commit.
        match S::MODEL {
            AgentModel::PerCpu => self.run_per_cpu(cpu, barrier, enclave),
            AgentModel::Centralized => self.run_centralized(cpu, barrier, enclave),
        }
    }
}
