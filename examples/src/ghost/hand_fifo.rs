//! The tutorial's per-CPU FIFO scheduler, written by hand against the ghost-dsl ABI (no macro).
//!
//! This is what a careful ghOSt user writes following the tutorial to its SMP step: a task state
//! (`Blocked` / `Queued` / `Running`) and CPU per task, a run queue and a `current` per CPU, new
//! tasks spread round-robin over the enclave's CPUs with `associate_task` in `task_new` (falling
//! back to the default channel's CPU when association fails), and the tutorial's `CHECK`s on
//! every transition: a message that does not fit the task's state panics with the message, the
//! task and the state. It is the anchor the `ghost` bench measures the generated scheduler
//! against, and the driver of ghost-dsl's simulator tests.
//!
//! Choices the tutorial leaves open, made as ghOSt's own `fifo/per_cpu` makes them: a preempted
//! task goes back to the *front* of its queue (so FIFO runs each task to completion: t2 starts
//! when t1 ends); a failed commit puts the task back at the front and lets the agent loop retry.

use std::collections::VecDeque;

use ghost_dsl::abi::{AsKernel, EnclaveKernel};
use ghost_dsl::{
    Agent, AgentEnclave, AgentModel, BarrierToken, CommitFlags, Cpu, Gtid, Message, Payload,
    PerCpu, RunFlags, RunRequestOptions, TaskAllocator,
};

/// Where a task is in its life, as the scheduler sees it (the tutorial's `TutorialTaskState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FifoState {
    /// Not runnable.
    Blocked,
    /// In its CPU's run queue.
    Queued,
    /// Committed onto its CPU (`current`).
    Running,
}

/// Per-task state (the tutorial's `TutorialTask`).
#[derive(Clone, Copy, Debug)]
pub struct FifoTask {
    /// Its state.
    pub state: FifoState,
    /// The CPU whose agent schedules it.
    pub cpu: Cpu,
    /// The seqnum of its latest message processed (its barrier for commits).
    pub seqnum: BarrierToken,
}

/// Per-CPU state (the tutorial's `TutorialCpuState`).
#[derive(Debug, Default)]
struct CpuState {
    current: Option<Gtid>,
    rq: VecDeque<Gtid>,
}

/// The hand-written per-CPU FIFO scheduler.
#[derive(Debug, Default)]
pub struct HandFifo {
    tasks: TaskAllocator<FifoTask>,
    cpus: PerCpu<CpuState>,
    /// The enclave's CPUs, for round-robin placement (filled in `enclave_ready`).
    placement: Vec<Cpu>,
    next_placement: usize,
    /// Commits that failed (the agent retried them).
    pub failed_commits: u64,
    /// `associate_task` calls that failed (the task stayed on the default channel's CPU).
    pub failed_associations: u64,
}

impl HandFifo {
    /// A scheduler with no task yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The tutorial's `SelectCpu`: the enclave's CPUs in turn.
    fn select_cpu(&mut self) -> Cpu {
        let cpu = self.placement[self.next_placement];
        self.next_placement = (self.next_placement + 1) % self.placement.len();
        cpu
    }

    fn task(&mut self, msg: &Message, gtid: Gtid, cpu: Cpu) -> &mut FifoTask {
        let task = self
            .tasks
            .get_mut(gtid)
            .unwrap_or_else(|| panic!("hand FIFO: {msg} on {cpu} for a task it does not know"));
        assert_eq!(
            task.cpu, cpu,
            "hand FIFO: {msg} drained on {cpu} but the task belongs to {}",
            task.cpu
        );
        task.seqnum = msg.seqnum();
        task
    }

