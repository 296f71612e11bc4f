//! The tutorial's first real scheduler ("GHOSTタスクを実行状態にする"): FIFO on the default
//! channel's CPU, written with `#[ghost_scheduler]`.
//!
//! Every task stays on the channel it arrives on (the first enclave CPU's), so one CPU runs
//! everything, one task after the other: a preempted task goes back to the front of the queue
//! (every agent wakeup preempts the running task, and FIFO must not reorder for that), a task
//! that yields to the back. The task state checks the tutorial adds by hand (`CHECK(task->
//! blocked())` ...) are done by the generated agent.

use std::collections::VecDeque;

use ghost_dsl::prelude::*;

/// FIFO on one CPU.
#[derive(Debug, Default)]
pub struct Fifo {
    rq: VecDeque<Gtid>,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl Fifo {
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

    fn task_departed(&mut self, task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {
        let gtid = task.gtid();
        self.rq.retain(|queued| *queued != gtid);
    }

    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}

    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.pop_front()
    }
}
