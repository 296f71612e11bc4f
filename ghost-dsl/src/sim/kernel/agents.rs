//! The agents' life on the simulated clock: what runs next, wakeups, taking the CPU, running an
//! iteration and what follows it; and posting messages to their channels.

use super::queue::{EventKind, Next};
use super::{AgentPhase, Kernel};
use crate::Cpu;
use crate::abi::rules::{self, AfterIteration};
use crate::abi::trace::TraceEvent;
use crate::message::{Message, Payload};

impl Kernel {
    pub(crate) fn peek_next(&self) -> Option<(u64, Next)> {
        let timer = self.timers.earliest();
        if let Some(e) = self.heap.peek()
            && timer.is_none_or(|(_, key)| (e.time, e.seq) < key)
        {
            return Some((e.time, Next::Kernel));
        }
        let (best_k, best) = timer?;
        let c = self.timer_cpus[best_k / 2];
        let next = if best_k % 2 == 1 {
            Next::TaskTimer(c)
        } else if self.cpus[c as usize].agent == AgentPhase::Starting {
            Next::AgentStart(c)
        } else {
            Next::AgentExec(c)
        };
        Some((best.0, next))
    }

    /// The running task of `c` reached the end of its stretch of CPU time.
    pub(crate) fn task_timer(&mut self, c: u16) {
        // Read, not cleared: playing the task's phases below either re-arms it or takes the
        // task off the CPU, which clears it.
        self.now = self.timer_time(2 * self.cpus[c as usize].k + 1);
        let i = self.cpus[c as usize]
            .current
            .expect("a task timer is set only while a task is on the CPU");
        self.account_run(i);
        self.continue_on_cpu(i, c);
    }

    pub(crate) fn handle_next_event(&mut self) {
        let Some(event) = self.heap.pop() else { return };
        self.now = event.time;
        self.idle_iterations = 0;
        match event.kind {
            EventKind::Arrive(i) => self.arrive(i),
            EventKind::Wake(i) => self.wake(i),
            EventKind::Tick(c) => self.tick(c),
            EventKind::InterferenceStart(c, index) => {
                let len = self.burst_lens[index as usize];
                self.interference_start(c, len);
            }
            EventKind::InterferenceEnd(c) => self.interference_end(c),
        }
    }

    pub(super) fn wake_agent(&mut self, c: u16) {
        let slot = &mut self.cpus[c as usize];
        if let AgentPhase::Blocked { .. } = slot.agent {
            slot.agent = AgentPhase::Starting;
            let at = self.now.max(slot.busy_until);
            self.set_agent_timer(c, at);
        }
    }

    pub(crate) fn agent_start(&mut self, c: u16) {
        // Read, not cleared: the timer is re-armed for the iteration below (one tree update).
        let time = self.timer_time(2 * self.cpus[c as usize].k);
        self.now = time;
        let slot = &mut self.cpus[c as usize];
        slot.agent = AgentPhase::Running;
        slot.run_started = time;
        self.burst_paused(c, time);
        if let Some(running) = self.cpus[c as usize].current {
            self.preempt(c, running);
        }
        let exec = self.now + self.costs.agent_loop_ns;
        let slot = &mut self.cpus[c as usize];
        // The iteration reads its barrier now, when its agent takes the CPU.
        slot.word.begin_iteration();
        slot.drained = 0;
        self.set_agent_timer(c, exec);
    }

    pub(crate) fn begin_exec(&mut self, c: u16) -> Cpu {
        // Read, not cleared: `end_exec` re-arms or clears it (nothing else touches a running
        // agent's timer).
        self.now = self.timer_time(2 * self.cpus[c as usize].k);
        self.stats.agent_runs += 1;
        // The watchdog counts iterations while nothing runs; anything happening resets it.
        self.idle_iterations = if self.on_cpu == 0 {
            self.idle_iterations + 1
        } else {
            0
        };
        self.cpus[c as usize].cpu
    }

    pub(crate) fn end_exec(&mut self, cpu: Cpu) {
        let c = cpu.id();
        let now = self.now;
        let slot = &mut self.cpus[c];
        let mut end = now + slot.drained * self.costs.per_message_ns;
        match slot.word.after() {
            AfterIteration::CommittedLocal { at_ns } => {
                end = at_ns;
                slot.agent = AgentPhase::Blocked { on_idle: false };
            }
            AfterIteration::Yielded { on_idle } => {
                slot.agent = AgentPhase::Blocked { on_idle };
            }
            AfterIteration::RunAgain => {
                slot.agent = AgentPhase::Starting;
            }
        }
        let start = slot.run_started;
        slot.busy_until = end;
        slot.agent_ns += end - start;
        let burst_waits =
            slot.interference_active && matches!(slot.agent, AgentPhase::Blocked { .. });
        let again = slot.agent == AgentPhase::Starting;
        if burst_waits {
            // The agent gave the CPU up: the burst runs from the end of its iteration.
            self.burst_runs(c as u16, end);
        }
        if again {
            self.set_agent_timer(c as u16, end.max(now + 1));
        } else {
            self.take_agent_timer(c as u16);
        }
        self.trace.record(TraceEvent::Agent {
            cpu: c,
            start_ns: start,
            end_ns: end,
        });
    }

    /// Queues `msg` (made by the shared rules, which moved the barrier of agent `wake`) on
    /// `channel` and wakes that agent.
    pub(super) fn push_message(&mut self, channel: u16, wake: u16, msg: Message) {
        self.channels[channel as usize].queue.push_back(msg);
        self.idle_iterations = 0;
        self.stats.messages += 1;
        self.stats.by_kind[msg.kind() as usize] += 1;
        self.trace.record(TraceEvent::Message {
            time_ns: self.now,
            cpu: wake as usize,
            kind: msg.kind(),
            gtid: msg.gtid(),
            seqnum: msg.seqnum().0,
        });
        self.wake_agent(wake);
    }

    /// Posts a message about task `i` to the channel it is associated with.
    pub(super) fn post_task(&mut self, i: u32, payload: Payload) {
        let task = &mut self.tasks[i as usize];
        let channel = task.word.channel();
        let wake = self.channels[channel as usize].wake_cpu;
        let msg = rules::post_task(&mut task.word, &mut self.cpus[wake as usize].word, payload);
        self.push_message(channel, wake, msg);
    }

    /// Posts a message about CPU `c` to the channel of its agent.
    pub(super) fn post_cpu(&mut self, c: u16, payload: Payload) {
        let channel = self.cpus[c as usize].channel;
        let wake = self.channels[channel as usize].wake_cpu;
        let msg = rules::post_cpu(&mut self.cpus[wake as usize].word, payload);
        self.push_message(channel, wake, msg);
    }
}
