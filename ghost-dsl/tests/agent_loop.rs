//! The generated agent loop as a policy author uses it: failed commits go back to the policy,
//! per-task attributes, remote commits from handlers, preemption and time slicing in the
//! centralized model, ticks turned on from `enclave_ready`, a panicking handler, a duplicate
//! `pick_next` choice.

use std::collections::VecDeque;

use ghost_dsl::prelude::*;
use ghost_dsl::sim::{Costs, TaskSpec, Workload};

/// An agent slow enough that messages land between its barrier read and its commit.
const SLOW: Costs = Costs {
    agent_loop_ns: 10_000,
    per_message_ns: 100,
    context_switch_ns: 1_000,
};

fn sim(workload: Workload) -> SimConfig {
    SimConfig::new(Topology::test_default(), workload)
}

fn cpus(list: &str) -> AgentConfig {
    AgentConfig::new(list.parse().unwrap())
}

/// Highest `attrs().priority` first; a failed commit hands the task back to the queue, so the
/// next decision picks afresh.
#[derive(Default)]
struct Priority {
    rq: Vec<(i32, Gtid)>,
    failed: Vec<(Gtid, TxnState)>,
}

impl Priority {
    fn push(&mut self, task: &Task<()>) {
        self.rq.push((task.attrs().priority, task.gtid()));
    }
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl Priority {
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
        if msg.runnable {
            self.push(task);
        }
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.push(task);
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.push(task);
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.push(task);
    }
    fn task_departed(&mut self, task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {
        let gtid = task.gtid();
        self.rq.retain(|(_, g)| *g != gtid);
    }
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        let best = (0..self.rq.len()).max_by_key(|&i| (self.rq[i].0, std::cmp::Reverse(i)))?;
        Some(self.rq.remove(best).1)
    }
    fn commit_failed(&mut self, task: &mut Task<()>, _cpu: Cpu, state: TxnState, _cx: &mut Cx<'_>) {
        self.failed.push((task.gtid(), state));
        self.push(task);
    }
}

/// The same policy with no `commit_failed` handler: the agent retries a failed task first.
#[derive(Default)]
struct PriorityRetry {
    rq: Vec<(i32, Gtid)>,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl PriorityRetry {
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
        if msg.runnable {
            self.rq.push((task.attrs().priority, task.gtid()));
        }
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.rq.push((task.attrs().priority, task.gtid()));
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.rq.push((task.attrs().priority, task.gtid()));
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.rq.push((task.attrs().priority, task.gtid()));
    }
    fn task_departed(&mut self, task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {
        let gtid = task.gtid();
        self.rq.retain(|(_, g)| *g != gtid);
    }
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        let best = (0..self.rq.len()).max_by_key(|&i| (self.rq[i].0, std::cmp::Reverse(i)))?;
        Some(self.rq.remove(best).1)
    }
}

/// L (priority 1) is chosen and its commit fails (M arrived after the barrier read); H
/// (priority 9) arrives before the next decision. Handing L back to the policy lets H go first;
/// retrying L first runs L first.
fn stale_choice_workload() -> SimConfig {
    sim(Workload::new(vec![
        TaskSpec::new("L").priority(1).run(1_000_000),
        TaskSpec::new("M")
            .start_at(5_000)
            .priority(0)
            .run(1_000_000),
        TaskSpec::new("H")
            .start_at(15_000)
            .priority(9)
            .run(1_000_000),
    ]))
    .with_costs(SLOW)
}

#[test]
fn a_failed_commit_goes_back_to_the_policy_and_a_higher_priority_arrival_goes_first() {
    let enclave = SimEnclave::new(stale_choice_workload()).unwrap();
    let mut full = Priority::default().full_agent(enclave, cpus("0")).unwrap();
    while full.run_until(full.now_ns() + 10_000_000).unwrap() != ghost_dsl::sim::SimStatus::Finished
    {
    }
    let report = full.report();
    let (l, h) = (report.task("L").unwrap(), report.task("H").unwrap());
    assert!(
        h.start_ns.unwrap() < l.start_ns.unwrap(),
        "H runs before the stale choice L:\n{report}"
    );
    // The handler saw L's failure, then H's (H arrived after the second barrier read).
    let failed = &full.scheduler().failed;
    assert_eq!(
        failed.iter().map(|(g, _)| g.tid()).collect::<Vec<_>>(),
        [1, 3],
        "{failed:?}"
    );
    assert!(failed.iter().all(|(_, s)| *s == TxnState::AgentStale));
    assert_eq!(report.failed(TxnState::AgentStale), 2);
}

