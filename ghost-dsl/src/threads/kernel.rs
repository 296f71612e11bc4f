//! The enclave's kernel side over real threads: tasks, channels, barriers, transactions and the
//! messages real events produce, all under one lock ([`State`]).
//!
//! The rules are the ABI's shared ones ([`rules`]: task and agent words, message posting, the
//! commit and association checks), as the simulator applies them: a task message bumps the
//! task's seqnum and the barrier of the agent its channel wakes, and wakes that agent; an agent
//! taking its CPU (per-CPU model) preempts the managed thread there. What differs is only what
//! carries them out: a commit sets the target's gate and pins it, a preemption clears the gate
//! and (after the agent's iteration) signals the thread. The agent's calls are in `ops.rs`.
//!
//! Wakes (agent futexes, gates, affinity changes, signals) are collected in [`State::wakes`]
//! while the lock is held and carried out after it is released ([`flush`]), so that a woken
//! thread never finds the lock taken by its waker.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use super::gate::ThreadCell;
use super::sys;
use crate::abi::TraceEvent;
use crate::abi::rules::{self, AgentWord, CommitCpu, CommitTarget, TaskWord, Txn};
use crate::{
    AgentModel, Cpu, CpuList, CpuTick, Gtid, Message, MessageKind, Payload, RunRequestOptions,
    TaskAttrs, TaskBlocked, TaskDead, TaskNew, TaskPreempt, TaskWakeup, TaskYield, Topology,
    TxnState,
};

/// The most trace events a run keeps (about 100 MB); later events are not recorded.
pub(crate) const TRACE_CAP: usize = 2_000_000;

/// A managed thread as the enclave sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TState {
    /// Spawned before the enclave was attached: no `MSG_TASK_NEW` yet.
    Starting,
    /// Runnable, not on a CPU.
    Runnable,
    /// Committed to the CPU at this index of [`State::cpus`].
    OnCpu(usize),
    /// Blocked (in an enclave call, or in the kernel as the monitor saw it).
    Blocked,
    /// Returned or panicked.
    Dead,
}

/// Why a blocked thread is blocked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlockKind {
    /// In [`sleep`](super::sleep) until a deadline (ns since the enclave started).
    Sleep,
    /// In [`park`](super::park).
    Park,
    /// In [`blocking`](super::blocking): a call the thread announced.
    Call,
    /// In the kernel, outside the enclave's calls, as the monitor saw it.
    Kernel,
}

pub(crate) struct ThreadState {
    pub(crate) gtid: Gtid,
    pub(crate) name: String,
    pub(crate) cell: Arc<ThreadCell>,
    pub(crate) state: TState,
    pub(crate) block: Option<BlockKind>,
    /// Seqnum, channel, pending messages: the shared rules' task word.
    pub(crate) word: TaskWord,
    pub(crate) affinity: CpuList,
    pub(crate) attrs: TaskAttrs,
    /// The CPU its affinity is set to (`None`: never pinned).
    pub(crate) pinned: Option<usize>,
    /// A preemption the thread has not been signalled for yet.
    pub(crate) stop_pending: bool,
    /// `unpark` came while the thread was not parked.
    pub(crate) token: bool,
    pub(crate) arrival_ns: u64,
    pub(crate) start_ns: Option<u64>,
    pub(crate) end_ns: Option<u64>,
    pub(crate) runtime_ns: u64,
    pub(crate) on_since: u64,
    pub(crate) runnable_since: Option<u64>,
    pub(crate) waits: Vec<u64>,
    pub(crate) switches: u64,
    pub(crate) preemptions: u64,
    pub(crate) last_cpu: Option<Cpu>,
    pub(crate) panic: Option<String>,
    /// Consecutive monitor polls that saw the running thread asleep in the kernel.
    pub(crate) asleep_polls: u8,
    /// Where the thread called [`park`](super::park) (or `handoff`) last.
    pub(crate) parked_at: Option<&'static std::panic::Location<'static>>,
}

impl ThreadState {
    /// The CPU the thread's affinity was last set to.
    pub(crate) fn pinned_cpu(&self) -> Option<usize> {
        self.pinned
    }
}

