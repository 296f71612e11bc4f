//! The tutorial's round-robin ("ラウンドロビン(もどき)"): FIFO on one CPU that rotates its queue
//! on every `MSG_CPU_TICK`, written with `#[ghost_scheduler]`. Run it with ticks on:
//! `AgentConfig::new(cpus).with_ticks(CpuTickConfig::AllTicks)`.
//!
//! The tutorial's version has to re-check `TaskBlocked` against a tick that already moved the
//! task; here the tick only marks the CPU, and the rotation happens when the agent decides,
//! after the whole drain, so the order of `MSG_CPU_TICK` and the task's messages in the channel
//! does not matter.

use std::collections::VecDeque;

use ghost_dsl::prelude::*;

/// Round-robin on CPU ticks.
#[derive(Debug, Default)]
pub struct RoundRobin {
    rq: VecDeque<Gtid>,
    /// A tick arrived since the last decision: the task that ran goes to the back.
    rotate: bool,
    /// Rotations done (one per tick that found more than one runnable task).
    pub rotations: u64,
}

#[ghost_scheduler(model = per_cpu, task = ())]
impl RoundRobin {
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
        // Back where it was; a tick (if any) rotates it in `pick_next`.
        self.rq.push_front(task.gtid());
    }

    fn task_departed(&mut self, task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {
        let gtid = task.gtid();
        self.rq.retain(|queued| *queued != gtid);
    }

    fn task_dead(&mut self, _task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {}

    fn cpu_tick(&mut self, _cpu: Cpu, _msg: &CpuTick, _cx: &mut Cx<'_>) {
        self.rotate = true;
    }

    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        if std::mem::take(&mut self.rotate) && self.rq.len() > 1 {
            self.rq.rotate_left(1);
            self.rotations += 1;
        }
        self.rq.pop_front()
    }
}
