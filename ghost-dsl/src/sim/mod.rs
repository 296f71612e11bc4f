//! [`SimEnclave`]: a deterministic discrete-event simulation of the ghOSt kernel side.
//!
//! The simulator plays the kernel under an [`Agent`]: tasks from a [`Workload`] join the enclave,
//! run, sleep, yield and exit on a virtual clock (ns); every change produces the message ghOSt
//! produces, in a channel, with ghOSt's seqnums and barriers; agents run when messages wake them
//! and commit transactions that the kernel's checks accept or refuse.
//!
//! # The model
//!
//! - **Time.** One clock. Events at equal times run in the order they were scheduled (a global
//!   sequence number), so a configuration and a seed name exactly one simulation: the same
//!   report and byte-identical trace, on every machine.
//! - **Messages.** A task's messages go to the channel it is associated with (the default channel
//!   at first). Each message increments the task's seqnum and the barrier of the agent its channel
//!   wakes, and wakes that agent if it sleeps.
//! - **Agents.** When woken, an agent takes its CPU (preempting a ghOSt task there:
//!   `MSG_TASK_PREEMPT`), reads its barrier, and [`Costs::agent_loop_ns`] later runs one
//!   iteration ([`Agent::run`]) atomically at that time. Messages posted in between are seen by
//!   the drain but make the barrier read at the start stale, so the commit fails with
//!   `GHOST_TXN_AGENT_STALE` and the next iteration recovers, as on a real machine. Each drained
//!   message costs [`Costs::per_message_ns`]; a committed task starts
//!   [`Costs::context_switch_ns`] after the commit. An iteration that neither yields nor commits
//!   on its own CPU is followed by another (the agent loop); an agent never starts an iteration
//!   before the previous one, messages included, has ended.
//! - **Commits** are checked as the kernel checks them: CPU in the enclave; CPU available (no
//!   higher-class task; a boosted agent must yield first); agent barrier (local commits only);
//!   target alive, target barrier equal to its seqnum, target runnable and not on a CPU; target
//!   allowed on the CPU. A remote commit to a CPU running a task preempts it.
//! - **Ticks.** With [`CpuTickConfig::AllTicks`](crate::CpuTickConfig), every
//!   [`SimConfig::tick_ns`] each CPU running a ghOSt task gets `MSG_CPU_TICK`.
//! - **Association.** [`Channel::associate_task`](crate::Channel::associate_task) fails while the
//!   task's old channel holds undrained messages of it, or when the barrier is stale.
//! - **Higher-class interference** ([`Interference`], [`RandomInterference`]) preempts the ghOSt
//!   task on its CPU and boosts that CPU's agent; the burst runs once the agent yields, and an
//!   agent that yielded with `RTLA_ON_IDLE` is woken when it ends. In the centralized model, a
//!   burst on a task CPU posts `MSG_CPU_NOT_IDLE` and, at its end, `MSG_CPU_AVAILABLE`.
//!
//! A run ends when the last task has exited or departed; work the agents would still do then is
//! not simulated. Not simulated either: `COMMIT_AT_SCHEDULE` latching, sync groups, `switchto`, satellite agents of the
//! centralized model (their CPUs simply run what the global agent commits), and the global
//! agent's spinning (it sleeps between messages when it calls `local_yield`).

pub(crate) mod kernel;
mod report;
mod rng;
mod trace;
mod workload;
pub mod workloads;

use std::fmt;

pub use report::{CpuReport, SimReport, TaskReport};
pub use rng::SimRng;
pub use trace::{Trace, TraceEvent};
pub use workload::{Interference, Phase, RandomInterference, TaskEnd, TaskSpec, Workload};

use crate::{Agent, AgentConfig, AgentEnclave, AgentRpcArgs, AgentRpcResponse, Gtid, Topology};
use kernel::{Kernel, Next};

/// Simulated costs of the kernel ABI, in ns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Costs {
    /// From the agent taking its CPU (and reading its barrier) to its decision.
    pub agent_loop_ns: u64,
    /// Per message drained by the agent.
    pub per_message_ns: u64,
    /// From a commit to the target running.
    pub context_switch_ns: u64,
}

impl Default for Costs {
    /// 1 µs agent loop, 100 ns per message, 1 µs context switch.
    fn default() -> Self {
        Self {
            agent_loop_ns: 1_000,
            per_message_ns: 100,
            context_switch_ns: 1_000,
        }
    }
}

/// Everything that defines a simulation (with the agent and its [`AgentConfig`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimConfig {
    /// The simulated machine.
    pub topology: Topology,
    /// The tasks.
    pub workload: Workload,
    /// Seed of the random choices the simulator itself makes (random interference).
    pub seed: u64,
    /// Costs of the ABI.
    pub costs: Costs,
    /// Timer tick period (with ticks enabled), in ns. Default 1 ms (`HZ=1000`).
    pub tick_ns: u64,
    /// Explicit higher-class bursts.
    pub interference: Vec<Interference>,
    /// Random higher-class bursts on every enclave CPU.
    pub random_interference: Option<RandomInterference>,
    /// Keep every trace event (for [`Trace::to_chrome_json`]); the hash is computed either way.
    pub record_trace: bool,
    /// Simulated time after which the run stops with [`SimError::TimeLimit`]. Default 1 hour.
    pub max_time_ns: u64,
}

