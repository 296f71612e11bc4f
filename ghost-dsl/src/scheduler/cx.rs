//! [`Cx`]: what a handler may ask of the enclave while it runs.

use crate::{AgentEnclave, AgentModel, AssociateError, Cpu, CpuList, Gtid, StatusWord, Topology};

use super::Task;

/// The enclave as a handler sees it, on the CPU of the agent running the handler.
///
/// Everything the generated agent does itself (draining, seqnums, barriers, transactions) is not
/// here; what is here is what a policy decides: where a new task goes
/// ([`associate_task`](Self::associate_task)), whom to wake ([`ping`](Self::ping)), and what it
/// may read (time, CPUs, topology, status words).
#[derive(Debug)]
pub struct Cx<'a> {
    enclave: AgentEnclave<'a>,
}

impl<'a> Cx<'a> {
    /// A context over `enclave`, reborrowed for one handler call.
    #[inline]
    pub(crate) fn new<'b>(enclave: &'a mut AgentEnclave<'b>) -> Self {
        Cx {
            enclave: enclave.reborrow(),
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
}
