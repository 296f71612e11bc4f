//! The run's own thread watches the enclave while agents schedule it: the watchdog (a runnable
//! thread not scheduled for too long ends the run, naming the threads) and the kernel-block
//! monitor (a managed thread asleep in the kernel outside the enclave's calls gives its CPU up,
//! and is stopped again when it wakes).
//!
//! # Kernel blocks without the enclave's calls
//!
//! This kernel has neither ghOSt nor sched_ext, so nothing tells user space at once that a
//! thread went to sleep in the kernel. The best this machine allows, as root, is the
//! `sched:sched_switch` tracepoint through `perf_event_open` (one ring buffer per enclave CPU): every poll
//! (1 ms by default, [`ThreadConfig::with_poll`](super::ThreadConfig::with_poll)) the monitor
//! reads the switch records of the enclave's CPUs, and a committed thread switched out asleep
//! (`S`/`D`) outside an enclave call, and still asleep in `/proc/self/task/<tid>/stat`, posts
//! `MSG_TASK_BLOCKED`, so the agent can give the CPU to another thread (a `std::sync::Mutex` held
//! by a thread that is not running would otherwise stall the CPU for good). A kernel-blocked
//! thread switched back in and running posts `MSG_TASK_WAKEUP` and is stopped by the preemption
//! signal until it is committed. A full `/proc` sweep every 16 polls covers records a full ring
//! dropped.
//!
//! Without the tracepoints (not root, or [`ThreadConfig::with_tracepoints`](super::ThreadConfig)
//! off), the monitor samples the state of every committed thread in `/proc` each poll, and two
//! consecutive polls that find it asleep count as a block. What a user gets either way: a kernel
//! block costs up to one poll (tracepoints) or two (polling) before the CPU moves on, and a
//! thread that wakes from it runs uncommitted, sharing its CPU with the committed one under the
//! OS scheduler, until the next poll stops it. Calls wrapped in [`blocking`](super::blocking)
//! have neither delay. [`ThreadReport::block_detection`](super::ThreadReport) says which way a
//! run used.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::agents::{AgentShared, Fault};
use super::config::{deadline_after, saturating_nanos};
use super::kernel::{BlockKind, State, TState, Wake, flush};
use super::sys;
use super::tracepoints::{Switch, Tracepoints};

/// What the monitor does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MonitorOptions {
    pub(crate) poll: Duration,
    pub(crate) watchdog: Option<Duration>,
    pub(crate) kernel_blocks: bool,
    pub(crate) time_limit: Option<Duration>,
    pub(crate) grace: Duration,
}

/// With tracepoints, the full `/proc` sweep runs every this many polls only (a safety net for
/// records a full ring dropped).
const SWEEP_EVERY: u32 = 16;

/// Watches until every thread has ended (after a fault too: released threads run to the end),
/// or, after a deadlock or the time limit, until the grace period is over. With `tracepoints`,
/// the threads the switch records name are checked at once each poll.
///
/// Returns whether it gave up waiting (threads may still run, detached from the run).
pub(crate) fn watch<A>(
    ags: &AgentShared<'_, A>,
    options: MonitorOptions,
    mut tracepoints: Option<Tracepoints>,
) -> bool {
    let shared = ags.shared;
    let mut switches = Vec::new();
    let mut polls: u32 = 0;
    // When the run ended on a deadlock or its time limit: threads get `grace` to end (the inner
    // `None`: a grace too long for an `Instant`, i.e. wait for them for good).
    let mut abandon_at: Option<Option<std::time::Instant>> = None;
    loop {
        polls = polls.wrapping_add(1);
        switches.clear();
        if let Some(tp) = &mut tracepoints {
            tp.drain(&mut switches);
        }
        let seen = shared.done.load(Ordering::Acquire);
        let mut st = match lock_or_break_stall(ags, options) {
            Some(st) => st,
            None => continue,
        };
        if st.live == 0 {
            return false;
        }
        if abandon_at.is_some_and(|at| at.is_some_and(|at| std::time::Instant::now() >= at)) {
            return true;
        }
        // After another fault, the time limit still bounds the wait for the released threads.
        if st.fallen_back
            && abandon_at.is_none()
            && options
                .time_limit
                .is_some_and(|l| st.now_ns() >= saturating_nanos(l))
        {
            for t in &st.threads {
                t.cell.unpark_for_good();
            }
            abandon_at = Some(deadline_after(options.grace));
        }
        if !st.fallen_back {
            let fault = if let Some(limit) = options
                .time_limit
                .filter(|l| st.now_ns() >= saturating_nanos(*l))
            {
                Some(Fault::TimeLimit { limit })
            } else {
                st.deadlocked().map(|threads| Fault::Deadlock { threads })
            };
            if let Some(fault) = fault {
                ags.fail(&mut st, fault);
                // Parked threads return from `park` (the fallback opened their gates), and
                // every later `park` returns at once: nothing will unpark them now.
                for t in &st.threads {
                    t.cell.unpark_for_good();
                }
                abandon_at = Some(deadline_after(options.grace));
            }
        }
        if !st.fallen_back {
            if let Some(limit) = options.watchdog {
                let starving = st.starving(saturating_nanos(limit));
                if !starving.is_empty() {
                    ags.fail(
                        &mut st,
                        Fault::Watchdog {
                            limit,
                            threads: starving,
                        },
                    );
                }
            }
            if options.kernel_blocks && !st.fallen_back {
                if tracepoints.is_some() {
                    st.stats.switch_records += switches.len() as u64;
                    check_switched(&mut st, &switches);
                }
                if tracepoints.is_none() || polls.is_multiple_of(SWEEP_EVERY) {
                    poll_kernel_blocks(&mut st);
                }
            }
        }
        let mut wakes = std::mem::take(&mut st.wakes);
        drop(st);
        flush(&mut wakes);
        sys::futex_wait(&shared.done, seen, Some(options.poll));
    }
}