    fn dispatch<K: ?Sized + AsKernel>(
        &mut self,
        cpu: Cpu,
        msg: &Message,
        enclave: &mut AgentEnclave<'_, K>,
    ) {
        match *msg.payload() {
            Payload::TaskNew(new) => {
                assert!(
                    !self.tasks.contains(new.gtid),
                    "hand FIFO: {msg} for a task it already has"
                );
                let mut target = self.select_cpu();
                let channel = enclave.channel(target);
                if channel
                    .associate_task(enclave, new.gtid, msg.seqnum())
                    .is_err()
                {
                    self.failed_associations += 1;
                    target = cpu;
                }
                let state = if new.runnable {
                    FifoState::Queued
                } else {
                    FifoState::Blocked
                };
                let task = FifoTask {
                    state,
                    cpu: target,
                    seqnum: msg.seqnum(),
                };
                assert!(
                    self.tasks.insert(new.gtid, task).is_ok(),
                    "hand FIFO: {msg}: tid reused by a live task"
                );
                if new.runnable {
                    self.cpus[target].rq.push_back(new.gtid);
                    if target != cpu {
                        enclave.ping(target);
                    }
                }
            }
            Payload::TaskWakeup(w) => {
                let task = self.task(msg, w.gtid, cpu);
                assert_eq!(
                    task.state,
                    FifoState::Blocked,
                    "hand FIFO: {msg}: task was not blocked"
                );
                task.state = FifoState::Queued;
                self.cpus[cpu].rq.push_back(w.gtid);
            }
            Payload::TaskBlocked(b) => {
                self.off_cpu(msg, b.gtid, cpu, FifoState::Blocked);
            }
            Payload::TaskPreempt(p) => {
                self.off_cpu(msg, p.gtid, cpu, FifoState::Queued);
                self.cpus[cpu].rq.push_front(p.gtid);
            }
            Payload::TaskYield(y) => {
                self.off_cpu(msg, y.gtid, cpu, FifoState::Queued);
                self.cpus[cpu].rq.push_back(y.gtid);
            }
            Payload::TaskDead(d) => {
                let task = self.task(msg, d.gtid, cpu);
                assert_eq!(
                    task.state,
                    FifoState::Blocked,
                    "hand FIFO: {msg}: a dead task must be blocked"
                );
                self.tasks.remove(d.gtid);
            }
            Payload::TaskDeparted(d) => {
                let state = self.task(msg, d.gtid, cpu).state;
                let cs = &mut self.cpus[cpu];
                match state {
                    FifoState::Running => {
                        assert_eq!(cs.current, Some(d.gtid), "hand FIFO: {msg}: not current");
                        cs.current = None;
                    }
                    FifoState::Queued => cs.rq.retain(|g| *g != d.gtid),
                    FifoState::Blocked => {}
                }
                self.tasks.remove(d.gtid);
            }
            // FIFO places tasks once and ignores ticks and CPU availability messages.
            Payload::TaskAffinityChanged(_)
            | Payload::CpuTick(_)
            | Payload::CpuNotIdle(_)
            | Payload::CpuAvailable(_) => {}
        }
    }

    /// The running task left the CPU (blocked, preempted, yielded): the tutorial's CHECKs that it
    /// was `current` and `Running`.
    fn off_cpu(&mut self, msg: &Message, gtid: Gtid, cpu: Cpu, to: FifoState) {
        let task = self.task(msg, gtid, cpu);
        assert_eq!(
            task.state,
            FifoState::Running,
            "hand FIFO: {msg}: task was not running"
        );
        task.state = to;
        let cs = &mut self.cpus[cpu];
        assert_eq!(
            cs.current,
            Some(gtid),
            "hand FIFO: {msg}: task is not current on {cpu}"
        );
        cs.current = None;
    }
}

impl HandFifo {
    /// One iteration of the agent loop, on any kernel.
    fn iteration<K: ?Sized + AsKernel>(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_, K>) {
        // (1) The barrier first, so that a message arriving during the drain makes the commit
        // fail rather than go unseen.
        let barrier = enclave.agent_barrier();
        let channel = enclave.agent_channel();
        // (2) Drain.
        while let Some(msg) = enclave.next_message(channel) {
            self.dispatch(cpu, &msg, enclave);
        }
        // (3) A higher class wants the CPU: give it up, and ask to be woken when it is idle.
        if enclave.agent_status().boosted_priority() {
            enclave.local_yield(barrier, RunFlags::RTLA_ON_IDLE);
            return;
        }
        // (4) Schedule the head of the queue, or idle until the next message.
        let cs = &mut self.cpus[cpu];
        debug_assert!(
            cs.current.is_none(),
            "the agent's wakeup preempts the current task"
        );
        let Some(next) = cs.rq.pop_front() else {
            enclave.local_yield(barrier, RunFlags::NONE);
            return;
        };
        let task = self
            .tasks
            .get_mut(next)
            .expect("queued tasks are allocated");
        assert_eq!(
            task.state,
            FifoState::Queued,
            "hand FIFO: {next} in the queue but not queued"
        );
        let mut req = enclave.run_request(cpu);
        req.open(RunRequestOptions {
            target: next,
            target_barrier: task.seqnum,
            agent_barrier: barrier,
            commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
        });
        if req.commit() {
            task.state = FifoState::Running;
            self.cpus[cpu].current = Some(next);
        } else {
            // Stale barrier or a message about the task in flight: the next iteration drains it
            // and tries again with the task still at the front.
            self.failed_commits += 1;
            self.cpus[cpu].rq.push_front(next);
        }
    }
}

impl Agent for HandFifo {
    fn model(&self) -> AgentModel {
        AgentModel::PerCpu
    }

    fn enclave_ready(&mut self, enclave: &mut AgentEnclave<'_>) {
        let topology = enclave.topology();
        self.placement = topology.cpus(enclave.cpus()).collect();
    }

    fn run(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_>) {
        self.iteration(cpu, enclave);
    }

    // The simulator knows its kernel's type: its calls inline here (what a hand-written agent
    // on a known kernel gets by being generic).
    fn run_direct<K: EnclaveKernel>(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_, K>) {
        self.iteration(cpu, enclave);
    }
}
