// Every required handler that is missing is named in one error, on the scheduler type.
use ghost_dsl::prelude::*;

#[derive(Default)]
struct Fifo;

#[ghost_scheduler(model = per_cpu, task = ())]
impl Fifo {
    fn task_new(&mut self, _task: &mut Task<()>, _msg: &TaskNew, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
}

fn main() {}
