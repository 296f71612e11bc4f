//! The simulated kernel: tasks, CPUs, channels, transactions and the event queue.
//!
//! Split along its seams: this file holds the state and its setup; [`queue`] the event queue
//! and timers; [`abi`] the [`EnclaveKernel`](crate::abi::EnclaveKernel) operations agents call;
//! [`agents`] the agents' life (wakeups, iterations) and message posting; [`tasks`] the tasks'
//! life (arrival, running, blocking, preemption, ticks, interference); [`report`] what it tells
//! at the end. Seqnums, barriers, transactions and the commit and association checks are the
//! shared [`crate::abi::rules`].
//!
//! Hot-path layout: the most frequent events, an agent's next step and the end of the running
//! task's stretch of CPU time, are two timers per enclave CPU in a tournament tree (setting one
//! is `log2(2 * cpus)` compares, finding the earliest is one read; a preempted task's timer is
//! simply overwritten instead of leaving a stale heap entry). Everything else
//! (arrivals, wakeups, ticks, interference) is a 24-byte event in a binary heap ordered by
//! (time, sequence). Channels are `VecDeque`s that keep their capacity; tasks and CPUs are indexed
//! vectors. No allocation per message or per event.

mod abi;
mod agents;
mod queue;
mod report;
mod tasks;

use std::collections::{BinaryHeap, VecDeque};

use super::rng::SimRng;
use super::workload::{RandomInterference, TaskSpec};
use super::{Costs, SimConfig, SimError};
use crate::abi::WaitRecorder;
use crate::abi::rules::{AgentWord, TaskWord, Txn};
use crate::abi::trace::TraceRecorder;
use crate::message::{Message, MessageKind};
use crate::{AgentConfig, AgentModel, Cpu, CpuList, CpuTickConfig, Gtid, Topology, TxnState};
use queue::{Event, EventKind, TimerTree};

pub(crate) use queue::Next;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TaskState {
    NotArrived,
    Runnable,
    OnCpu(u16),
    Blocked,
    Gone,
}

