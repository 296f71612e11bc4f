//! Where a parallel check spends its time, for the report's notes: per worker the CPU time it
//! spent expanding states, the longest thread's CPU time per phase (summed, with the time
//! between phases: the critical path on idle cores), the calling thread's CPU time between
//! phases (barriers, small levels, the steps redone there, growths) and within them besides
//! its share (spawning, waiting), and how much was redone or waited for.
//!
//! CPU times come from the thread's own clock, so they do not depend on what else the machine
//! runs, unlike wall times; a few clock reads per phase and worker, nothing per state.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// The CPU time the calling thread has used.
pub(super) fn thread_cpu() -> Duration {
    #[cfg(unix)]
    {
        let mut now = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `clock_gettime` writes one `timespec` through a pointer to a live, writable
        // one; `CLOCK_THREAD_CPUTIME_ID` is supported on every Unix this crate builds on.
        let done = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
        if done == 0 {
            return Duration::new(now.tv_sec as u64, now.tv_nsec as u32);
        }
    }
    Duration::ZERO
}

/// A stretch of work on one thread: its CPU and wall time.
pub(super) struct Timer {
    cpu: Duration,
    wall: Instant,
}

impl Timer {
    pub(super) fn start() -> Self {
        Timer {
            cpu: thread_cpu(),
            wall: Instant::now(),
        }
    }

    /// CPU and wall time since [`Timer::start`].
    pub(super) fn stop(&self) -> (Duration, Duration) {
        (thread_cpu().saturating_sub(self.cpu), self.wall.elapsed())
    }
}

/// The figures of one parallel run (see the module documentation).
#[derive(Default)]
pub(super) struct Profile {
    pub(super) levels: u32,
    /// Levels small enough to be expanded on the calling thread alone.
    pub(super) solo_levels: u32,
    /// Scopes of the workers started (a level is one, or more when the table grew in it).
    pub(super) phases: u32,
    pub(super) growths: u32,
    /// Growths that stopped the workers within a level (the others came at a barrier).
    pub(super) mid_level_growths: u32,
    /// Per worker: CPU and wall time spent in phases.
    pub(super) worker_cpu: Vec<Duration>,
    pub(super) worker_wall: Vec<Duration>,
    /// Sum over phases of the most CPU time one thread used in it (see [`Profile::phase`]).
    pub(super) span_cpu: Duration,
    /// Sum of the phases' wall times.
    pub(super) phase_wall: Duration,
    /// The calling thread's CPU time in phases besides its share: spawning, and waiting for
    /// the other workers.
    pub(super) caller_waiting: Duration,
    /// The calling thread's CPU time outside the phases (barriers, small levels, redone steps,
    /// growths).
    pub(super) serial_cpu: Duration,
    /// CPU time (of the calling thread) and wall time of the table's growths.
    pub(super) growth_cpu: Duration,
    pub(super) growth_wall: Duration,
    /// Steps deferred to a barrier (their outcome had no id in the frozen tables) and redone.
    pub(super) redone: u64,
    /// Nodes whose expansion was cut short by the table's growth and started again.
    pub(super) restarted: u64,
}

impl Profile {
    pub(super) fn new(workers: usize) -> Self {
        Profile {
            worker_cpu: vec![Duration::ZERO; workers],
            worker_wall: vec![Duration::ZERO; workers],
            ..Profile::default()
        }
    }

    /// Records a phase: per worker (by lane) its CPU and wall time expanding states, the
    /// calling thread's (lane 0's) CPU over the whole phase, and the phase's wall time.
    ///
    /// The phase's share of the critical path is the most CPU one thread spent in it, the
    /// calling thread's counted with its spawning and waiting: waiting for a slower worker,
    /// it spins a while, and that CPU is not work (nor "between phases", where it would be
    /// counted on top of the slower worker's time that it overlaps).
    pub(super) fn phase(
        &mut self,
        times: &[(Duration, Duration)],
        caller_cpu: Duration,
        wall: Duration,
    ) {
        self.phases += 1;
        self.phase_wall += wall;
        let mut longest = caller_cpu;
        self.caller_waiting +=
            caller_cpu.saturating_sub(times.first().map_or(Duration::ZERO, |t| t.0));
        for (lane, &(cpu, busy)) in times.iter().enumerate() {
            self.worker_cpu[lane] += cpu;
            self.worker_wall[lane] += busy;
            longest = longest.max(cpu);
        }
        self.span_cpu += longest;
    }

    /// The critical path in CPU time: what a run on otherwise idle cores would take.
    pub(super) fn critical_cpu(&self) -> Duration {
        self.span_cpu + self.serial_cpu
    }

    /// The note the report carries.
    pub(super) fn note(&self, workers: usize) -> String {
        let secs = |d: Duration| d.as_secs_f64();
        let mut note = format!(
            "{workers} workers, breadth-first by levels: {} levels ({} small ones on one worker), \
             {} phases, {} table growths ({} within a level; {:.3} s of CPU, {:.3} s); CPU ",
            self.levels,
            self.solo_levels,
            self.phases,
            self.growths,
            self.mid_level_growths,
            secs(self.growth_cpu),
            secs(self.growth_wall),
        );
        for (i, cpu) in self.worker_cpu.iter().enumerate() {
            let _ = write!(
                note,
                "{}{:.3} s",
                if i > 0 { " + " } else { "" },
                secs(*cpu)
            );
        }
        let busy: Duration = self.worker_wall.iter().sum();
        let idle = if self.phase_wall.is_zero() {
            0.0
        } else {
            100.0 * (1.0 - secs(busy) / (secs(self.phase_wall) * workers as f64)).max(0.0)
        };
        let _ = write!(
            note,
            " in phases, {:.3} s between them; critical path {:.3} s of CPU; workers idle {idle:.1}% \
             of the phases' wall time; {} steps redone at barriers, {} expansions restarted; \
             {:.3} s of the calling thread's CPU in phases spawning and waiting",
            secs(self.serial_cpu),
            secs(self.critical_cpu()),
            self.redone,
            self.restarted,
            secs(self.caller_waiting),
        );
        note
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_counts_its_longest_thread_once_with_the_callers_waiting() {
        let ms = Duration::from_millis;
        let mut profile = Profile::new(2);
        // Lane 0 expanded for 3 ms and waited 2 ms for lane 1's 5: 5 ms of the critical
        // path, not 3 + 5 or 5 + 2.
        profile.phase(&[(ms(3), ms(3)), (ms(5), ms(5))], ms(5), ms(5));
        // Lane 1 was the quick one: the caller's 4 ms of work and 1 ms of spawning count.
        profile.phase(&[(ms(4), ms(4)), (ms(2), ms(2))], ms(5), ms(5));
        profile.serial_cpu = ms(1);
        assert_eq!(profile.span_cpu, ms(10));
        assert_eq!(profile.critical_cpu(), ms(11));
        assert_eq!(profile.caller_waiting, ms(3));
        assert_eq!(profile.worker_cpu, vec![ms(7), ms(7)]);
        let note = profile.note(2);
        assert!(
            note.contains("CPU 0.007 s + 0.007 s in phases, 0.001 s between them"),
            "{note}"
        );
        assert!(note.contains("critical path 0.011 s of CPU"), "{note}");
        assert!(
            note.contains("0.003 s of the calling thread's CPU in phases spawning and waiting"),
            "{note}"
        );
    }
}
