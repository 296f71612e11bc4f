//! The kernel's rules, written once: seqnums and barriers ([`TaskWord`], [`AgentWord`],
//! [`post_task`], [`post_cpu`]), transactions ([`Txn`], [`check_commit`]) and association
//! ([`check_associate`]). The simulated kernel and the thread enclave both keep their task and
//! agent state in these types and decide with these functions, so that one policy sees the same
//! answers from both.
//!
//! What is *not* here is how a backend learns the facts the checks take (is the CPU held by a
//! higher class? is the task on a CPU?): each backend has its own way to know them, and must
//! give them honestly as of the moment of the call.

use crate::{
    BarrierToken, Cpu, CpuList, Gtid, Message, Payload, RunFlags, RunRequestOptions, StatusWord,
    TxnState,
};

use super::enclave::AssociateError;

/// The kernel's per-task counters: the task's seqnum (its barrier), the channel its messages go
/// to, and how many of them wait there undrained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskWord {
    seqnum: BarrierToken,
    pending: u32,
    channel: u16,
}

impl TaskWord {
    /// A task with no message yet, on the default channel.
    pub const fn new() -> Self {
        Self {
            seqnum: BarrierToken(0),
            pending: 0,
            channel: 0,
        }
    }

    /// The task's seqnum: the seqnum of its latest message (0 before `MSG_TASK_NEW`).
    #[inline]
    pub const fn seqnum(&self) -> BarrierToken {
        self.seqnum
    }

    /// Its messages posted and not yet drained.
    #[inline]
    pub const fn pending(&self) -> u32 {
        self.pending
    }

    /// The index of the channel its messages go to.
    #[inline]
    pub const fn channel(&self) -> u16 {
        self.channel
    }

    /// One of its messages was drained (by [`next_message`](super::EnclaveKernel::next_message)).
    #[inline]
    pub fn consumed(&mut self) {
        debug_assert!(self.pending > 0, "a drained task message was posted");
        self.pending = self.pending.saturating_sub(1);
    }

    /// The task's status word.
    #[inline]
    pub const fn status(&self, on_cpu: bool, runnable: bool, runtime_ns: u64) -> StatusWord {
        StatusWord::new(self.seqnum, on_cpu, runnable, false, runtime_ns)
    }
}

/// What an agent's iteration ended with, which decides whether it blocks
/// ([`AfterIteration::blocks`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AfterIteration {
    /// Neither yielded nor committed on its own CPU: the agent runs again (the agent loop;
    /// a failed commit is followed by another iteration this way).
    #[default]
    RunAgain,
    /// `local_yield` succeeded: the agent blocks until a message is posted to its channel or it
    /// is pinged, or, `on_idle`, also until its CPU goes idle (`RTLA_ON_IDLE`).
    Yielded {
        /// Woken when the CPU goes idle, too.
        on_idle: bool,
    },
    /// A local commit succeeded: the agent gave its CPU to the task and blocks until a message
    /// is posted to its channel or it is pinged. `at_ns` is when the task got the CPU.
    CommittedLocal {
        /// When the commit took effect.
        at_ns: u64,
    },
}

impl AfterIteration {
    /// Whether the agent blocks (sleeps until woken) after this iteration.
    #[inline]
    pub const fn blocks(self) -> bool {
        !matches!(self, Self::RunAgain)
    }
}

/// The kernel's per-agent counters: the agent's barrier, the barrier as the current iteration
/// read it, and how the iteration ended.
///
/// The barrier is incremented by every message posted to a channel that wakes the agent and by
/// every ping of the agent. An iteration reads its status word once, at its start
/// ([`begin_iteration`](Self::begin_iteration)); `agent_status` returns that snapshot all
/// iteration long, and a local commit or yield carrying it fails if the barrier moved since.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentWord {
    barrier: BarrierToken,
    snapshot: BarrierToken,
    after: AfterIteration,
}

impl AgentWord {
    /// An agent with barrier 0.
    pub const fn new() -> Self {
        Self {
            barrier: BarrierToken(0),
            snapshot: BarrierToken(0),
            after: AfterIteration::RunAgain,
        }
    }