pub(crate) struct CpuState {
    pub(crate) cpu: Cpu,
    pub(crate) channel: u16,
    /// The agent's barrier, snapshot and outcome (the shared rules' agent word): bumped by every
    /// message posted to the channel this CPU's agent waits on, and by pings.
    pub(crate) agent: AgentWord,
    pub(crate) txn: Txn,
    pub(crate) current: Option<usize>,
    pub(crate) has_agent: bool,
    pub(crate) runs_tasks: bool,
    /// The next tick of this CPU (ns), while a task runs and ticks are on.
    pub(crate) next_tick: Option<u64>,
    /// The futex word the agent thread of this CPU sleeps on (bumped with the barrier).
    pub(crate) word: Arc<AtomicU32>,
    pub(crate) task_ns: u64,
    pub(crate) agent_ns: u64,
    pub(crate) switches: u64,
}

pub(crate) struct ChannelState {
    pub(crate) queue: VecDeque<Message>,
    /// The CPU index whose agent the channel wakes.
    pub(crate) wake: usize,
}

/// A wake to carry out once the lock is released.
pub(crate) enum Wake {
    /// Wake an agent sleeping on its futex word (bumped already).
    Agent(Arc<AtomicU32>),
    /// Let a thread run: pin it first if `pin` is set.
    Run {
        cell: Arc<ThreadCell>,
        pin: Option<usize>,
    },
    /// Stop a running thread: the preemption signal.
    Stop(Arc<ThreadCell>),
}

/// Carries out wakes collected under the lock. Signals first, so that a thread losing a CPU is
/// stopped before the one taking it is released.
pub(crate) fn flush(wakes: &mut Vec<Wake>) {
    for wake in wakes.iter() {
        if let Wake::Stop(cell) = wake
            && !cell.may_run()
        {
            let tid = cell.tid.load(Ordering::Acquire);
            if tid != 0 {
                // ESRCH: it exited meanwhile; nothing to stop.
                let _ = sys::tgkill(tid, sys::preempt_signal());
            }
        }
    }
    // One futex wake per agent however many messages it got: a second wake would start a
    // second, empty iteration (which preempts the thread the first one committed).
    let mut woken: [*const AtomicU32; 4] = [std::ptr::null(); 4];
    let mut n_woken = 0;
    for wake in wakes.drain(..) {
        match wake {
            Wake::Agent(word) => {
                let ptr = Arc::as_ptr(&word);
                if woken[..n_woken].contains(&ptr) {
                    continue;
                }
                if n_woken < woken.len() {
                    woken[n_woken] = ptr;
                    n_woken += 1;
                }
                sys::futex_wake_all(&word);
            }
            Wake::Run { cell, pin } => {
                if let Some(cpu) = pin {
                    let tid = cell.tid.load(Ordering::Acquire);
                    // A thread not started yet pins itself when it starts (it reads its CPU).
                    if tid != 0 {
                        let _ = sys::set_affinity(tid, &[cpu]);
                    }
                }
                sys::futex_wake_all(&cell.gate);
            }
            Wake::Stop(_) => {}
        }
    }
}

/// Counters the report shows.
#[derive(Clone, Debug, Default)]
pub(crate) struct Stats {
    pub(crate) messages: u64,
    pub(crate) by_kind: [u64; MessageKind::ALL.len()],
    pub(crate) agent_runs: u64,
    pub(crate) commits: u64,
    pub(crate) failed: [u64; TxnState::FAILURES.len()],
    pub(crate) failed_yields: u64,
    pub(crate) associations: u64,
    pub(crate) failed_associations: u64,
    pub(crate) kernel_blocks: u64,
    /// `sched_switch` records the monitor read.
    pub(crate) switch_records: u64,
}