#[derive(Clone, Debug)]
struct SimTask {
    gtid: Gtid,
    state: TaskState,
    /// Seqnum, channel, pending messages (the shared rules).
    word: TaskWord,
    phase: u32,
    round: u32,
    remaining: u64,
    /// When the current stretch on the CPU started running (after the context switch).
    run_start: u64,
    /// When it was committed onto its CPU.
    dispatched_at: u64,
    affinity: CpuList,
    last_cpu: Option<Cpu>,
    arrival: u64,
    first_run: Option<u64>,
    end: Option<u64>,
    runtime: u64,
    wait: u64,
    runnable_since: u64,
    switches: u64,
    preemptions: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AgentPhase {
    /// Not running; woken by a message to its channel, or by the CPU going idle if `on_idle`.
    Blocked { on_idle: bool },
    /// Woken; takes the CPU when its agent timer fires.
    Starting,
    /// Holds the CPU; runs its iteration when its agent timer fires.
    Running,
}

#[derive(Clone, Debug)]
struct CpuSlot {
    cpu: Cpu,
    in_enclave: bool,
    /// Runs tasks (every enclave CPU but the centralized agent's).
    runs_tasks: bool,
    has_agent: bool,
    /// The channel that receives this CPU's messages.
    channel: u16,
    agent: AgentPhase,
    /// Index of this CPU's two timers in `Kernel::timers` (agent at `2k`, task at `2k + 1`).
    k: usize,
    /// Barrier, the iteration's snapshot of it, and how the iteration ended (shared rules).
    word: AgentWord,
    run_started: u64,
    /// The end of the agent's last iteration (its messages' cost included): it cannot start the
    /// next one earlier.
    busy_until: u64,
    drained: u64,
    current: Option<u32>,
    /// A tick event is pending for this CPU.
    tick_armed: bool,
    /// A higher-class burst wants or holds the CPU.
    interference_active: bool,
    /// Burst time not yet run (it runs only while it has the CPU: after the agent yields).
    interference_pending: u64,
    /// While the burst runs: when it will end; `u64::MAX` while it waits or is paused.
    interference_until: u64,
    /// While the burst runs: since when.
    interference_since: Option<u64>,
    txn: Txn,
    task_ns: u64,
    agent_ns: u64,
    interference_ns: u64,
    switch_ns: u64,
    switches: u64,
}

#[derive(Clone, Debug)]
struct ChannelState {
    queue: VecDeque<Message>,
    /// The agent CPU this channel wakes.
    wake_cpu: u16,
}

#[derive(Clone, Debug, Default)]
struct Stats {
    messages: u64,
    by_kind: [u64; MessageKind::ALL.len()],
    agent_runs: u64,
    commits: u64,
    failed: [u64; TxnState::FAILURES.len()],
    failed_yields: u64,
    associations: u64,
    failed_associations: u64,
}

/// The simulated kernel.
#[derive(Debug)]
pub(crate) struct Kernel {
    now: u64,
    topology: Topology,
    costs: Costs,
    tick_ns: u64,
    /// Whether CPUs running tasks get `MSG_CPU_TICK` (set at attach).
    ticks: bool,
    max_time_ns: u64,
    random_interference: Option<RandomInterference>,
    rng: SimRng,
    model: AgentModel,
    enclave_cpus: CpuList,
    attached: bool,
    cpus: Vec<CpuSlot>,
    agent_cpus: Vec<u16>,
    channels: Vec<ChannelState>,
    tasks: Vec<SimTask>,
    specs: Vec<TaskSpec>,
    heap: BinaryHeap<Event>,
    /// Per enclave CPU `k`: its agent timer (slot `2k`) and its running task's timer (`2k + 1`).
    timers: TimerTree,
    timer_cpus: Vec<u16>,
    burst_lens: Vec<u64>,
    seq: u64,
    unfinished: usize,
    /// When the last task finished (the report's end).
    finished_at: Option<u64>,
    /// Tasks on a CPU now.
    on_cpu: usize,
    /// Agent iterations in a row with no task on a CPU and no event (the watchdog's count).
    idle_iterations: u64,
    max_idle_iterations: u64,
    stats: Stats,
    trace: TraceRecorder,
    /// Every wait of a task for a CPU (arrival, wakeup, preemption or yield to its commit).
    waits: WaitRecorder,
}

impl Kernel {
    pub(crate) fn new(config: SimConfig) -> Result<Self, SimError> {
        if config.tick_ns == 0 {
            return Err(SimError::Config(
                "tick_ns is 0; set a tick period of at least 1 ns".into(),
            ));
        }
        if let Some(r) = config.random_interference
            && (r.mean_gap_ns == 0 || r.mean_len_ns == 0)
        {
            return Err(SimError::Config(
                "random interference needs mean_gap_ns and mean_len_ns above 0".into(),
            ));
        }
        for burst in &config.interference {
            if config.topology.cpu(burst.cpu).is_none() {
                return Err(SimError::Config(format!(
                    "interference on cpu{} but the machine's CPUs are {}",
                    burst.cpu,
                    config.topology.all_cpus()
                )));
            }
        }
        if config.workload.tasks.len() >= u32::MAX as usize {
            return Err(SimError::Config("more than 2^32-1 tasks".into()));
        }
        let max_id = config.topology.all_cpus().iter().last().unwrap_or(0);
        let cpus = (0..=max_id)
            .map(|id| {
                let cpu = config.topology.cpu(id).unwrap_or(Cpu::placeholder(id));
                CpuSlot {
                    cpu,
                    in_enclave: false,
                    runs_tasks: false,
                    has_agent: false,
                    channel: 0,
                    agent: AgentPhase::Blocked { on_idle: false },
                    k: usize::MAX,
                    word: AgentWord::new(),
                    run_started: 0,
                    busy_until: 0,
                    drained: 0,
                    current: None,
                    tick_armed: false,
                    interference_active: false,
                    interference_pending: 0,
                    interference_until: u64::MAX,
                    interference_since: None,
                    txn: Txn::new(),
                    task_ns: 0,
                    agent_ns: 0,
                    interference_ns: 0,
                    switch_ns: 0,
                    switches: 0,
                }
            })
            .collect();
        let all = *config.topology.all_cpus();
        let tasks = config
            .workload
            .tasks
            .iter()
            .enumerate()
            .map(|(i, spec)| SimTask {
                gtid: Gtid::new(i as u32 + 1, 1),
                state: TaskState::NotArrived,
                word: TaskWord::new(),
                phase: 0,
                round: 0,
                remaining: 0,
                run_start: 0,
                dispatched_at: 0,
                affinity: all,
                last_cpu: None,
                arrival: spec.start_ns,
                first_run: None,
                end: None,
                runtime: 0,
                wait: 0,
                runnable_since: 0,
                switches: 0,
                preemptions: 0,
            })
            .collect();
        let mut kernel = Self {
            now: 0,
            costs: config.costs,
            tick_ns: config.tick_ns,
            ticks: false,
            max_time_ns: config.max_time_ns,
            random_interference: config.random_interference,
            rng: SimRng::new(config.seed),
            model: AgentModel::PerCpu,
            enclave_cpus: CpuList::new(),
            attached: false,
            cpus,
            agent_cpus: Vec::new(),
            channels: Vec::new(),
            tasks,
            unfinished: config.workload.tasks.len(),
            finished_at: None,
            on_cpu: 0,
            idle_iterations: 0,
            max_idle_iterations: config.max_idle_iterations,
            specs: config.workload.tasks,
            heap: BinaryHeap::new(),
            timers: TimerTree::new(0),
            timer_cpus: Vec::new(),
            burst_lens: Vec::new(),
            seq: 0,
            stats: Stats::default(),
            trace: TraceRecorder::with_cap(config.record_trace, config.max_trace_events),
            waits: WaitRecorder::new(),
            topology: config.topology,
        };
        for burst in config.interference {
            kernel.schedule_burst(burst.cpu as u16, burst.start_ns, burst.duration_ns);
        }
        Ok(kernel)
    }

