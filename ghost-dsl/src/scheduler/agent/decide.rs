//! The decision: what to run where (`pick_next`, after failed commits), the transactions, and
//! what follows a commit, for the per-CPU and the centralized model.

use crate::{
    AgentEnclave, BarrierToken, CommitFlags, Cpu, CpuList, Gtid, RunFlags, RunRequestOptions,
    TxnState,
};

use super::SchedulerAgent;
use crate::abi::AsKernel;
use crate::scheduler::{Cx, FailedCommit, Scheduler, TaskState, TransitionError};

impl<S: Scheduler> SchedulerAgent<S> {
    /// The next task for `cpu`: the one whose commit must be retried, else `pick_next`'s
    /// choice, checked to be a live runnable task.
    pub(super) fn choose<K: ?Sized + AsKernel>(
        &mut self,
        cpu: Cpu,
        enclave: &mut AgentEnclave<'_, K>,
    ) -> Option<(Gtid, BarrierToken)> {
        let retry = self.cpus[cpu].retry.take().or_else(|| self.orphans.pop());
        if let Some(gtid) = retry
            && let Some(task) = self.tasks.get(gtid)
            && task.is_runnable()
        {
            return Some((gtid, task.seqnum()));
        }
        self.entering("pick_next", None);
        let gtid = self
            .scheduler
            .pick_next(cpu, &mut Cx::new(enclave, &mut self.requests))?;
        self.apply_requests(enclave);
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

    /// After a commit on `cpu` of `gtid`: the task is on the CPU, or the failure is handled
    /// (a passing one goes to [`Scheduler::commit_failed`], or to the retry slot). Returns
    /// whether the agent must decide again (a passing failure).
    pub(super) fn committed<K: ?Sized + AsKernel>(
        &mut self,
        cpu: Cpu,
        gtid: Gtid,
        state: TxnState,
        enclave: &mut AgentEnclave<'_, K>,
    ) -> bool {
        if state == TxnState::Complete {
            self.stats.commits += 1;
            if let Some(task) = self.tasks.get_mut(gtid) {
                task.set_state(TaskState::OnCpu(cpu));
            }
            self.place(gtid, cpu, enclave.now_ns());
            return false;
        }
        self.stats.failed_commits += 1;
        match state {
            // Gone: its MSG_TASK_DEAD / MSG_TASK_DEPARTED is on the way. Decide again.
            TxnState::TargetNotFound => true,
            // Passing: new messages (for the agent or the task) or a higher class on the CPU.
            // The policy takes the task back, or the agent keeps it to commit first.
            _ if state.is_passing() => {
                self.entering("commit_failed", Some(gtid));
                let Self {
                    scheduler,
                    tasks,
                    requests,
                    ..
                } = self;
                let outcome = match tasks.get_mut(gtid) {
                    Some(task) => {
                        scheduler.commit_failed(task, cpu, state, &mut Cx::new(enclave, requests))
                    }
                    None => FailedCommit::Requeued,
                };
                if outcome == FailedCommit::Retry {
                    self.cpus[cpu].retry = Some(gtid);
                }
                self.apply_requests(enclave);
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

    /// `gtid` runs on `cpu` since `now_ns` (committed by the loop or by a handler).
    pub(super) fn place(&mut self, gtid: Gtid, cpu: Cpu, now_ns: u64) {
        let slot = &mut self.cpus[cpu];
        slot.current = Some(gtid);
        slot.since_ns = now_ns;
    }

    /// Applies what handlers asked through [`Cx`]: the tasks they committed.
    #[inline]
    pub(super) fn apply_requests<K: ?Sized + AsKernel>(&mut self, enclave: &AgentEnclave<'_, K>) {
        if self.requests.placed.is_empty() {
            return;
        }
        let now_ns = enclave.now_ns();
        let mut placed = std::mem::take(&mut self.requests.placed);
        for &(gtid, cpu) in &placed {
            self.stats.commits += 1;
            self.place(gtid, cpu, now_ns);
        }
        placed.clear();
        self.requests.placed = placed;
    }

    pub(super) fn run_per_cpu<K: ?Sized + AsKernel>(
        &mut self,
        cpu: Cpu,
        barrier: BarrierToken,
        enclave: &mut AgentEnclave<'_, K>,
    ) {
        if self.cpus[cpu].current.is_some() {
            // A handler committed a task here in this iteration (or the preemption of the last
            // one is not drained yet, and a commit would be stale): nothing to decide; the agent
            // runs again, or sleeps if the handler's commit gave the CPU away.
            return;
        }
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
        // agent loop, deciding afresh.
        self.committed(cpu, target, state, enclave);
    }

    /// Whether the centralized agent reconsiders `cpu`, which runs a task: asked by the policy
    /// ([`Cx::preempt`]), or the task's time slice is over.
    fn reconsider(&mut self, cpu: Cpu, now_ns: u64) -> bool {
        if self.requests.preempt.remove(cpu.id()) {
            return true;
        }
        self.requests
            .time_slice_ns
            .is_some_and(|slice| now_ns.saturating_sub(self.cpus[cpu].since_ns) >= slice)
    }

    pub(super) fn run_centralized<K: ?Sized + AsKernel>(
        &mut self,
        agent_cpu: Cpu,
        barrier: BarrierToken,
        enclave: &mut AgentEnclave<'_, K>,
    ) {
        let now_ns = enclave.now_ns();
        let mut opened = std::mem::take(&mut self.opened);
        opened.clear();
        for i in 0..self.enclave_cpus.len() {
            let cpu = self.enclave_cpus[i];
            if cpu == agent_cpu {
                continue;
            }
            let slot = &mut self.cpus[cpu];
            let busy = slot.current.is_some();
            if !slot.available || (busy && !self.reconsider(cpu, now_ns)) {
                // A task waiting to be committed here again goes to the next free CPU.
                if let Some(gtid) = self.cpus[cpu].retry.take() {
                    self.orphans.push(gtid);
                }
                continue;
            }
            let Some((target, target_barrier)) = self.choose(cpu, enclave) else {
                continue;
            };
            if let Some(&twice) = opened.iter().find(|c| self.cpus[**c].retry == Some(target)) {
                self.record(TransitionError {
                    now_ns,
                    cpu: agent_cpu,
                    gtid: target,
                    during: format!("pick_next({cpu}) -> {target}"),
                    problem: format!(
                        "pick_next chose {target} for {twice} already in this round; a task \
                         runs on one CPU: take it out of the run queue when pick_next returns it"
                    ),
                });
                continue;
            }
            enclave.run_request(cpu).open(RunRequestOptions {
                target,
                target_barrier,
                agent_barrier: barrier,
                commit_flags: CommitFlags::COMMIT_AT_TXN_COMMIT,
            });
            self.cpus[cpu].retry = Some(target);
            opened.push(cpu);
        }
        self.requests.preempt = CpuList::new();
        let mut again = false;
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
                again |= self.committed(cpu, target, state, enclave);
            }
        }
        self.opened = opened;
        if !again {
            enclave.local_yield(barrier, RunFlags::NONE);
        }
    }
}
