//! The simulated kernel: tasks, CPUs, channels, transactions and the event queue.
//!
//! Hot-path layout: the most frequent events, an agent's next step and the end of the running
//! task's stretch of CPU time, are two timers per enclave CPU in a tournament tree (setting one
//! is `log2(2 * cpus)` compares, finding the earliest is one read; a preempted task's timer is
//! simply overwritten instead of leaving a stale heap entry). Everything else
//! (arrivals, wakeups, ticks, interference) is a 24-byte event in a binary heap ordered by
//! (time, sequence). Channels are `VecDeque`s that keep their capacity; tasks and CPUs are indexed
//! vectors. No allocation per message or per event.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

use super::report::{CpuReport, SimReport, TaskReport};
use super::rng::SimRng;
use super::trace::{Trace, TraceEvent, TraceRecorder};
use super::workload::{Phase, RandomInterference, TaskEnd, TaskSpec};
use super::{Costs, SimConfig, SimError, StuckTask};
use crate::agent::{AgentModel, Channel, CpuTickConfig};
use crate::message::{
    CpuAvailable, CpuNotIdle, CpuTick, Message, MessageKind, Payload, TaskBlocked, TaskDead,
    TaskDeparted, TaskNew, TaskPreempt, TaskWakeup, TaskYield,
};
use crate::{
    AgentConfig, AssociateError, BarrierToken, Cpu, CpuList, Gtid, RunFlags, RunRequestOptions,
    StatusWord, Topology, TxnState,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EventKind {
    Arrive(u32),
    Wake(u32),
    Tick(u16),
    /// A burst on a CPU; its length is `burst_lens[index]`.
    InterferenceStart(u16, u32),
    InterferenceEnd(u16),
}

#[derive(Clone, Copy, Debug)]
struct Event {
    time: u64,
    seq: u64,
    kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (time, seq) on top.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// What the simulation does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Kernel,
    AgentStart(u16),
    AgentExec(u16),
    /// The running task of the CPU reached the end of its stretch of CPU time.
    TaskTimer(u16),
}

/// A timer slot that is not set: after every real (time, sequence).
const NO_TIMER: (u64, u64) = (u64::MAX, u64::MAX);

/// Fixed timer slots keyed by (time, sequence), with the earliest found in O(1) and updates in
/// O(log slots): a tournament tree whose node `i` holds the key and slot winning among its
/// leaves. Keys are packed into one `u128` (time high, sequence low) so that each step is one
/// compare of two adjacent nodes and a conditional move; an update stops as soon as a node comes
/// out unchanged, since nothing above it can change then.
#[derive(Clone, Debug)]
struct TimerTree {
    size: usize,
    /// `nodes[size + slot]` is the leaf of `slot`; `nodes[1]` the overall winner.
    nodes: Vec<(u128, u32)>,
}

const NO_KEY: u128 = u128::MAX;

fn pack((time, seq): (u64, u64)) -> u128 {
    (u128::from(time) << 64) | u128::from(seq)
}

fn unpack(key: u128) -> (u64, u64) {
    ((key >> 64) as u64, key as u64)
}

impl TimerTree {
    fn new(slots: usize) -> Self {
        let size = slots.next_power_of_two().max(1);
        let mut nodes = vec![(NO_KEY, 0u32); 2 * size];
        for slot in 0..size {
            nodes[size + slot].1 = slot as u32;
        }
        // All keys are equal (unset): the left child wins.
        for i in (1..size).rev() {
            nodes[i] = nodes[2 * i];
        }
        Self { size, nodes }
    }

    fn set(&mut self, slot: usize, key: (u64, u64)) {
        let mut i = self.size + slot;
        self.nodes[i].0 = pack(key);
        while i > 1 {
            i /= 2;
            let (left, right) = (self.nodes[2 * i], self.nodes[2 * i + 1]);
            let winner = if right.0 < left.0 { right } else { left };
            if self.nodes[i] == winner {
                break;
            }
            self.nodes[i] = winner;
        }
    }

    fn get(&self, slot: usize) -> (u64, u64) {
        unpack(self.nodes[self.size + slot].0)
    }

    /// The earliest set slot and its key.
    fn earliest(&self) -> Option<(usize, (u64, u64))> {
        let (key, slot) = self.nodes[1];
        (key != NO_KEY).then(|| (slot as usize, unpack(key)))
    }
}

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
    seqnum: BarrierToken,
    channel: u16,
    pending: u32,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    None,
    Yielded { on_idle: bool },
    Committed { at: u64 },
}

