// The per-task state is made with `Default` when a task arrives: a type without it is pointed at
// in the attribute, in words about the scheduler.
use ghost_dsl::prelude::*;

struct NoDefault(#[allow(dead_code)] u32);

#[derive(Default)]
struct Fifo;

#[ghost_scheduler(model = per_cpu, task = NoDefault)]
impl Fifo {
    fn task_new(&mut self, _task: &mut Task<NoDefault>, _msg: &TaskNew, _cx: &mut Cx<'_>) {}
    fn task_runnable(&mut self, _task: &mut Task<NoDefault>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {}
    fn task_blocked(&mut self, _task: &mut Task<NoDefault>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, _task: &mut Task<NoDefault>, _msg: &TaskYield, _cx: &mut Cx<'_>) {}
    fn task_preempted(&mut self, _task: &mut Task<NoDefault>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {}
    fn task_departed(&mut self, _task: &mut Task<NoDefault>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<NoDefault>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        None
    }
}

fn main() {}
