//! [`SchedulerAgent`]: the tutorial's `BasicDispatchScheduler` + `Agent` for any [`Scheduler`]:
//! task allocation, message dispatch with seqnum rules and state checks, and the agent loop of
//! both models.

use crate::{
    Agent, AgentEnclave, AgentModel, AgentRpcArgs, AgentRpcResponse, BarrierToken, CommitFlags,
    Cpu, CpuList, Gtid, Message, Payload, PerCpu, RunFlags, RunRequestOptions, TaskAllocator,
    TxnState,
};

use super::{Cx, Scheduler, Task, TaskState, TransitionError};

/// What the agent keeps per CPU.
#[derive(Clone, Copy, Debug)]
struct CpuSlot {
    /// The task committed there and not yet off it.
    current: Option<Gtid>,
    /// A task `pick_next` chose whose commit failed for a passing reason (a stale barrier, the
    /// CPU briefly unavailable): committed again, before asking `pick_next`, by the next
    /// iteration (ghOSt's FIFO puts it back at the front of its queue).
    retry: Option<Gtid>,
    /// False between `MSG_CPU_NOT_IDLE` and `MSG_CPU_AVAILABLE` (centralized model).
    available: bool,
}

impl Default for CpuSlot {
    fn default() -> Self {
        Self {
            current: None,
            retry: None,
            available: true,
        }
    }
}

/// Counters of what the agent handled itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentStats {
    /// Messages dispatched to handlers.
    pub messages: u64,
    /// Task messages dropped because their seqnum was not newer than the task's (ghOSt drops
    /// messages the task's state already reflects).
    pub stale_messages: u64,
    /// Task messages whose seqnum skipped ahead (messages consumed elsewhere); accepted.
    pub seqnum_gaps: u64,
    /// Successful commits.
    pub commits: u64,
    /// Failed commits (retried when the reason was passing).
    pub failed_commits: u64,
    /// Iterations that yielded to a higher scheduling class (`RTLA_ON_IDLE`).
    pub boosted_yields: u64,
}

/// The agent of a [`Scheduler`]: what ghOSt's tutorial writes by hand as the `Scheduler`
/// (channels, `DispatchMessage`, the task allocator) and `Agent` (`AgentThread`'s loop)
/// subclasses. It implements the enclave's [`Agent`]; [`FullAgent`](super::FullAgent) drives it.
pub struct SchedulerAgent<S: Scheduler> {
    scheduler: S,
    tasks: TaskAllocator<Task<S::TaskData>>,
    cpus: PerCpu<CpuSlot>,
    /// The enclave's CPUs in order (filled in `enclave_ready`).
    enclave_cpus: Vec<Cpu>,
    /// CPUs with an open transaction in this centralized iteration (reused buffer).
    opened: Vec<Cpu>,
    /// Centralized: tasks whose commit failed on a CPU that has since become busy or
    /// unavailable; the next free CPU takes them before asking `pick_next`.
    orphans: Vec<Gtid>,
    first_error: Option<TransitionError>,
    errors: usize,
    stats: AgentStats,
}

impl<S: Scheduler> std::fmt::Debug for SchedulerAgent<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerAgent")
            .field("model", &S::MODEL)
            .field("live_tasks", &self.tasks.len())
            .field("stats", &self.stats)
            .field("first_error", &self.first_error)
            .finish_non_exhaustive()
    }
}

impl<S: Scheduler> SchedulerAgent<S> {
    /// An agent for `scheduler`, with no task yet.
    pub fn new(scheduler: S) -> Self {
        Self {
            scheduler,
            tasks: TaskAllocator::new(),
            cpus: PerCpu::default(),
            enclave_cpus: Vec::new(),
            opened: Vec::new(),
            orphans: Vec::new(),
            first_error: None,
            errors: 0,
            stats: AgentStats::default(),
        }
    }

    /// The scheduler.
    pub fn scheduler(&self) -> &S {
        &self.scheduler
    }

    /// The scheduler, mutably.
    pub fn scheduler_mut(&mut self) -> &mut S {
        &mut self.scheduler
    }

    /// The live task `gtid`.
    pub fn task(&self, gtid: Gtid) -> Option<&Task<S::TaskData>> {
        self.tasks.get(gtid)
    }

    /// The number of live tasks.
    pub fn live_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// What the agent counted.
    pub fn stats(&self) -> &AgentStats {
        &self.stats
    }

