// Arguments given twice, missing, or not `key = value`: each attribute gets one error that says
// what to write.
use ghost_dsl::prelude::*;

macro_rules! fifo {
    ($name:ident) => {
        #[derive(Default)]
        struct $name;
    };
}

fifo!(Twice);
#[ghost_scheduler(model = per_cpu, task = (), task = ())]
impl Twice {
    fn task_new(&mut self, _task: &mut Task<()>, _msg: &TaskNew, _cx: &mut Cx<'_>) {}
    fn task_runnable(&mut self, _task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {}
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, _task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {}
    fn task_preempted(&mut self, _task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {}
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        None
    }
}

fifo!(NoModel);
#[ghost_scheduler(task = ())]
impl NoModel {
    fn task_new(&mut self, _task: &mut Task<()>, _msg: &TaskNew, _cx: &mut Cx<'_>) {}
    fn task_runnable(&mut self, _task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {}
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, _task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {}
    fn task_preempted(&mut self, _task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {}
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        None
    }
}

fifo!(NoTask);
#[ghost_scheduler(model = per_cpu)]
impl NoTask {
    fn task_new(&mut self, _task: &mut Task<()>, _msg: &TaskNew, _cx: &mut Cx<'_>) {}
    fn task_runnable(&mut self, _task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {}
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, _task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {}
    fn task_preempted(&mut self, _task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {}
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        None
    }
}

fifo!(Malformed);
#[ghost_scheduler(model per_cpu, task = ())]
impl Malformed {
    fn task_new(&mut self, _task: &mut Task<()>, _msg: &TaskNew, _cx: &mut Cx<'_>) {}
    fn task_runnable(&mut self, _task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {}
    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, _task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {}
    fn task_preempted(&mut self, _task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {}
    fn task_departed(&mut self, _task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        None
    }
}

fn main() {
    let _ = (Twice::run::<SimEnclave>, NoModel::run::<SimEnclave>, NoTask::run::<SimEnclave>, Malformed::run::<SimEnclave>);
}
