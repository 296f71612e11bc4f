//! Transactions: what an agent asks the kernel to run ([`RunRequestOptions`]) and how it went
//! ([`TxnState`]). The handle an agent opens and commits them through is
//! [`RunRequest`](crate::RunRequest).

use std::fmt;

use crate::{BarrierToken, Gtid};

/// How a transaction commits (ghOSt's `txn->commit_flags`, with the uapi's bit values).
///
/// Both backends implement ghOSt's default: the transaction takes effect when it is committed,
/// which the uapi spells [`COMMIT_AT_TXN_COMMIT`](Self::COMMIT_AT_TXN_COMMIT) (`1 << 1`) and
/// ghost-userspace's `RunRequestOptions` leaves at 0 ([`CommitFlags::default`]); the kernel
/// treats both alike. (`COMMIT_AT_SCHEDULE`, `1 << 0`, which latches the task until the CPU next
/// schedules, is not implemented, and so has no constant here.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CommitFlags(u32);

impl CommitFlags {
    /// Commit when `commit` is called (`COMMIT_AT_TXN_COMMIT`, uapi value `1 << 1` = 2).
    pub const COMMIT_AT_TXN_COMMIT: Self = Self(1 << 1);

    /// The uapi bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
}

/// Flags of [`local_yield`](crate::AgentEnclave::local_yield) (ghOSt's `run_flags`, with the
/// uapi's bit values).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RunFlags(u32);

impl RunFlags {
    /// No flag.
    pub const NONE: Self = Self(0);
    /// Wake the agent again when the CPU goes idle (ghOSt's `RTLA_ON_IDLE`). An agent whose
    /// priority is boosted yields with it, so that it gets the CPU back once the higher-class task
    /// is done; without it, the agent sleeps until its next message. (The simulator wakes it when
    /// a higher-class burst ends; on a CPU that is idle already it does not simulate the agent
    /// spinning, which would find nothing new.)
    /// uapi value `1 << 5` = 32.
    pub const RTLA_ON_IDLE: Self = Self(1 << 5);

    /// The uapi bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// Whether every flag of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for RunFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// What [`RunRequest::open`](crate::RunRequest::open) writes into the transaction (ghOSt's
/// `RunRequestOptions`, written into `ghost_txn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunRequestOptions {
    /// The task to run.
    pub target: Gtid,
    /// The seqnum of the latest message of `target` the agent has processed; the commit fails with
    /// [`TxnState::TargetStale`] if the task has had messages since.
    pub target_barrier: BarrierToken,
    /// The agent's barrier as read before draining its channel; a local commit fails with
    /// [`TxnState::AgentStale`] if messages were posted to the agent since. Remote commits (for
    /// another CPU than the agent's) do not check it, as in ghOSt.
    pub agent_barrier: BarrierToken,
    /// How to commit.
    pub commit_flags: CommitFlags,
}

/// The state of a CPU's transaction (ghOSt's `ghost_txn_state`).
///
/// `Idle` until first opened, `Ready` while open, then one outcome after a commit. Failures say
/// which kernel check refused it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TxnState {
    /// Never opened on this CPU.
    #[default]
    Idle,
    /// Open, not yet committed (`GHOST_TXN_READY`).
    Ready,
    /// Committed: the target runs on the CPU (`GHOST_TXN_COMPLETE`).
    Complete,
    /// Aborted before commit (`GHOST_TXN_ABORTED`).
    Aborted,
    /// The agent's barrier was stale (`GHOST_TXN_AGENT_STALE`).
    AgentStale,
    /// The target's barrier was stale (`GHOST_TXN_TARGET_STALE`).
    TargetStale,
    /// The target is running on another CPU (`GHOST_TXN_TARGET_ONCPU`).
    TargetOnCpu,
    /// The target is blocked (`GHOST_TXN_TARGET_NOT_RUNNABLE`).
    TargetNotRunnable,
    /// No live task has the target's gtid: it exited or departed and was reaped, or never
    /// existed (`GHOST_TXN_TARGET_NOT_FOUND`). A passing failure: the agent raced with the
    /// task's exit, and its `TASK_DEAD` / `TASK_DEPARTED` is on the way.
    TargetNotFound,
    /// The target is a thread, but not a task of this enclave (`GHOST_TXN_INVALID_TARGET`).
    InvalidTarget,
    /// A higher scheduling class holds the CPU, or this agent is boosted and must yield first
    /// (`GHOST_TXN_CPU_UNAVAIL`).
    CpuUnavail,
    /// The CPU is not in the enclave or is the centralized agent's own CPU
    /// (`GHOST_TXN_INVALID_CPU`).
    InvalidCpu,
    /// The target may not run on that CPU (its affinity excludes it) (`GHOST_TXN_NOT_PERMITTED`).
    NotPermitted,
}

impl TxnState {
    /// ghOSt's name, e.g. `"GHOST_TXN_AGENT_STALE"`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Idle => "IDLE",
            Self::Ready => "GHOST_TXN_READY",
            Self::Complete => "GHOST_TXN_COMPLETE",
            Self::Aborted => "GHOST_TXN_ABORTED",
            Self::AgentStale => "GHOST_TXN_AGENT_STALE",
            Self::TargetStale => "GHOST_TXN_TARGET_STALE",
            Self::TargetOnCpu => "GHOST_TXN_TARGET_ONCPU",
            Self::TargetNotRunnable => "GHOST_TXN_TARGET_NOT_RUNNABLE",
            Self::TargetNotFound => "GHOST_TXN_TARGET_NOT_FOUND",
            Self::InvalidTarget => "GHOST_TXN_INVALID_TARGET",
            Self::CpuUnavail => "GHOST_TXN_CPU_UNAVAIL",
            Self::InvalidCpu => "GHOST_TXN_INVALID_CPU",
            Self::NotPermitted => "GHOST_TXN_NOT_PERMITTED",
        }
    }

    /// Whether a commit failed for a reason that passes by itself (new messages not yet seen,
    /// the task gone, the CPU briefly held by a higher class): ghost-userspace's
    /// `CompleteRunRequest` expects these. The others mean the agent asked for something
    /// impossible.
    pub const fn is_passing(self) -> bool {
        matches!(
            self,
            Self::AgentStale | Self::TargetStale | Self::TargetNotFound | Self::CpuUnavail
        )
    }

    /// Whether the transaction was committed and failed (`failed()` in ghOSt).
    pub const fn is_failure(self) -> bool {
        !matches!(
            self,
            Self::Idle | Self::Ready | Self::Complete | Self::Aborted
        )
    }

    /// Every failure state, for counters.
    pub const FAILURES: [TxnState; 9] = [
        Self::AgentStale,
        Self::TargetStale,
        Self::TargetOnCpu,
        Self::TargetNotRunnable,
        Self::TargetNotFound,
        Self::InvalidTarget,
        Self::CpuUnavail,
        Self::InvalidCpu,
        Self::NotPermitted,
    ];
}

impl fmt::Display for TxnState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
