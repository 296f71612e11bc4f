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
    /// The agent configuration names CPUs the process may not use, or none.
    #[error(
        "the enclave's CPUs \"{asked}\" are not all CPUs this process may run on (\"{allowed}\"); \
         pick CPUs from that list"
    )]
    Cpus {
        /// The CPUs asked for.
        asked: String,
        /// The CPUs this process may run on.
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
    /// Runnable threads waited longer than the watchdog allows.
    #[error(
        "watchdog: runnable threads not scheduled for over {} ms: {}; the agent never committed \
         them (is the policy losing tasks?); every managed thread was released to the OS \
         scheduler and ran to completion",
        limit.as_millis(),
        describe(threads)
    )]
    Watchdog {
        /// The limit.
        limit: Duration,
        /// The threads (name and gtid) and how long each had waited, ns.
        threads: Vec<(String, u64)>,
    },
}

fn describe(threads: &[(String, u64)]) -> String {
    threads
        .iter()
        .map(|(name, waited)| format!("{name} waited {} ms", waited / 1_000_000))
        .collect::<Vec<_>>()
        .join(", ")
}
