//! Test agents: a scripted agent and a minimal single-queue FIFO with a configurable reaction to
//! a boosted priority.

#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;

use ghost_dsl::sim::{Costs, SimConfig, Workload};
use ghost_dsl::{
    Agent, AgentEnclave, AgentModel, BarrierToken, CommitFlags, Cpu, Gtid, Message, Payload,
    RunFlags, RunRequestOptions, Topology, TxnState,
};

/// Costs that make the window between barrier read and decision wide (10 µs).
pub const SLOW_AGENT: Costs = Costs {
    agent_loop_ns: 10_000,
    per_message_ns: 100,
    context_switch_ns: 1_000,
};

pub fn config(workload: Workload) -> SimConfig {
    SimConfig::new(Topology::test_default(), workload)
}

/// An agent whose iterations are a closure.
pub struct Script<F> {
    pub model: AgentModel,
    pub f: F,
}

impl<F: FnMut(Cpu, &mut AgentEnclave<'_>)> Agent for Script<F> {
    fn model(&self) -> AgentModel {
        self.model
    }
    fn run(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_>) {
        (self.f)(cpu, enclave)
    }
}

pub fn per_cpu<F: FnMut(Cpu, &mut AgentEnclave<'_>)>(f: F) -> Script<F> {
    Script {
        model: AgentModel::PerCpu,
        f,
    }
}

/// Drains `enclave`'s own channel into a vector.
pub fn drain(enclave: &mut AgentEnclave<'_>) -> Vec<Message> {
    let ch = enclave.agent_channel();
    std::iter::from_fn(|| enclave.next_message(ch)).collect()
}

/// Commits `target` on `cpu` with the given barriers; returns the resulting state.
pub fn commit(
    enclave: &mut AgentEnclave<'_>,
    cpu: Cpu,
    target: Gtid,
    target_barrier: BarrierToken,
    agent_barrier: BarrierToken,
) -> TxnState {
    let mut req = enclave.run_request(cpu);
    req.open(RunRequestOptions {
        target,
        target_barrier,
        agent_barrier,
        commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
    });
    req.commit();
    req.state()
}

/// What [`MiniFifo`] does when its priority is boosted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBoost {
    /// `local_yield(barrier, RTLA_ON_IDLE)`, as the tutorial says.
    YieldOnIdle,
    /// `local_yield(barrier, NONE)`: forgets to ask to be woken.
    YieldPlain,
    /// Ignores the boost and commits anyway.
    Ignore,
}

/// A one-queue FIFO for one CPU (the tutorial's first scheduler): the running task stays at the
/// front of the queue.
pub struct MiniFifo {
    pub on_boost: OnBoost,
    pub rq: VecDeque<(Gtid, BarrierToken)>,
    pub seen: Vec<Message>,
    pub commit_states: Vec<TxnState>,
}

impl MiniFifo {
    pub fn new(on_boost: OnBoost) -> Self {
        Self {
            on_boost,
            rq: VecDeque::new(),
            seen: Vec::new(),
            commit_states: Vec::new(),
        }
    }

    fn seq(&mut self, gtid: Gtid, seq: BarrierToken) {
        for entry in &mut self.rq {
            if entry.0 == gtid {
                entry.1 = seq;
            }
        }
    }
}

impl Agent for MiniFifo {
    fn model(&self) -> AgentModel {
        AgentModel::PerCpu
    }

    fn run(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_>) {
        let barrier = enclave.agent_barrier();
        for msg in drain(enclave) {
            self.seen.push(msg);
            match *msg.payload() {
                Payload::TaskNew(n) if n.runnable => self.rq.push_back((n.gtid, msg.seqnum())),
                Payload::TaskWakeup(w) => self.rq.push_back((w.gtid, msg.seqnum())),
                Payload::TaskBlocked(b) => self.rq.retain(|(g, _)| *g != b.gtid),
                Payload::TaskDeparted(d) => self.rq.retain(|(g, _)| *g != d.gtid),
                _ => {
                    if let Some(g) = msg.gtid() {
                        self.seq(g, msg.seqnum());
                    }
                }
            }
        }
        if enclave.agent_status().boosted_priority() {
            match self.on_boost {
                OnBoost::YieldOnIdle => {
                    enclave.local_yield(barrier, RunFlags::RTLA_ON_IDLE);
                    return;
                }
                OnBoost::YieldPlain => {
                    enclave.local_yield(barrier, RunFlags::NONE);
                    return;
                }
                OnBoost::Ignore => {}
            }
        }
        match self.rq.front().copied() {
            Some((next, seq)) => {
                let state = commit(enclave, cpu, next, seq, barrier);
                self.commit_states.push(state);
            }
            None => {
                enclave.local_yield(barrier, RunFlags::NONE);
            }
        }
    }
}