    /// The agent's current barrier.
    #[inline]
    pub const fn barrier(&self) -> BarrierToken {
        self.barrier
    }

    /// Something the agent must see happened (a message posted to its channel, a ping): the
    /// barrier moves on. Returns the new barrier.
    #[inline]
    pub fn bump(&mut self) -> BarrierToken {
        self.barrier = self.barrier.next();
        self.barrier
    }

    /// An iteration starts: snapshot the barrier, forget the last outcome.
    #[inline]
    pub fn begin_iteration(&mut self) {
        self.snapshot = self.barrier;
        self.after = AfterIteration::RunAgain;
    }

    /// The status word the agent reads during its iteration.
    #[inline]
    pub const fn status(&self, boosted: bool) -> StatusWord {
        StatusWord::new(self.snapshot, true, true, boosted, 0)
    }

    /// `LocalYield(barrier, flags)`: succeeds (the agent will block) iff `barrier` is current.
    #[inline]
    pub fn try_yield(&mut self, barrier: BarrierToken, flags: RunFlags) -> bool {
        if barrier != self.barrier {
            return false;
        }
        self.after = AfterIteration::Yielded {
            on_idle: flags.contains(RunFlags::RTLA_ON_IDLE),
        };
        true
    }

    /// A local commit succeeded, taking effect at `at_ns`.
    #[inline]
    pub fn committed_local(&mut self, at_ns: u64) {
        self.after = AfterIteration::CommittedLocal { at_ns };
    }

    /// How the current (or last) iteration ended.
    #[inline]
    pub const fn after(&self) -> AfterIteration {
        self.after
    }
}

/// Posts a task message: the task's seqnum moves on and the message carries it; the task has one
/// more pending message; the barrier of the agent its channel wakes moves on. The caller queues
/// the message on channel [`TaskWord::channel`] and wakes that agent.
#[inline]
pub fn post_task(task: &mut TaskWord, wakes: &mut AgentWord, payload: Payload) -> Message {
    task.seqnum = task.seqnum.next();
    task.pending += 1;
    wakes.bump();
    Message::new(task.seqnum, payload)
}

/// Posts a CPU message to the channel that wakes `wakes`: it carries the agent's new barrier.
#[inline]
pub fn post_cpu(wakes: &mut AgentWord, payload: Payload) -> Message {
    Message::new(wakes.bump(), payload)
}

/// A CPU's transaction (ghOSt's `ghost_txn` as the kernel sees it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Txn {
    options: RunRequestOptions,
    state: TxnState,
}

impl Default for Txn {
    fn default() -> Self {
        Self::new()
    }
}

impl Txn {
    /// Never opened.
    pub const fn new() -> Self {
        Self {
            options: RunRequestOptions {
                target: Gtid::from_raw(0),
                target_barrier: BarrierToken(0),
                agent_barrier: BarrierToken(0),
                commit_flags: crate::CommitFlags::COMMIT_AT_TXN_COMMIT,
            },
            state: TxnState::Idle,
        }
    }

    /// `Open`: writes the options, the transaction is `Ready` (re-opening replaces them).
    #[inline]
    pub fn open(&mut self, options: RunRequestOptions) {
        self.options = options;
        self.state = TxnState::Ready;
    }

    /// `Abort`: false if it was not open.
    #[inline]
    pub fn abort(&mut self) -> bool {
        if self.state != TxnState::Ready {
            return false;
        }
        self.state = TxnState::Aborted;
        true
    }

    /// The state.
    #[inline]
    pub const fn state(&self) -> TxnState {
        self.state
    }

    /// The options last opened.
    #[inline]
    pub const fn options(&self) -> &RunRequestOptions {
        &self.options
    }

    /// The options to commit, if the transaction is open (a commit of a closed transaction does
    /// nothing and fails).
    #[inline]
    pub fn to_commit(&self) -> Option<RunRequestOptions> {
        (self.state == TxnState::Ready).then_some(self.options)
    }

    /// Records the commit's outcome ([`check_commit`]'s answer).
    #[inline]
    pub fn finish(&mut self, state: TxnState) {
        self.state = state;
    }
}

