//! The tasks' life on the simulated clock: arrival, running their phases, blocking, yielding,
//! exiting, preemption; ticks; higher-class interference.

use super::queue::EventKind;
use super::{AgentPhase, Kernel, TaskState};
use crate::abi::trace::TraceEvent;
use crate::message::{
    CpuAvailable, CpuNotIdle, CpuTick, Payload, TaskBlocked, TaskDead, TaskDeparted, TaskNew,
    TaskPreempt, TaskWakeup, TaskYield,
};
use crate::sim::workload::{Phase, TaskEnd};

impl Kernel {
    pub(super) fn current_phase(&self, i: u32) -> Option<Phase> {
        let task = &self.tasks[i as usize];
        self.specs[i as usize]
            .phases
            .get(task.phase as usize)
            .copied()
    }

    /// Moves to the next phase (next round at the end of one) and loads a Run phase's length.
    pub(super) fn advance_phase(&mut self, i: u32) {
        let spec = &self.specs[i as usize];
        let task = &mut self.tasks[i as usize];
        task.phase += 1;
        if task.phase as usize == spec.phases.len() && task.round + 1 < spec.repeat {
            task.round += 1;
            task.phase = 0;
        }
        self.load_phase(i);
    }

    pub(super) fn load_phase(&mut self, i: u32) {
        if let Some(Phase::Run(ns)) = self.current_phase(i) {
            self.tasks[i as usize].remaining = ns;
        }
    }

    pub(super) fn arrive(&mut self, i: u32) {
        self.load_phase(i);
        let mut sleep = None;
        loop {
            match self.current_phase(i) {
                Some(Phase::SetAffinity(cpus)) => {
                    self.tasks[i as usize].affinity = cpus;
                    self.advance_phase(i);
                }
                Some(Phase::Yield) => self.advance_phase(i),
                Some(Phase::Sleep(ns)) => {
                    sleep = Some(ns);
                    self.advance_phase(i);
                    break;
                }
                Some(Phase::Run(_)) | None => break,
            }
        }
        let now = self.now;
        let task = &mut self.tasks[i as usize];
        task.state = if sleep.is_some() {
            TaskState::Blocked
        } else {
            TaskState::Runnable
        };
        task.runnable_since = now;
        let gtid = task.gtid;
        self.post_task(
            i,
            Payload::TaskNew(TaskNew {
                gtid,
                runnable: sleep.is_none(),
                runtime_ns: 0,
            }),
        );
        if let Some(ns) = sleep {
            self.schedule(now + ns, EventKind::Wake(i));
        }
    }

    pub(super) fn wake(&mut self, i: u32) {
        let now = self.now;
        let task = &mut self.tasks[i as usize];
        if task.state != TaskState::Blocked {
            return;
        }
        task.state = TaskState::Runnable;
        task.runnable_since = now;
        let (gtid, last_ran_cpu) = (task.gtid, task.last_cpu);
        self.post_task(
            i,
            Payload::TaskWakeup(TaskWakeup {
                gtid,
                deferrable: false,
                last_ran_cpu,
            }),
        );
    }

    /// Puts task `i` on CPU `c`: committed at `at`, running from `at + context switch`.
    pub(super) fn dispatch(&mut self, i: u32, c: u16, at: u64) {
        let start = at + self.costs.context_switch_ns;
        let task = &mut self.tasks[i as usize];
        task.state = TaskState::OnCpu(c);
        let waited = at.saturating_sub(task.runnable_since);
        task.wait += waited;
        self.waits.record(waited);
        // `first_run` is set when the task has really run (a latched task preempted during its
        // context switch has not).
        task.switches += 1;
        task.run_start = start;
        task.dispatched_at = at;
        let slot = &mut self.cpus[c as usize];
        slot.current = Some(i);
        slot.switches += 1;
        self.on_cpu += 1;
        self.arm_tick(c);
        let run = match self.current_phase(i) {
            Some(Phase::Run(_)) => self.tasks[i as usize].remaining,
            _ => 0,
        };
        self.set_task_timer(c, start + run);
    }

    /// Charges the CPU time since the task's stretch started.
    pub(super) fn account_run(&mut self, i: u32) {
        let now = self.now;
        let on_run_phase = matches!(self.current_phase(i), Some(Phase::Run(_)));
        let task = &mut self.tasks[i as usize];
        let ran = now.saturating_sub(task.run_start);
        task.runtime += ran;
        if on_run_phase {
            task.remaining = task.remaining.saturating_sub(ran);
        }
        task.run_start = task.run_start.max(now);
    }