/// Takes the state lock; if an agent holds it past the watchdog limit, opens every managed
/// thread's gate without it (a thread stopped while holding what the agent waits for can then
/// finish), records the stall, and returns `None` so the caller retries.
fn lock_or_break_stall<'s, A>(
    ags: &'s AgentShared<'_, A>,
    options: MonitorOptions,
) -> Option<std::sync::MutexGuard<'s, State>> {
    let Some(limit) = options.watchdog else {
        return Some(ags.shared.lock());
    };
    let since = std::time::Instant::now();
    loop {
        match ags.shared.state.try_lock() {
            Ok(st) => return Some(st),
            Err(std::sync::TryLockError::Poisoned(e)) => return Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {}
        }
        if since.elapsed() > limit {
            {
                let mut slot = ags.fault.lock().unwrap_or_else(|e| e.into_inner());
                slot.get_or_insert(Fault::Stalled { limit });
            }
            let cells = ags.shared.cells.lock().unwrap_or_else(|e| e.into_inner());
            for cell in cells.iter() {
                cell.set_free();
                sys::futex_wake_all(&cell.gate);
            }
            drop(cells);
            // The agent can go on now; finish the fallback under the lock.
            let mut st = ags.shared.lock();
            ags.fail(&mut st, Fault::Stalled { limit });
            return None;
        }
        std::thread::sleep(options.poll.min(Duration::from_millis(1)));
    }
}

/// The threads the switch records name, checked now: one switched out asleep and still asleep
/// outside an enclave call has blocked in the kernel; a kernel-blocked one switched in and
/// running again has woken. (`/proc` confirms, so a stale record changes nothing.)
fn check_switched(st: &mut State, switches: &[Switch]) {
    if switches.is_empty() {
        return;
    }
    let tids: std::collections::HashMap<i32, usize> = st
        .threads
        .iter()
        .enumerate()
        .filter(|(_, t)| t.state != TState::Dead)
        .map(|(i, t)| (t.cell.tid.load(Ordering::Acquire), i))
        .collect();
    let mut asleep = std::collections::BTreeSet::new();
    let mut running = std::collections::BTreeSet::new();
    for sw in switches {
        if sw.prev_asleep
            && let Some(&i) = tids.get(&sw.prev_tid)
        {
            asleep.insert(i);
        }
        if let Some(&i) = tids.get(&sw.next_tid) {
            running.insert(i);
        }
    }
    for i in asleep {
        let t = &st.threads[i];
        if matches!(t.state, TState::OnCpu(_))
            && !t.cell.in_call.load(Ordering::Acquire)
            && matches!(
                sys::thread_state(t.cell.tid.load(Ordering::Acquire)),
                Some(b'S' | b'D')
            )
        {
            st.block(i, BlockKind::Kernel);
        }
    }
    for i in running {
        let t = &st.threads[i];
        if t.state == TState::Blocked
            && t.block == Some(BlockKind::Kernel)
            && matches!(
                sys::thread_state(t.cell.tid.load(Ordering::Acquire)),
                Some(b'R')
            )
        {
            st.wake(i);
            let cell = st.threads[i].cell.clone();
            st.wakes.push(Wake::Stop(cell));
        }
    }
}

/// The "panic" message of a managed thread whose OS thread ended without returning.
pub(crate) const VANISHED: &str = "the thread ended without returning from its closure (its OS \
     thread exited: a raw `exit` system call or `pthread_exit`)";

fn poll_kernel_blocks(st: &mut State) {
    for i in 0..st.threads.len() {
        let t = &st.threads[i];
        let tid = t.cell.tid.load(Ordering::Acquire);
        if tid == 0 {
            continue;
        }
        let outside_call = !t.cell.in_call.load(Ordering::Acquire);
        let on_cpu = matches!(t.state, TState::OnCpu(_)) && outside_call;
        let kernel_blocked = (t.state, t.block) == (TState::Blocked, Some(BlockKind::Kernel));
        if !(on_cpu || kernel_blocked) {
            continue;
        }
        // One read of `/proc` per watched thread and poll.
        let state = sys::thread_state(tid);
        if outside_call && sys::is_gone(state) {
            // Its OS thread ended without returning from its closure (a raw `exit` system call,
            // `pthread_exit`): nothing will ever post its end, so post it here and free its CPU.
            st.exit(i, Some(VANISHED.to_owned()));
            continue;
        }
        if on_cpu {
            let asleep = matches!(state, Some(b'S' | b'D'));
            let t = &mut st.threads[i];
            t.asleep_polls = if asleep { t.asleep_polls + 1 } else { 0 };
            if t.asleep_polls >= 2 {
                t.asleep_polls = 0;
                st.block(i, BlockKind::Kernel);
            }
        } else if state == Some(b'R') {
            st.wake(i);
            let cell = st.threads[i].cell.clone();
            st.wakes.push(Wake::Stop(cell));
        }
    }
}