    /// The first broken task state rule and how many were found, if any.
    pub fn transition_errors(&self) -> Option<(&TransitionError, usize)> {
        self.first_error.as_ref().map(|first| (first, self.errors))
    }

    fn record(&mut self, error: TransitionError) {
        record(&mut self.first_error, &mut self.errors, error);
    }

    /// One message: seqnum rules, the state check, the handler, the state change.
    fn dispatch(&mut self, cpu: Cpu, msg: &Message, enclave: &mut AgentEnclave<'_>) {
        self.stats.messages += 1;
        let payload = *msg.payload();
        if let Payload::TaskNew(new) = payload {
            self.task_new(cpu, msg, &new, enclave);
            return;
        }
        let Some(gtid) = msg.gtid() else {
            self.cpu_message(msg, enclave);
            return;
        };
        let now_ns = enclave.now_ns();
        let model = enclave.model();
        let Self {
            scheduler,
            tasks,
            cpus,
            first_error,
            errors,
            stats,
            enclave_cpus,
            orphans,
            ..
        } = self;
        let mut fail = |problem: String| {
            let during = msg.to_string();
            record(
                first_error,
                errors,
                TransitionError {
                    now_ns,
                    cpu,
                    gtid,
                    during,
                    problem,
                },
            );
        };
        let Some(task) = tasks.get_mut(gtid) else {
            fail(
                "the scheduler has no such task: no MSG_TASK_NEW was seen for it, or it is \
                  already dead or departed"
                    .to_owned(),
            );
            return;
        };
        // ghOSt's seqnum rule: a task message carries the task's new seqnum; one not newer than
        // what the agent has seen is already reflected and is dropped.
        let seqnum = msg.seqnum();
        let delta = seqnum.0.wrapping_sub(task.seqnum().0) as i32;
        if delta <= 0 {
            stats.stale_messages += 1;
            return;
        }
        if delta != 1 {
            stats.seqnum_gaps += 1;
        }
        task.set_seqnum(seqnum, msg.kind());
        // The tutorial's CHECK_EQ(task->GetCpu(), MyCpu()): a per-CPU agent only hears about
        // the tasks associated with its channel.
        if model == AgentModel::PerCpu && task.channel_cpu() != cpu {
            fail(format!(
                "the message was drained on {cpu}, but the task is associated with {}'s channel",
                task.channel_cpu()
            ));
        }
        let state = task.state();
        let on_cpu = matches!(state, TaskState::OnCpu(_));
        let mut cx = Cx::new(enclave);
        // Each arm checks the rule, moves the task, and runs the handler; a broken rule skips the
        // handler (it would act on a state that is not the task's) and says what was needed and
        // the state the kernel moved the task to.
        let broken: Option<(&str, Option<TaskState>)> = match payload {
            Payload::TaskWakeup(m) if state == TaskState::Blocked => {
                task.set_state(TaskState::Runnable);
                scheduler.task_runnable(task, &m, &mut cx);
                None
            }
            Payload::TaskWakeup(_) => {
                Some(("a wakeup needs a blocked task", Some(TaskState::Runnable)))
            }
            Payload::TaskBlocked(m) if on_cpu => {
                leave_cpu(cpus, gtid, state);
                task.set_state(TaskState::Blocked);
                scheduler.task_blocked(task, &m, &mut cx);
                None
            }
            Payload::TaskBlocked(_) => Some(("a task blocks from a CPU", Some(TaskState::Blocked))),
            Payload::TaskPreempt(m) if on_cpu => {
                leave_cpu(cpus, gtid, state);
                task.set_state(TaskState::Runnable);
                scheduler.task_preempted(task, &m, &mut cx);
                None
            }
            Payload::TaskPreempt(_) => Some((
                "only a running task is preempted",
                Some(TaskState::Runnable),
            )),
            Payload::TaskYield(m) if on_cpu => {
                leave_cpu(cpus, gtid, state);
                task.set_state(TaskState::Runnable);
                scheduler.task_yield(task, &m, &mut cx);
                None
            }
            Payload::TaskYield(_) => {
                Some(("only a running task yields", Some(TaskState::Runnable)))
            }
            Payload::TaskDead(m) if state == TaskState::Blocked => {
                scheduler.task_dead(task, &m, &mut cx);
                None
            }
            Payload::TaskDead(_) => {
                Some(("a task dies blocked (MSG_TASK_BLOCKED comes first)", None))
            }
            Payload::TaskDeparted(m) => {
                leave_cpu(cpus, gtid, state);
                scheduler.task_departed(task, &m, &mut cx);
                None
            }
            Payload::TaskAffinityChanged(m) => {
                scheduler.task_affinity_changed(task, &m, &mut cx);
                None
            }
            Payload::TaskNew(_)
            | Payload::CpuTick(_)
            | Payload::CpuNotIdle(_)
            | Payload::CpuAvailable(_) => None,
        };
        if let Some((needs, after)) = broken {
            if let Some(after) = after {
                leave_cpu(cpus, gtid, state);
                task.set_state(after);
            }
            fail(format!("{needs}, but the task is {}", state.describe()));
        }
        if matches!(payload, Payload::TaskDead(_) | Payload::TaskDeparted(_)) {
            tasks.remove(gtid);
            for &other in enclave_cpus.iter() {
                if cpus[other].retry == Some(gtid) {
                    cpus[other].retry = None;
                }
            }
            orphans.retain(|orphan| *orphan != gtid);
        }
    }

