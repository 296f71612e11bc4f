//! The ABI's kernel operations ([`EnclaveKernel`]) over the thread enclave's state, for one
//! agent iteration: reads, the drain, association, pings, transactions, yields, ticks. The
//! decisions are the shared rules' ([`rules`]); the facts they take come from [`State`].

use super::kernel::{State, TState};
use crate::abi::rules;
use crate::abi::{EnclaveKernel, TraceEvent};
use crate::{
    AgentModel, AssociateError, BarrierToken, Channel, Cpu, CpuList, Gtid, Message, RunFlags,
    RunRequestOptions, StatusWord, TaskAttrs, Topology, TxnState,
};

use super::kernel::TRACE_CAP;

/// The enclave as one agent's calls see it: the kernel state, borrowed for one iteration (the
/// agent thread holds the lock). Implements the ABI's kernel operations.
pub(crate) struct Kernel<'a> {
    pub(crate) st: &'a mut State,
}

impl EnclaveKernel for Kernel<'_> {
    fn now_ns(&self) -> u64 {
        self.st.now_ns()
    }

    fn topology(&self) -> &Topology {
        &self.st.topology
    }

    fn enclave_cpus(&self) -> &CpuList {
        &self.st.enclave
    }

    fn model(&self) -> AgentModel {
        self.st.model
    }

    fn agent_status(&self, cpu: Cpu) -> StatusWord {
        match self.st.cpu_index(cpu) {
            Some(c) if self.st.cpus[c].has_agent => self.st.cpus[c].agent.status(false),
            _ => StatusWord::default(),
        }
    }

    fn task_status(&self, gtid: Gtid) -> Option<StatusWord> {
        let t = &self.st.threads[self.st.live_index(gtid)?];
        let on_cpu = matches!(t.state, TState::OnCpu(_));
        Some(
            t.word
                .status(on_cpu, on_cpu || t.state == TState::Runnable, t.runtime_ns),
        )
    }

    fn task_affinity(&self, gtid: Gtid) -> Option<CpuList> {
        Some(self.st.threads[self.st.live_index(gtid)?].affinity)
    }

    fn task_attrs(&self, gtid: Gtid) -> Option<TaskAttrs> {
        Some(self.st.threads[self.st.live_index(gtid)?].attrs.clone())
    }

    fn channel_of(&self, cpu: Cpu) -> Channel {
        Channel::from_index(
            self.st
                .cpu_index(cpu)
                .map_or(0, |c| self.st.cpus[c].channel),
        )
    }

    fn next_message(&mut self, _caller: Cpu, channel: Channel) -> Option<Message> {
        let msg = self
            .st
            .channels
            .get_mut(channel.index())?
            .queue
            .pop_front()?;
        if let Some(gtid) = msg.gtid() {
            let i = gtid.tid() as usize - 1;
            self.st.threads[i].word.consumed();
        }
        Some(msg)
    }

    fn associate_task(
        &mut self,
        channel: Channel,
        gtid: Gtid,
        barrier: BarrierToken,
    ) -> Result<(), AssociateError> {
        let st = &mut *self.st;
        let i = st.live_index(gtid);
        let index = u16::try_from(channel.index()).unwrap_or(u16::MAX);
        let result = rules::check_associate(
            i.map(|i| &st.threads[i].word),
            gtid,
            index,
            st.channels.len(),
            barrier,
        );
        match (result, i) {
            (Ok(()), Some(i)) => {
                rules::associate(&mut st.threads[i].word, index);
                st.stats.associations += 1;
                Ok(())
            }
            (Err(e), _) => {
                st.stats.failed_associations += 1;
                Err(e)
            }
            (Ok(()), None) => unreachable!("check_associate needs a live task"),
        }
    }

    fn ping(&mut self, _caller: Cpu, cpu: Cpu) -> bool {
        match self.st.cpu_index(cpu) {
            Some(c) if self.st.cpus[c].has_agent => {
                self.st.cpus[c].agent.bump();
                self.st.wake_agent(c);
                true
            }
            _ => false,
        }
    }

    fn open(&mut self, cpu: Cpu, options: RunRequestOptions) {
        if let Some(c) = self.st.cpu_index(cpu) {
            self.st.cpus[c].txn.open(options);
        }
    }

    fn commit(&mut self, caller: Cpu, cpu: Cpu) -> bool {
        let st = &mut *self.st;
        let (Some(a), Some(c)) = (st.cpu_index(caller), st.cpu_index(cpu)) else {
            return false;
        };
        let Some(options) = st.cpus[c].txn.to_commit() else {
            return false;
        };
        let local = a == c;
        let (facts_cpu, target) = st.commit_facts(c, &options);
        let state = rules::check_commit(
            &options,
            local,
            st.cpus[a].agent.barrier(),
            facts_cpu,
            target,
        );
        st.cpus[c].txn.finish(state);
        let now = st.now_ns();
        if state != TxnState::Complete {
            if let Some(k) = TxnState::FAILURES.iter().position(|s| *s == state) {
                st.stats.failed[k] += 1;
            }
            if let Some(trace) = st.trace.as_mut().filter(|t| t.len() < TRACE_CAP) {
                trace.push(TraceEvent::CommitFailed {
                    time_ns: now,
                    cpu: cpu.id(),
                    target: options.target,
                    state,
                });
            }
            return false;
        }
        st.stats.commits += 1;
        if st.cpus[c].current.is_some() {
            st.preempt(c);
        }
        if local {
            st.cpus[a].agent.committed_local(now);
        }
        let i = st.live_index(options.target).expect("checked live");
        st.place(i, c, now);
        true
    }

    fn abort(&mut self, cpu: Cpu) -> bool {
        self.st
            .cpu_index(cpu)
            .is_some_and(|c| self.st.cpus[c].txn.abort())
    }

    fn txn_state(&self, cpu: Cpu) -> TxnState {
        self.st
            .cpu_index(cpu)
            .map_or(TxnState::Idle, |c| self.st.cpus[c].txn.state())
    }

    fn local_yield(&mut self, cpu: Cpu, barrier: BarrierToken, flags: RunFlags) -> bool {
        let st = &mut *self.st;
        let Some(a) = st.cpu_index(cpu) else {
            return false;
        };
        if !st.cpus[a].has_agent || !st.cpus[a].agent.try_yield(barrier, flags) {
            st.stats.failed_yields += 1;
            return false;
        }
        true
    }

    fn set_deliver_ticks(&mut self, on: bool) {
        let st = &mut *self.st;
        if st.ticks == on {
            return;
        }
        st.ticks = on;
        let next = st.now_ns().saturating_add(st.tick_ns);
        for slot in &mut st.cpus {
            slot.next_tick = (on && slot.current.is_some()).then_some(next);
        }
    }

    fn deliver_ticks(&self) -> bool {
        self.st.ticks
    }
}