impl SimConfig {
    /// A simulation of `workload` on `topology` with default costs, no interference, seed 0,
    /// no trace recording.
    pub fn new(topology: Topology, workload: Workload) -> Self {
        Self {
            topology,
            workload,
            seed: 0,
            costs: Costs::default(),
            tick_ns: 1_000_000,
            interference: Vec::new(),
            random_interference: None,
            record_trace: false,
            max_time_ns: 3_600 * 1_000_000_000,
        }
    }

    /// With `seed`.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// With `costs`.
    #[must_use]
    pub fn with_costs(mut self, costs: Costs) -> Self {
        self.costs = costs;
        self
    }

    /// With trace recording on or off.
    #[must_use]
    pub fn with_trace(mut self, record: bool) -> Self {
        self.record_trace = record;
        self
    }

    /// With the tick period.
    #[must_use]
    pub fn with_tick_ns(mut self, tick_ns: u64) -> Self {
        self.tick_ns = tick_ns;
        self
    }

    /// With one more explicit higher-class burst.
    #[must_use]
    pub fn with_interference(mut self, burst: Interference) -> Self {
        self.interference.push(burst);
        self
    }

    /// With random higher-class bursts.
    #[must_use]
    pub fn with_random_interference(mut self, random: RandomInterference) -> Self {
        self.random_interference = Some(random);
        self
    }

    /// With the time limit.
    #[must_use]
    pub fn with_max_time_ns(mut self, max_time_ns: u64) -> Self {
        self.max_time_ns = max_time_ns;
        self
    }
}

/// A task that had not finished when a simulation stopped, and why it may be stuck.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StuckTask {
    /// The task.
    pub gtid: Gtid,
    /// Its name.
    pub name: String,
    /// `"not arrived"`, `"runnable"`, `"on cpuN"` or `"blocked"`.
    pub state: String,
    /// Index of the channel its messages go to.
    pub channel: usize,
    /// Its messages waiting there, undrained.
    pub pending_messages: u32,
}

impl fmt::Display for StuckTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) is {}, {} undrained message(s) in channel {}",
            self.name, self.gtid, self.state, self.pending_messages, self.channel
        )
    }
}

/// Why a simulation could not run or did not finish.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The configuration is unusable; says what and how to fix it.
    #[error("invalid simulation: {0}")]
    Config(String),
    /// [`SimEnclave::run_until`] or [`SimEnclave::rpc`] before [`SimEnclave::attach`].
    #[error("the simulated enclave has no agent yet: call `attach` (or `run`) first")]
    NotAttached,
    /// [`SimEnclave::attach`] a second time.
    #[error("the simulated enclave already has an agent; make a new SimEnclave")]
    AlreadyAttached,
    /// Nothing can happen any more but tasks have not finished: no agent will commit them (a
    /// scheduler that loses tasks, or one that leaves messages undrained).
    #[error(
        "simulation stalled at {now_ns} ns: nothing left to happen, {} task(s) unfinished (did \
         the scheduler drop a task or leave a channel undrained?){}",
        stuck.len(),
        StuckList(stuck)
    )]
    Stalled {
        /// When.
        now_ns: u64,
        /// The unfinished tasks.
        stuck: Vec<StuckTask>,
    },
    /// [`SimConfig::max_time_ns`] passed with tasks unfinished (for example an agent that
    /// never yields while boosted, or a workload longer than the limit).
    #[error(
        "simulation reached its time limit of {limit_ns} ns with {} task(s) unfinished (raise \
         SimConfig::max_time_ns, or check that the agent yields when boosted){}",
        stuck.len(),
        StuckList(stuck)
    )]
    TimeLimit {
        /// The limit.
        limit_ns: u64,
        /// The unfinished tasks.
        stuck: Vec<StuckTask>,
    },
}

/// The first eight stuck tasks, one per line, for [`SimError`]'s message.
struct StuckList<'a>(&'a [StuckTask]);

impl fmt::Display for StuckList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in self.0.iter().take(8) {
            write!(f, "\n  {s}")?;
        }
        if self.0.len() > 8 {
            write!(f, "\n  ... and {} more", self.0.len() - 8)?;
        }
        Ok(())
    }
}

/// Whether [`SimEnclave::run_until`] finished the workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimStatus {
    /// Every task has exited or departed.
    Finished,
    /// The time bound was reached first.
    Running,
}

