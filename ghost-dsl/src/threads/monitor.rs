//! The run's own thread watches the enclave while agents schedule it: the watchdog (a runnable
//! thread not scheduled for too long ends the run, naming the threads) and the kernel-block
//! monitor (a managed thread asleep in the kernel outside the enclave's calls gives its CPU up,
//! and is stopped again when it wakes).
//!
//! # Kernel blocks without the enclave's calls
//!
//! This kernel has neither ghOSt nor sched_ext, so nothing tells user space that a thread went
//! to sleep in the kernel. The monitor polls the scheduler state of each committed thread in
//! `/proc/self/task/<tid>/stat` every [`ThreadConfig::poll`](super::ThreadConfig::with_poll)
//! (1 ms by default): two consecutive polls that find it sleeping (`S` or `D`) while it is not
//! inside an enclave call post `MSG_TASK_BLOCKED`, so the agent can give the CPU to another
//! thread (a `std::sync::Mutex` held by a thread that is not running would otherwise stall the
//! CPU for good). Once the blocked thread is seen running (`R`) again, `MSG_TASK_WAKEUP` is
//! posted and the thread is stopped by the preemption signal until it is committed. What a user
//! gets: a kernel block costs one to two poll periods before the CPU moves on, and a thread that
//! wakes from it runs uncommitted (sharing its CPU with the committed one under the OS scheduler)
//! for up to a poll period. Calls wrapped in [`blocking`](super::blocking) have neither delay.
//! Scheduler tracepoints (`sched:sched_switch` through `perf_event_open`) would remove the
//! polling delay; they are not used (see the module documentation).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::agents::{AgentShared, Fault};
use super::kernel::{BlockKind, State, TState, Wake, flush};
use super::sys;

/// What the monitor does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MonitorOptions {
    pub(crate) poll: Duration,
    pub(crate) watchdog: Option<Duration>,
    pub(crate) kernel_blocks: bool,
}

/// Watches until every thread has ended (after a fault too: released threads run to the end).
pub(crate) fn watch<A>(ags: &AgentShared<'_, A>, options: MonitorOptions) {
    let shared = ags.shared;
    loop {
        let seen = shared.done.load(Ordering::Acquire);
        let mut st = match lock_or_break_stall(ags, options) {
            Some(st) => st,
            None => continue,
        };
        if st.live == 0 {
            return;
        }
        if !st.fallen_back {
            if let Some(limit) = options.watchdog {
                let starving = st.starving(limit.as_nanos() as u64);
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
                poll_kernel_blocks(&mut st);
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

fn poll_kernel_blocks(st: &mut State) {
    for i in 0..st.threads.len() {
        let t = &st.threads[i];
        let tid = t.cell.tid.load(Ordering::Acquire);
        if tid == 0 {
            continue;
        }
        match (t.state, t.block) {
            (TState::OnCpu(_), _) if !t.cell.in_call.load(Ordering::Acquire) => {
                let asleep = matches!(sys::thread_state(tid), Some(b'S' | b'D'));
                let t = &mut st.threads[i];
                t.asleep_polls = if asleep { t.asleep_polls + 1 } else { 0 };
                if t.asleep_polls >= 2 {
                    t.asleep_polls = 0;
                    st.block(i, BlockKind::Kernel);
                }
            }
            (TState::Blocked, Some(BlockKind::Kernel)) => {
                if matches!(sys::thread_state(tid), Some(b'R')) {
                    st.wake(i);
                    let cell = st.threads[i].cell.clone();
                    st.wakes.push(Wake::Stop(cell));
                }
            }
            _ => {}
        }
    }
}