    fn task_new(
        &mut self,
        cpu: Cpu,
        msg: &Message,
        new: &crate::TaskNew,
        enclave: &mut AgentEnclave<'_>,
    ) {
        if self.tasks.contains(new.gtid) {
            self.record(TransitionError {
                now_ns: enclave.now_ns(),
                cpu,
                gtid: new.gtid,
                during: msg.to_string(),
                problem: "the scheduler already has this task (a second MSG_TASK_NEW)".to_owned(),
            });
            return;
        }
        let state = if new.runnable {
            TaskState::Runnable
        } else {
            TaskState::Blocked
        };
        let task = Task::new(new.gtid, msg.seqnum(), state, cpu, S::new_task_data());
        if self.tasks.insert(new.gtid, task).is_err() {
            self.record(TransitionError {
                now_ns: enclave.now_ns(),
                cpu,
                gtid: new.gtid,
                during: msg.to_string(),
                problem: "its tid is still held by a live task of another generation".to_owned(),
            });
            return;
        }
        let task = self.tasks.get_mut(new.gtid).expect("inserted just above");
        self.scheduler.task_new(task, new, &mut Cx::new(enclave));
    }

    fn cpu_message(&mut self, msg: &Message, enclave: &mut AgentEnclave<'_>) {
        let mut cx = Cx::new(enclave);
        match *msg.payload() {
            Payload::CpuTick(m) => self.scheduler.cpu_tick(m.cpu, &m, &mut cx),
            Payload::CpuNotIdle(m) => {
                self.cpus[m.cpu].available = false;
                self.scheduler.cpu_not_idle(m.cpu, &m, &mut cx);
            }
            Payload::CpuAvailable(m) => {
                self.cpus[m.cpu].available = true;
                self.scheduler.cpu_available(m.cpu, &m, &mut cx);
            }
            _ => {}
        }
    }

    /// The next task for `cpu`: the one whose commit must be retried, else `pick_next`'s
    /// choice, checked to be a live runnable task.
    fn choose(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_>) -> Option<(Gtid, BarrierToken)> {
        let retry = self.cpus[cpu].retry.take().or_else(|| self.orphans.pop());
        if let Some(gtid) = retry
            && let Some(task) = self.tasks.get(gtid)
            && task.is_runnable()
        {
            return Some((gtid, task.seqnum()));
        }
        let gtid = self.scheduler.pick_next(cpu, &mut Cx::new(enclave))?;
        let problem = match self.tasks.get(gtid) {
            Some(task) if task.is_runnable() => return Some((gtid, task.seqnum())),
            Some(task) => format!(
                "pick_next chose a task that is {} (its latest message is {}); only runnable \
                 tasks can be run: remove a task from the run queue when it blocks, is \
                 committed elsewhere, or leaves",
                task.state().describe(),
                task.last_message()
            ),
            None => "pick_next chose a task the scheduler does not have (never new, or already \
                     dead or departed)"
                .to_owned(),
        };
        self.record(TransitionError {
            now_ns: enclave.now_ns(),
            cpu: enclave.cpu(),
            gtid,
            during: format!("pick_next({cpu}) -> {gtid}"),
            problem,
        });
        None
    }

