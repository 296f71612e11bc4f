//! Agent threads: one per enclave CPU (per-CPU model) or one global agent on the first enclave
//! CPU (centralized), each pinned to its CPU, at `SCHED_FIFO` priority when the process may.
//!
//! An agent thread loops: take the policy (one lock: the scheduler is one `&mut` object, so
//! iterations of different CPUs' agents are serialised), take the kernel lock, start an
//! iteration (per-CPU: preempt the thread on the CPU; post due ticks; read the barrier), run
//! the policy's iteration, end it (signal preempted threads not committed again), release both
//! locks and carry out the wakes. Then, if the iteration yielded or committed locally, it sleeps
//! on its futex word until a message, a ping or its next tick (or spins, when asked to);
//! otherwise it iterates again at once (ghOSt's retry loop).
//!
//! A panic of the policy is caught here; so is a broken rule the policy's check reports after
//! an iteration. Either one records the fault and releases every managed thread to the OS
//! scheduler ([`State::fall_back`]); the agents then exit.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::kernel::{State, flush};
use super::managed::{Shared, panic_message};
use super::ops::Kernel;
use super::sys;
use crate::{Agent, AgentEnclave, Cpu};

/// Why a run stopped being scheduled by its agents.
#[derive(Debug)]
pub(crate) enum Fault {
    /// The policy panicked in the iteration of the agent of `cpu`.
    Panic { cpu: Cpu, message: String },
    /// The policy asked to stop (it broke a rule, and says which itself).
    Stopped,
    /// An agent held the enclave for longer than the watchdog limit (stuck in its iteration,
    /// e.g. waiting for a lock a stopped thread holds).
    Stalled { limit: Duration },
    /// Runnable threads were not scheduled in time.
    Watchdog {
        limit: Duration,
        threads: Vec<(String, u64)>,
    },
    /// Every live thread was parked with no handle left to unpark it: (thread, where).
    Deadlock { threads: Vec<(String, String)> },
    /// The run's time limit passed.
    TimeLimit { limit: Duration },
}

/// How agent threads behave.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AgentOptions {
    pub(crate) rt_priority: Option<i32>,
    pub(crate) spin: bool,
}

/// What an agent thread found about its own setup.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct AgentSetup {
    pub(crate) realtime: bool,
}

pub(crate) struct AgentShared<'d, A> {
    pub(crate) shared: &'d Shared,
    /// The policy: one value for every agent thread, so iterations take turns.
    pub(crate) agent: Mutex<&'d mut A>,
    pub(crate) stop: std::sync::atomic::AtomicBool,
    pub(crate) fault: Mutex<Option<Fault>>,
    pub(crate) options: AgentOptions,
}

impl<A> AgentShared<'_, A> {
    /// Records `fault` (the first wins) and releases every thread.
    pub(crate) fn fail(&self, st: &mut State, fault: Fault) {
        let mut slot = self.fault.lock().unwrap_or_else(|e| e.into_inner());
        slot.get_or_insert(fault);
        st.fall_back(&self.shared.machine);
    }
}

/// How one iteration went.
struct Iterated {
    /// The agent blocks now (it yielded or committed locally).
    blocks: bool,
    /// The futex value to sleep on.
    seen: u32,
    /// The next tick the agent must post, ns.
    next_tick: Option<u64>,
    now: u64,
}

/// One iteration of the agent of the CPU at index `a`, under both locks; the wakes are carried
/// out after they are released. `None` when the run is over (a fault, now or before).
fn iterate<A: Agent + Send>(ags: &AgentShared<'_, A>, a: usize) -> Option<Iterated> {
    let mut agent = ags.agent.lock().unwrap_or_else(|e| e.into_inner());
    let mut st = ags.shared.lock();
    if st.fallen_back {
        return None;
    }
    let cpu = st.cpus[a].cpu;
    let started = st.now_ns();
    let seen = st.begin_iteration(a);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut kernel = Kernel { st: &mut st };
        agent.run_direct(cpu, &mut AgentEnclave::direct(&mut kernel, cpu));
    }));
    let blocks = st.end_iteration(a, started);
    let fault = match result {
        Err(payload) => Some(Fault::Panic {
            cpu,
            message: panic_message(payload.as_ref()),
        }),
        Ok(()) => agent.stop_requested().then_some(Fault::Stopped),
    };
    if let Some(fault) = fault {
        ags.fail(&mut st, fault);
        drop(st);
        drop(agent);
        ags.shared.notify_done();
        return None;
    }
    let next_tick = st.next_tick_for(a);
    let now = st.now_ns();
    let mut wakes = std::mem::take(&mut st.wakes);
    drop(st);
    drop(agent);
    flush(&mut wakes);
    Some(Iterated {
        blocks,
        seen,
        next_tick,
        now,
    })
}

/// Runs an agent iteration on the calling thread (a managed thread that just left its CPU).
pub(crate) trait Inline: Sync {
    /// One iteration of the agent of the CPU at index `a`; wakes the agent thread if the
    /// iteration does not block (it will iterate again).
    fn iterate_inline(&self, a: usize);
}

impl<A: Agent + Send> Inline for AgentShared<'_, A> {
    fn iterate_inline(&self, a: usize) {
        if let Some(done) = iterate(self, a)
            && !done.blocks
        {
            let word = self.shared.lock().cpus[a].word.clone();
            word.fetch_add(1, Ordering::Release);
            sys::futex_wake_all(&word);
        }
    }
}

/// The body of the agent thread of the CPU at enclave index `a`.
pub(crate) fn agent_main<A: Agent + Send>(
    ags: &AgentShared<'_, A>,
    a: usize,
    setup: std::sync::mpsc::Sender<AgentSetup>,
) {
    let (cpu, word) = {
        let st = ags.shared.lock();
        (st.cpus[a].cpu, st.cpus[a].word.clone())
    };
    // The CPU was checked against the process's affinity at attach: pinning cannot fail.
    let _ = sys::set_affinity(0, &[cpu.id()]);
    let realtime = ags
        .options
        .rt_priority
        .is_some_and(|p| sys::set_fifo_priority(p).is_ok());
    let _ = setup.send(AgentSetup { realtime });
    drop(setup);
    loop {
        if ags.stop.load(Ordering::Acquire) {
            return;
        }
        let Some(done) = iterate(ags, a) else {
            return;
        };
        if !done.blocks {
            continue;
        }
        let timeout = done
            .next_tick
            .map(|at| Duration::from_nanos(at.saturating_sub(done.now).max(1)));
        if ags.options.spin {
            let until = timeout.and_then(super::config::deadline_after);
            while word.load(Ordering::Acquire) == done.seen
                && !ags.stop.load(Ordering::Acquire)
                && until.is_none_or(|u| std::time::Instant::now() < u)
            {
                std::hint::spin_loop();
            }
        } else if timeout.is_none_or(|t| !t.is_zero()) {
            sys::futex_wait(&word, done.seen, timeout);
        }
    }
}