/// The enclave's kernel state.
pub(crate) struct State {
    pub(crate) start: Instant,
    pub(crate) topology: Topology,
    pub(crate) enclave: CpuList,
    pub(crate) model: AgentModel,
    pub(crate) cpus: Vec<CpuState>,
    /// Enclave index by CPU id.
    pub(crate) index: Vec<Option<usize>>,
    pub(crate) channels: Vec<ChannelState>,
    pub(crate) threads: Vec<ThreadState>,
    pub(crate) wakes: Vec<Wake>,
    pub(crate) stats: Stats,
    pub(crate) trace: Option<Vec<TraceEvent>>,
    /// The tick period, ns.
    pub(crate) tick_ns: u64,
    /// Whether `MSG_CPU_TICK` is delivered (the agent config, or `set_deliver_ticks`).
    pub(crate) ticks: bool,
    pub(crate) attached: bool,
    /// Set once every thread was released to the OS scheduler.
    pub(crate) fallen_back: bool,
    /// Set when the run has ended: a thread spawned later runs under the OS scheduler.
    pub(crate) ended: bool,
    /// How the run detects kernel blocks.
    pub(crate) block_detection: super::report::BlockDetection,
    /// Why tracepoints could not be used, if they were asked for.
    pub(crate) block_detection_note: Option<String>,
    /// Threads not dead yet.
    pub(crate) live: usize,
}

impl State {
    pub(crate) fn new(topology: Topology, trace: bool) -> Self {
        Self {
            start: Instant::now(),
            topology,
            enclave: CpuList::new(),
            model: AgentModel::PerCpu,
            cpus: Vec::new(),
            index: Vec::new(),
            channels: Vec::new(),
            threads: Vec::new(),
            wakes: Vec::new(),
            stats: Stats::default(),
            trace: trace.then(Vec::new),
            tick_ns: 1_000_000,
            ticks: false,
            attached: false,
            fallen_back: false,
            ended: false,
            block_detection: super::report::BlockDetection::Polling,
            block_detection_note: None,
            live: 0,
        }
    }

    pub(crate) fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    /// Builds CPUs and channels for `model` over `cpus` (already checked against the machine).
    pub(crate) fn attach(&mut self, model: AgentModel, cpus: &CpuList, ticks: bool, tick_ns: u64) {
        self.model = model;
        self.enclave = *cpus;
        self.ticks = ticks;
        self.tick_ns = tick_ns;
        self.index = vec![None; self.topology.num_cpus()];
        let ids: Vec<usize> = cpus.iter().collect();
        for (k, &id) in ids.iter().enumerate() {
            self.index[id] = Some(k);
            let per_cpu = model == AgentModel::PerCpu;
            self.cpus.push(CpuState {
                cpu: self.topology.cpu(id).expect("checked against the topology"),
                channel: if per_cpu { k as u16 } else { 0 },
                agent: AgentWord::new(),
                txn: Txn::new(),
                current: None,
                has_agent: per_cpu || k == 0,
                runs_tasks: per_cpu || k != 0,
                next_tick: None,
                word: Arc::new(AtomicU32::new(0)),
                task_ns: 0,
                agent_ns: 0,
                switches: 0,
            });
            if per_cpu || k == 0 {
                self.channels.push(ChannelState {
                    queue: VecDeque::new(),
                    wake: k,
                });
            }
        }
        for t in &mut self.threads {
            t.affinity = *cpus;
        }
        self.attached = true;
    }

    pub(crate) fn cpu_index(&self, cpu: Cpu) -> Option<usize> {
        self.index.get(cpu.id()).copied().flatten()
    }

    // ---- threads ----

    /// Registers a new thread (before or during the run); posts `MSG_TASK_NEW` when attached.
    pub(crate) fn add_thread(
        &mut self,
        name: String,
        attrs: TaskAttrs,
        cell: Arc<ThreadCell>,
    ) -> Gtid {
        let tid = u32::try_from(self.threads.len() + 1).expect("fewer than 2^32 threads");
        let gtid = Gtid::new(tid, 0);
        let now = self.now_ns();
        self.threads.push(ThreadState {
            gtid,
            name,
            cell,
            state: TState::Starting,
            block: None,
            word: TaskWord::new(),
            affinity: self.enclave,
            attrs,
            pinned: None,
            stop_pending: false,
            token: false,
            arrival_ns: now,
            start_ns: None,
            end_ns: None,
            runtime_ns: 0,
            on_since: 0,
            runnable_since: None,
            waits: Vec::new(),
            switches: 0,
            preemptions: 0,
            last_cpu: None,
            panic: None,
            asleep_polls: 0,
            parked_at: None,
        });
        self.live += 1;
        if self.ended || self.fallen_back {
            // No agent any more: the thread is the OS scheduler's from the start.
            let t = &mut self.threads[tid as usize - 1];
            t.cell.set_free();
            t.state = TState::Runnable;
        } else if self.attached {
            self.arrive(tid as usize - 1);
        }
        gtid
    }