    /// After a commit on `cpu` of `gtid`: the task is on the CPU, or the failure is handled.
    /// Returns whether a retry is pending.
    fn committed(
        &mut self,
        cpu: Cpu,
        gtid: Gtid,
        state: TxnState,
        enclave: &AgentEnclave<'_>,
    ) -> bool {
        if state == TxnState::Complete {
            self.stats.commits += 1;
            if let Some(task) = self.tasks.get_mut(gtid) {
                task.set_state(TaskState::OnCpu(cpu));
            }
            self.cpus[cpu].current = Some(gtid);
            return false;
        }
        self.stats.failed_commits += 1;
        match state {
            // Passing: new messages (for the agent or the task) or a higher class on the CPU.
            // The next iteration drains them and commits the task again.
            TxnState::AgentStale | TxnState::TargetStale | TxnState::CpuUnavail => {
                self.cpus[cpu].retry = Some(gtid);
                true
            }
            _ => {
                self.record(TransitionError {
                    now_ns: enclave.now_ns(),
                    cpu: enclave.cpu(),
                    gtid,
                    during: format!("commit of {gtid} on {cpu}"),
                    problem: format!(
                        "the kernel refused it with {state}: the task cannot run there \
                         (check its affinity, and that it is not running elsewhere)"
                    ),
                });
                false
            }
        }
    }

    fn run_per_cpu(&mut self, cpu: Cpu, barrier: BarrierToken, enclave: &mut AgentEnclave<'_>) {
        let Some((target, target_barrier)) = self.choose(cpu, enclave) else {
            enclave.local_yield(barrier, RunFlags::NONE);
            return;
        };
        let mut req = enclave.run_request(cpu);
        req.open(RunRequestOptions {
            target,
            target_barrier,
            agent_barrier: barrier,
            commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
        });
        req.commit();
        let state = req.state();
        // On a passing failure the agent returns without yielding, so it runs again: ghOSt's
        // retry loop.
        self.committed(cpu, target, state, enclave);
    }

    fn run_centralized(
        &mut self,
        agent_cpu: Cpu,
        barrier: BarrierToken,
        enclave: &mut AgentEnclave<'_>,
    ) {
        let mut opened = std::mem::take(&mut self.opened);
        opened.clear();
        for i in 0..self.enclave_cpus.len() {
            let cpu = self.enclave_cpus[i];
            let slot = &mut self.cpus[cpu];
            if cpu == agent_cpu {
                continue;
            }
            if slot.current.is_some() || !slot.available {
                // A task waiting to be committed here again goes to the next free CPU.
                if let Some(gtid) = slot.retry.take() {
                    self.orphans.push(gtid);
                }
                continue;
            }
            let Some((target, target_barrier)) = self.choose(cpu, enclave) else {
                continue;
            };
            enclave.run_request(cpu).open(RunRequestOptions {
                target,
                target_barrier,
                agent_barrier: barrier,
                commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
            });
            self.cpus[cpu].retry = Some(target);
            opened.push(cpu);
        }
        let mut retry = false;
        if !opened.is_empty() {
            // One batch (ghOSt's CommitRunRequests); outcomes per CPU.
            let mut list = CpuList::new();
            for cpu in &opened {
                let _ = list.insert(cpu.id());
            }
            enclave.commit_run_requests(&list);
            for &cpu in &opened {
                let target = self.cpus[cpu].retry.take().expect("set when opened");
                let state = enclave.run_request(cpu).state();
                retry |= self.committed(cpu, target, state, enclave);
            }
        }
        self.opened = opened;
        if !retry {
            enclave.local_yield(barrier, RunFlags::NONE);
        }
    }
}

/// The task left `state`: if that was a CPU it was current on, the CPU is free.
fn leave_cpu(cpus: &mut PerCpu<CpuSlot>, gtid: Gtid, state: TaskState) {
    if let TaskState::OnCpu(on) = state
        && cpus[on].current == Some(gtid)
    {
        cpus[on].current = None;
    }
}

fn record(first: &mut Option<TransitionError>, count: &mut usize, error: TransitionError) {
    *count += 1;
    first.get_or_insert(error);
}

impl<S: Scheduler> Agent for SchedulerAgent<S> {
    fn model(&self) -> AgentModel {
        S::MODEL
    }

    fn enclave_ready(&mut self, enclave: &mut AgentEnclave<'_>) {
        self.enclave_cpus = enclave.topology().cpus(enclave.cpus()).collect();
        self.scheduler.enclave_ready(&mut Cx::new(enclave));
    }

