//! [`FullAgent`]: the tutorial's `FullAgent` / `AgentProcess` for a [`Scheduler`]: owns the
//! enclave and the agent, makes the enclave ready, runs it, answers RPCs.

use crate::sim::{SimEnclave, SimReport, SimStatus};
use crate::{AgentConfig, AgentRpcArgs, AgentRpcResponse};

use super::{AgentStats, Error, Scheduler, SchedulerAgent};

/// How much simulated time [`FullAgent::run`] advances between checks for broken task state
/// rules, so that a broken scheduler stops soon after its first error instead of running (or
/// stalling) to the end.
const CHECK_EVERY_NS: u64 = 10_000_000;

/// A scheduler attached to its enclave: the agents are built, the enclave is ready.
pub struct FullAgent<S: Scheduler> {
    enclave: SimEnclave,
    agent: SchedulerAgent<S>,
}

impl<S: Scheduler> std::fmt::Debug for FullAgent<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FullAgent")
            .field("enclave", &self.enclave)
            .field("agent", &self.agent)
            .finish()
    }
}

impl<S: Scheduler> FullAgent<S> {
    /// Attaches `scheduler`'s agents to `enclave` with `config` (one agent and channel per CPU,
    /// or one global agent and channel) and makes the enclave ready (`enclave_ready` runs).
    ///
    /// # Errors
    ///
    /// [`Error::Sim`] when the configuration does not fit the enclave.
    pub fn new(scheduler: S, mut enclave: SimEnclave, config: AgentConfig) -> Result<Self, Error> {
        let mut agent = SchedulerAgent::new(scheduler);
        enclave.attach(&mut agent, &config)?;
        let full = Self { enclave, agent };
        full.check()?;
        Ok(full)
    }

    /// Runs until every task of the workload has finished, and reports.
    ///
    /// # Errors
    ///
    /// [`Error::Transition`] for the first broken task state rule (checked before any
    /// simulation error, which it usually causes); [`Error::Sim`] when the simulation stalls or
    /// reaches its time limit.
    pub fn run(mut self) -> Result<SimReport, Error> {
        // The clock stops at the last event before the bound, so the bound advances on its own.
        let mut until = self.enclave.now_ns();
        loop {
            until = until.saturating_add(CHECK_EVERY_NS);
            let status = self.run_until(until)?;
            if status == SimStatus::Finished {
                return Ok(self.enclave.report());
            }
        }
    }

    /// Runs until simulated time `until_ns` or the end of the workload.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    pub fn run_until(&mut self, until_ns: u64) -> Result<SimStatus, Error> {
        let status = self.enclave.run_until(&mut self.agent, until_ns);
        self.check()?;
        Ok(status?)
    }

    /// Sends an RPC to the agent process (ghOSt's `AgentProcess::Rpc`); the scheduler's `rpc`
    /// handler answers, or `RPC_ENODEV` without one.
    ///
    /// # Errors
    ///
    /// [`Error::Sim`] if the enclave is not attached (it always is once built).
    pub fn rpc(&mut self, request: i64, args: &AgentRpcArgs) -> Result<AgentRpcResponse, Error> {
        let response = self.enclave.rpc(&mut self.agent, request, args)?;
        self.check()?;
        Ok(response)
    }

    /// What the enclave measured so far.
    pub fn report(&self) -> SimReport {
        self.enclave.report()
    }

    /// Simulated time, ns.
    pub fn now_ns(&self) -> u64 {
        self.enclave.now_ns()
    }

    /// The scheduler.
    pub fn scheduler(&self) -> &S {
        self.agent.scheduler()
    }

    /// The agent (task table, counters).
    pub fn agent(&self) -> &SchedulerAgent<S> {
        &self.agent
    }

    /// What the agent counted.
    pub fn stats(&self) -> &AgentStats {
        self.agent.stats()
    }

    fn check(&self) -> Result<(), Error> {
        match self.agent.transition_errors() {
            Some((first, total)) => Err(Error::Transition {
                first: first.clone(),
                total,
            }),
            None => Ok(()),
        }
    }
}
