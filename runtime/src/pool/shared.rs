//! State shared by the workers of one pool: their slots, the injector for root jobs, and the
//! sleep/wake handshake.
//!
//! Sleeping: a worker with nothing to do spins for a while, then marks itself `SLEEPING`,
//! announces itself with a read-modify-write on the `events` word (sleeper count in the high
//! half), looks for work once more, and parks. Whoever makes work visible (a slot publication, an
//! injected root job, shutdown) first stores it, then does its own read-modify-write on `events`
//! (the low half counts events). Read-modify-writes of one location are totally ordered, so:
//! either the sleeper's announcement comes first and the waker reads a non-zero sleeper count and
//! wakes it (it finds `SLEEPING`, stored before the announcement), or the waker's comes first and
//! the sleeper's last look, which happens after it, sees the work. No wakeup is lost, and nothing
//! relies on `SeqCst` ordering between different locations.
//!
//! (An earlier version paired a `SeqCst` store with a `SeqCst` load of another location and let
//! shutdown unpark only threads whose handle was registered; loom found the lost wakeup in that.)

use std::collections::VecDeque;
use std::sync::OnceLock;

use crossbeam_utils::CachePadded;

use super::job::{JobHeader, JobSlot};
use crate::sync::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Mutex, Ordering, Thread, park};

const AWAKE: u8 = 0;
const SLEEPING: u8 = 1;

/// One sleeper in the `events` word; the low half counts events and may wrap into nothing.
const ONE_SLEEPER: u64 = 1 << 32;
const ONE_EVENT: u64 = 1;

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
    /// Sleeper count (high 32 bits) and an event counter (low 32 bits): see the module docs.
    events: AtomicU64,
    terminate: AtomicBool,
}

impl Shared {
    pub(crate) fn new(workers: usize) -> Self {
        Shared {
            workers: (0..workers).map(|_| CachePadded::default()).collect(),
            injector: Mutex::new(VecDeque::new()),
            injected: AtomicUsize::new(0),
            events: AtomicU64::new(0),
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

    /// Called after making work visible (stored before this call): wakes a sleeping worker if
    /// any announced itself.
    pub(crate) fn notify_work(&self) {
        let before = self.events.fetch_add(ONE_EVENT, Ordering::AcqRel);
        if before >= ONE_SLEEPER {
            self.wake_one();
        }
    }

    fn wake_one(&self) {
        for worker in self.workers.iter() {
            if Self::flip_awake(worker) {
                return;
            }
        }
    }

    /// Flips a sleeping worker to awake and unparks it; false if it was not sleeping.
    fn flip_awake(worker: &WorkerSlot) -> bool {
        let flipped = worker.sleep.load(Ordering::Relaxed) == SLEEPING
            && worker
                .sleep
                .compare_exchange(SLEEPING, AWAKE, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok();
        if flipped {
            // SLEEPING is stored after the worker registered its thread (Release), and the CAS
            // read it (Acquire), so the handle is there.
            if let Some(thread) = worker.thread.get() {
                thread.unpark();
            }
        }
        flipped
    }

    /// Queues a root job and wakes a worker for it.
    pub(crate) fn inject(&self, job: InjectedJob) {
        self.injector
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push_back(job);
        self.injected.fetch_add(1, Ordering::Release);
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
        self.injected.fetch_sub(1, Ordering::Relaxed);
        Some(job.0)
    }

    /// Claims a published job of another worker, starting after `me` so thieves spread out.
    pub(crate) fn steal_from_others(&self, me: usize) -> Option<*const JobHeader> {
        let n = self.workers.len();
        (1..n).find_map(|offset| self.workers[(me + offset) % n].slot.steal())
    }

    /// Whether any work is visible to worker `me`.
    fn work_visible(&self, me: usize, take_roots: bool) -> bool {
        (take_roots && self.injected.load(Ordering::Acquire) > 0)
            || self
                .workers
                .iter()
                .enumerate()
                .any(|(i, w)| i != me && w.slot.has_job())
    }

    /// Parks worker `me` until work may be visible, `wake_up()` holds, or the pool terminates.
    ///
    /// Returns at once if any of them already holds after the announcement.
    pub(crate) fn sleep(&self, me: usize, take_roots: bool, wake_up: impl Fn() -> bool) {
        let state = &self.workers[me].sleep;
        state.store(SLEEPING, Ordering::Release);
        self.events.fetch_add(ONE_SLEEPER, Ordering::AcqRel);
        if !(self.work_visible(me, take_roots) || wake_up() || self.is_terminating()) {
            // A waker flips us to AWAKE before unparking; a completed job unparks without
            // flipping, so `wake_up` is checked on every wakeup too.
            while state.load(Ordering::Acquire) == SLEEPING && !wake_up() && !self.is_terminating()
            {
                park();
            }
        }
        state.store(AWAKE, Ordering::Relaxed);
        self.events.fetch_sub(ONE_SLEEPER, Ordering::AcqRel);
    }

    pub(crate) fn is_terminating(&self) -> bool {
        self.terminate.load(Ordering::Acquire)
    }

    /// Tells every worker to exit once idle, and wakes the sleeping ones.
    ///
    /// Workers that announce themselves after the `events` update below see `terminate`; those
    /// that announced before are `SLEEPING` and get flipped and unparked here.
    pub(crate) fn terminate(&self) {
        self.terminate.store(true, Ordering::Release);
        self.events.fetch_add(ONE_EVENT, Ordering::AcqRel);
        for worker in self.workers.iter() {
            Self::flip_awake(worker);
        }
    }
}
