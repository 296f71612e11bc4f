//! The decision: what to run where (`pick_next`, after failed commits), the transactions, and
//! what follows a commit, for the per-CPU and the centralized model.

use crate::{
    AgentEnclave, BarrierToken, CommitFlags, Cpu, CpuList, Gtid, RunFlags, RunRequestOptions,
    TxnState,
};

use super::SchedulerAgent;
use crate::scheduler::{Cx, Scheduler, TaskState, TransitionError};

impl<S: Scheduler> SchedulerAgent<S> {
    /// The next task for `cpu`: the one whose commit must be retried, else `pick_next`'s
    /// choice, checked to be a live runnable task.
    pub(super) fn choose(
        &mut self,
        cpu: Cpu,
        enclave: &mut AgentEnclave<'_>,
    ) -> Option<(Gtid, BarrierToken)> {
        let retry = self.cpus[cpu].retry.take().or_else(|| self.orphans.pop());
        if let Some(gtid) = retry
            && let Some(task) = self.tasks.get(gtid)
            && task.is_runnable()
        {
            return Some((gtid, task.seqnum()));
        }
        self.entering("pick_next", None, None);
        let gtid = self.scheduler.pick_next(cpu, &mut Cx::new(enclave))?;
        let problem = match self.tasks.get(gtid) {
            Some(task) if task.is_runnable() => return Some((gtid, task.seqnum())),
            Some(task) => format!(
                "pick_next chose a task that is {} (its latest message is {}); only runnable \
                 tasks can be run: remove a task from the run queue when it blocks, is \
                 committed elsewhere, or leaves",
                task.state().describe(),
                task.last_message()
            ),
            None => "pick_next chose a task the scheduler does not have (never new, or already \
                     dead or departed)"
                .to_owned(),
        };
        self.record(TransitionError {
            now_ns: enclave.now_ns(),
            cpu: enclave.cpu(),
            gtid,
            during: format!("pick_next({cpu}) -> {gtid}"),
            problem,
        });
        None
    }

    /// After a commit on `cpu` of `gtid`: the task is on the CPU, or the failure is handled.
    /// Returns whether a retry is pending.
    pub(super) fn committed(
        &mut self,
        cpu: Cpu,
        gtid: Gtid,
        state: TxnState,
        enclave: &AgentEnclave<'_>,
    ) -> bool {
        if state == TxnState::Complete {
            self.stats.commits += 1;
            if let Some(task) = self.tasks.get_mut(gtid) {
                task.set_state(TaskState::OnCpu(cpu));
            }
            self.cpus[cpu].current = Some(gtid);
            return false;
        }
        self.stats.failed_commits += 1;
        match state {
            // Passing: new messages (for the agent or the task) or a higher class on the CPU.
            // The next iteration drains them and commits the task again.
            TxnState::AgentStale | TxnState::TargetStale | TxnState::CpuUnavail => {
                self.cpus[cpu].retry = Some(gtid);
                true
            }
            _ => {
                self.record(TransitionError {
                    now_ns: enclave.now_ns(),
                    cpu: enclave.cpu(),
                    gtid,
                    during: format!("commit of {gtid} on {cpu}"),
                    problem: format!(
                        "the kernel refused it with {state}: the task cannot run there \
                         (check its affinity, and that it is not running elsewhere)"
                    ),
                });
                false
            }
        }
    }

    pub(super) fn run_per_cpu(
        &mut self,
        cpu: Cpu,
        barrier: BarrierToken,
        enclave: &mut AgentEnclave<'_>,
    ) {
        let Some((target, target_barrier)) = self.choose(cpu, enclave) else {
            enclave.local_yield(barrier, RunFlags::NONE);
            return;
        };
        let mut req = enclave.run_request(cpu);
        req.open(RunRequestOptions {
            target,
            target_barrier,
            agent_barrier: barrier,
            commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
        });
        req.commit();
        let state = req.state();
        // On a passing failure the agent returns without yielding, so it runs again: ghOSt's
        // retry loop.
        self.committed(cpu, target, state, enclave);
    }

    pub(super) fn run_centralized(
        &mut self,
        agent_cpu: Cpu,
        barrier: BarrierToken,
        enclave: &mut AgentEnclave<'_>,
    ) {
        let mut opened = std::mem::take(&mut self.opened);
        opened.clear();
        for i in 0..self.enclave_cpus.len() {
            let cpu = self.enclave_cpus[i];
            let slot = &mut self.cpus[cpu];
            if cpu == agent_cpu {
                continue;
            }
            if slot.current.is_some() || !slot.available {
                // A task waiting to be committed here again goes to the next free CPU.
                if let Some(gtid) = slot.retry.take() {
                    self.orphans.push(gtid);
                }
                continue;
            }
            let Some((target, target_barrier)) = self.choose(cpu, enclave) else {
                continue;
            };
            enclave.run_request(cpu).open(RunRequestOptions {
                target,
                target_barrier,
                agent_barrier: barrier,
                commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
            });
            self.cpus[cpu].retry = Some(target);
            opened.push(cpu);
        }
        let mut retry = false;
        if !opened.is_empty() {
            // One batch (ghOSt's CommitRunRequests); outcomes per CPU.
            let mut list = CpuList::new();
            for cpu in &opened {
                let _ = list.insert(cpu.id());
            }
            enclave.commit_run_requests(&list);
            for &cpu in &opened {
                let target = self.cpus[cpu].retry.take().expect("set when opened");
                let state = enclave.run_request(cpu).state();
                retry |= self.committed(cpu, target, state, enclave);
            }
        }
        self.opened = opened;
        if !retry {
            enclave.local_yield(barrier, RunFlags::NONE);
        }
    }
}
