// A handler's task type must be the `task = ..` type; `()` against `u32` is said in our words,
// on the user's parameter, and not as rustc's type mismatch inside generated code.
use ghost_dsl::prelude::*;

#[derive(Default)]
struct Fifo;

#[ghost_scheduler(model = per_cpu, task = ())]
impl Fifo {
    fn task_new(&mut self, _task: &mut Task<u32>, _msg: &TaskNew, _cx: &mut Cx<'_>) {}
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

#[derive(Default)]
struct Counted;

#[ghost_scheduler(model = per_cpu, task = u32)]
impl Counted {
    fn task_new(&mut self, _task: &mut Task<u32>, _msg: &TaskNew, _cx: &mut Cx<'_>) {}
    fn task_runnable(&mut self, _task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {}
    fn task_blocked(&mut self, _task: &mut Task<u32>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, _task: &mut Task<u32>, _msg: &TaskYield, _cx: &mut Cx<'_>) {}
    fn task_preempted(&mut self, _task: &mut Task<u32>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {}
    fn task_departed(&mut self, _task: &mut Task<u32>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<u32>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        None
    }
}

fn main() {
    let _ = Fifo::run::<SimEnclave>;
    let _ = Counted::run::<SimEnclave>;
}
