//! The operations agents call ([`EnclaveKernel`]), on the simulated kernel's state, decided by
//! the shared [`rules`](crate::abi::rules).

use super::{AgentPhase, Kernel, TaskState};
use crate::abi::rules::{self, CommitCpu, CommitTarget};
use crate::abi::trace::TraceEvent;
use crate::abi::{AssociateError, Channel, EnclaveKernel};
use crate::{
    AgentModel, BarrierToken, Cpu, CpuList, Gtid, Message, RunFlags, RunRequestOptions, StatusWord,
    TaskAttrs, Topology, TxnState,
};

fn failure_index(state: TxnState) -> usize {
    TxnState::FAILURES
        .iter()
        .position(|s| *s == state)
        .expect("only failure states are counted")
}

impl Kernel {
    /// The index of the live task `gtid` (arrived, not gone).
    pub(super) fn task_index(&self, gtid: Gtid) -> Option<usize> {
        let i = (gtid.tid() as usize).checked_sub(1)?;
        let task = self.tasks.get(i)?;
        (task.gtid == gtid && !matches!(task.state, TaskState::NotArrived | TaskState::Gone))
            .then_some(i)
    }

    /// The facts of the commit check about CPU `c`, as of now.
    fn commit_cpu(&self, c: usize) -> CommitCpu {
        let slot = &self.cpus[c];
        CommitCpu {
            in_enclave: slot.in_enclave,
            runs_tasks: slot.runs_tasks,
            unavailable: slot.interference_active,
            // Per-CPU model: a CPU whose own agent is awake is held by it.
            agent_holds_cpu: slot.has_agent && !matches!(slot.agent, AgentPhase::Blocked { .. }),
        }
    }

    /// The facts of the commit check about `gtid`'s task for CPU `c`.
    fn commit_target(&self, gtid: Gtid, c: usize) -> (CommitTarget, u32) {
        let Some(i) = self.task_index(gtid) else {
            return (CommitTarget::NotFound, 0);
        };
        let task = &self.tasks[i];
        let target = CommitTarget::Live {
            seqnum: task.word.seqnum(),
            on_cpu: matches!(task.state, TaskState::OnCpu(_)),
            runnable: task.state == TaskState::Runnable,
            allowed: task.affinity.contains(c),
        };
        (target, i as u32)
    }
}