    fn run(&mut self, cpu: Cpu, enclave: &mut AgentEnclave<'_>) {
        // (1) The barrier before draining: a message posted during the drain makes the commit
        // fail instead of going unseen.
        let barrier = enclave.agent_barrier();
        // (2) Drain the agent's channel.
        let channel = enclave.agent_channel();
        while let Some(msg) = enclave.next_message(channel) {
            self.dispatch(cpu, &msg, enclave);
        }
        // (3) A higher scheduling class wants the CPU: give it up, and be woken when it idles.
        if enclave.agent_status().boosted_priority() {
            self.stats.boosted_yields += 1;
            enclave.local_yield(barrier, RunFlags::RTLA_ON_IDLE);
            return;
        }
        // (4) Decide, open, commit.
        match S::MODEL {
            AgentModel::PerCpu => self.run_per_cpu(cpu, barrier, enclave),
            AgentModel::Centralized => self.run_centralized(cpu, barrier, enclave),
        }
    }

    fn rpc(
        &mut self,
        request: i64,
        args: &AgentRpcArgs,
        enclave: &mut AgentEnclave<'_>,
    ) -> AgentRpcResponse {
        self.scheduler.rpc(request, args, &mut Cx::new(enclave))
    }
}

#[cfg(test)]
mod tests {
    //! The dispatch rules on crafted message sequences: what the kernel would never send, the
    //! agent must still catch and name.

    use std::collections::VecDeque;

    use super::*;
    use crate::message::{TaskBlocked, TaskDead, TaskNew, TaskWakeup};
    use crate::sim::kernel::Kernel;
    use crate::sim::{SimConfig, TaskSpec, Workload};
    use crate::{AgentConfig, Topology};

    /// A FIFO whose handlers log what they saw.
    #[derive(Default)]
    struct Logging {
        rq: VecDeque<Gtid>,
        log: Vec<String>,
    }

