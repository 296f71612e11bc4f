//! [`FullAgent`]: the tutorial's `FullAgent` / `AgentProcess` for a [`Scheduler`]: owns the
//! enclave (any [`Backend`]) and the agent, makes the enclave ready, runs it, answers RPCs.

use crate::abi::{EnclaveBackend, Report, RunEnd};
use crate::sim::{SimEnclave, SimStatus};
use crate::{AgentConfig, AgentRpcArgs, AgentRpcResponse};

use super::{AgentStats, Error, Scheduler, SchedulerAgent};

/// An enclave that can host the generated agent of scheduler `S`: the simulator
/// ([`SimEnclave`]) and the thread enclave. Implemented for every [`EnclaveBackend`] of
/// [`SchedulerAgent<S>`] whose errors convert into [`Error`]; not to be implemented by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a ghOSt enclave that can run the scheduler `{S}`",
    label = "not an enclave for `{S}`",
    note = "pass a `ghost_dsl::sim::SimEnclave` (simulated kernel) or a thread enclave; the thread enclave also needs `{S}` and its `task = ..` type to be `Send`"
)]
pub trait Backend<S: Scheduler>: EnclaveBackend<SchedulerAgent<S>> {
    /// The backend's error as a scheduler [`Error`].
    fn convert_error(error: Self::Error) -> Error;
}

impl<S, E> Backend<S> for E
where
    S: Scheduler,
    E: EnclaveBackend<SchedulerAgent<S>>,
    Error: From<E::Error>,
{
    fn convert_error(error: E::Error) -> Error {
        Error::from(error)
    }
}

/// A scheduler attached to its enclave: the agents are built, the enclave is ready.
pub struct FullAgent<S: Scheduler, E = SimEnclave> {
    enclave: E,
    agent: SchedulerAgent<S>,
}

impl<S: Scheduler, E: std::fmt::Debug> std::fmt::Debug for FullAgent<S, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FullAgent")
            .field("enclave", &self.enclave)
            .field("agent", &self.agent)
            .finish()
    }
}

impl<S: Scheduler, E: Backend<S>> FullAgent<S, E> {
    /// Attaches `scheduler`'s agents to `enclave` with `config` (one agent and channel per CPU,
    /// or one global agent and channel) and makes the enclave ready (`enclave_ready` runs).
    ///
    /// # Errors
    ///
    /// The configuration does not fit the enclave; `enclave_ready` broke a rule or panicked.
    pub fn new(scheduler: S, mut enclave: E, config: AgentConfig) -> Result<Self, Error> {
        let mut agent = SchedulerAgent::new(scheduler);
        enclave
            .attach(&mut agent, &config)
            .map_err(E::convert_error)?;
        let full = Self { enclave, agent };
        full.check()?;
        Ok(full)
    }

    /// Runs until every task has finished, and reports.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Transition`](super::ErrorKind::Transition) for the first broken task state
    /// rule and [`ErrorKind::HandlerPanicked`](super::ErrorKind::HandlerPanicked) for a
    /// panicking handler (both stop the run at once, and are reported before any enclave error,
    /// which they usually cause); the enclave's errors (a stall, a time limit...). Every error
    /// carries the report as the run ended.
    pub fn run(mut self) -> Result<Report, Error> {
        let end = self.enclave.run_to_end(&mut self.agent);
        self.check()?;
        match end {
            // The agent stops a run only with a fault recorded, which `check` returned above.
            Ok(RunEnd::Finished | RunEnd::AgentStopped) => Ok(self.enclave.report()),
            Err(err) => Err(E::convert_error(err).with_report(self.enclave.report())),
        }
    }

    /// Sends an RPC to the agent process (ghOSt's `AgentProcess::Rpc`); the scheduler's `rpc`
    /// handler answers, or `RPC_ENODEV` without one.
    ///
    /// # Errors
    ///
    /// The enclave's (not attached); the handler broke a rule or panicked.
    pub fn rpc(&mut self, request: i64, args: &AgentRpcArgs) -> Result<AgentRpcResponse, Error> {
        let response = self
            .enclave
            .rpc(&mut self.agent, request, args)
            .map_err(E::convert_error)?;
        self.check()?;
        Ok(response)
    }

    /// What the enclave measured so far.
    pub fn report(&self) -> Report {
        self.enclave.report()
    }

    /// Time, ns since the enclave started.
    pub fn now_ns(&self) -> u64 {
        self.enclave.now_ns()
    }

    /// The enclave.
    pub fn enclave(&self) -> &E {
        &self.enclave
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
        match self.agent.fault() {
            Some(kind) => Err(Error::new(kind, Some(self.enclave.report()))),
            None => Ok(()),
        }
    }
}

impl<S: Scheduler> FullAgent<S, SimEnclave> {
    /// Runs the simulation until simulated time `until_ns` or the end of the workload.
    ///
    /// # Errors
    ///
    /// As [`run`](Self::run).
    pub fn run_until(&mut self, until_ns: u64) -> Result<SimStatus, Error> {
        let status = self.enclave.run_until(&mut self.agent, until_ns);
        self.check()?;
        status.map_err(|err| Error::from(err).with_report(self.enclave.report()))
    }
}
