//! The ghOSt ABI, once for every kernel: the values agent and kernel exchange, the operations an
//! agent calls on its enclave, the kernel's rules, and the contract of an enclave backend.
//!
//! Two backends implement it: the simulated kernel ([`crate::sim`], a deterministic
//! discrete-event simulation) and the thread enclave (`crate::threads`, real Linux threads
//! scheduled by the agent from user space). One policy source runs on either, with the same
//! messages and the same rules:
//!
//! ```text
//!   policy (#[ghost_scheduler] or a hand-written Agent)
//!      │  Agent::run(cpu, &mut AgentEnclave)          ← one agent-loop iteration
//!      ▼
//!   AgentEnclave  ──&mut dyn EnclaveKernel──►  SimKernel | thread enclave's per-agent handle
//!                                                 │ both decide with abi::rules
//!   EnclaveBackend<A>: attach / run_to_end / rpc / report   (what FullAgent drives)
//! ```
//!
//! # The pieces
//!
//! - Values: [`Gtid`](crate::Gtid), [`BarrierToken`](crate::BarrierToken),
//!   [`StatusWord`](crate::StatusWord), [`Message`](crate::Message) and its payloads,
//!   [`RunRequestOptions`](crate::RunRequestOptions), [`TxnState`](crate::TxnState),
//!   [`CommitFlags`](crate::CommitFlags), [`RunFlags`](crate::RunFlags),
//!   [`AgentConfig`], [`TaskAttrs`](crate::TaskAttrs).
//! - What an agent calls: [`AgentEnclave`] (and [`RunRequest`], [`Channel`]), forwarding to a
//!   backend's [`EnclaveKernel`].
//! - The rules, written once: [`rules`] (task and agent words, message posting, transactions,
//!   the commit and association checks).
//! - What a backend implements to host an agent: [`EnclaveBackend`].
//! - What a backend reports: [`Report`] (per task, per CPU, wait percentiles, counters) and
//!   [`Trace`] (Chrome / Perfetto JSON).
//!
//! # The contract
//!
//! **Iterations.** An agent is one value ([`Agent`]) serving every agent "thread" of the
//! enclave: in the per-CPU model one per enclave CPU, in the centralized model one global agent on
//! the first enclave CPU. The backend calls [`Agent::run`] for one iteration of the agent on a
//! CPU. Calls are **never concurrent** (`&mut self`): the thread enclave, which has one agent
//! thread per CPU in the per-CPU model, serialises their iterations (one lock around the agent);
//! each agent thread blocks and wakes on its own, only the iterations are exclusive.
//!
//! **Send.** The simulator runs everything on the caller's thread and needs nothing to be `Send`.
//! The thread enclave calls the agent from its agent threads, so there the agent (for a generated
//! scheduler: the scheduler type and its `task = T` state) must be `Send`; nothing needs to be
//! `Sync` or `'static` (the agent threads are scoped to the run). [`TaskAttrs`](crate::TaskAttrs)
//! user values are `Send + Sync` because both sides may read them.
//!
//! **Blocking and waking.** An agent never blocks inside `run`. How an iteration ended says
//! what happens next ([`rules::AfterIteration`], kept in the agent's [`rules::AgentWord`]):
//! - `local_yield` succeeded → the agent *blocks* until a message is posted to its channel or it
//!   is pinged ([`AgentEnclave::ping`]), or, with `RTLA_ON_IDLE`, also when its CPU goes idle;
//! - a local commit succeeded → the agent gave its CPU to the task and *blocks* the same way
//!   (a message for it preempts the task: `MSG_TASK_PREEMPT`);
//! - neither → the agent *runs again* (ghOSt's agent loop; this is how a failed commit is
//!   followed by a fresh decision). A real backend may spin here or yield the CPU briefly.
//!
//! A centralized global agent that has nothing more to commit calls `local_yield` and blocks
//! until its next message; no backend spins unless asked to.
//!
//! **Barriers.** An iteration's status word is read once, at its start
//! ([`rules::AgentWord::begin_iteration`]); the backend calls `begin_iteration` immediately
//! before `Agent::run`. Every message posted to a channel bumps the barrier of the agent that
//! channel wakes; every ping bumps the pinged agent's barrier. A local commit or yield with a
//! barrier that moved fails (`GHOST_TXN_AGENT_STALE`, `false`); remote commits do not check it.
//!
//! **Seqnums.** Each task message increments the task's seqnum and carries it
//! ([`rules::post_task`]); `MSG_TASK_NEW` has seqnum 1. CPU messages carry the new barrier of the
//! agent they wake ([`rules::post_cpu`]). A transaction's `target_barrier` must equal the task's
//! seqnum at commit time.
//!
//! **Transactions.** One per CPU ([`rules::Txn`]): `open` makes it `Ready`, a commit of a
//! transaction that is not `Ready` does nothing and returns false, and the outcome is
//! [`rules::check_commit`]'s answer. A successful commit to a CPU running another task preempts
//! it (`MSG_TASK_PREEMPT`). `GHOST_TXN_TARGET_NOT_FOUND` (the task is gone),
//! `GHOST_TXN_TARGET_STALE`, `GHOST_TXN_AGENT_STALE` and `GHOST_TXN_CPU_UNAVAIL` are *passing*
//! failures an agent must expect; the others mean the agent asked for something impossible.
//!
//! **Ticks.** `MSG_CPU_TICK` goes, every tick period, to each enclave CPU running a ghOSt task
//! while ticks are on; [`AgentConfig::tick_config`] sets the initial state and
//! [`AgentEnclave::set_deliver_ticks`] changes it at any time (the seed's
//! `SetDeliverTicks(true)` in `enclave_ready`).
//!
//! **Stopping.** After every call into the agent (`enclave_ready`, `run`, `rpc`) the backend
//! reads [`Agent::stop_requested`] and, when true, ends the run
//! ([`RunEnd::AgentStopped`]). A panic that unwinds out of an agent call is the backend's to
//! handle: the simulator lets it unwind to its caller (no thread to clean up); the thread enclave
//! must catch it on the agent thread, release every managed thread, and return it as an error.
//! (A `#[ghost_scheduler]` agent catches its handlers' panics itself and asks to stop, so the
//! error names the handler, the message and the task.)
//!
//! # What the thread enclave must do to obey the shared rules
//!
//! - Keep each managed thread's [`rules::TaskWord`] and each agent's [`rules::AgentWord`] and
//!   post every message with [`rules::post_task`] / [`rules::post_cpu`] under the same lock that
//!   protects the channel it goes to, so that seqnums, barriers and queue order agree.
//! - Answer every commit with [`rules::check_commit`] on facts taken under that lock at the
//!   moment of the commit (is the target CPU held by a non-enclave thread? by its agent?).
//! - Answer `associate_task` with [`rules::check_associate`].
//! - Call `begin_iteration` before each `Agent::run`, and block or re-run the agent by
//!   [`rules::AgentWord::after`].
//! - Fill a [`Report`] (per task start/end/runtime/wait, context switches, per-CPU utilisation)
//!   and record each wait in a [`WaitRecorder`].

pub(crate) mod attrs;
mod backend;
pub(crate) mod config;
pub(crate) mod enclave;
pub(crate) mod ids;
mod kernel;
pub mod message;
pub(crate) mod report;
pub mod rules;
pub(crate) mod trace;
pub(crate) mod txn;

pub use backend::{EnclaveBackend, RunEnd};
pub use config::{
    AgentConfig, AgentModel, AgentRpcArgs, AgentRpcResponse, CpuTickConfig, RPC_ENODEV,
};
pub use enclave::{Agent, AgentEnclave, AssociateError, Channel, RunRequest};
pub use kernel::{AsKernel, EnclaveKernel};
pub use report::{CpuReport, Report, TaskReport, WaitRecorder, WaitStats};
pub use trace::{Trace, TraceEvent};
