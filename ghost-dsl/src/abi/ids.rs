//! Identifiers shared by the agent and the kernel: [`Gtid`], [`BarrierToken`], [`StatusWord`].

use std::fmt;

/// A ghOSt thread id: names one task for its whole life in the enclave.
///
/// ghOSt packs the Linux tid with a generation so that a recycled tid never aliases a dead task;
/// here the low 32 bits are the tid and the high 32 bits the generation, and the simulator hands
/// out tids densely from 1, which lets allocators index by [`tid`](Self::tid) (see
/// [`TaskAllocator`](crate::TaskAllocator)). The raw value 0 is never a task.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Gtid(u64);

impl Gtid {
    /// Builds a gtid from its tid and generation.
    pub const fn new(tid: u32, generation: u32) -> Self {
        Self(((generation as u64) << 32) | tid as u64)
    }

    /// The gtid with this raw 64-bit value.
    pub const fn from_raw(raw: u64) -> Self {
        Self(raw)
    }

    /// The raw 64-bit value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// The tid part (dense from 1 in the simulator).
    pub const fn tid(self) -> u32 {
        self.0 as u32
    }

    /// The generation part.
    pub const fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

impl fmt::Debug for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Gtid({}/{})", self.tid(), self.generation())
    }
}

impl fmt::Display for Gtid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.tid())
    }
}

/// ghOSt's `BarrierToken`: a sequence number that a commit carries to prove the agent has seen
/// every message up to it.
///
/// Two counters use it. Every task has one: each message about the task increments it and carries
/// the new value as its [`seqnum`](crate::Message::seqnum), and a transaction's
/// `target_barrier` must equal it. Every agent has one in its [`StatusWord`]: each message posted
/// to a channel that wakes the agent increments it, and a local commit's `agent_barrier` (and a
/// `local_yield`'s barrier) must equal it. Wrapping arithmetic, as in the kernel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BarrierToken(pub u32);

impl BarrierToken {
    /// The token after this one.
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0.wrapping_add(1))
    }
}

impl fmt::Display for BarrierToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A status word: what the kernel publishes about a task or an agent in shared memory.
///
/// For a task: its barrier (latest seqnum), whether it is runnable and on a CPU, its runtime.
/// For an agent: its barrier and whether its priority is boosted (a higher scheduling class wants
/// the CPU: the agent must `local_yield` with [`RunFlags::RTLA_ON_IDLE`](crate::RunFlags)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusWord {
    barrier: BarrierToken,
    flags: u8,
    runtime_ns: u64,
}

impl StatusWord {
    const IN_USE: u8 = 1;
    const ON_CPU: u8 = 2;
    const RUNNABLE: u8 = 4;
    const BOOSTED: u8 = 8;

    pub(crate) const fn new(
        barrier: BarrierToken,
        on_cpu: bool,
        runnable: bool,
        boosted: bool,
        runtime_ns: u64,
    ) -> Self {
        let mut flags = Self::IN_USE;
        if on_cpu {
            flags |= Self::ON_CPU;
        }
        if runnable {
            flags |= Self::RUNNABLE;
        }
        if boosted {
            flags |= Self::BOOSTED;
        }
        Self {
            barrier,
            flags,
            runtime_ns,
        }
    }

    /// The barrier token (`barrier()` in ghOSt).
    pub const fn barrier(&self) -> BarrierToken {
        self.barrier
    }

    /// Whether the status word belongs to a live task or agent.
    pub const fn in_use(&self) -> bool {
        self.flags & Self::IN_USE != 0
    }

    /// Whether the task (or agent) is on a CPU.
    pub const fn on_cpu(&self) -> bool {
        self.flags & Self::ON_CPU != 0
    }

    /// Whether the task is runnable (on a CPU or waiting for one).
    pub const fn runnable(&self) -> bool {
        self.flags & Self::RUNNABLE != 0
    }

    /// For an agent: a task of a higher scheduling class wants this CPU, so the agent must give it
    /// up with `local_yield(barrier, RunFlags::RTLA_ON_IDLE)` (`boosted_priority()` in ghOSt).
    pub const fn boosted_priority(&self) -> bool {
        self.flags & Self::BOOSTED != 0
    }

    /// CPU time the task has received, in nanoseconds, as of its last context switch.
    pub const fn runtime_ns(&self) -> u64 {
        self.runtime_ns
    }
}
