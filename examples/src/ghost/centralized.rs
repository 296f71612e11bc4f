//! A centralized FIFO: one global agent on the first enclave CPU drains the one channel and
//! fills every other free CPU from one queue, committing them in a batch; written with
//! `#[ghost_scheduler(model = centralized)]`.

use std::collections::VecDeque;

use ghost_dsl::prelude::*;

/// Global FIFO scheduled by one agent.
#[derive(Debug, Default)]
pub struct CentralizedFifo {
    rq: VecDeque<Gtid>,
}

#[ghost_scheduler(model = centralized, task = ())]
impl CentralizedFifo {
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
