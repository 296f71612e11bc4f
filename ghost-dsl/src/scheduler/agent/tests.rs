//! The dispatch rules on crafted message sequences: what the kernel would never send, the
//! agent must still catch and name.

use std::collections::VecDeque;

use super::*;
use crate::abi::EnclaveKernel;
use crate::message::{TaskBlocked, TaskDead, TaskNew, TaskWakeup};
use crate::sim::kernel::Kernel;
use crate::sim::{SimConfig, TaskSpec, Workload};
use crate::{AgentConfig, BarrierToken, Payload, Topology};

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
    let mut enclave = AgentEnclave::new(kernel, cpu);
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