#[test]
fn without_the_handler_the_agent_retries_the_failed_task_first() {
    let enclave = SimEnclave::new(stale_choice_workload()).unwrap();
    let report = PriorityRetry::default().run(enclave, cpus("0")).unwrap();
    let (l, h) = (report.task("L").unwrap(), report.task("H").unwrap());
    assert!(
        l.start_ns.unwrap() < h.start_ns.unwrap(),
        "the retried L runs first:\n{report}"
    );
    assert!(h.start_ns.unwrap() >= l.end_ns.unwrap());
}

/// Deadline-first with a user attribute type.
#[derive(Debug, PartialEq)]
struct Budget(u64);

/// What `task_new` saw: name, priority, weight, deadline, user budget.
type Seen = (String, i32, u32, Option<u64>, Option<u64>);

#[derive(Default)]
struct Attrs {
    seen: Vec<Seen>,
    rq: VecDeque<Gtid>,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl Attrs {
    fn task_new(&mut self, task: &mut Task<()>, _msg: &TaskNew, cx: &mut Cx<'_>) {
        let a = task.attrs();
        assert_eq!(cx.task_attrs(task.gtid()).as_ref(), Some(a));
        self.seen.push((
            format!("{}", task.gtid()),
            a.priority,
            a.weight,
            a.deadline_ns,
            a.user::<Budget>().map(|b| b.0),
        ));
        self.rq.push_back(task.gtid());
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.rq.push_front(task.gtid());
    }
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.pop_front()
    }
}

#[test]
fn handlers_read_the_attributes_given_to_workload_tasks() {
    let workload = Workload::new(vec![
        TaskSpec::new("plain").run(1_000),
        TaskSpec::new("rich").run(1_000).attrs(
            TaskAttrs::new()
                .with_priority(-3)
                .with_weight(5)
                .with_deadline_ns(2_000_000)
                .with_user(Budget(77)),
        ),
    ]);
    let enclave = SimEnclave::new(sim(workload)).unwrap();
    let mut full = Attrs::default().full_agent(enclave, cpus("0")).unwrap();
    while full.run_until(full.now_ns() + 1_000_000).unwrap() != ghost_dsl::sim::SimStatus::Finished
    {
    }
    assert_eq!(
        full.scheduler().seen,
        [
            ("task 1".to_owned(), 0, 1, None, None),
            ("task 2".to_owned(), -3, 5, Some(2_000_000), Some(77)),
        ]
    );
}

/// Per-CPU on two CPUs, every task on cpu0's channel: a new task goes straight onto cpu1 from
/// `task_new` when cpu1 is free (its agent sleeps), by a remote commit.
#[derive(Default)]
struct Spill {
    rq: VecDeque<Gtid>,
    cpu1_busy: bool,
    refused: Vec<TxnState>,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl Spill {
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, cx: &mut Cx<'_>) {
        if !msg.runnable {
            return;
        }
        let cpu1 = cx.topology().cpu(1).unwrap();
        if !self.cpu1_busy {
            match cx.commit(task, cpu1) {
                Ok(()) => {
                    assert_eq!(task.on_cpu(), Some(cpu1));
                    self.cpu1_busy = true;
                    return;
                }
                Err(state) => self.refused.push(state),
            }
        }
        self.rq.push_back(task.gtid());
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, msg: &TaskBlocked, _cx: &mut Cx<'_>) {
        if msg.cpu.id() == 1 {
            self.cpu1_busy = false;
        }
    }
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.rq.push_front(task.gtid());
    }
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        // The queue is cpu0's; cpu1 runs only what `task_new` puts there.
        if cpu.id() != 0 {
            return None;
        }
        self.rq.pop_front()
    }
}