    /// Task `i` is running on `c` at `now`: plays its phases until it needs more CPU time
    /// (schedules the end of it) or leaves the CPU.
    pub(super) fn continue_on_cpu(&mut self, i: u32, c: u16) {
        let now = self.now;
        loop {
            match self.current_phase(i) {
                Some(Phase::Run(_)) => {
                    let remaining = self.tasks[i as usize].remaining;
                    if remaining > 0 {
                        self.set_task_timer(c, now + remaining);
                        return;
                    }
                    self.advance_phase(i);
                }
                Some(Phase::SetAffinity(cpus)) => {
                    self.advance_phase(i);
                    self.tasks[i as usize].affinity = cpus;
                    let gtid = self.tasks[i as usize].gtid;
                    self.post_task(
                        i,
                        Payload::TaskAffinityChanged(crate::TaskAffinityChanged { gtid }),
                    );
                }
                Some(Phase::Sleep(ns)) => {
                    self.advance_phase(i);
                    self.leave_cpu(i, c, TaskState::Blocked);
                    self.post_blocked(i, c);
                    self.schedule(now + ns, EventKind::Wake(i));
                    return;
                }
                Some(Phase::Yield) => {
                    self.advance_phase(i);
                    self.leave_cpu(i, c, TaskState::Runnable);
                    let task = &self.tasks[i as usize];
                    let payload = Payload::TaskYield(TaskYield {
                        gtid: task.gtid,
                        runtime_ns: task.runtime,
                        cpu: self.cpus[c as usize].cpu,
                        from_switchto: false,
                    });
                    self.post_task(i, payload);
                    return;
                }
                None => {
                    self.leave_cpu(i, c, TaskState::Gone);
                    let gtid = self.tasks[i as usize].gtid;
                    match self.specs[i as usize].end {
                        TaskEnd::Exit => {
                            self.post_blocked(i, c);
                            self.post_task(i, Payload::TaskDead(TaskDead { gtid }));
                        }
                        TaskEnd::Depart => {
                            let cpu = Some(self.cpus[c as usize].cpu);
                            self.post_task(
                                i,
                                Payload::TaskDeparted(TaskDeparted {
                                    gtid,
                                    cpu,
                                    from_switchto: false,
                                    was_current: true,
                                }),
                            );
                        }
                    }
                    self.tasks[i as usize].end = Some(now);
                    self.unfinished -= 1;
                    if self.unfinished == 0 {
                        self.finished_at = Some(now);
                    }
                    return;
                }
            }
        }
    }

    pub(super) fn post_blocked(&mut self, i: u32, c: u16) {
        let task = &self.tasks[i as usize];
        let payload = Payload::TaskBlocked(TaskBlocked {
            gtid: task.gtid,
            runtime_ns: task.runtime,
            cpu: self.cpus[c as usize].cpu,
            from_switchto: false,
        });
        self.post_task(i, payload);
    }

    /// Takes task `i` off CPU `c` into `state`, recording its stretch there.
    pub(super) fn leave_cpu(&mut self, i: u32, c: u16, state: TaskState) {
        self.clear_task_timer(c);
        let now = self.now;
        let cs = self.costs.context_switch_ns;
        let task = &mut self.tasks[i as usize];
        task.state = state;
        task.runnable_since = now;
        let slot = &mut self.cpus[c as usize];
        task.last_cpu = Some(slot.cpu);
        slot.current = None;
        self.on_cpu -= 1;
        slot.switch_ns += now.saturating_sub(task.dispatched_at).min(cs);
        let start = task.dispatched_at + cs;
        if now >= start {
            task.first_run.get_or_insert(start);
        }
        if now > start {
            slot.task_ns += now - start;
            let gtid = task.gtid;
            self.trace.record(TraceEvent::Task {
                cpu: c as usize,
                gtid,
                start_ns: start,
                end_ns: now,
            });
        }
    }

    pub(super) fn preempt(&mut self, c: u16, i: u32) {
        self.account_run(i);
        let latched =
            self.now < self.tasks[i as usize].dispatched_at + self.costs.context_switch_ns;
        self.leave_cpu(i, c, TaskState::Runnable);
        let task = &mut self.tasks[i as usize];
        task.preemptions += 1;
        let payload = Payload::TaskPreempt(TaskPreempt {
            gtid: task.gtid,
            runtime_ns: task.runtime,
            cpu: self.cpus[c as usize].cpu,
            from_switchto: false,
            was_latched: latched,
        });
        self.post_task(i, payload);
    }