    /// `MSG_TASK_NEW` for a thread spawned before attach, or just now.
    pub(crate) fn arrive(&mut self, i: usize) {
        let now = self.now_ns();
        let t = &mut self.threads[i];
        t.state = TState::Runnable;
        t.arrival_ns = now;
        t.runnable_since = Some(now);
        let gtid = t.gtid;
        if self.fallen_back {
            return;
        }
        self.post_task(
            i,
            Payload::TaskNew(TaskNew {
                gtid,
                runnable: true,
                runtime_ns: 0,
            }),
        );
    }

    pub(crate) fn leave(&mut self, i: usize, c: usize, now: u64) {
        let t = &mut self.threads[i];
        let ran = now.saturating_sub(t.on_since);
        t.runtime_ns += ran;
        t.last_cpu = Some(self.cpus[c].cpu);
        t.cell.set_run(false);
        let gtid = t.gtid;
        let slot = &mut self.cpus[c];
        slot.task_ns += ran;
        slot.current = None;
        slot.next_tick = None;
        if let Some(trace) = self.trace.as_mut().filter(|t| t.len() < TRACE_CAP) {
            trace.push(TraceEvent::Task {
                cpu: slot.cpu.id(),
                gtid,
                start_ns: now - ran,
                end_ns: now,
            });
        }
    }

    /// The running thread `i` blocks (`kind`): `MSG_TASK_BLOCKED`. False if it was not on a CPU.
    pub(crate) fn block(&mut self, i: usize, kind: BlockKind) -> bool {
        let TState::OnCpu(c) = self.threads[i].state else {
            return false;
        };
        let now = self.now_ns();
        self.leave(i, c, now);
        let t = &mut self.threads[i];
        t.state = TState::Blocked;
        t.block = Some(kind);
        if kind == BlockKind::Kernel {
            // Physically still in the kernel: the gate stays open so that it is not stopped
            // twice; the monitor stops it when it wakes.
            t.cell.set_run(true);
            self.stats.kernel_blocks += 1;
        }
        let payload = Payload::TaskBlocked(TaskBlocked {
            gtid: t.gtid,
            runtime_ns: t.runtime_ns,
            cpu: self.cpus[c].cpu,
            from_switchto: false,
        });
        self.post_task(i, payload);
        true
    }

    /// The blocked thread `i` is runnable again: `MSG_TASK_WAKEUP`.
    pub(crate) fn wake(&mut self, i: usize) -> bool {
        let t = &mut self.threads[i];
        if t.state != TState::Blocked {
            return false;
        }
        let now = self.start.elapsed().as_nanos() as u64;
        t.state = TState::Runnable;
        t.block = None;
        t.runnable_since = Some(now);
        t.cell.set_run(false);
        let payload = Payload::TaskWakeup(TaskWakeup {
            gtid: t.gtid,
            deferrable: false,
            last_ran_cpu: t.last_cpu,
        });
        self.post_task(i, payload);
        true
    }

    /// The running thread `i` yields: `MSG_TASK_YIELD`.
    pub(crate) fn yield_cpu(&mut self, i: usize) -> bool {
        let TState::OnCpu(c) = self.threads[i].state else {
            return false;
        };
        let now = self.now_ns();
        self.leave(i, c, now);
        let t = &mut self.threads[i];
        t.state = TState::Runnable;
        t.runnable_since = Some(now);
        let payload = Payload::TaskYield(TaskYield {
            gtid: t.gtid,
            runtime_ns: t.runtime_ns,
            cpu: self.cpus[c].cpu,
            from_switchto: false,
        });
        self.post_task(i, payload);
        true
    }

