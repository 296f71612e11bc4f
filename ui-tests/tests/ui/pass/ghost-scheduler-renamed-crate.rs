// A scheduler that reaches ghost-dsl under another name through `crate = ..`, with a helper
// method whose name looks like a handler's, marked `#[helper]`.
use ghost_dsl as ghost;
use ghost::prelude::{Cpu, Cx, Gtid, Task, TaskBlocked, TaskDead, TaskDeparted, TaskNew};
use ghost::prelude::{TaskPreempt, TaskWakeup, TaskYield};

#[derive(Default)]
struct Idle {
    seen: u32,
}

#[ghost::ghost_scheduler(model = centralized, task = u64, crate = ghost)]
impl Idle {
    fn task_new(&mut self, task: &mut Task<u64>, _msg: &TaskNew, _cx: &mut Cx<'_>) {
        *task.data_mut() += 1;
        self.task_count();
    }
    fn task_runnable(&mut self, _task: &mut Task<u64>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {}
    fn task_blocked(&mut self, _task: &mut Task<u64>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    fn task_yield(&mut self, _task: &mut Task<u64>, _msg: &TaskYield, _cx: &mut Cx<'_>) {}
    fn task_preempted(&mut self, _task: &mut Task<u64>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {}
    fn task_departed(&mut self, _task: &mut Task<u64>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<u64>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        None
    }
    #[helper]
    fn task_count(&mut self) {
        self.seen += 1;
    }
}

fn main() {
    let _ = Idle::run::<ghost::sim::SimEnclave>;
    let _ = Idle::full_agent::<ghost::sim::SimEnclave>;
}