    impl Scheduler for Logging {
        type TaskData = u32;
        const MODEL: AgentModel = AgentModel::PerCpu;
        fn new_task_data() -> u32 {
            0
        }
        fn task_new(&mut self, task: &mut Task<u32>, _: &TaskNew, _: &mut Cx<'_>) {
            **task += 1;
            self.log
                .push(format!("new {} seq {}", task.gtid().tid(), task.seqnum()));
            self.rq.push_back(task.gtid());
        }
        fn task_runnable(&mut self, task: &mut Task<u32>, _: &TaskWakeup, _: &mut Cx<'_>) {
            self.log.push(format!(
                "wakeup {} seq {}",
                task.gtid().tid(),
                task.seqnum()
            ));
            self.rq.push_back(task.gtid());
        }
        fn task_blocked(&mut self, task: &mut Task<u32>, _: &TaskBlocked, _: &mut Cx<'_>) {
            self.log.push(format!("blocked {}", task.gtid().tid()));
        }
        fn task_yield(&mut self, _: &mut Task<u32>, _: &crate::TaskYield, _: &mut Cx<'_>) {}
        fn task_preempted(&mut self, _: &mut Task<u32>, _: &crate::TaskPreempt, _: &mut Cx<'_>) {}
        fn task_departed(&mut self, _: &mut Task<u32>, _: &crate::TaskDeparted, _: &mut Cx<'_>) {}
        fn task_dead(&mut self, task: &mut Task<u32>, _: &TaskDead, _: &mut Cx<'_>) {
            self.log.push(format!("dead {}", task.gtid().tid()));
        }
        fn pick_next(&mut self, _: Cpu, _: &mut Cx<'_>) -> Option<Gtid> {
            self.rq.pop_front()
        }
    }

    fn kernel() -> (Kernel, Cpu) {
        let workload = Workload::new(vec![TaskSpec::new("t").run(1_000)]);
        let mut kernel = Kernel::new(SimConfig::new(Topology::test_default(), workload)).unwrap();
        let cpu = kernel
            .attach(
                AgentModel::PerCpu,
                &AgentConfig::new("0-1".parse().unwrap()),
            )
            .unwrap();
        (kernel, cpu)
    }

    fn send(
        agent: &mut SchedulerAgent<Logging>,
        kernel: &mut Kernel,
        cpu: Cpu,
        seq: u32,
        payload: Payload,
    ) {
        let mut enclave = AgentEnclave { kernel, cpu };
        agent.dispatch(cpu, &Message::new(BarrierToken(seq), payload), &mut enclave);
    }

    const T: Gtid = Gtid::new(7, 0);

    fn new_task(runnable: bool) -> Payload {
        Payload::TaskNew(TaskNew {
            gtid: T,
            runnable,
            runtime_ns: 0,
        })
    }

    fn wakeup() -> Payload {
        Payload::TaskWakeup(TaskWakeup {
            gtid: T,
            deferrable: false,
            last_ran_cpu: None,
        })
    }

    #[test]
    fn allocates_on_new_updates_seqnums_and_frees_on_dead() {
        let (mut kernel, cpu) = kernel();
        let mut agent = SchedulerAgent::new(Logging::default());
        send(&mut agent, &mut kernel, cpu, 1, new_task(false));
        assert_eq!(
            agent.task(T).map(|t| (t.state(), **t)),
            Some((TaskState::Blocked, 1))
        );
        send(&mut agent, &mut kernel, cpu, 2, wakeup());
        assert_eq!(agent.task(T).unwrap().state(), TaskState::Runnable);
        assert_eq!(agent.task(T).unwrap().seqnum(), BarrierToken(2));
        // A message not newer than the task's seqnum is already reflected: dropped.
        send(&mut agent, &mut kernel, cpu, 2, wakeup());
        assert_eq!(agent.stats().stale_messages, 1);
        assert_eq!(agent.scheduler().log, ["new 7 seq 1", "wakeup 7 seq 2"]);
        assert!(agent.transition_errors().is_none());
    }

    #[test]
    fn a_wakeup_of_a_runnable_task_is_an_error_naming_the_message_and_the_task() {
        let (mut kernel, cpu) = kernel();
        let mut agent = SchedulerAgent::new(Logging::default());
        send(&mut agent, &mut kernel, cpu, 1, new_task(true));
        send(&mut agent, &mut kernel, cpu, 2, wakeup());
        let (first, total) = agent.transition_errors().expect("an error");
        assert_eq!(total, 1);
        assert_eq!(first.gtid, T);
        let text = first.to_string();
        assert!(
            text.starts_with("MSG_TASK_WAKEUP seq=2 task 7 (agent on cpu0, at 0 ns)"),
            "{text}"
        );
        assert!(
            text.contains("a wakeup needs a blocked task, but the task is runnable"),
            "{text}"
        );
        // The handler was skipped: the task is queued once, not twice.
        assert_eq!(agent.scheduler().rq.len(), 1);
    }

    #[test]
    fn blocked_needs_a_running_task_and_dead_a_blocked_one() {
        let (mut kernel, cpu) = kernel();
        let mut agent = SchedulerAgent::new(Logging::default());
        send(&mut agent, &mut kernel, cpu, 1, new_task(true));
        let blocked = Payload::TaskBlocked(TaskBlocked {
            gtid: T,
            runtime_ns: 0,
            cpu,
            from_switchto: false,
        });
        send(&mut agent, &mut kernel, cpu, 2, blocked);
        let text = agent.transition_errors().unwrap().0.to_string();
        assert!(text.contains("MSG_TASK_BLOCKED"), "{text}");
        assert!(
            text.contains("a task blocks from a CPU, but the task is runnable (not on a CPU)"),
            "{text}"
        );
        // The agent followed the kernel: the task is blocked now, so DEAD is accepted.
        send(
            &mut agent,
            &mut kernel,
            cpu,
            3,
            Payload::TaskDead(TaskDead { gtid: T }),
        );
        assert_eq!(agent.transition_errors().unwrap().1, 1);
        assert!(agent.task(T).is_none(), "freed after MSG_TASK_DEAD");
        assert_eq!(agent.scheduler().log.last().unwrap(), "dead 7");
        // And a message about a freed task names it too.
        send(&mut agent, &mut kernel, cpu, 4, wakeup());
        let (_, total) = agent.transition_errors().unwrap();
        assert_eq!(total, 2);
    }

    #[test]
    fn a_per_cpu_agent_only_hears_about_its_own_tasks() {
        let (mut kernel, cpu0) = kernel();
        let cpu1 = kernel.topology().cpu(1).unwrap();
        let mut agent = SchedulerAgent::new(Logging::default());
        send(&mut agent, &mut kernel, cpu0, 1, new_task(false));
        send(&mut agent, &mut kernel, cpu1, 2, wakeup());
        let text = agent.transition_errors().unwrap().0.to_string();
        assert!(
            text.contains("drained on cpu1, but the task is associated with cpu0's channel"),
            "{text}"
        );
    }
}