/// The target CPU of a commit, as the kernel sees it at the moment of the commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitCpu {
    /// The CPU is one of the enclave's.
    pub in_enclave: bool,
    /// It runs tasks (false for the centralized agent's own CPU).
    pub runs_tasks: bool,
    /// A higher scheduling class holds it, or its own agent is boosted and must yield first.
    pub unavailable: bool,
    /// Its own agent holds it (running or about to run an iteration); a remote commit must wait.
    pub agent_holds_cpu: bool,
}

/// Where the commit's target is, as the kernel sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitTarget {
    /// A live task of the enclave.
    Live {
        /// Its seqnum.
        seqnum: BarrierToken,
        /// On a CPU now.
        on_cpu: bool,
        /// Runnable (blocked otherwise).
        runnable: bool,
        /// Its affinity allows the target CPU.
        allowed: bool,
    },
    /// No live task has the gtid: it died, departed and was reaped, or never existed
    /// (`GHOST_TXN_TARGET_NOT_FOUND`, a passing failure: the agent raced with the task's exit).
    NotFound,
    /// The gtid names a thread that is not a task of this enclave (a thread the thread enclave
    /// knows but does not manage) (`GHOST_TXN_INVALID_TARGET`).
    NotInEnclave,
}

/// The commit check, in the kernel's order: CPU, availability, agent barrier (local commits
/// only), target, target barrier, target state, affinity. Returns the transaction's new state.
///
/// `local`: the commit is for the agent's own CPU; `agent_barrier` is the agent's current
/// barrier ([`AgentWord::barrier`]).
#[inline]
pub fn check_commit(
    options: &RunRequestOptions,
    local: bool,
    agent_barrier: BarrierToken,
    cpu: CommitCpu,
    target: CommitTarget,
) -> TxnState {
    if !cpu.in_enclave || !cpu.runs_tasks {
        return TxnState::InvalidCpu;
    }
    if cpu.unavailable || (!local && cpu.agent_holds_cpu) {
        return TxnState::CpuUnavail;
    }
    if local && options.agent_barrier != agent_barrier {
        return TxnState::AgentStale;
    }
    let (seqnum, on_cpu, runnable, allowed) = match target {
        CommitTarget::Live {
            seqnum,
            on_cpu,
            runnable,
            allowed,
        } => (seqnum, on_cpu, runnable, allowed),
        CommitTarget::NotFound => return TxnState::TargetNotFound,
        CommitTarget::NotInEnclave => return TxnState::InvalidTarget,
    };
    if options.target_barrier != seqnum {
        return TxnState::TargetStale;
    }
    if on_cpu {
        return TxnState::TargetOnCpu;
    }
    if !runnable {
        return TxnState::TargetNotRunnable;
    }
    if !allowed {
        return TxnState::NotPermitted;
    }
    TxnState::Complete
}

/// `ASSOC_QUEUE` of a task to channel `channel` with `barrier`: the task must be live and
/// `barrier` its current seqnum; `channels` is how many channels the enclave has. On success the
/// caller moves the task ([`associate`]).
///
/// Messages of the task still waiting in its old channel do not make it fail: they stay there
/// and are drained from there (the kernel fails only on a stale barrier or a missing task).
#[inline]
pub fn check_associate(
    task: Option<&TaskWord>,
    gtid: Gtid,
    channel: u16,
    channels: usize,
    barrier: BarrierToken,
) -> Result<(), AssociateError> {
    let task = task.ok_or(AssociateError::NoSuchTask { gtid })?;
    if usize::from(channel) >= channels {
        return Err(AssociateError::NoSuchTask { gtid });
    }
    if task.seqnum != barrier {
        return Err(AssociateError::Stale {
            gtid,
            barrier,
            current: task.seqnum,
        });
    }
    Ok(())
}

/// Moves the task's future messages to `channel` (after [`check_associate`]).
#[inline]
pub fn associate(task: &mut TaskWord, channel: u16) {
    task.channel = channel;
}

/// Whether a task with `affinity` may run on `cpu`.
#[inline]
pub fn allowed_on(affinity: &CpuList, cpu: Cpu) -> bool {
    affinity.contains(cpu.id())
}
