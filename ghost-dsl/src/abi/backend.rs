//! [`EnclaveBackend`]: what an enclave implements so that one agent (hand-written or generated)
//! runs on it unchanged.

use super::config::{AgentConfig, AgentRpcArgs, AgentRpcResponse};
use super::enclave::Agent;
use super::report::Report;

/// How [`EnclaveBackend::run_to_end`] ended without an enclave error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunEnd {
    /// Every task finished (exited or departed).
    Finished,
    /// The agent asked to stop ([`Agent::stop_requested`]); unfinished tasks were let go (the
    /// simulator stops its clock; the thread enclave releases its threads to the OS scheduler and
    /// waits for them).
    AgentStopped,
}

/// An enclave that can host an agent `A`: the simulated kernel
/// ([`SimEnclave`](crate::sim::SimEnclave)) and the thread enclave implement it, and the
/// generated `run` / `full_agent` of a `#[ghost_scheduler]` take any of them.
///
/// The life of an enclave: [`attach`](Self::attach) once (builds agents and channels for
/// `agent.model()`, calls [`Agent::enclave_ready`]), then [`run_to_end`](Self::run_to_end), with
/// [`rpc`](Self::rpc) and [`report`](Self::report) whenever the caller holds the enclave.
///
/// Every backend must: call the agent only through [`AgentEnclave`](super::AgentEnclave)s over
/// its [`EnclaveKernel`](super::EnclaveKernel); never call it concurrently (it has `&mut A`);
/// check [`Agent::stop_requested`] after every call into the agent and end the run with
/// [`RunEnd::AgentStopped`]; keep to the [rules](super::rules).
pub trait EnclaveBackend<A: Agent> {
    /// What can go wrong in this enclave (configuration, a stall, a time limit, a lost thread).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Attaches `agent` with `config` and makes the enclave ready (`enclave_ready` runs).
    ///
    /// # Errors
    ///
    /// The configuration does not fit the enclave, or the enclave already has an agent.
    fn attach(&mut self, agent: &mut A, config: &AgentConfig) -> Result<(), Self::Error>;

    /// Runs the attached agent until every task has finished or the agent asks to stop.
    ///
    /// # Errors
    ///
    /// The enclave's own failures (nothing can happen any more, a time limit, a watchdog).
    fn run_to_end(&mut self, agent: &mut A) -> Result<RunEnd, Self::Error>;

    /// Sends an RPC to the agent (ghOSt's `AgentProcess::Rpc`), with the enclave as seen from
    /// its first CPU.
    ///
    /// # Errors
    ///
    /// The enclave has no agent attached.
    fn rpc(
        &mut self,
        agent: &mut A,
        request: i64,
        args: &AgentRpcArgs,
    ) -> Result<AgentRpcResponse, Self::Error>;

    /// What the enclave measured so far.
    fn report(&self) -> Report;

    /// Nanoseconds since the enclave started.
    fn now_ns(&self) -> u64;
}
