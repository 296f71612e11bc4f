//! [`Cx`]: what a handler may ask of the enclave while it runs.

use crate::abi::AsKernel;
use crate::{
    AgentEnclave, AgentModel, AssociateError, CommitFlags, Cpu, CpuList, Gtid, RunRequestOptions,
    StatusWord, TaskAttrs, Topology, TxnState,
};

use super::{Task, TaskState};

/// What handlers asked of the agent through [`Cx`], for the agent to apply after the handler
/// returns (it owns the CPU table the handler cannot reach).
#[derive(Debug, Default)]
pub(crate) struct Requests {
    /// Tasks a handler committed ([`Cx::commit`]), with their CPUs.
    pub(crate) placed: Vec<(Gtid, Cpu)>,
    /// CPUs whose running task the policy wants to reconsider ([`Cx::preempt`], centralized).
    pub(crate) preempt: CpuList,
    /// The centralized time slice ([`Cx::set_time_slice`]).
    pub(crate) time_slice_ns: Option<u64>,
}

/// The enclave as a handler sees it, on the CPU of the agent running the handler.
///
/// Everything the generated agent does itself (draining, seqnums, barriers, transactions) is not
/// here; what is here is what a policy decides: where a new task goes
/// ([`associate_task`](Self::associate_task)), whom to wake ([`ping`](Self::ping)), and what it
/// may read (time, CPUs, topology, status words).
#[derive(Debug)]
pub struct Cx<'a> {
    enclave: AgentEnclave<'a>,
    requests: &'a mut Requests,
}