    /// Ticks fire at multiples of the tick period while a CPU has a task; an idle CPU's tick
    /// stops and restarts with its next task, so that idle CPUs cost no events and a scheduler
    /// that loses its tasks stalls instead of ticking to the time limit.
    pub(super) fn arm_tick(&mut self, c: u16) {
        let slot = &mut self.cpus[c as usize];
        if self.ticks && !slot.tick_armed {
            slot.tick_armed = true;
            let next = (self.now / self.tick_ns + 1) * self.tick_ns;
            self.schedule(next, EventKind::Tick(c));
        }
    }

    pub(super) fn tick(&mut self, c: u16) {
        // Ticks were turned off (`set_deliver_ticks(false)`): this CPU's tick stops.
        let current = if self.ticks {
            self.cpus[c as usize].current
        } else {
            None
        };
        let Some(i) = current else {
            self.cpus[c as usize].tick_armed = false;
            return;
        };
        if self.now >= self.tasks[i as usize].run_start {
            let cpu = self.cpus[c as usize].cpu;
            self.post_cpu(c, Payload::CpuTick(CpuTick { cpu }));
        }
        self.schedule(self.now + self.tick_ns, EventKind::Tick(c));
    }

    pub(super) fn interference_start(&mut self, c: u16, len: u64) {
        let now = self.now;
        let slot = &mut self.cpus[c as usize];
        if !slot.in_enclave {
            return;
        }
        if slot.interference_active {
            // Another burst while one waits or runs: the CPU is held that much longer.
            if slot.interference_since.is_some() {
                slot.interference_until += len;
                let until = slot.interference_until;
                self.schedule(until, EventKind::InterferenceEnd(c));
            } else {
                slot.interference_pending += len;
            }
            return;
        }
        slot.interference_active = true;
        slot.interference_pending = len;
        if let Some(running) = self.cpus[c as usize].current {
            self.preempt(c, running);
        }
        let slot = &mut self.cpus[c as usize];
        if slot.has_agent {
            // Boosted: the agent is woken (or keeps running) to notice and yield; the burst runs,
            // its whole length, once it has.
            self.wake_agent(c);
        } else {
            let cpu = slot.cpu;
            self.burst_runs(c, now);
            self.post_cpu(c, Payload::CpuNotIdle(CpuNotIdle { cpu }));
        }
    }

    /// The waiting burst of `c` gets the CPU at `at` and runs what it has left.
    pub(super) fn burst_runs(&mut self, c: u16, at: u64) {
        let slot = &mut self.cpus[c as usize];
        slot.interference_since = Some(at);
        slot.interference_until = at + slot.interference_pending;
        slot.interference_pending = 0;
        let until = slot.interference_until;
        self.schedule(until, EventKind::InterferenceEnd(c));
    }

    /// The agent of `c` takes the CPU from its running burst at `at` (the agent runs above the
    /// higher class, as ghOSt's agents do): the burst keeps what it has left for later.
    pub(super) fn burst_paused(&mut self, c: u16, at: u64) {
        let slot = &mut self.cpus[c as usize];
        let Some(since) = slot.interference_since.take() else {
            return;
        };
        let at = at.max(since);
        slot.interference_pending = slot.interference_until.saturating_sub(at);
        slot.interference_until = u64::MAX;
        if at > since {
            slot.interference_ns += at - since;
            self.trace.record(TraceEvent::Interference {
                cpu: c as usize,
                start_ns: since,
                end_ns: at,
            });
        }
    }

    pub(super) fn interference_end(&mut self, c: u16) {
        let now = self.now;
        let slot = &mut self.cpus[c as usize];
        if !slot.interference_active || now < slot.interference_until {
            return;
        }
        slot.interference_active = false;
        slot.interference_until = u64::MAX;
        if let Some(since) = slot.interference_since.take()
            && since < now
        {
            slot.interference_ns += now - since;
            self.trace.record(TraceEvent::Interference {
                cpu: c as usize,
                start_ns: since,
                end_ns: now,
            });
        }
        let slot = &mut self.cpus[c as usize];
        if slot.has_agent {
            if slot.agent == (AgentPhase::Blocked { on_idle: true }) {
                self.wake_agent(c);
            }
        } else {
            let cpu = slot.cpu;
            self.post_cpu(c, Payload::CpuAvailable(CpuAvailable { cpu }));
        }
        if let Some(r) = self.random_interference
            && self.unfinished > 0
        {
            let gap = self.rng.around(r.mean_gap_ns);
            let len = self.rng.around(r.mean_len_ns);
            self.schedule_burst(c, now + gap, len);
        }
    }
}