    /// Thread `i` returned or panicked: `MSG_TASK_BLOCKED` if it was on a CPU, `MSG_TASK_DEAD`.
    pub(crate) fn exit(&mut self, i: usize, panic: Option<String>) {
        let now = self.now_ns();
        let was_attached = !matches!(self.threads[i].state, TState::Starting);
        self.block(i, BlockKind::Call);
        let t = &mut self.threads[i];
        if t.state == TState::Dead {
            return;
        }
        t.state = TState::Dead;
        t.end_ns = Some(now);
        t.panic = panic;
        t.runnable_since = None;
        let gtid = t.gtid;
        self.live -= 1;
        // After a fallback the agent is gone: nobody to tell.
        if was_attached && !self.fallen_back {
            self.post_task(i, Payload::TaskDead(TaskDead { gtid }));
        }
    }

    /// The agent of CPU `c` takes it (per-CPU model) or a commit replaces the thread there:
    /// `MSG_TASK_PREEMPT` for the thread on `c`. The thread is signalled after the iteration
    /// unless it is committed again meanwhile.
    pub(crate) fn preempt(&mut self, c: usize) {
        let Some(i) = self.cpus[c].current else {
            return;
        };
        let now = self.now_ns();
        self.leave(i, c, now);
        let t = &mut self.threads[i];
        t.state = TState::Runnable;
        t.runnable_since = Some(now);
        t.preemptions += 1;
        t.stop_pending = true;
        let payload = Payload::TaskPreempt(TaskPreempt {
            gtid: t.gtid,
            runtime_ns: t.runtime_ns,
            cpu: self.cpus[c].cpu,
            from_switchto: false,
            was_latched: false,
        });
        self.post_task(i, payload);
    }

    /// Signals every preempted thread not committed again (end of an agent iteration).
    pub(crate) fn stop_preempted(&mut self) {
        for t in &mut self.threads {
            if std::mem::take(&mut t.stop_pending) && !t.cell.may_run() {
                self.wakes.push(Wake::Stop(t.cell.clone()));
            }
        }
    }

    // ---- messages ----

    /// Queues `msg` (its barrier bump done by the rules) on `channel` and wakes its agent.
    pub(crate) fn push_message(&mut self, channel: u16, msg: Message) {
        let now = self.now_ns();
        let ch = &mut self.channels[channel as usize];
        ch.queue.push_back(msg);
        let wake = ch.wake;
        self.stats.messages += 1;
        self.stats.by_kind[msg.kind() as usize] += 1;
        if let Some(trace) = self.trace.as_mut().filter(|t| t.len() < TRACE_CAP) {
            trace.push(TraceEvent::Message {
                time_ns: now,
                cpu: self.cpus[wake].cpu.id(),
                kind: msg.kind(),
                gtid: msg.gtid(),
                seqnum: msg.seqnum().0,
            });
        }
        self.wake_agent(wake);
    }

    /// Wakes the agent of CPU `c` (its barrier has moved on).
    pub(crate) fn wake_agent(&mut self, c: usize) {
        let slot = &mut self.cpus[c];
        // Bumped now, under the lock, so that an agent reading the word in `begin_iteration`
        // sees every message posted before it; the futex wake itself waits for the unlock.
        slot.word.fetch_add(1, Ordering::Release);
        self.wakes.push(Wake::Agent(slot.word.clone()));
    }

    pub(crate) fn post_task(&mut self, i: usize, payload: Payload) {
        // After a fallback the agents are gone: the threads' events are no one's business.
        if self.fallen_back {
            return;
        }
        let channel = self.threads[i].word.channel();
        let wake = self.channels[channel as usize].wake;
        let msg = rules::post_task(
            &mut self.threads[i].word,
            &mut self.cpus[wake].agent,
            payload,
        );
        self.push_message(channel, msg);
    }