/// The simulated ghOSt enclave: the kernel side of the ABI on a virtual clock.
///
/// ```
/// use ghost_dsl::sim::{SimConfig, SimEnclave, TaskSpec, Workload};
/// use ghost_dsl::{Agent, AgentConfig, AgentEnclave, AgentModel, Cpu, RunFlags, Topology};
///
/// /// Yields forever: the tutorial's "scheduler that does nothing". Tasks never run.
/// struct DoNothing;
/// impl Agent for DoNothing {
///     fn model(&self) -> AgentModel { AgentModel::PerCpu }
///     fn run(&mut self, _cpu: Cpu, enclave: &mut AgentEnclave<'_>) {
///         let barrier = enclave.agent_barrier();
///         while enclave.next_message(enclave.agent_channel()).is_some() {}
///         enclave.local_yield(barrier, RunFlags::NONE);
///     }
/// }
///
/// let workload = Workload::new(vec![TaskSpec::new("t1").run(1_000_000)]);
/// let sim = SimEnclave::new(SimConfig::new(Topology::test_default(), workload))?;
/// let err = sim.run(&mut DoNothing, &AgentConfig::new("0".parse()?)).unwrap_err();
/// assert!(err.to_string().contains("stalled"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SimEnclave {
    kernel: Kernel,
}

impl SimEnclave {
    /// A simulated enclave for `config`, not yet attached to an agent.
    ///
    /// # Errors
    ///
    /// [`SimError::Config`] for a zero tick period or interference on a CPU the machine lacks.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        Ok(Self {
            kernel: Kernel::new(config)?,
        })
    }

    /// Attaches `agent` with `config`: builds channels and agents for the model the agent asks
    /// for, schedules the workload, and calls [`Agent::enclave_ready`].
    ///
    /// # Errors
    ///
    /// [`SimError::Config`] when the CPUs are empty or not on the machine, or the centralized
    /// model has fewer than two CPUs; [`SimError::AlreadyAttached`].
    pub fn attach<A: Agent>(
        &mut self,
        agent: &mut A,
        config: &AgentConfig,
    ) -> Result<(), SimError> {
        let first = self.kernel.attach(agent.model(), config)?;
        let mut enclave = AgentEnclave {
            kernel: &mut self.kernel,
            cpu: first,
        };
        agent.enclave_ready(&mut enclave);
        Ok(())
    }

    /// Runs the simulation until every task has finished or the next event is after `until_ns`.
    /// `agent` must be the one attached.
    ///
    /// # Errors
    ///
    /// [`SimError::Stalled`], [`SimError::TimeLimit`], [`SimError::NotAttached`].
    pub fn run_until<A: Agent>(
        &mut self,
        agent: &mut A,
        until_ns: u64,
    ) -> Result<SimStatus, SimError> {
        if !self.kernel.is_attached() {
            return Err(SimError::NotAttached);
        }
        loop {
            if self.kernel.finished() {
                return Ok(SimStatus::Finished);
            }
            let Some((time, next)) = self.kernel.peek_next() else {
                return Err(self.kernel.stalled());
            };
            if time > self.kernel.max_time_ns() {
                return Err(self.kernel.time_limit());
            }
            if time > until_ns {
                return Ok(SimStatus::Running);
            }
            match next {
                Next::Kernel => self.kernel.handle_next_event(),
                Next::AgentStart(cpu) => self.kernel.agent_start(cpu),
                Next::TaskTimer(cpu) => self.kernel.task_timer(cpu),
                Next::AgentExec(cpu) => {
                    let cpu = self.kernel.begin_exec(cpu);
                    let mut enclave = AgentEnclave {
                        kernel: &mut self.kernel,
                        cpu,
                    };
                    agent.run(cpu, &mut enclave);
                    self.kernel.end_exec(cpu);
                }
            }
        }
    }

    /// Attaches `agent`, runs the workload to the end and reports.
    ///
    /// # Errors
    ///
    /// As [`attach`](Self::attach) and [`run_until`](Self::run_until).
    pub fn run<A: Agent>(
        mut self,
        agent: &mut A,
        config: &AgentConfig,
    ) -> Result<SimReport, SimError> {
        self.attach(agent, config)?;
        self.run_until(agent, u64::MAX)?;
        Ok(self.report())
    }

    /// Sends an RPC to the agent process (ghOSt's `AgentProcess::Rpc`), at the current simulated
    /// time, with the enclave as seen from the first enclave CPU.
    ///
    /// # Errors
    ///
    /// [`SimError::NotAttached`].
    pub fn rpc<A: Agent>(
        &mut self,
        agent: &mut A,
        request: i64,
        args: &AgentRpcArgs,
    ) -> Result<AgentRpcResponse, SimError> {
        let cpu = self.kernel.first_cpu().ok_or(SimError::NotAttached)?;
        let mut enclave = AgentEnclave {
            kernel: &mut self.kernel,
            cpu,
        };
        Ok(agent.rpc(request, args, &mut enclave))
    }

    /// Simulated time now, in ns.
    pub fn now_ns(&self) -> u64 {
        self.kernel.now_ns()
    }

    /// What the simulation measured so far.
    pub fn report(&self) -> SimReport {
        self.kernel.report()
    }
}
