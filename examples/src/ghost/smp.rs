//! The tutorial's SMP scheduler ("SMPに対応する"): per-CPU FIFO queues, new tasks spread over the
//! enclave's CPUs in turn with `associate_task` in `task_new` (falling back to the CPU that
//! received the task when association fails), written with `#[ghost_scheduler]`.
//!
//! The same policy as the hand-written [`HandFifo`](super::hand_fifo::HandFifo), which the
//! `ghost` bench measures it against.

use std::collections::VecDeque;

use ghost_dsl::prelude::*;

/// Per-CPU FIFO with round-robin placement.
#[derive(Debug, Default)]
pub struct SmpFifo {
    rq: PerCpu<VecDeque<Gtid>>,
    /// The enclave's CPUs, for placement (filled in `enclave_ready`).
    placement: Vec<Cpu>,
    next_placement: usize,
    /// `associate_task` calls that failed (the task stayed where it arrived).
    pub failed_associations: u64,
}

impl SmpFifo {
    /// The tutorial's `SelectCpu`: the enclave's CPUs in turn.
    fn select_cpu(&mut self) -> Cpu {
        let cpu = self.placement[self.next_placement];
        self.next_placement = (self.next_placement + 1) % self.placement.len();
        cpu
    }
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl SmpFifo {
    fn enclave_ready(&mut self, cx: &mut Cx<'_>) {
        self.placement = cx.enclave_cpus();
    }

    fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, cx: &mut Cx<'_>) {
        let mut target = self.select_cpu();
        if cx.associate_task(task, target).is_err() {
            self.failed_associations += 1;
            target = cx.cpu();
        }
        if msg.runnable {
            self.rq[target].push_back(task.gtid());
            if target != cx.cpu() {
                cx.ping(target);
            }
        }
    }

    fn task_runnable(&mut self, task: &mut Task<()>, _msg: &TaskWakeup, _cx: &mut Cx<'_>) {
        self.rq[task.channel_cpu()].push_back(task.gtid());
    }

    fn task_blocked(&mut self, _task: &mut Task<()>, _msg: &TaskBlocked, _cx: &mut Cx<'_>) {}

    fn task_yield(&mut self, task: &mut Task<()>, _msg: &TaskYield, _cx: &mut Cx<'_>) {
        self.rq[task.channel_cpu()].push_back(task.gtid());
    }

    fn task_preempted(&mut self, task: &mut Task<()>, _msg: &TaskPreempt, _cx: &mut Cx<'_>) {
        self.rq[task.channel_cpu()].push_front(task.gtid());
    }

    fn task_departed(&mut self, task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {
        let gtid = task.gtid();
        self.rq[task.channel_cpu()].retain(|queued| *queued != gtid);
    }

    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}

    fn pick_next(&mut self, cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq[cpu].pop_front()
    }
}