    /// `MSG_CPU_TICK` on CPU `c`.
    pub(crate) fn tick(&mut self, c: usize) {
        let cpu = self.cpus[c].cpu;
        let channel = self.cpus[c].channel;
        let wake = self.channels[channel as usize].wake;
        let msg = rules::post_cpu(
            &mut self.cpus[wake].agent,
            Payload::CpuTick(CpuTick { cpu }),
        );
        self.push_message(channel, msg);
    }

    /// Posts ticks that are due on CPUs the agent at `a` schedules, and re-arms them.
    pub(crate) fn due_ticks(&mut self, a: usize, now: u64) {
        if !self.ticks {
            return;
        }
        let period = self.tick_ns;
        for c in 0..self.cpus.len() {
            if self.schedules(a, c)
                && let Some(at) = self.cpus[c].next_tick
                && at <= now
                && self.cpus[c].current.is_some()
            {
                self.cpus[c].next_tick = Some(now.saturating_add(period));
                self.tick(c);
            }
        }
    }

    /// The earliest tick the agent at `a` must post.
    pub(crate) fn next_tick_for(&self, a: usize) -> Option<u64> {
        (0..self.cpus.len())
            .filter(|&c| self.schedules(a, c))
            .filter_map(|c| self.cpus[c].next_tick)
            .min()
    }

    /// Whether the agent at `a` schedules CPU `c`.
    pub(crate) fn schedules(&self, a: usize, c: usize) -> bool {
        match self.model {
            AgentModel::PerCpu => a == c,
            _ => self.cpus[c].runs_tasks,
        }
    }

    // ---- agent iterations ----

    /// Starts an iteration of the agent at `a`: it takes its CPU (per-CPU model: the thread
    /// there is preempted), due ticks are posted, the barrier is read. Returns the futex value
    /// to sleep on after the iteration.
    pub(crate) fn begin_iteration(&mut self, a: usize) -> u32 {
        let now = self.now_ns();
        // Ticks first: the tick came while the thread ran (and leaving the CPU disarms it).
        self.due_ticks(a, now);
        if self.model == AgentModel::PerCpu {
            self.preempt(a);
        }
        let slot = &mut self.cpus[a];
        slot.agent.begin_iteration();
        self.stats.agent_runs += 1;
        slot.word.load(Ordering::Acquire)
    }

    /// Ends the iteration: preempted threads not committed again are signalled. Returns whether
    /// the agent blocks now.
    pub(crate) fn end_iteration(&mut self, a: usize, started_ns: u64) -> bool {
        let now = self.now_ns();
        self.stop_preempted();
        let slot = &mut self.cpus[a];
        slot.agent_ns += now.saturating_sub(started_ns);
        if let Some(trace) = self.trace.as_mut().filter(|t| t.len() < TRACE_CAP) {
            trace.push(TraceEvent::Agent {
                cpu: slot.cpu.id(),
                start_ns: started_ns,
                end_ns: now,
            });
        }
        slot.agent.after().blocks()
    }

    // ---- what an agent calls: the ABI's kernel side ----

    pub(crate) fn live_index(&self, gtid: Gtid) -> Option<usize> {
        let i = (gtid.tid() as usize).checked_sub(1)?;
        let t = self.threads.get(i)?;
        (t.gtid == gtid && !matches!(t.state, TState::Starting | TState::Dead)).then_some(i)
    }

    /// Puts thread `i` on CPU `c`: accounting, the gate, the pin.
    pub(crate) fn place(&mut self, i: usize, c: usize, now: u64) {
        let id = self.cpus[c].cpu.id();
        let tick = self.ticks.then(|| now.saturating_add(self.tick_ns));
        let t = &mut self.threads[i];
        if let Some(since) = t.runnable_since.take() {
            t.waits.push(now.saturating_sub(since));
        }
        t.start_ns.get_or_insert(now);
        t.state = TState::OnCpu(c);
        t.on_since = now;
        t.switches += 1;
        t.stop_pending = false;
        t.cell.set_run(true);
        let pin = (t.pinned != Some(id)).then_some(id);
        t.pinned = Some(id);
        self.wakes.push(Wake::Run {
            cell: t.cell.clone(),
            pin,
        });
        let slot = &mut self.cpus[c];
        slot.current = Some(i);
        slot.switches += 1;
        slot.next_tick = tick;
    }

