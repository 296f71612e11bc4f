//! The agents' configuration and the RPC values: [`AgentModel`], [`AgentConfig`],
//! [`CpuTickConfig`], [`AgentRpcArgs`], [`AgentRpcResponse`].

use crate::CpuList;

/// How the agents of an enclave are organised (ghOSt's per-CPU and centralized schedulers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgentModel {
    /// One agent and one channel per enclave CPU; each agent schedules its own CPU with local
    /// commits. Task messages go to the channel the task is associated with (the default channel,
    /// the first CPU's, until [`Channel::associate_task`](crate::Channel::associate_task) moves it); CPU messages to the CPU's own.
    PerCpu,
    /// One global agent on the first enclave CPU and one channel; the agent schedules the other
    /// CPUs with remote commits (singly or in batches). Its own CPU never runs tasks.
    Centralized,
}

/// Whether the kernel sends [`CpuTick`](crate::CpuTick) messages (ghOSt's `CpuTickConfig`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CpuTickConfig {
    /// No ticks (`kNoTicks`, the default).
    #[default]
    NoTicks,
    /// A tick message each timer tick on every CPU that is running a ghOSt task (`kAllTicks`).
    AllTicks,
}

/// The agents' configuration (ghOSt's `AgentConfig`): which CPUs the enclave manages and whether
/// it gets ticks. The topology belongs to the enclave (the machine, real or simulated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    /// The CPUs the enclave manages (`cpus_`).
    pub cpus: CpuList,
    /// Tick messages (`tick_config_`).
    pub tick_config: CpuTickConfig,
}

impl AgentConfig {
    /// An enclave of `cpus` without ticks.
    pub fn new(cpus: CpuList) -> Self {
        Self {
            cpus,
            tick_config: CpuTickConfig::NoTicks,
        }
    }

    /// The same configuration with `tick_config`.
    #[must_use]
    pub fn with_ticks(mut self, tick_config: CpuTickConfig) -> Self {
        self.tick_config = tick_config;
        self
    }
}

/// Arguments of an RPC to the agent process (ghOSt's `AgentRpcArgs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentRpcArgs {
    /// First argument.
    pub arg0: i64,
    /// Second argument.
    pub arg1: i64,
}

/// The answer to an RPC (ghOSt's `AgentRpcResponse`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentRpcResponse {
    /// The return value; negative errno on failure (`-ENODEV` when the agent has no handler).
    pub response_code: i64,
    /// Free-form data the handler returns.
    pub buffer: Vec<u8>,
}

/// `-ENODEV`, what an agent without an RPC handler answers (as the tutorial's first agent does).
pub const RPC_ENODEV: i64 = -19;
