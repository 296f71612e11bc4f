//! [`EnclaveKernel`]: the operations an agent calls on its enclave, as a backend implements them.

use super::enclave::{AssociateError, Channel};
use crate::{
    AgentModel, BarrierToken, Cpu, CpuList, Gtid, Message, RunFlags, RunRequestOptions, StatusWord,
    TaskAttrs, Topology, TxnState,
};

/// The kernel side of the ABI, one method per operation an agent performs (ghOSt's syscalls,
/// ioctls and shared-memory reads). Agents never call it directly: they get an
/// [`AgentEnclave`](super::AgentEnclave), which names the calling CPU and forwards here.
///
/// Implemented by the simulated kernel and by the thread enclave. It is object safe, and
/// [`AgentEnclave`](super::AgentEnclave) holds a `&mut dyn EnclaveKernel`, so that handler
/// signatures (`cx: &mut Cx<'_>`) are the same for every backend; the cost (one indirect call
/// per operation) is measured by the `ghost` bench suite.
///
/// `caller` is the CPU of the agent making the call. Rules every implementation must follow are
/// in [`rules`](super::rules): build task and agent words, transactions and checks from there so
/// that both backends answer alike.
pub trait EnclaveKernel {
    /// Nanoseconds since the enclave started.
    fn now_ns(&self) -> u64;
    /// The machine.
    fn topology(&self) -> &Topology;
    /// The enclave's CPUs.
    fn enclave_cpus(&self) -> &CpuList;
    /// The model the agent was attached with.
    fn model(&self) -> AgentModel;
    /// The status word of `cpu`'s agent as of the start of its current iteration
    /// ([`AgentWord::status`](super::rules::AgentWord::status)); the default word for a CPU
    /// without an agent.
    fn agent_status(&self, cpu: Cpu) -> StatusWord;
    /// A live task's status word.
    fn task_status(&self, gtid: Gtid) -> Option<StatusWord>;
    /// A live task's allowed CPUs.
    fn task_affinity(&self, gtid: Gtid) -> Option<CpuList>;
    /// A live task's attributes.
    fn task_attrs(&self, gtid: Gtid) -> Option<TaskAttrs>;
    /// The channel of `cpu`'s agent (the default channel for a CPU without one).
    fn channel_of(&self, cpu: Cpu) -> Channel;
    /// Pops the oldest message of `channel` (`Peek` + `Consume`).
    fn next_message(&mut self, caller: Cpu, channel: Channel) -> Option<Message>;
    /// `ASSOC_QUEUE`: moves `gtid`'s future messages to `channel`
    /// ([`rules::check_associate`](super::rules::check_associate) decides).
    fn associate_task(
        &mut self,
        channel: Channel,
        gtid: Gtid,
        barrier: BarrierToken,
    ) -> Result<(), AssociateError>;
    /// Wakes `cpu`'s agent and increments its barrier; false if `cpu` has no agent.
    fn ping(&mut self, caller: Cpu, cpu: Cpu) -> bool;
    /// Opens `cpu`'s transaction with `options` ([`Txn::open`](super::rules::Txn::open)).
    fn open(&mut self, cpu: Cpu, options: RunRequestOptions);
    /// Commits `cpu`'s open transaction; true on success. Local when `caller == cpu`.
    fn commit(&mut self, caller: Cpu, cpu: Cpu) -> bool;
    /// Commits every open transaction of `cpus` (`CommitRunRequests`); true if all succeeded.
    fn commit_all(&mut self, caller: Cpu, cpus: &CpuList) -> bool {
        let mut all = true;
        for id in cpus {
            let Some(cpu) = self.topology().cpu(id) else {
                all = false;
                continue;
            };
            all &= self.commit(caller, cpu);
        }
        all
    }
    /// Aborts `cpu`'s open transaction; false if it was not open.
    fn abort(&mut self, cpu: Cpu) -> bool;
    /// `cpu`'s transaction state.
    fn txn_state(&self, cpu: Cpu) -> TxnState;
    /// `LocalYield` of `cpu`'s agent ([`AgentWord::try_yield`](super::rules::AgentWord::try_yield)).
    fn local_yield(&mut self, cpu: Cpu, barrier: BarrierToken, flags: RunFlags) -> bool;
    /// Turns `MSG_CPU_TICK` delivery on or off.
    fn set_deliver_ticks(&mut self, on: bool);
    /// Whether ticks are delivered.
    fn deliver_ticks(&self) -> bool;
}

/// A kernel an [`AgentEnclave`](super::AgentEnclave) can hold: any [`EnclaveKernel`], sized or
/// `dyn`, which can be seen as `dyn EnclaveKernel` (for handlers). Implemented for every
/// kernel; not to be implemented by hand.
pub trait AsKernel: EnclaveKernel {
    /// The kernel as `dyn EnclaveKernel`.
    fn as_dyn(&mut self) -> &mut dyn EnclaveKernel;
}

impl<K: EnclaveKernel> AsKernel for K {
    #[inline]
    fn as_dyn(&mut self) -> &mut dyn EnclaveKernel {
        self
    }
}

impl AsKernel for dyn EnclaveKernel + '_ {
    #[inline]
    fn as_dyn(&mut self) -> &mut dyn EnclaveKernel {
        self
    }
}
