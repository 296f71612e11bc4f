// The attribute goes on an inherent, non-generic impl: a trait impl (complete or not), a generic
// impl and a struct are each one error.
use ghost_dsl::prelude::*;

#[derive(Default)]
struct ViaTrait;

#[ghost_scheduler(model = per_cpu, task = ())]
impl Scheduler for ViaTrait {
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

// A trait impl that also lacks handlers: still one error, about the impl (its missing handlers
// are not a second mistake).
#[derive(Default)]
struct ViaTraitPartial;

#[ghost_scheduler(model = per_cpu, task = ())]
impl Scheduler for ViaTraitPartial {
    fn task_new(&mut self, _task: &mut Task<()>, _msg: &TaskNew, _cx: &mut Cx<'_>) {}
}

#[derive(Default)]
struct Generic<T>(T);

#[ghost_scheduler(model = per_cpu, task = ())]
impl<T> Generic<T> {
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

#[ghost_scheduler(model = per_cpu, task = ())]
#[derive(Default)]
struct OnAStruct;

fn main() {
    let _ = ViaTrait::run::<SimEnclave>;
    let _ = ViaTraitPartial::run::<SimEnclave>;
    let _ = OnAStruct;
    let _ = Generic(0u8).0;
}