impl<'a> Cx<'a> {
    /// A context over `enclave`, reborrowed for one handler call.
    #[inline]
    pub(crate) fn new<'b, K: ?Sized + AsKernel>(
        enclave: &'a mut AgentEnclave<'b, K>,
        requests: &'a mut Requests,
    ) -> Self {
        Cx {
            enclave: enclave.as_dyn(),
            requests,
        }
    }

    /// The CPU of the agent running this handler (the tutorial's `MyCpu()`).
    #[inline]
    pub fn cpu(&self) -> Cpu {
        self.enclave.cpu()
    }

    /// Simulated time, in ns.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.enclave.now_ns()
    }

    /// The machine.
    pub fn topology(&self) -> &Topology {
        self.enclave.topology()
    }

    /// The enclave's CPUs.
    pub fn cpus(&self) -> &CpuList {
        self.enclave.cpus()
    }

    /// The enclave's CPUs, in order, as [`Cpu`]s.
    pub fn enclave_cpus(&self) -> Vec<Cpu> {
        self.topology().cpus(self.cpus()).collect()
    }

    /// The agent model.
    pub fn model(&self) -> AgentModel {
        self.enclave.model()
    }

    /// Moves `task`'s future messages to `cpu`'s channel (ghOSt's `Channel::AssociateTask`,
    /// with the task's seqnum as barrier), so that `cpu`'s agent schedules it. Safe in
    /// `task_new`; elsewhere it fails while the old channel still holds messages of the task.
    ///
    /// # Errors
    ///
    /// [`AssociateError`]; the task then stays with its current channel, as in the tutorial.
    pub fn associate_task<T>(
        &mut self,
        task: &mut Task<T>,
        cpu: Cpu,
    ) -> Result<(), AssociateError> {
        let channel = self.enclave.channel(cpu);
        channel.associate_task(&mut self.enclave, task.gtid(), task.seqnum())?;
        task.set_channel_cpu(cpu);
        Ok(())
    }

    /// Wakes `cpu`'s agent (ghOSt's `Agent::Ping`), e.g. after queueing a task for it; false
    /// if `cpu` has no agent.
    #[inline]
    pub fn ping(&mut self, cpu: Cpu) -> bool {
        self.enclave.ping(cpu)
    }

    /// The kernel's status word of a task, if it is alive.
    pub fn task_status(&self, gtid: Gtid) -> Option<StatusWord> {
        self.enclave.task_status(gtid)
    }

    /// The CPUs a task may run on, if it is alive.
    pub fn task_affinity(&self, gtid: Gtid) -> Option<CpuList> {
        self.enclave.task_affinity(gtid)
    }

    /// The attributes a task was given, if it is alive (a handler's own task has them as
    /// [`Task::attrs`]).
    pub fn task_attrs(&self, gtid: Gtid) -> Option<TaskAttrs> {
        self.enclave.task_attrs(gtid)
    }

    /// Commits `task` to `cpu` now, from the handler (a remote commit when `cpu` is not the
    /// agent's own; in the per-CPU model, for example, to put a woken task on an idle CPU whose
    /// agent sleeps). The transaction carries the task's seqnum and this agent's barrier; the
    /// kernel checks it as any commit, and a task running on `cpu` is preempted
    /// (`MSG_TASK_PREEMPT` follows). On success the task is [`TaskState::OnCpu`].
    ///
    /// # Errors
    ///
    /// The transaction's failure state, e.g. `GHOST_TXN_CPU_UNAVAIL` when `cpu`'s own agent
    /// holds it, `GHOST_TXN_TARGET_STALE` when the task has messages the agent has not seen,
    /// `GHOST_TXN_TARGET_ONCPU` when it runs already. The task is unchanged then.
    pub fn commit<T>(&mut self, task: &mut Task<T>, cpu: Cpu) -> Result<(), TxnState> {
        let agent_barrier = self.enclave.agent_barrier();
        let mut req = self.enclave.run_request(cpu);
        req.open(RunRequestOptions {
            target: task.gtid(),
            target_barrier: task.seqnum(),
            agent_barrier,
            commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
        });
        req.commit();
        match req.state() {
            TxnState::Complete => {
                task.set_state(TaskState::OnCpu(cpu));
                self.requests.placed.push((task.gtid(), cpu));
                Ok(())
            }
            failed => Err(failed),
        }
    }

    /// Asks for `cpu`'s running task to be reconsidered. Centralized model: in this iteration's
    /// decision the agent asks `pick_next` for `cpu` although a task runs there, and commits
    /// its choice (preempting the running task, which gets `MSG_TASK_PREEMPT`); `None` leaves
    /// the task running. Per-CPU model: wakes `cpu`'s agent ([`ping`](Self::ping)), and every
    /// agent wakeup preempts its CPU's task.
    pub fn preempt(&mut self, cpu: Cpu) {
        match self.enclave.model() {
            AgentModel::Centralized => {
                let _ = self.requests.preempt.insert(cpu.id());
            }
            AgentModel::PerCpu => {
                self.enclave.ping(cpu);
            }
        }
    }

    /// Time slicing. Centralized model: a task that has run `slice_ns` since its commit is
    /// reconsidered as with [`preempt`](Self::preempt) at every agent iteration until
    /// `pick_next` replaces it; turns tick delivery on, so that the agent wakes to notice.
    /// `None` turns slicing off (ticks stay as they are). Per-CPU model: every agent wakeup
    /// preempts its CPU's task already, so a policy slices time in `cpu_tick`; this only turns
    /// ticks on.
    pub fn set_time_slice(&mut self, slice_ns: Option<u64>) {
        self.requests.time_slice_ns = slice_ns.filter(|_| self.model() == AgentModel::Centralized);
        if slice_ns.is_some() {
            self.enclave.set_deliver_ticks(true);
        }
    }

    /// Turns `MSG_CPU_TICK` delivery on or off (the seed's `SetDeliverTicks(true)`, typically
    /// in `enclave_ready`).
    pub fn set_deliver_ticks(&mut self, on: bool) {
        self.enclave.set_deliver_ticks(on);
    }

    /// Whether `MSG_CPU_TICK` is delivered.
    pub fn deliver_ticks(&self) -> bool {
        self.enclave.deliver_ticks()
    }
}
