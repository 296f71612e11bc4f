// More ways a handler can be wrong: the receiver, the number of parameters, the task type, the
// CPU parameter, `async`. Each error is on the offending part and shows the expected signature.
use ghost_dsl::prelude::*;

#[derive(Default)]
struct Other;

#[derive(Default)]
struct Fifo;

#[ghost_scheduler(model = per_cpu, task = u32)]
impl Fifo {
    fn task_new(&self, _task: &mut Task<u32>, _msg: &TaskNew, _cx: &mut Cx<'_>) {}
    fn task_runnable(&mut self, _task: &mut Task<u32>, _msg: &TaskWakeup) {}
    fn task_blocked(&mut self, _task: &mut Task<Other>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}
    async fn task_yield(&mut self, _task: &mut Task<u32>, _msg: &TaskYield, _cx: &mut Cx<'_>) {}
    fn task_preempted(&mut self, _task: &mut Task<u32>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {}
    fn task_departed(&mut self, _task: &mut Task<u32>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {}
    fn task_dead(&mut self, _task: &mut Task<u32>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}
    fn cpu_tick(&mut self, _cpu: &Cpu, _msg: &CpuTick, _cx: &mut Cx<'_>) {}
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        None
    }
}

fn main() {
    let _ = Fifo::run::<SimEnclave>;
    let _ = Other;
}
