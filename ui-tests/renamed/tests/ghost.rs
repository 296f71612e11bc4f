#![allow(missing_docs)]
//! `#[ghost_scheduler(crate = gh)]` in a package where `::ghost_dsl` does not resolve; the
//! generated FIFO then runs the tutorial's two busy loops on one CPU, one after the other.

use std::collections::VecDeque;

use gh::prelude::*;
use gh::sim::workloads::tutorial_busy_loops;
use gh::topology::Topology;

#[derive(Default)]
struct Fifo {
    rq: VecDeque<Gtid>,
}

#[gh::ghost_scheduler(model = per_cpu, task = (), crate = gh)]
impl Fifo {
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
        self.rq.push_front(task.gtid());
    }
    fn task_departed(&mut self, task: &mut Task<()>, _msg: &TaskDeparted, _cx: &mut Cx<'_>) {
        self.rq.retain(|&g| g != task.gtid());
    }
    fn task_dead(&mut self, task: &mut Task<()>, _msg: &TaskDead, _cx: &mut Cx<'_>) {
        self.rq.retain(|&g| g != task.gtid());
    }
    fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
        self.rq.pop_front()
    }
}

#[test]
fn the_generated_fifo_runs_through_the_renamed_crate() {
    const T: u64 = 5_000_000;
    let config = SimConfig::new(Topology::test_default(), tutorial_busy_loops(T));
    let report = Fifo::default()
        .run(
            SimEnclave::new(config).unwrap(),
            AgentConfig::new(gh::parse_cpu_str("0").unwrap()),
        )
        .unwrap();
    let (t1, t2) = (report.task("t1").unwrap(), report.task("t2").unwrap());
    let (t1_end, t2_start) = (t1.end_ns.unwrap(), t2.start_ns.unwrap());
    assert!(t1_end >= T && t2_start >= t1_end, "{t1:?} {t2:?}");
}
