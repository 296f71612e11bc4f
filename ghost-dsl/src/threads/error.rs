//! [`ThreadError`]: what can go wrong with a thread enclave.

use std::time::Duration;

use crate::Cpu;

/// What can go wrong with a thread enclave. Faults that end a run ([`AgentPanicked`],
/// [`Watchdog`]) come after every managed thread was released to the OS scheduler and ran to
/// completion.
///
/// [`AgentPanicked`]: ThreadError::AgentPanicked
/// [`Watchdog`]: ThreadError::Watchdog
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ThreadError {
    /// The machine's topology could not be read.
    #[error("cannot read the machine's topology")]
    Topology(#[source] crate::TopologyError),
    /// The agent configuration names no CPU.
    #[error("the enclave's agent configuration names no CPU; give it at least one (e.g. \"0\")")]
    NoCpus,
    /// The agent configuration names CPUs the thread that created the enclave may not use (its
    /// affinity, normally the process's; a managed thread of another enclave is pinned to one).
    #[error(
        "the enclave's CPUs \"{asked}\" are not all CPUs the thread that created the enclave may \
         run on (\"{allowed}\"; a thread pinned by another enclave or by `taskset` narrows that); \
         pick CPUs from that list, or create the enclave on a thread that may run on them"
    )]
    Cpus {
        /// The CPUs asked for.
        asked: String,
        /// The CPUs the creating thread may run on.
        allowed: String,
    },
    /// The centralized model needs a CPU for its agent and at least one for threads.
    #[error(
        "the centralized model needs at least two CPUs: one for the global agent, one or more \
         for threads"
    )]
    CentralizedNeedsTwoCpus,
    /// The enclave is used out of order (attached twice, run before attach or twice, a
    /// managed-thread call from elsewhere).
    #[error("{0}")]
    Attach(&'static str),
    /// A managed thread's name holds a NUL byte, which an OS thread name cannot; nothing was
    /// spawned.
    #[error(
        "thread name {name:?} contains a NUL byte, which an OS thread name cannot hold; remove it \
         (nothing was spawned)"
    )]
    ThreadName {
        /// The name given.
        name: String,
    },
    /// A thread (managed or agent) could not be created, or the signal handler installed.
    #[error("the operating system refused to create a thread or install a signal handler")]
    Os(#[source] std::io::Error),
    /// The policy panicked in an agent iteration.
    #[error(
        "the agent on {cpu} panicked: {message}; every managed thread was released to the OS \
         scheduler and ran to completion"
    )]
    AgentPanicked {
        /// The CPU of the agent.
        cpu: Cpu,
        /// The panic message.
        message: String,
    },
    /// An agent iteration held the enclave longer than the watchdog allows: the policy was
    /// stuck, typically waiting for something (a lock, an allocation) that a thread it had
    /// stopped held.
    #[error(
        "watchdog: an agent iteration did not finish within {} ms (the policy blocked, perhaps on \
         a lock held by a thread it had preempted); every managed thread was released to the OS \
         scheduler and ran to completion",
        limit.as_millis()
    )]
    AgentStalled {
        /// The limit.
        limit: Duration,
    },
    /// A runnable thread waited longer than the watchdog allows.
    #[error(
        "watchdog: a runnable thread was not scheduled for over {} ms; waiting for a commit: {}; \
         the agent never committed them (is the policy losing tasks?); every managed thread was \
         released to the OS scheduler and ran to completion",
        limit.as_millis(),
        describe(threads)
    )]
    Watchdog {
        /// The limit.
        limit: Duration,
        /// Every runnable thread still waiting for a commit when one of them passed the limit
        /// (name and gtid), and how long each had waited, ns.
        threads: Vec<(String, u64)>,
    },
    /// Every live managed thread was parked in [`park`](super::park) (or `handoff`) with no
    /// [`ThreadHandle`](super::ThreadHandle) of any of them left, so nothing could ever wake
    /// them. The parked threads were released (they returned from `park`, spuriously) and the
    /// run waited for them up to the [grace period](super::ThreadConfig::with_grace).
    #[error(
        "deadlock: every managed thread is parked and no ThreadHandle that could unpark one is \
         left: {}; keep a handle where something will call unpark, or do not park without one; \
         {}",
        describe_parked(threads),
        describe_left(left_running)
    )]
    Deadlock {
        /// The parked threads (name and gtid) and where each called `park` (file:line:column).
        threads: Vec<(String, String)>,
        /// Threads (name and gtid) that had not ended when the grace period was over; they
        /// run on, detached, under the OS scheduler.
        left_running: Vec<String>,
    },
    /// The run reached its [time limit](super::ThreadConfig::with_time_limit).
    #[error(
        "time limit: the run did not end within {} ms; {}",
        limit.as_millis(),
        describe_left(left_running)
    )]
    TimeLimit {
        /// The limit.
        limit: Duration,
        /// Threads (name and gtid) that had not ended when the grace period was over; they
        /// run on, detached, under the OS scheduler.
        left_running: Vec<String>,
    },
}

fn describe_parked(threads: &[(String, String)]) -> String {
    threads
        .iter()
        .map(|(name, at)| format!("{name} parked at {at}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_left(left: &[String]) -> String {
    if left.is_empty() {
        "every managed thread was released to the OS scheduler and ended".to_owned()
    } else {
        format!(
            "every managed thread was released to the OS scheduler; still running after the \
             grace period, left running detached: {}",
            left.join(", ")
        )
    }
}

fn describe(threads: &[(String, u64)]) -> String {
    threads
        .iter()
        .map(|(name, waited)| format!("{name} waited {} ms", waited / 1_000_000))
        .collect::<Vec<_>>()
        .join(", ")
}