#[derive(Clone, Copy, Debug)]
struct Txn {
    options: RunRequestOptions,
    state: TxnState,
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
    barrier: BarrierToken,
    snapshot: BarrierToken,
    run_started: u64,
    /// The end of the agent's last iteration (its messages' cost included): it cannot start the
    /// next one earlier.
    busy_until: u64,
    drained: u64,
    outcome: Outcome,
    current: Option<u32>,
    /// A tick event is pending for this CPU.
    tick_armed: bool,
    interference_active: bool,
    interference_until: u64,
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
    stats: Stats,
    trace: TraceRecorder,
}

fn failure_index(state: TxnState) -> usize {
    TxnState::FAILURES
        .iter()
        .position(|s| *s == state)
        .expect("only failure states are counted")
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
                    barrier: BarrierToken(0),
                    snapshot: BarrierToken(0),
                    run_started: 0,
                    busy_until: 0,
                    drained: 0,
                    outcome: Outcome::None,
                    current: None,
                    tick_armed: false,
                    interference_active: false,
                    interference_until: 0,
                    interference_since: None,
                    txn: Txn {
                        options: RunRequestOptions {
                            target: Gtid::from_raw(0),
                            target_barrier: BarrierToken(0),
                            agent_barrier: BarrierToken(0),
                            commit_flags: crate::CommitFlags::COMMIT_AT_TXN_COMMIT,
                        },
                        state: TxnState::Idle,
                    },
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
                seqnum: BarrierToken(0),
                channel: 0,
                pending: 0,
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
            specs: config.workload.tasks,
            heap: BinaryHeap::new(),
            timers: TimerTree::new(0),
            timer_cpus: Vec::new(),
            burst_lens: Vec::new(),
            seq: 0,
            stats: Stats::default(),
            trace: TraceRecorder::new(config.record_trace),
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

    // ---- read-only ABI ----

    pub(crate) fn now_ns(&self) -> u64 {
        self.now
    }

    pub(crate) fn topology(&self) -> &Topology {
        &self.topology
    }

    pub(crate) fn enclave_cpus(&self) -> &CpuList {
        &self.enclave_cpus
    }

    pub(crate) fn model(&self) -> AgentModel {
        self.model
    }

    pub(crate) fn agent_status(&self, cpu: Cpu) -> StatusWord {
        match self.cpus.get(cpu.id()) {
            Some(slot) if slot.has_agent => {
                StatusWord::new(slot.snapshot, true, true, slot.interference_active, 0)
            }
            _ => StatusWord::default(),
        }
    }

    fn task_index(&self, gtid: Gtid) -> Option<usize> {
        let i = (gtid.tid() as usize).checked_sub(1)?;
        let task = self.tasks.get(i)?;
        (task.gtid == gtid && !matches!(task.state, TaskState::NotArrived | TaskState::Gone))
            .then_some(i)
    }

    pub(crate) fn task_status(&self, gtid: Gtid) -> Option<StatusWord> {
        let t = &self.tasks[self.task_index(gtid)?];
        let on_cpu = matches!(t.state, TaskState::OnCpu(_));
        Some(StatusWord::new(
            t.seqnum,
            on_cpu,
            on_cpu || t.state == TaskState::Runnable,
            false,
            t.runtime,
        ))
    }

    pub(crate) fn task_affinity(&self, gtid: Gtid) -> Option<CpuList> {
        Some(self.tasks[self.task_index(gtid)?].affinity)
    }

    pub(crate) fn channel_of(&self, cpu: Cpu) -> Channel {
        Channel(self.cpus.get(cpu.id()).map_or(0, |s| s.channel))
    }

    // ---- agent calls ----

    pub(crate) fn next_message(&mut self, caller: Cpu, channel: Channel) -> Option<Message> {
        let msg = self.channels.get_mut(channel.index())?.queue.pop_front()?;
        if let Some(gtid) = msg.gtid() {
            let i = gtid.tid() as usize - 1;
            self.tasks[i].pending -= 1;
        }
        if let Some(slot) = self.cpus.get_mut(caller.id()) {
            slot.drained += 1;
        }
        Some(msg)
    }

    pub(crate) fn associate_task(
        &mut self,
        channel: Channel,
        gtid: Gtid,
        barrier: BarrierToken,
    ) -> Result<(), AssociateError> {
        let result = self.try_associate(channel, gtid, barrier);
        match result {
            Ok(()) => self.stats.associations += 1,
            Err(_) => self.stats.failed_associations += 1,
        }
        result
    }

    fn try_associate(
        &mut self,
        channel: Channel,
        gtid: Gtid,
        barrier: BarrierToken,
    ) -> Result<(), AssociateError> {
        let i = self
            .task_index(gtid)
            .ok_or(AssociateError::NoSuchTask { gtid })?;
        if channel.index() >= self.channels.len() {
            return Err(AssociateError::NoSuchTask { gtid });
        }
        let task = &mut self.tasks[i];
        if task.pending > 0 {
            return Err(AssociateError::OldQueueNotEmpty {
                gtid,
                pending: task.pending,
            });
        }
        if task.seqnum != barrier {
            return Err(AssociateError::Stale {
                gtid,
                barrier,
                current: task.seqnum,
            });
        }
        task.channel = channel.0;
        Ok(())
    }

    pub(crate) fn ping(&mut self, cpu: Cpu) -> bool {
        match self.cpus.get(cpu.id()) {
            Some(slot) if slot.has_agent => {
                self.wake_agent(cpu.id() as u16);
                true
            }
            _ => false,
        }
    }

    pub(crate) fn open(&mut self, cpu: Cpu, options: RunRequestOptions) {
        if let Some(slot) = self.cpus.get_mut(cpu.id()) {
            slot.txn = Txn {
                options,
                state: TxnState::Ready,
            };
        }
    }

    pub(crate) fn abort(&mut self, cpu: Cpu) -> bool {
        match self.cpus.get_mut(cpu.id()) {
            Some(slot) if slot.txn.state == TxnState::Ready => {
                slot.txn.state = TxnState::Aborted;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn txn_state(&self, cpu: Cpu) -> TxnState {
        self.cpus
            .get(cpu.id())
            .map_or(TxnState::Idle, |s| s.txn.state)
    }

    pub(crate) fn local_yield(&mut self, cpu: Cpu, barrier: BarrierToken, flags: RunFlags) -> bool {
        let Some(slot) = self.cpus.get_mut(cpu.id()) else {
            return false;
        };
        if !slot.has_agent || barrier != slot.barrier {
            self.stats.failed_yields += 1;
            return false;
        }
        slot.outcome = Outcome::Yielded {
            on_idle: flags.contains(RunFlags::RTLA_ON_IDLE),
        };
        true
    }

    pub(crate) fn commit(&mut self, agent_cpu: Cpu, cpu: Cpu) -> bool {
        let a = agent_cpu.id();
        let c = cpu.id();
        if c >= self.cpus.len() || self.cpus[c].txn.state != TxnState::Ready {
            return false;
        }
        let local = a == c;
        let (state, task) = self.check_commit(a, c, local);
        self.cpus[c].txn.state = state;
        if state != TxnState::Complete {
            self.stats.failed[failure_index(state)] += 1;
            let target = self.cpus[c].txn.options.target;
            self.trace.record(TraceEvent::CommitFailed {
                time_ns: self.now,
                cpu: c,
                target,
                state,
            });
            return false;
        }
        self.stats.commits += 1;
        let at = self.now + self.cpus.get(a).map_or(0, |s| s.drained) * self.costs.per_message_ns;
        if let Some(running) = self.cpus[c].current {
            self.preempt(c as u16, running);
        }
        if local {
            self.cpus[a].outcome = Outcome::Committed { at };
        }
        self.dispatch(task, c as u16, at);
        true
    }

    fn check_commit(&self, a: usize, c: usize, local: bool) -> (TxnState, u32) {
        let slot = &self.cpus[c];
        if !slot.in_enclave || !slot.runs_tasks {
            return (TxnState::InvalidCpu, 0);
        }
        if slot.interference_active {
            return (TxnState::CpuUnavail, 0);
        }
        // Remote commits to a CPU whose own agent holds it (per-CPU model) must wait for it.
        if !local && slot.has_agent && !matches!(slot.agent, AgentPhase::Blocked { .. }) {
            return (TxnState::CpuUnavail, 0);
        }
        let opts = slot.txn.options;
        if local && opts.agent_barrier != self.cpus[a].barrier {
            return (TxnState::AgentStale, 0);
        }
        let Some(i) = self.task_index(opts.target) else {
            return (TxnState::InvalidTarget, 0);
        };
        let task = &self.tasks[i];
        if opts.target_barrier != task.seqnum {
            return (TxnState::TargetStale, 0);
        }
        match task.state {
            TaskState::OnCpu(_) => return (TxnState::TargetOnCpu, 0),
            TaskState::Blocked => return (TxnState::TargetNotRunnable, 0),
            _ => {}
        }
        if !task.affinity.contains(c) {
            return (TxnState::NotPermitted, 0);
        }
        (TxnState::Complete, i as u32)
    }

    // ---- the event loop ----

    fn next_seq(&mut self) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }

    fn schedule_burst(&mut self, c: u16, time: u64, len: u64) {
        let index = u32::try_from(self.burst_lens.len()).expect("fewer than 2^32 bursts");
        self.burst_lens.push(len);
        self.schedule(time, EventKind::InterferenceStart(c, index));
    }

    fn set_timer(&mut self, index: usize, time: u64) {
        let seq = self.next_seq();
        self.timers.set(index, (time, seq));
    }

    fn timer_time(&self, index: usize) -> u64 {
        self.timers.get(index).0
    }

    /// Clears timer `index` and returns its time.
    fn take_timer(&mut self, index: usize) -> u64 {
        let (time, _) = self.timers.get(index);
        if time != u64::MAX {
            self.timers.set(index, NO_TIMER);
        }
        time
    }

    fn set_agent_timer(&mut self, c: u16, time: u64) {
        self.set_timer(2 * self.cpus[c as usize].k, time);
    }

    /// Clears the agent timer of `c` and returns its time.
    fn take_agent_timer(&mut self, c: u16) -> u64 {
        self.take_timer(2 * self.cpus[c as usize].k)
    }

    fn set_task_timer(&mut self, c: u16, time: u64) {
        self.set_timer(2 * self.cpus[c as usize].k + 1, time);
    }

    fn clear_task_timer(&mut self, c: u16) {
        self.take_timer(2 * self.cpus[c as usize].k + 1);
    }

    fn schedule(&mut self, time: u64, kind: EventKind) {
        let seq = self.seq;
        self.seq += 1;
        self.heap.push(Event { time, seq, kind });
    }

    pub(crate) fn peek_next(&self) -> Option<(u64, Next)> {
        let timer = self.timers.earliest();
        if let Some(e) = self.heap.peek()
            && timer.is_none_or(|(_, key)| (e.time, e.seq) < key)
        {
            return Some((e.time, Next::Kernel));
        }
        let (best_k, best) = timer?;
        let c = self.timer_cpus[best_k / 2];
        let next = if best_k % 2 == 1 {
            Next::TaskTimer(c)
        } else if self.cpus[c as usize].agent == AgentPhase::Starting {
            Next::AgentStart(c)
        } else {
            Next::AgentExec(c)
        };
        Some((best.0, next))
    }

    /// The running task of `c` reached the end of its stretch of CPU time.
    pub(crate) fn task_timer(&mut self, c: u16) {
        // Read, not cleared: playing the task's phases below either re-arms it or takes the
        // task off the CPU, which clears it.
        self.now = self.timer_time(2 * self.cpus[c as usize].k + 1);
        let i = self.cpus[c as usize]
            .current
            .expect("a task timer is set only while a task is on the CPU");
        self.account_run(i);
        self.continue_on_cpu(i, c);
    }

    pub(crate) fn handle_next_event(&mut self) {
        let Some(event) = self.heap.pop() else { return };
        self.now = event.time;
        match event.kind {
            EventKind::Arrive(i) => self.arrive(i),
            EventKind::Wake(i) => self.wake(i),
            EventKind::Tick(c) => self.tick(c),
            EventKind::InterferenceStart(c, index) => {
                let len = self.burst_lens[index as usize];
                self.interference_start(c, len);
            }
            EventKind::InterferenceEnd(c) => self.interference_end(c),
        }
    }

    fn wake_agent(&mut self, c: u16) {
        let slot = &mut self.cpus[c as usize];
        if let AgentPhase::Blocked { .. } = slot.agent {
            slot.agent = AgentPhase::Starting;
            let at = self.now.max(slot.busy_until);
            self.set_agent_timer(c, at);
        }
    }

    pub(crate) fn agent_start(&mut self, c: u16) {
        // Read, not cleared: the timer is re-armed for the iteration below (one tree update).
        let time = self.timer_time(2 * self.cpus[c as usize].k);
        self.now = time;
        let slot = &mut self.cpus[c as usize];
        slot.agent = AgentPhase::Running;
        slot.run_started = time;
        if let Some(since) = slot.interference_since.take() {
            slot.interference_ns += time - since;
            self.trace.record(TraceEvent::Interference {
                cpu: c as usize,
                start_ns: since,
                end_ns: time,
            });
        }
        if let Some(running) = self.cpus[c as usize].current {
            self.preempt(c, running);
        }
        let exec = self.now + self.costs.agent_loop_ns;
        let slot = &mut self.cpus[c as usize];
        slot.snapshot = slot.barrier;
        slot.drained = 0;
        slot.outcome = Outcome::None;
        self.set_agent_timer(c, exec);
    }

    pub(crate) fn begin_exec(&mut self, c: u16) -> Cpu {
        // Read, not cleared: `end_exec` re-arms or clears it (nothing else touches a running
        // agent's timer).
        self.now = self.timer_time(2 * self.cpus[c as usize].k);
        self.stats.agent_runs += 1;
        self.cpus[c as usize].cpu
    }

    pub(crate) fn end_exec(&mut self, cpu: Cpu) {
        let c = cpu.id();
        let now = self.now;
        let slot = &mut self.cpus[c];
        let mut end = now + slot.drained * self.costs.per_message_ns;
        match slot.outcome {
            Outcome::Committed { at } => {
                end = at;
                slot.agent = AgentPhase::Blocked { on_idle: false };
            }
            Outcome::Yielded { on_idle } => {
                slot.agent = AgentPhase::Blocked { on_idle };
                if slot.interference_active {
                    slot.interference_since = Some(end);
                }
            }
            Outcome::None => {
                slot.agent = AgentPhase::Starting;
            }
        }
        let start = slot.run_started;
        slot.busy_until = end;
        slot.agent_ns += end - start;
        if slot.agent == AgentPhase::Starting {
            self.set_agent_timer(c as u16, end.max(now + 1));
        } else {
            self.take_agent_timer(c as u16);
        }
        self.trace.record(TraceEvent::Agent {
            cpu: c,
            start_ns: start,
            end_ns: end,
        });
    }

    // ---- messages ----

    fn push_message(&mut self, channel: u16, msg: Message) {
        let ch = &mut self.channels[channel as usize];
        ch.queue.push_back(msg);
        let wake = ch.wake_cpu;
        let slot = &mut self.cpus[wake as usize];
        slot.barrier = slot.barrier.next();
        self.stats.messages += 1;
        self.stats.by_kind[msg.kind() as usize] += 1;
        self.trace.record(TraceEvent::Message {
            time_ns: self.now,
            cpu: wake as usize,
            kind: msg.kind(),
            gtid: msg.gtid(),
            seqnum: msg.seqnum().0,
        });
        self.wake_agent(wake);
    }

    fn post_task(&mut self, i: u32, payload: Payload) {
        let task = &mut self.tasks[i as usize];
        task.seqnum = task.seqnum.next();
        task.pending += 1;
        let msg = Message::new(task.seqnum, payload);
        let channel = task.channel;
        self.push_message(channel, msg);
    }

    fn post_cpu(&mut self, c: u16, payload: Payload) {
        let channel = self.cpus[c as usize].channel;
        let wake = self.channels[channel as usize].wake_cpu;
        let seqnum = self.cpus[wake as usize].barrier.next();
        self.push_message(channel, Message::new(seqnum, payload));
    }

    // ---- tasks ----

    fn current_phase(&self, i: u32) -> Option<Phase> {
        let task = &self.tasks[i as usize];
        self.specs[i as usize]
            .phases
            .get(task.phase as usize)
            .copied()
    }

    /// Moves to the next phase (next round at the end of one) and loads a Run phase's length.
    fn advance_phase(&mut self, i: u32) {
        let spec = &self.specs[i as usize];
        let task = &mut self.tasks[i as usize];
        task.phase += 1;
        if task.phase as usize == spec.phases.len() && task.round + 1 < spec.repeat {
            task.round += 1;
            task.phase = 0;
        }
        self.load_phase(i);
    }

    fn load_phase(&mut self, i: u32) {
        if let Some(Phase::Run(ns)) = self.current_phase(i) {
            self.tasks[i as usize].remaining = ns;
        }
    }

    fn arrive(&mut self, i: u32) {
        self.load_phase(i);
        let mut sleep = None;
        loop {
            match self.current_phase(i) {
                Some(Phase::SetAffinity(cpus)) => {
                    self.tasks[i as usize].affinity = cpus;
                    self.advance_phase(i);
                }
                Some(Phase::Yield) => self.advance_phase(i),
                Some(Phase::Sleep(ns)) => {
                    sleep = Some(ns);
                    self.advance_phase(i);
                    break;
                }
                Some(Phase::Run(_)) | None => break,
            }
        }
        let now = self.now;
        let task = &mut self.tasks[i as usize];
        task.state = if sleep.is_some() {
            TaskState::Blocked
        } else {
            TaskState::Runnable
        };
        task.runnable_since = now;
        let gtid = task.gtid;
        self.post_task(
            i,
            Payload::TaskNew(TaskNew {
                gtid,
                runnable: sleep.is_none(),
                runtime_ns: 0,
            }),
        );
        if let Some(ns) = sleep {
            self.schedule(now + ns, EventKind::Wake(i));
        }
    }

    fn wake(&mut self, i: u32) {
        let now = self.now;
        let task = &mut self.tasks[i as usize];
        if task.state != TaskState::Blocked {
            return;
        }
        task.state = TaskState::Runnable;
        task.runnable_since = now;
        let (gtid, last_ran_cpu) = (task.gtid, task.last_cpu);
        self.post_task(
            i,
            Payload::TaskWakeup(TaskWakeup {
                gtid,
                deferrable: false,
                last_ran_cpu,
            }),
        );
    }

    /// Puts task `i` on CPU `c`: committed at `at`, running from `at + context switch`.
    fn dispatch(&mut self, i: u32, c: u16, at: u64) {
        let start = at + self.costs.context_switch_ns;
        let task = &mut self.tasks[i as usize];
        task.state = TaskState::OnCpu(c);
        task.wait += at.saturating_sub(task.runnable_since);
        task.first_run.get_or_insert(start);
        task.switches += 1;
        task.run_start = start;
        task.dispatched_at = at;
        let slot = &mut self.cpus[c as usize];
        slot.current = Some(i);
        slot.switches += 1;
        self.arm_tick(c);
        let run = match self.current_phase(i) {
            Some(Phase::Run(_)) => self.tasks[i as usize].remaining,
            _ => 0,
        };
        self.set_task_timer(c, start + run);
    }

    /// Charges the CPU time since the task's stretch started.
    fn account_run(&mut self, i: u32) {
        let now = self.now;
        let on_run_phase = matches!(self.current_phase(i), Some(Phase::Run(_)));
        let task = &mut self.tasks[i as usize];
        let ran = now.saturating_sub(task.run_start);
        task.runtime += ran;
        if on_run_phase {
            task.remaining = task.remaining.saturating_sub(ran);
        }
        task.run_start = task.run_start.max(now);
    }

    /// Task `i` is running on `c` at `now`: plays its phases until it needs more CPU time
    /// (schedules the end of it) or leaves the CPU.
    fn continue_on_cpu(&mut self, i: u32, c: u16) {
        let now = self.now;
        loop {
            match self.current_phase(i) {
                Some(Phase::Run(_)) => {
                    let remaining = self.tasks[i as usize].remaining;
                    if remaining > 0 {
                        self.set_task_timer(c, now + remaining);
                        return;
                    }
                    self.advance_phase(i);
                }
                Some(Phase::SetAffinity(cpus)) => {
                    self.advance_phase(i);
                    self.tasks[i as usize].affinity = cpus;
                    let gtid = self.tasks[i as usize].gtid;
                    self.post_task(
                        i,
                        Payload::TaskAffinityChanged(crate::TaskAffinityChanged { gtid }),
                    );
                }
                Some(Phase::Sleep(ns)) => {
                    self.advance_phase(i);
                    self.leave_cpu(i, c, TaskState::Blocked);
                    self.post_blocked(i, c);
                    self.schedule(now + ns, EventKind::Wake(i));
                    return;
                }
                Some(Phase::Yield) => {
                    self.advance_phase(i);
                    self.leave_cpu(i, c, TaskState::Runnable);
                    let task = &self.tasks[i as usize];
                    let payload = Payload::TaskYield(TaskYield {
                        gtid: task.gtid,
                        runtime_ns: task.runtime,
                        cpu: self.cpus[c as usize].cpu,
                        from_switchto: false,
                    });
                    self.post_task(i, payload);
                    return;
                }
                None => {
                    self.leave_cpu(i, c, TaskState::Gone);
                    let gtid = self.tasks[i as usize].gtid;
                    match self.specs[i as usize].end {
                        TaskEnd::Exit => {
                            self.post_blocked(i, c);
                            self.post_task(i, Payload::TaskDead(TaskDead { gtid }));
                        }
                        TaskEnd::Depart => {
                            let cpu = Some(self.cpus[c as usize].cpu);
                            self.post_task(
                                i,
                                Payload::TaskDeparted(TaskDeparted {
                                    gtid,
                                    cpu,
                                    from_switchto: false,
                                    was_current: true,
                                }),
                            );
                        }
                    }
                    self.tasks[i as usize].end = Some(now);
                    self.unfinished -= 1;
                    return;
                }
            }
        }
    }

    fn post_blocked(&mut self, i: u32, c: u16) {
        let task = &self.tasks[i as usize];
        let payload = Payload::TaskBlocked(TaskBlocked {
            gtid: task.gtid,
            runtime_ns: task.runtime,
            cpu: self.cpus[c as usize].cpu,
            from_switchto: false,
        });
        self.post_task(i, payload);
    }

    /// Takes task `i` off CPU `c` into `state`, recording its stretch there.
    fn leave_cpu(&mut self, i: u32, c: u16, state: TaskState) {
        self.clear_task_timer(c);
        let now = self.now;
        let cs = self.costs.context_switch_ns;
        let task = &mut self.tasks[i as usize];
        task.state = state;
        task.runnable_since = now;
        let slot = &mut self.cpus[c as usize];
        task.last_cpu = Some(slot.cpu);
        slot.current = None;
        slot.switch_ns += now.saturating_sub(task.dispatched_at).min(cs);
        let start = task.dispatched_at + cs;
        if now > start {
            slot.task_ns += now - start;
            let gtid = task.gtid;
            self.trace.record(TraceEvent::Task {
                cpu: c as usize,
                gtid,
                start_ns: start,
                end_ns: now,
            });
        }
    }

    fn preempt(&mut self, c: u16, i: u32) {
        self.account_run(i);
        let latched =
            self.now < self.tasks[i as usize].dispatched_at + self.costs.context_switch_ns;
        self.leave_cpu(i, c, TaskState::Runnable);
        let task = &mut self.tasks[i as usize];
        task.preemptions += 1;
        let payload = Payload::TaskPreempt(TaskPreempt {
            gtid: task.gtid,
            runtime_ns: task.runtime,
            cpu: self.cpus[c as usize].cpu,
            from_switchto: false,
            was_latched: latched,
        });
        self.post_task(i, payload);
    }

    /// Ticks fire at multiples of the tick period while a CPU has a task; an idle CPU's tick
    /// stops and restarts with its next task, so that idle CPUs cost no events and a scheduler
    /// that loses its tasks stalls instead of ticking to the time limit.
    fn arm_tick(&mut self, c: u16) {
        let slot = &mut self.cpus[c as usize];
        if self.ticks && !slot.tick_armed {
            slot.tick_armed = true;
            let next = (self.now / self.tick_ns + 1) * self.tick_ns;
            self.schedule(next, EventKind::Tick(c));
        }
    }

    fn tick(&mut self, c: u16) {
        let Some(i) = self.cpus[c as usize].current else {
            self.cpus[c as usize].tick_armed = false;
            return;
        };
        if self.now >= self.tasks[i as usize].run_start {
            let cpu = self.cpus[c as usize].cpu;
            self.post_cpu(c, Payload::CpuTick(CpuTick { cpu }));
        }
        self.schedule(self.now + self.tick_ns, EventKind::Tick(c));
    }

    fn interference_start(&mut self, c: u16, len: u64) {
        let now = self.now;
        let slot = &mut self.cpus[c as usize];
        if !slot.in_enclave {
            return;
        }
        let was_active = slot.interference_active;
        slot.interference_active = true;
        slot.interference_until = slot.interference_until.max(now + len);
        let until = slot.interference_until;
        self.schedule(until, EventKind::InterferenceEnd(c));
        if was_active {
            return;
        }
        if let Some(running) = self.cpus[c as usize].current {
            self.preempt(c, running);
        }
        let slot = &mut self.cpus[c as usize];
        if slot.has_agent {
            // Boosted: the agent is woken (or keeps running) to notice and yield; the burst runs
            // once it has.
            self.wake_agent(c);
        } else {
            slot.interference_since = Some(now);
            let cpu = slot.cpu;
            self.post_cpu(c, Payload::CpuNotIdle(CpuNotIdle { cpu }));
        }
    }

    fn interference_end(&mut self, c: u16) {
        let now = self.now;
        let slot = &mut self.cpus[c as usize];
        if !slot.interference_active || now < slot.interference_until {
            return;
        }
        slot.interference_active = false;
        // `since` may be after now: the agent yielded at the end of an iteration that outlasted
        // the burst, which then never ran.
        if let Some(since) = slot.interference_since.take()
            && since < now
        {
            slot.interference_ns += now - since;
            self.trace.record(TraceEvent::Interference {
                cpu: c as usize,
                start_ns: since,
                end_ns: now,
            });
        }
        let slot = &mut self.cpus[c as usize];
        if slot.has_agent {
            if slot.agent == (AgentPhase::Blocked { on_idle: true }) {
                self.wake_agent(c);
            }
        } else {
            let cpu = slot.cpu;
            self.post_cpu(c, Payload::CpuAvailable(CpuAvailable { cpu }));
        }
        if let Some(r) = self.random_interference
            && self.unfinished > 0
        {
            let gap = self.rng.around(r.mean_gap_ns);
            let len = self.rng.around(r.mean_len_ns);
            self.schedule_burst(c, now + gap, len);
        }
    }

    // ---- reports ----

    fn stuck(&self) -> Vec<StuckTask> {
        self.tasks
            .iter()
            .zip(&self.specs)
            .filter(|(t, _)| t.end.is_none())
            .map(|(t, spec)| StuckTask {
                gtid: t.gtid,
                name: spec.name.clone(),
                state: match t.state {
                    TaskState::NotArrived => "not arrived".into(),
                    TaskState::Runnable => "runnable".into(),
                    TaskState::OnCpu(c) => format!("on cpu{c}"),
                    TaskState::Blocked => "blocked".into(),
                    TaskState::Gone => "gone".into(),
                },
                channel: t.channel as usize,
                pending_messages: t.pending,
            })
            .collect()
    }

    pub(crate) fn stalled(&self) -> SimError {
        SimError::Stalled {
            now_ns: self.now,
            stuck: self.stuck(),
        }
    }

    pub(crate) fn time_limit(&self) -> SimError {
        SimError::TimeLimit {
            limit_ns: self.max_time_ns,
            stuck: self.stuck(),
        }
    }

    pub(crate) fn report(&self) -> SimReport {
        let end_ns = self.now;
        let tasks = self
            .tasks
            .iter()
            .zip(&self.specs)
            .map(|(t, spec)| TaskReport {
                gtid: t.gtid,
                name: spec.name.clone(),
                arrival_ns: t.arrival,
                start_ns: t.first_run,
                end_ns: t.end,
                runtime_ns: t.runtime,
                wait_ns: t.wait,
                context_switches: t.switches,
                preemptions: t.preemptions,
            })
            .collect();
        let cpus = self
            .enclave_cpus
            .iter()
            .map(|id| {
                let s = &self.cpus[id];
                CpuReport {
                    cpu: id,
                    task_ns: s.task_ns,
                    agent_ns: s.agent_ns,
                    interference_ns: s.interference_ns,
                    switch_ns: s.switch_ns,
                    context_switches: s.switches,
                    utilisation: if end_ns == 0 {
                        0.0
                    } else {
                        s.task_ns as f64 / end_ns as f64
                    },
                }
            })
            .collect();
        let mut task_names = vec![String::new()];
        task_names.extend(self.specs.iter().map(|s| s.name.clone()));
        SimReport {
            end_ns,
            tasks,
            cpus,
            messages: self.stats.messages,
            messages_by_kind: MessageKind::ALL
                .iter()
                .map(|k| (*k, self.stats.by_kind[*k as usize]))
                .collect(),
            agent_runs: self.stats.agent_runs,
            commits: self.stats.commits,
            failed_commits: TxnState::FAILURES
                .iter()
                .enumerate()
                .map(|(k, s)| (*s, self.stats.failed[k]))
                .collect(),
            failed_yields: self.stats.failed_yields,
            associations: self.stats.associations,
            failed_associations: self.stats.failed_associations,
            trace_hash: self.trace.hash(),
            trace: self.trace.events().map(|events| Trace {
                events: events.to_vec(),
                cpus: self.enclave_cpus.iter().collect(),
                task_names,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{NO_TIMER, TimerTree};
    use crate::sim::SimRng;

    /// The tree's earliest slot is always the brute-force minimum, through random sets and
    /// clears (including sets that leave a node unchanged, where updates stop early).
    #[test]
    fn timer_tree_tracks_the_minimum() {
        for slots in [1, 2, 3, 8, 13, 16] {
            let mut rng = SimRng::new(slots as u64);
            let mut tree = TimerTree::new(slots);
            let mut model = vec![NO_TIMER; slots];
            assert_eq!(tree.earliest(), None);
            for seq in 0..5_000u64 {
                let slot = rng.range(0, slots as u64 - 1) as usize;
                let key = if rng.range(0, 3) == 0 {
                    NO_TIMER
                } else {
                    (rng.range(0, 50), seq)
                };
                tree.set(slot, key);
                model[slot] = key;
                let want = model
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| **k != NO_TIMER)
                    .min_by_key(|(_, k)| **k)
                    .map(|(s, k)| (s, *k));
                assert_eq!(tree.earliest(), want, "{slots} slots after {seq} updates");
                assert_eq!(tree.get(slot), key);
            }
        }
    }
}