#[test]
fn a_handler_commits_a_task_to_another_cpu() {
    let workload = Workload::new(vec![
        // At 0 cpu1's agent is awake (every agent starts awake): the remote commit is refused.
        TaskSpec::new("early").run(500_000),
        TaskSpec::new("a").start_at(100_000).run(1_000_000),
        TaskSpec::new("b").start_at(100_000).run(1_000_000),
    ]);
    let enclave = SimEnclave::new(sim(workload)).unwrap();
    let mut full = Spill::default().full_agent(enclave, cpus("0-1")).unwrap();
    while full.run_until(full.now_ns() + 1_000_000).unwrap() != ghost_dsl::sim::SimStatus::Finished
    {
    }
    let report = full.report();
    assert_eq!(full.scheduler().refused, [TxnState::CpuUnavail], "{report}");
    // "a" went to cpu1 from its handler while "b" waited for cpu0, which "early" held.
    let (a, b) = (report.task("a").unwrap(), report.task("b").unwrap());
    assert!(a.start_ns.unwrap() < 110_000, "{report}");
    assert!(b.start_ns.unwrap() >= report.task("early").unwrap().end_ns.unwrap());
    assert!(report.cpus[1].task_ns >= 1_000_000, "{report}");
}

/// A centralized round-robin: time slices of 200 µs, preempted tasks to the back.
#[derive(Default)]
struct Sliced {
    rq: VecDeque<Gtid>,
    slice: Option<u64>,
}

#[ghost_scheduler(model = centralized, task = ())]
impl Sliced {
    fn enclave_ready(&mut self, cx: &mut Cx<'_>) {
        assert!(!cx.deliver_ticks());
        cx.set_time_slice(self.slice);
    }
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
        if msg.runnable {
            self.rq.push_back(task.gtid());
        }
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.pop_front()
    }
}

fn two_loops() -> SimConfig {
    sim(Workload::new(vec![
        TaskSpec::new("t1").run(2_000_000),
        TaskSpec::new("t2").run(2_000_000),
    ]))
    .with_tick_ns(100_000)
}

#[test]
fn the_centralized_agent_slices_time_between_running_tasks() {
    let enclave = SimEnclave::new(two_loops()).unwrap();
    let report = Sliced {
        slice: Some(200_000),
        ..Sliced::default()
    }
    .run(enclave, cpus("0-1"))
    .unwrap();
    let (t1, t2) = (report.task("t1").unwrap(), report.task("t2").unwrap());
    // Interleaved on cpu1: t2 starts within about one slice, both end near 4 ms.
    assert!(t2.start_ns.unwrap() < 400_000, "{report}");
    assert!(t1.end_ns.unwrap() > 3_000_000, "{report}");
    assert!(t1.preemptions >= 5 && t2.preemptions >= 5, "{report}");
    // Ticks were turned on by `set_time_slice` in `enclave_ready` (the AgentConfig has none).
    assert!(report.messages_of(MessageKind::CpuTick) > 10, "{report}");
}

#[test]
fn without_a_time_slice_the_centralized_fifo_runs_one_after_the_other() {
    let enclave = SimEnclave::new(two_loops()).unwrap();
    let report = Sliced::default().run(enclave, cpus("0-1")).unwrap();
    let (t1, t2) = (report.task("t1").unwrap(), report.task("t2").unwrap());
    assert!(t2.start_ns.unwrap() >= t1.end_ns.unwrap(), "{report}");
    assert_eq!(report.messages_of(MessageKind::CpuTick), 0);
}

/// Counts ticks, then turns them off from the handler.
#[derive(Default)]
struct TickCounter {
    rq: VecDeque<Gtid>,
    ticks: u32,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl TickCounter {
    fn enclave_ready(&mut self, cx: &mut Cx<'_>) {
        cx.set_deliver_ticks(true);
    }
    fn cpu_tick(&mut self, _cpu: Cpu, _msg: &CpuTick, cx: &mut Cx<'_>) {
        self.ticks += 1;
        if self.ticks == 3 {
            cx.set_deliver_ticks(false);
        }
    }
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
        if msg.runnable {
            self.rq.push_back(task.gtid());
        }
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.rq.push_front(task.gtid());
    }
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.pop_front()
    }
}

#[test]
fn ticks_turn_on_in_enclave_ready_and_off_from_a_handler() {
    let workload = Workload::new(vec![TaskSpec::new("t").run(10_000_000)]);
    let enclave = SimEnclave::new(sim(workload).with_tick_ns(100_000)).unwrap();
    let mut full = TickCounter::default()
        .full_agent(enclave, cpus("0"))
        .unwrap();
    while full.run_until(full.now_ns() + 1_000_000).unwrap() != ghost_dsl::sim::SimStatus::Finished
    {
    }
    let report = full.report();
    // 10 ms at a 100 µs tick would be ~100 ticks; the third turned them off.
    assert_eq!(report.messages_of(MessageKind::CpuTick), 3, "{report}");
    assert_eq!(full.scheduler().ticks, 3);
}