    pub(crate) fn attach(
        &mut self,
        model: AgentModel,
        config: &AgentConfig,
    ) -> Result<Cpu, SimError> {
        if self.attached {
            return Err(SimError::AlreadyAttached);
        }
        let cpus = config.cpus;
        let Some(first) = cpus.first() else {
            return Err(SimError::Config(
                "the agent config has no CPU; give it at least one (e.g. \"0\")".into(),
            ));
        };
        let missing = cpus - *self.topology.all_cpus();
        if !missing.is_empty() {
            return Err(SimError::Config(format!(
                "the agent config names CPUs {missing} that the simulated machine lacks (its CPUs \
                 are {})",
                self.topology.all_cpus()
            )));
        }
        if model == AgentModel::Centralized && cpus.len() < 2 {
            return Err(SimError::Config(format!(
                "the centralized model needs at least two CPUs (one for the global agent, one for \
                 tasks); the agent config has only {cpus}"
            )));
        }
        self.model = model;
        self.enclave_cpus = cpus;
        for id in &cpus {
            let slot = &mut self.cpus[id];
            slot.in_enclave = true;
            slot.k = self.timer_cpus.len();
            self.timer_cpus.push(id as u16);
            match model {
                AgentModel::PerCpu => {
                    slot.runs_tasks = true;
                    slot.has_agent = true;
                    slot.channel = self.channels.len() as u16;
                    self.channels.push(ChannelState {
                        queue: VecDeque::new(),
                        wake_cpu: id as u16,
                    });
                    self.agent_cpus.push(id as u16);
                }
                AgentModel::Centralized => {
                    slot.runs_tasks = id != first;
                    slot.has_agent = id == first;
                    slot.channel = 0;
                    if id == first {
                        self.channels.push(ChannelState {
                            queue: VecDeque::new(),
                            wake_cpu: id as u16,
                        });
                        self.agent_cpus.push(id as u16);
                    }
                }
            }
        }
        self.timers = TimerTree::new(2 * self.timer_cpus.len());
        for i in 0..self.specs.len() {
            let at = self.specs[i].start_ns;
            self.schedule(at, EventKind::Arrive(i as u32));
        }
        self.ticks = config.tick_config == CpuTickConfig::AllTicks;
        if let Some(r) = self.random_interference {
            for id in &cpus {
                let gap = self.rng.around(r.mean_gap_ns);
                let len = self.rng.around(r.mean_len_ns);
                self.schedule_burst(id as u16, gap, len);
            }
        }
        self.attached = true;
        // Every agent starts awake, as ghOSt's agents do when the enclave comes up.
        for k in 0..self.agent_cpus.len() {
            let c = self.agent_cpus[k];
            self.wake_agent(c);
        }
        Ok(self.cpus[first].cpu)
    }

    pub(crate) fn is_attached(&self) -> bool {
        self.attached
    }

    /// Moves the clock to `ns` when nothing happens before (never backwards).
    pub(crate) fn advance_to(&mut self, ns: u64) {
        self.now = self.now.max(ns);
    }

    /// The watchdogs: a livelock, or a trace past its cap.
    #[inline]
    pub(crate) fn watchdog(&self) -> Option<SimError> {
        if self.idle_iterations > self.max_idle_iterations {
            return Some(self.no_progress());
        }
        if self.trace.overflowed() {
            return Some(SimError::TraceTooLarge {
                now_ns: self.now,
                limit: self.trace.cap(),
            });
        }
        None
    }

    /// After the last task finished: the next agent step that lets agents see the messages its
    /// exit posted, until every channel is empty and no agent holds its CPU mid-iteration.
    pub(crate) fn drain_step(&self) -> Option<Next> {
        let pending = self.channels.iter().any(|ch| !ch.queue.is_empty());
        let mid_iteration = self.cpus.iter().any(|s| s.agent == AgentPhase::Running);
        if !pending && !mid_iteration {
            return None;
        }
        match self.peek_next()? {
            (_, next @ (Next::AgentStart(_) | Next::AgentExec(_))) => Some(next),
            // Only agents are left to run: skip the kernel's own events (ticks, bursts).
            _ => {
                let (k, _) = self.timers.earliest()?;
                let c = self.timer_cpus[k / 2];
                (k % 2 == 0).then(|| match self.cpus[c as usize].agent {
                    AgentPhase::Starting => Next::AgentStart(c),
                    _ => Next::AgentExec(c),
                })
            }
        }
    }

    /// How many agents the enclave has.
    pub(crate) fn agent_count(&self) -> usize {
        self.agent_cpus.len()
    }

    pub(crate) fn finished(&self) -> bool {
        self.unfinished == 0
    }

    pub(crate) fn max_time_ns(&self) -> u64 {
        self.max_time_ns
    }

    pub(crate) fn first_cpu(&self) -> Option<Cpu> {
        if !self.attached {
            return None;
        }
        self.enclave_cpus.first().map(|id| self.cpus[id].cpu)
    }
}
