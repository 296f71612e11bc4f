//! ghost-dsl: ghOSt user-space scheduling policies as plain Rust, on a deterministic simulated
//! enclave.
//!
//! ghOSt (Google) lets a user-space *agent* schedule a machine's threads: the kernel sends the
//! agent messages about its tasks (new, woke up, blocked, preempted, yielded, died...) through
//! channels, and the agent answers with transactions ("run this task on that CPU") that the kernel
//! checks against barriers and commits. This crate has the types of that ABI as the ghOSt seeds
//! define them, and [`sim::SimEnclave`], a discrete-event simulation of the kernel side, so that a
//! scheduler can be written, tested and measured anywhere, deterministically.
//!
//! | ghOSt (`lib/`)                         | here                                           |
//! |----------------------------------------|------------------------------------------------|
//! | `Topology`, `Cpu`, `MachineTopology()` | [`Topology`], [`Cpu`], [`Topology::from_sysfs`] |
//! | `CpuList`, `ParseCpuStr`               | [`CpuList`], [`parse_cpu_str`]                  |
//! | `Gtid`, `BarrierToken`, `StatusWord`   | [`Gtid`], [`BarrierToken`], [`StatusWord`]      |
//! | `Message`, `ghost_msg_payload_*`       | [`Message`], [`Payload`], [`TaskNew`]...        |
//! | `RunRequest`, `RunRequestOptions`      | [`RunRequest`], [`RunRequestOptions`], [`TxnState`] |
//! | `Channel::AssociateTask`               | [`Channel::associate_task`]                     |
//! | `AgentConfig`, `CpuTickConfig`         | [`AgentConfig`], [`CpuTickConfig`]              |
//! | `Agent` + `Scheduler` + `FullAgent`    | one [`Agent`] implementation                    |
//! | `Enclave` (the kernel, as the agent sees it) | [`AgentEnclave`]                          |
//! | `TaskAllocator`, `T state_[MAX_CPUS]`  | [`TaskAllocator`], [`PerCpu`]                   |
//!
//! The ABI an agent uses is described in the crate's `API.md` and in [`agent`]'s documentation.
//!
//! # Platform
//!
//! Built and tested on Linux (x86-64). The enclave is simulated, so the crate needs no kernel
//! support; [`Topology::from_sysfs`] reads Linux's sysfs and fails with a [`TopologyError`]
//! elsewhere, while [`Topology::test`] and the simulator work anywhere.

pub mod agent;
mod alloc;
mod ids;
pub mod message;
pub mod scheduler;
pub mod sim;
pub mod topology;
mod txn;

pub use agent::{
    Agent, AgentConfig, AgentEnclave, AgentModel, AgentRpcArgs, AgentRpcResponse, AssociateError,
    Channel, CpuTickConfig, RPC_ENODEV, RunRequest,
};
pub use alloc::TaskAllocator;
pub use gears_runtime::cpu_list::{CpuList, CpuListParseError, MAX_CPUS, parse_cpu_str};
pub use ids::{BarrierToken, Gtid, StatusWord};
pub use message::{
    CpuAvailable, CpuNotIdle, CpuTick, Message, MessageKind, Payload, TaskAffinityChanged,
    TaskBlocked, TaskDead, TaskDeparted, TaskNew, TaskPreempt, TaskWakeup, TaskYield,
};
/// Why a generated scheduler's run failed (also at [`scheduler::Error`]).
pub use scheduler::{Error, TransitionError};
pub use topology::{Cpu, PerCpu, Topology, TopologyError};
pub use txn::{CommitFlags, RunFlags, RunRequestOptions, TxnState};

/// Turns an `impl` block of ghOSt message handlers into a scheduler; see [`scheduler`] for the
/// handlers, the arguments, an example and the errors.
pub use gears_macros::ghost_scheduler;

/// The names a scheduler module usually needs.
pub mod prelude {
    pub use crate::sim::{SimConfig, SimEnclave, SimReport};
    pub use crate::{
        Agent, AgentConfig, AgentEnclave, AgentModel, BarrierToken, Channel, CommitFlags, Cpu,
        CpuList, CpuTick, CpuTickConfig, Gtid, Message, Payload, PerCpu, RunFlags,
        RunRequestOptions, StatusWord, TaskAllocator, TaskBlocked, TaskDead, TaskDeparted, TaskNew,
        TaskPreempt, TaskWakeup, TaskYield, Topology, TxnState,
    };
    // The scheduler DSL (ghost-dsl/src/scheduler).
    pub use crate::ghost_scheduler;
    pub use crate::scheduler::{Cx, Error, FullAgent, Scheduler, Task, TaskState};
    pub use crate::{
        AgentRpcArgs, AgentRpcResponse, CpuAvailable, CpuNotIdle, TaskAffinityChanged,
    };
}

/// Paths used by code the gears macros generate. Not a public API: it may change at any time.
#[doc(hidden)]
pub mod __private {
    pub use crate::scheduler::__private as scheduler;
    pub use gears_runtime;
}
