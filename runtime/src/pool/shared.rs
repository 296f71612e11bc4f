//! State shared by the workers of one pool: their slots, the injector for root jobs, and the
//! sleep/wake handshake.
//!
//! Sleeping: a worker with nothing to do spins for a while, then announces itself (`SLEEPING`,
//! then `sleepers += 1`, both `SeqCst`), looks for work once more and parks. Anyone who makes work
//! visible (a slot publication, an injected root job) does so with a `SeqCst` store and then reads
//! `sleepers` with `SeqCst`: with both sides sequentially consistent, either the publisher sees the
//! sleeper and wakes it, or the sleeper's last look sees the work. No wakeup is lost.

use std::collections::VecDeque;
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

use super::job::{JobHeader, JobSlot};
use crate::sync::{AtomicBool, AtomicU8, AtomicUsize, Mutex, Ordering, Thread, park};

const AWAKE: u8 = 0;
const SLEEPING: u8 = 1;

/// Per worker, on its own cache line: thieves poll `slot`, so nothing hot for the owner shares it.
#[derive(Debug, Default)]
pub(crate) struct WorkerSlot {
    pub(crate) slot: JobSlot,
    sleep: AtomicU8,
    thread: OnceLock<Thread>,
}

/// A root job waiting in the injector. It lives in the frame of `Pool::install`, which blocks
/// until the job is done, so the pointer stays valid while queued.
#[derive(Debug)]
pub(crate) struct InjectedJob(pub(crate) *const JobHeader);

// SAFETY: the pointee is a job whose closure and result are `Send` (enforced by
// `Pool::install`'s bounds) and whose frame outlives its stay in the queue (see above).
unsafe impl Send for InjectedJob {}

#[derive(Debug)]
pub(crate) struct Shared {
    workers: Box<[CachePadded<WorkerSlot>]>,
    injector: Mutex<VecDeque<InjectedJob>>,
    injected: AtomicUsize,
    sleepers: AtomicUsize,
    terminate: AtomicBool,
}

impl Shared {
    pub(crate) fn new(workers: usize) -> Self {
        Shared {
            workers: (0..workers).map(|_| CachePadded::default()).collect(),
            injector: Mutex::new(VecDeque::new()),
            injected: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            terminate: AtomicBool::new(false),
        }
    }

    #[inline]
    pub(crate) fn num_workers(&self) -> usize {
        self.workers.len()
    }

    #[inline]
    pub(crate) fn slot(&self, index: usize) -> &JobSlot {
        &self.workers[index].slot
    }

    /// Called by each worker thread first thing, before it can sleep or own a job.
    pub(crate) fn register_thread(&self, index: usize, thread: Thread) {
        let _ = self.workers[index].thread.set(thread);
    }

    /// Wakes worker `index` if it is parked (a job it waits for completed).
    pub(crate) fn unpark_worker(&self, index: usize) {
        if let Some(thread) = self.workers[index].thread.get() {
            thread.unpark();
        }
    }

    /// After making work visible: wakes one sleeping worker, if any.
    pub(crate) fn notify_work(&self) {
        if self.sleepers.load(Ordering::SeqCst) == 0 {
            return;
        }
        for worker in self.workers.iter() {
            if worker.sleep.load(Ordering::Relaxed) == SLEEPING
                && worker
                    .sleep
                    .compare_exchange(SLEEPING, AWAKE, Ordering::SeqCst, Ordering::Relaxed)
                    .is_ok()
            {
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                if let Some(thread) = worker.thread.get() {
                    thread.unpark();
                }
                return;
            }
        }
    }

    /// Queues a root job and wakes a worker for it.
    pub(crate) fn inject(&self, job: InjectedJob) {
        self.injector
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push_back(job);
        self.injected.fetch_add(1, Ordering::SeqCst);
        self.notify_work();
    }

    /// Takes the oldest root job, if any.
    pub(crate) fn take_injected(&self) -> Option<*const JobHeader> {
        if self.injected.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut queue = self
            .injector
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let job = queue.pop_front()?;
        self.injected.fetch_sub(1, Ordering::SeqCst);
        Some(job.0)
    }

    /// Claims a published job of another worker, starting after `me` so thieves spread out.
    pub(crate) fn steal_from_others(&self, me: usize) -> Option<*const JobHeader> {
        let n = self.workers.len();
        (1..n).find_map(|offset| self.workers[(me + offset) % n].slot.steal())
    }

    /// Whether any work is visible, read `SeqCst` for the sleep handshake.
    fn work_visible(&self, me: usize, take_roots: bool) -> bool {
        (take_roots && self.injected.load(Ordering::SeqCst) > 0)
            || self
                .workers
                .iter()
                .enumerate()
                .any(|(i, w)| i != me && w.slot.has_job_seqcst())
    }

    /// Parks worker `me` until work may be visible, `wake_up()` holds, or the pool terminates.
    ///
    /// Returns at once if any of them already holds after the announcement.
    pub(crate) fn sleep(&self, me: usize, take_roots: bool, wake_up: impl Fn() -> bool) {
        let state = &self.workers[me].sleep;
        state.store(SLEEPING, Ordering::SeqCst);
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        if !(self.work_visible(me, take_roots) || wake_up() || self.is_terminating()) {
            // A waker flips us to AWAKE before unparking; a completed job or terminate unparks
            // without flipping, so those conditions are checked on every wakeup too.
            while state.load(Ordering::SeqCst) == SLEEPING && !wake_up() && !self.is_terminating()
            {
                park();
            }
        }
        // If nobody flipped us, withdraw the announcement ourselves.
        if state
            .compare_exchange(SLEEPING, AWAKE, Ordering::SeqCst, Ordering::Relaxed)
            .is_ok()
        {
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }

    pub(crate) fn is_terminating(&self) -> bool {
        self.terminate.load(Ordering::Acquire)
    }

    /// Tells every worker to exit once idle, and wakes them all.
    pub(crate) fn terminate(&self) {
        self.terminate.store(true, Ordering::SeqCst);
        for worker in self.workers.iter() {
            if let Some(thread) = worker.thread.get() {
                thread.unpark();
            }
        }
    }
}