/// Panics in `task_blocked`.
#[derive(Default)]
struct Panicky {
    rq: VecDeque<Gtid>,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl Panicky {
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
        if msg.runnable {
            self.rq.push_back(task.gtid());
        }
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_blocked(&mut self, task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {
        panic!("no blocking allowed for {}", task.gtid());
    }
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.rq.push_front(task.gtid());
    }
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.pop_front()
    }
}

#[test]
fn a_panicking_handler_ends_the_run_with_an_error_naming_it_and_the_report_so_far() {
    let workload = Workload::new(vec![
        TaskSpec::new("sleepy")
            .run(300_000)
            .sleep(100_000)
            .run(1_000),
        TaskSpec::new("other").run(5_000_000),
    ]);
    let enclave = SimEnclave::new(sim(workload)).unwrap();
    let err = Panicky::default().run(enclave, cpus("0")).unwrap_err();
    let panic = err.as_handler_panic().expect("a handler panic");
    assert_eq!(panic.handler, "task_blocked");
    assert_eq!(panic.gtid, Some(Gtid::new(1, 1)));
    assert_eq!(panic.message.unwrap().kind(), MessageKind::TaskBlocked);
    assert_eq!(panic.payload, "no blocking allowed for task 1");
    let text = err.to_string();
    assert!(
        text.starts_with("handler `task_blocked` panicked on MSG_TASK_BLOCKED seq=")
            && text.contains("task 1")
            && text.ends_with(": no blocking allowed for task 1"),
        "{text}"
    );
    // The report so far: sleepy ran its 300 µs; the run stopped right there, long before
    // "other" could finish.
    let report = err.report().expect("the report so far");
    assert!(report.task("sleepy").unwrap().runtime_ns >= 300_000);
    assert!(report.task("other").unwrap().end_ns.is_none());
    assert!(report.end_ns < 1_000_000, "{}", report.end_ns);
}

/// Returns the front of its queue without taking it out.
#[derive(Default)]
struct Peeker {
    rq: VecDeque<Gtid>,
}

#[ghost_scheduler(model = centralized, task = ())]
impl Peeker {
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
        if msg.runnable {
            self.rq.push_back(task.gtid());
        }
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.rq.push_front(task.gtid());
    }
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.front().copied()
    }
}

#[test]
fn one_task_for_two_cpus_of_a_batch_is_a_pick_next_error_naming_the_duplicate() {
    let workload = Workload::new(vec![
        TaskSpec::new("a").run(100_000),
        TaskSpec::new("b").run(100_000),
    ]);
    let enclave = SimEnclave::new(sim(workload)).unwrap();
    let err = Peeker::default().run(enclave, cpus("0-2")).unwrap_err();
    let (first, _) = err.as_transition().expect("a transition error");
    let text = first.to_string();
    assert!(text.starts_with("pick_next(cpu2) -> task 1"), "{text}");
    assert!(
        text.contains("pick_next chose task 1 for cpu1 already in this round"),
        "{text}"
    );
    assert!(!text.contains("affinity"), "{text}");
}

/// Panics when it has to decide with an empty queue (once the last task has exited).
#[derive(Default)]
struct PanickyDecision {
    rq: VecDeque<Gtid>,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl PanickyDecision {
    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
        if msg.runnable {
            self.rq.push_back(task.gtid());
        }
    }
    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.rq.push_back(task.gtid());
    }
    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.rq.push_front(task.gtid());
    }
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        Some(self.rq.pop_front().expect("an empty run queue"))
    }
}

#[test]
fn a_panic_in_pick_next_names_pick_next_and_no_message() {
    let workload = Workload::new(vec![TaskSpec::new("t").run(1_000)]);
    let enclave = SimEnclave::new(sim(workload)).unwrap();
    let err = PanickyDecision::default()
        .run(enclave, cpus("0"))
        .unwrap_err();
    let panic = err.as_handler_panic().expect("a handler panic");
    assert_eq!(panic.handler, "pick_next");
    assert_eq!((panic.message, panic.gtid), (None, None));
    assert!(
        panic.payload.contains("an empty run queue"),
        "{}",
        panic.payload
    );
    assert!(
        err.to_string()
            .starts_with("handler `pick_next` panicked (agent on cpu0"),
        "{err}"
    );
    assert!(err.report().is_some());
}