    /// The commit check's view of CPU `c` and of the target of its open transaction.
    pub(crate) fn commit_facts(
        &self,
        c: usize,
        options: &RunRequestOptions,
    ) -> (CommitCpu, CommitTarget) {
        let slot = &self.cpus[c];
        let cpu = CommitCpu {
            in_enclave: true,
            runs_tasks: slot.runs_tasks,
            // Nothing of a higher class is tracked on real CPUs (the agent's real-time priority
            // is the only one above managed threads), and iterations are serialised, so no
            // other agent holds the CPU during a commit.
            unavailable: false,
            agent_holds_cpu: false,
        };
        let target = match self.live_index(options.target) {
            Some(i) => {
                let t = &self.threads[i];
                CommitTarget::Live {
                    seqnum: t.word.seqnum(),
                    on_cpu: matches!(t.state, TState::OnCpu(_)),
                    runnable: t.state == TState::Runnable,
                    allowed: rules::allowed_on(&t.affinity, slot.cpu),
                }
            }
            None => CommitTarget::NotFound,
        };
        (cpu, target)
    }

    /// Releases every thread to the OS scheduler: gates freed for good, affinity back to
    /// `machine`. Idempotent.
    pub(crate) fn fall_back(&mut self, machine: &[usize]) {
        if self.fallen_back {
            return;
        }
        self.fallen_back = true;
        let now = self.now_ns();
        for c in 0..self.cpus.len() {
            if let Some(i) = self.cpus[c].current {
                self.leave(i, c, now);
                self.threads[i].state = TState::Runnable;
            }
        }
        for t in &mut self.threads {
            t.cell.set_free();
            let tid = t.cell.tid.load(Ordering::Acquire);
            if tid != 0 && t.state != TState::Dead {
                let _ = sys::set_affinity(tid, machine);
            }
            sys::futex_wake_all(&t.cell.gate);
        }
    }

    /// When every live thread is parked ([`BlockKind::Park`]) and no [`ThreadHandle`] of any
    /// of them exists, nothing can ever wake them (only a handle unparks, and every other
    /// thread is parked too): the parked threads as (name (gtid), where they parked). `None`
    /// while any thread could still make progress or be woken.
    ///
    /// [`ThreadHandle`]: super::ThreadHandle
    pub(crate) fn deadlocked(&self) -> Option<Vec<(String, String)>> {
        if self.live == 0 {
            return None;
        }
        let mut parked = Vec::new();
        for t in self.threads.iter().filter(|t| t.state != TState::Dead) {
            if t.state != TState::Blocked
                || t.block != Some(BlockKind::Park)
                || t.token
                || t.cell.handles.load(Ordering::Acquire) != 0
            {
                return None;
            }
            let at = t
                .parked_at
                .map_or_else(|| "an unknown place".to_owned(), ToString::to_string);
            parked.push((format!("{} ({})", t.name, t.gtid), at));
        }
        Some(parked)
    }

    /// Names (and gtids) of the threads that have not ended.
    pub(crate) fn unfinished(&self) -> Vec<String> {
        self.threads
            .iter()
            .filter(|t| t.state != TState::Dead)
            .map(|t| format!("{} ({})", t.name, t.gtid))
            .collect()
    }

    /// Once a thread has been runnable for longer than `limit_ns`, every runnable thread still
    /// waiting for a commit, with how long it waited (name, waited ns); empty before. All of
    /// them, not only those past the limit: threads the same lost policy starves but that
    /// became runnable a moment later are part of the same fault.
    pub(crate) fn starving(&self, limit_ns: u64) -> Vec<(String, u64)> {
        let now = self.now_ns();
        let waiting: Vec<(String, u64)> = self
            .threads
            .iter()
            .filter(|t| t.state == TState::Runnable)
            .filter_map(|t| {
                let waited = now.saturating_sub(t.runnable_since?);
                Some((format!("{} ({})", t.name, t.gtid), waited))
            })
            .collect();
        if waiting.iter().any(|&(_, waited)| waited > limit_ns) {
            waiting
        } else {
            Vec::new()
        }
    }
}
