//! [`ThreadConfig`]: how a thread enclave runs (ticks, watchdog, monitor, agents, trace).

use std::time::Duration;

use crate::Topology;

/// `d` in nanoseconds, saturating: a `Duration` of more than about 584 years does not fit a
/// `u64` of nanoseconds, and truncating it (`as u64`) would turn a huge limit into a small one.
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `Instant::now() + d`, or `None` when that is past what an `Instant` can hold (then the
/// moment never comes: a `Duration::MAX` grace, sleep or limit means "forever", as in std).
pub(crate) fn deadline_after(d: Duration) -> Option<std::time::Instant> {
    std::time::Instant::now().checked_add(d)
}

/// How a [`ThreadEnclave`](super::ThreadEnclave) runs.
#[derive(Clone, Debug)]
pub struct ThreadConfig {
    pub(crate) topology: Option<Topology>,
    pub(crate) tick: Duration,
    pub(crate) watchdog: Option<Duration>,
    pub(crate) poll: Duration,
    pub(crate) kernel_blocks: bool,
    pub(crate) rt_priority: Option<i32>,
    pub(crate) spin: bool,
    pub(crate) trace: bool,
    pub(crate) inline: bool,
    pub(crate) tracepoints: bool,
    pub(crate) time_limit: Option<Duration>,
    pub(crate) grace: Duration,
}

impl Default for ThreadConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadConfig {
    /// The defaults: this machine's topology, 1 ms ticks (when the agent config asks for
    /// ticks), a 5 s watchdog, no time limit, kernel-block polling every 1 ms, `SCHED_FIFO`
    /// priority 10 for agents where permitted, sleeping agents, no trace.
    pub fn new() -> Self {
        Self {
            topology: None,
            tick: Duration::from_millis(1),
            watchdog: Some(Duration::from_secs(5)),
            poll: Duration::from_millis(1),
            kernel_blocks: true,
            rt_priority: Some(10),
            spin: false,
            trace: false,
            inline: true,
            tracepoints: true,
            time_limit: None,
            grace: Duration::from_secs(1),
        }
    }

    /// Whether kernel-block detection may use the `sched:sched_switch` tracepoint through
    /// `perf_event_open` (root; on by default; it mounts tracefs briefly on a private temporary
    /// directory if it is not mounted). Without it, or when it cannot be opened, the monitor
    /// polls `/proc` alone ([`ThreadReport::block_detection`](super::ThreadReport) says which).
    #[must_use]
    pub fn with_tracepoints(mut self, on: bool) -> Self {
        self.tracepoints = on;
        self
    }

    /// Whether a managed thread that leaves its CPU (blocks, yields, exits) runs the iteration
    /// of that CPU's agent itself instead of waking the agent thread (per-CPU model without
    /// ticks; on by default). The policy, messages and rules are the same; what changes is the
    /// thread that executes the agent code, which saves two context switches per switch. Events
    /// from elsewhere (wakeups from other CPUs, ticks, the monitor) still wake the agent thread.
    #[must_use]
    pub fn with_inline_agent(mut self, on: bool) -> Self {
        self.inline = on;
        self
    }

    /// The tick period of `MSG_CPU_TICK` (ticks are on when the [`AgentConfig`](crate::AgentConfig) says so).
    /// At least 50 µs: a shorter period is raised to that (agent wakeups cost a few
    /// microseconds each; below it the agents would leave the threads no time).
    #[must_use]
    pub fn with_tick(mut self, tick: Duration) -> Self {
        self.tick = tick.max(Duration::from_micros(50));
        self
    }

    /// Ends the run when a runnable thread has waited `limit` for a CPU; `None` disables it.
    /// (This and the other durations saturate: `Duration::MAX` means "never".)
    #[must_use]
    pub fn with_watchdog(mut self, limit: Option<Duration>) -> Self {
        self.watchdog = limit;
        self
    }

    /// Ends the run with [`ThreadError::TimeLimit`](super::ThreadError::TimeLimit) once it has
    /// run for `limit` (`None`, the default: no limit). Every managed thread is then released
    /// to the OS scheduler (parked ones return from [`park`](super::park), and later parks
    /// return at once), and the run waits up to the [grace period](Self::with_grace) for them
    /// to end; threads still running after it are left running, detached, and named in the
    /// error. After another fault (an agent panic, the watchdog), which releases the threads
    /// too, the limit still bounds how long the run waits for them to end.
    #[must_use]
    pub fn with_time_limit(mut self, limit: Option<Duration>) -> Self {
        self.time_limit = limit;
        self
    }

    /// How long a run that ends on a [time limit](Self::with_time_limit) or a
    /// [deadlock](super::ThreadError::Deadlock) waits for the released threads to end before
    /// it leaves the rest running, detached (1 s by default).
    #[must_use]
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// How often the monitor polls (kernel blocks, watchdog, deadlock, time limit).
    #[must_use]
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll.max(Duration::from_micros(100));
        self
    }

    /// Whether the monitor detects kernel blocks outside the enclave's calls (on by default).
    #[must_use]
    pub fn with_kernel_block_detection(mut self, on: bool) -> Self {
        self.kernel_blocks = on;
        self
    }

    /// `SCHED_FIFO` priority of the agent threads (1-99), or `None` to keep them in the normal
    /// class. A priority outside 1-99 is clamped into it; one the process may not take (no
    /// root, no `CAP_SYS_NICE`) leaves the agents in the normal class, as
    /// [`ThreadReport::realtime_agents`](super::ThreadReport) says.
    #[must_use]
    pub fn with_rt_priority(mut self, priority: Option<i32>) -> Self {
        self.rt_priority = priority.map(|p| p.clamp(1, 99));
        self
    }

    /// Agents spin instead of sleeping between messages (lower latency, one core each at 100%).
    #[must_use]
    pub fn with_spin(mut self, spin: bool) -> Self {
        self.spin = spin;
        self
    }

    /// Records a Perfetto trace of the run ([`Report::trace`](crate::Report::trace); the first 2 million events).
    #[must_use]
    pub fn with_trace(mut self, trace: bool) -> Self {
        self.trace = trace;
        self
    }

    /// The machine to check CPUs against (this machine's `/sys` by default).
    #[must_use]
    pub fn with_topology(mut self, topology: Topology) -> Self {
        self.topology = Some(topology);
        self
    }
}