impl EnclaveKernel for Kernel {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.now
    }

    fn topology(&self) -> &Topology {
        &self.topology
    }

    fn enclave_cpus(&self) -> &CpuList {
        &self.enclave_cpus
    }

    fn model(&self) -> AgentModel {
        self.model
    }

    #[inline]
    fn agent_status(&self, cpu: Cpu) -> StatusWord {
        match self.cpus.get(cpu.id()) {
            Some(slot) if slot.has_agent => slot.word.status(slot.interference_active),
            _ => StatusWord::default(),
        }
    }

    fn task_status(&self, gtid: Gtid) -> Option<StatusWord> {
        let t = &self.tasks[self.task_index(gtid)?];
        let on_cpu = matches!(t.state, TaskState::OnCpu(_));
        Some(
            t.word
                .status(on_cpu, on_cpu || t.state == TaskState::Runnable, t.runtime),
        )
    }

    fn task_affinity(&self, gtid: Gtid) -> Option<CpuList> {
        Some(self.tasks[self.task_index(gtid)?].affinity)
    }

    fn task_attrs(&self, gtid: Gtid) -> Option<TaskAttrs> {
        Some(self.specs[self.task_index(gtid)?].attrs.clone())
    }

    #[inline]
    fn channel_of(&self, cpu: Cpu) -> Channel {
        Channel::from_index(self.cpus.get(cpu.id()).map_or(0, |s| s.channel))
    }

    #[inline]
    fn next_message(&mut self, caller: Cpu, channel: Channel) -> Option<Message> {
        let msg = self.channels.get_mut(channel.index())?.queue.pop_front()?;
        if let Some(gtid) = msg.gtid() {
            let i = gtid.tid() as usize - 1;
            self.tasks[i].word.consumed();
        }
        if let Some(slot) = self.cpus.get_mut(caller.id()) {
            slot.drained += 1;
        }
        Some(msg)
    }

    fn associate_task(
        &mut self,
        channel: Channel,
        gtid: Gtid,
        barrier: BarrierToken,
    ) -> Result<(), AssociateError> {
        let index = self.task_index(gtid);
        let result = rules::check_associate(
            index.map(|i| &self.tasks[i].word),
            gtid,
            channel.index() as u16,
            self.channels.len(),
            barrier,
        );
        match (result, index) {
            (Ok(()), Some(i)) => {
                rules::associate(&mut self.tasks[i].word, channel.index() as u16);
                self.stats.associations += 1;
            }
            _ => self.stats.failed_associations += 1,
        }
        result
    }

    fn ping(&mut self, _caller: Cpu, cpu: Cpu) -> bool {
        match self.cpus.get_mut(cpu.id()) {
            Some(slot) if slot.has_agent => {
                // The kernel's ping bumps the agent's barrier: whatever it prepared against the
                // old one is stale, so it looks again.
                slot.word.bump();
                self.wake_agent(cpu.id() as u16);
                true
            }
            _ => false,
        }
    }

    #[inline]
    fn open(&mut self, cpu: Cpu, options: RunRequestOptions) {
        if let Some(slot) = self.cpus.get_mut(cpu.id()) {
            slot.txn.open(options);
        }
    }

    fn abort(&mut self, cpu: Cpu) -> bool {
        self.cpus.get_mut(cpu.id()).is_some_and(|s| s.txn.abort())
    }

    #[inline]
    fn txn_state(&self, cpu: Cpu) -> TxnState {
        self.cpus
            .get(cpu.id())
            .map_or(TxnState::Idle, |s| s.txn.state())
    }

    #[inline]
    fn local_yield(&mut self, cpu: Cpu, barrier: BarrierToken, flags: RunFlags) -> bool {
        let Some(slot) = self.cpus.get_mut(cpu.id()) else {
            return false;
        };
        if !slot.has_agent || !slot.word.try_yield(barrier, flags) {
            self.stats.failed_yields += 1;
            return false;
        }
        true
    }

    fn commit(&mut self, agent_cpu: Cpu, cpu: Cpu) -> bool {
        let a = agent_cpu.id();
        let c = cpu.id();
        let Some(options) = self.cpus.get(c).and_then(|s| s.txn.to_commit()) else {
            return false;
        };
        let local = a == c;
        let agent_barrier = self
            .cpus
            .get(a)
            .map_or(BarrierToken(0), |s| s.word.barrier());
        let (target, task) = self.commit_target(options.target, c);
        let state = rules::check_commit(&options, local, agent_barrier, self.commit_cpu(c), target);
        self.cpus[c].txn.finish(state);
        if state != TxnState::Complete {
            self.stats.failed[failure_index(state)] += 1;
            self.trace.record(TraceEvent::CommitFailed {
                time_ns: self.now,
                cpu: c,
                target: options.target,
                state,
            });
            return false;
        }
        self.stats.commits += 1;
        let at = self.now + self.cpus.get(a).map_or(0, |s| s.drained) * self.costs.per_message_ns;
        if let Some(running) = self.cpus[c].current {
            self.preempt(c as u16, running);
        }
        if local {
            self.cpus[a].word.committed_local(at);
        }
        self.dispatch(task, c as u16, at);
        true
    }

    fn set_deliver_ticks(&mut self, on: bool) {
        if self.ticks == on {
            return;
        }
        self.ticks = on;
        if on {
            // CPUs already running a task start ticking now; others when they next get one.
            for k in 0..self.timer_cpus.len() {
                let c = self.timer_cpus[k];
                if self.cpus[c as usize].current.is_some() {
                    self.arm_tick(c);
                }
            }
        }
    }

    fn deliver_ticks(&self) -> bool {
        self.ticks
    }
}
