// The commit-failure handler takes the task, the CPU, the failure state and the context: a wrong
// parameter is one error on that parameter, showing the signature to write; the scheduler is
// still usable (its `run` type-checks) so nothing else is reported.
use ghost_dsl::prelude::*;

#[derive(Default)]
struct Fifo;

#[ghost_scheduler(model = per_cpu, task = ())]
impl Fifo {
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
    fn commit_failed(&mut self, _task: &mut Task<()>, _cpu: Cpu, _state: u32, _cx: &mut Cx<'_>) {}
}

#[derive(Default)]
struct Rr;

#[ghost_scheduler(model = per_cpu, task = ())]
impl Rr {
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
    // Missing the CPU: the arity is wrong.
    fn commit_failed(&mut self, _task: &mut Task<()>, _state: TxnState, _cx: &mut Cx<'_>) {}
}

fn main() {
    let _ = Fifo::run::<SimEnclave>;
    let _ = Rr::run::<SimEnclave>;
}
