//! A worker: one pool thread's view of the pool, and the spawn/sync fast paths.

use std::cell::Cell;
use std::panic;
use std::ptr;

use super::job::{JobHeader, JobState, StackJob, Waiter};
use super::shared::Shared;
use crate::sync::Arc;

/// How many empty polls a worker spins through before it parks. About 10-50 µs here: long enough
/// to catch the next publication of a busy neighbour, short enough not to burn a shared core.
#[cfg(not(loom))]
const SPINS_BEFORE_SLEEP: u32 = 2_000;
/// Under loom every spin is a scheduling point: keep the explored state space small.
#[cfg(loom)]
const SPINS_BEFORE_SLEEP: u32 = 1;

/// One empty poll. The pool's spins are bounded (then it parks), so under loom a spin needs no
/// yield; yielding would let loom run the other threads to a standstill first and hide the
/// interleavings in which a waiter sees a completion before its wakeup.
#[inline]
fn spin_once() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
}

thread_local! {
    /// The worker running on this thread, for [`current_worker`](super::current_worker) and for
    /// `Pool::install` called from inside the pool.
    static CURRENT: Cell<*const Worker> = const { Cell::new(ptr::null()) };
}

/// One worker of a [`Pool`](super::Pool), handed to every job it runs.
///
/// A `&Worker` is how code running in the pool spawns work: [`Worker::spawn`] (the elcore
/// `spawn`/`sync` pair) and [`Worker::join`]. It cannot leave its thread (`Worker` is neither
/// `Send` nor `Sync`), so a job always receives the worker that actually runs it.
pub struct Worker {
    index: usize,
    shared: Arc<Shared>,
    /// Local (unpublished) jobs, oldest first: an intrusive list through the jobs' headers, all
    /// of which live in frames on this thread's stack.
    head: Cell<*const JobHeader>,
    tail: Cell<*const JobHeader>,
    /// Single-worker pools never publish: nobody could claim the job.
    publishes: bool,
    // The `Cell<*const _>` fields make `Worker` neither `Send` nor `Sync`, which is what keeps a
    // `&Worker` on its own thread (see the `pool-worker-not-send` UI test).
}

// What keeps a job's `&Worker` on the thread that runs it; in every build, beside the UI test
// that shows the message.
static_assertions::assert_not_impl_any!(Worker: Send, Sync);
// A handle borrows its worker, so it stays on that thread too.
static_assertions::assert_not_impl_any!(JobHandle<'static, fn(&Worker) -> u64, u64>: Send, Sync);

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("index", &self.index)
            .field("workers", &self.shared.num_workers())
            .finish_non_exhaustive()
    }
}

/// The handle of a job made by [`Worker::spawn`]; [`JobHandle::sync`] waits for it and returns
/// its value.
///
/// The handle cannot outlive the continuation it was given to; if the continuation does not
/// sync it, `spawn` does so when the continuation returns.
pub struct JobHandle<'h, F, T> {
    job: &'h StackJob<F, T>,
    worker: &'h Worker,
}

impl<F, T> std::fmt::Debug for JobHandle<'_, F, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobHandle")
            .field("state", &self.job.header.state.get())
            .field("owner", &self.worker.index)
            .finish()
    }
}

impl<F, T> JobHandle<'_, F, T>
where
    F: FnOnce(&Worker) -> T + Send,
    T: Send,
{
    /// Waits for the job and returns its value (elcore's `sync`).
    ///
    /// If no helper claimed the job, it runs here, inline. If a helper is running it, this worker
    /// executes other published jobs until it is done. A panic of the job is re-raised here.
    pub fn sync(self) -> T {
        self.worker.sync_job(self.job)
    }

    /// Whether a helper worker claimed the job (so far). A job that is still local or published
    /// reports `false`.
    pub fn was_claimed(&self) -> bool {
        self.job.header.state.get() == JobState::Published
            && !self
                .worker
                .shared
                .slot(self.worker.index)
                .holds(&self.job.header)
    }
}

/// Settles the job if its frame is left before `sync`: by unwinding, or by a continuation that
/// returned without syncing (then `finish` runs instead of `drop`).
struct SpawnGuard<'a, F, T>
where
    F: FnOnce(&Worker) -> T + Send,
    T: Send,
{
    job: &'a StackJob<F, T>,
    worker: &'a Worker,
}

impl<F, T> Drop for SpawnGuard<'_, F, T>
where
    F: FnOnce(&Worker) -> T + Send,
    T: Send,
{
    fn drop(&mut self) {
        self.worker.abandon(self.job);
    }
}

impl Worker {
    pub(crate) fn new(index: usize, shared: Arc<Shared>) -> Self {
        let publishes = shared.num_workers() > 1;
        Worker {
            index,
            shared,
            head: Cell::new(ptr::null()),
            tail: Cell::new(ptr::null()),
            publishes,
        }
    }

    /// This worker's index in its pool, `0..num_workers` (elcore's `get_core_id`).
    #[inline]
    pub fn index(&self) -> usize {
        self.index
    }

    /// The number of workers in this worker's pool.
    #[inline]
    pub fn num_workers(&self) -> usize {
        self.shared.num_workers()
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// Spawns `job` (elcore's `spawn`) and runs `continuation` with its handle.
    ///
    /// The job may be claimed by an idle worker of the pool while the continuation runs; call
    /// [`JobHandle::sync`] to get its value. The job lives in this call's stack frame, so it may
    /// borrow anything the caller can, costs no allocation, and is guaranteed to be finished (or,
    /// when unwinding, finished or cancelled) before `spawn` returns. A job the continuation did
    /// not sync is synced when the continuation returns, and its panic re-raised then.
    ///
    /// ```
    /// use gears_runtime::pool::{Pool, Worker};
    ///
    /// fn fib(w: &Worker, n: u64) -> u64 {
    ///     if n < 2 {
    ///         return n;
    ///     }
    ///     w.spawn(|w| fib(w, n - 1), |w, first| {
    ///         let second = fib(w, n - 2);
    ///         first.sync() + second
    ///     })
    /// }
    ///
    /// let pool = Pool::new(2).unwrap();
    /// assert_eq!(pool.install(|w| fib(w, 20)), 6765);
    /// ```
    #[inline]
    pub fn spawn<F, T, C, R>(&self, job: F, continuation: C) -> R
    where
        F: FnOnce(&Worker) -> T + Send,
        T: Send,
        C: for<'h> FnOnce(&'h Worker, JobHandle<'h, F, T>) -> R,
    {
        let job = StackJob::new(job, Waiter::Worker(self.index));
        self.push_local(&job.header);
        let guard = SpawnGuard {
            job: &job,
            worker: self,
        };
        let result = continuation(
            self,
            JobHandle {
                job: &job,
                worker: self,
            },
        );
        if job.header.state.get() != JobState::Finished {
            self.sync_job(&job);
        }
        std::mem::forget(guard);
        result
    }

    /// Runs `a` here and `b` as a spawned job, and returns both values.
    ///
    /// `b` is the job helpers may claim; a panic of either is re-raised after both are finished
    /// (or `b` cancelled, if `a` panicked before anyone started it).
    #[inline]
    pub fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce(&Worker) -> RA,
        B: FnOnce(&Worker) -> RB + Send,
        RB: Send,
    {
        self.spawn(b, |w, b| {
            let ra = a(w);
            (ra, b.sync())
        })
    }

    /// Adds a fresh job to the local list and, if this worker's slot is empty, publishes the
    /// oldest local job (the one with the most work behind it) for helpers to claim.
    #[inline]
    fn push_local(&self, job: &JobHeader) {
        let tail = self.tail.get();
        job.prev.set(tail);
        if tail.is_null() {
            self.head.set(job);
        } else {
            // SAFETY: every job in the list lives in a frame on this thread's stack that has not
            // returned yet (a job is unlinked before its frame ends), so `tail` is valid.
            unsafe { (*tail).next.set(job) };
        }
        self.tail.set(job);
        if self.publishes && self.shared.slot(self.index).is_empty() {
            self.publish_oldest();
        }
    }

    #[cold]
    fn publish_oldest(&self) {
        let oldest = self.head.get();
        // SAFETY: the list is not empty (a job was just pushed, or `refill_slot` checked) and
        // its jobs are live (see `push_local`).
        let oldest_ref = unsafe { &*oldest };
        self.unlink(oldest_ref);
        oldest_ref.state.set(JobState::Published);
        self.shared.slot(self.index).publish(oldest);
        self.shared.notify_work();
    }

    /// Removes a local job from the list.
    #[inline]
    fn unlink(&self, job: &JobHeader) {
        let prev = job.prev.get();
        let next = job.next.get();
        if prev.is_null() {
            self.head.set(next);
        } else {
            // SAFETY: neighbours in the list are live jobs on this thread's stack.
            unsafe { (*prev).next.set(next) };
        }
        if next.is_null() {
            self.tail.set(prev);
        } else {
            // SAFETY: as above.
            unsafe { (*next).prev.set(prev) };
        }
        job.prev.set(ptr::null());
        job.next.set(ptr::null());
    }

    /// Settles a job whose frame is being left without `sync` (unwinding): cancels it if nobody
    /// started it, otherwise waits for it, because it may borrow from the frames being unwound.
    /// Waiting does not help with other jobs here: a job panicking while this thread unwinds
    /// would be a double panic, which aborts. A panic of the job is dropped: this thread already
    /// carries one.
    pub(crate) fn abandon<F, T>(&self, job: &StackJob<F, T>)
    where
        F: FnOnce(&Worker) -> T + Send,
        T: Send,
    {
        let header = &job.header;
        match header.state.get() {
            JobState::Finished => {}
            JobState::Local => {
                self.unlink(header);
                header.state.set(JobState::Finished);
                drop(job.take_func());
            }
            JobState::Published => {
                header.state.set(JobState::Finished);
                if self.shared.slot(self.index).reclaim(header) {
                    drop(job.take_func());
                } else {
                    self.wait_without_helping(header);
                    drop(job.take_result());
                }
            }
        }
    }

    /// Adds a job to the local list (publishing the oldest local job if the slot is empty).
    pub(crate) fn push_job(&self, job: &JobHeader) {
        self.push_local(job);
    }

    /// If this worker's slot has been emptied (a helper claimed its job) while older local jobs
    /// wait, publishes the oldest of them, so that a waiting owner keeps the helpers fed (a
    /// scope spawns many jobs before it syncs the first).
    #[inline]
    pub(crate) fn refill_slot(&self) {
        if self.publishes && !self.head.get().is_null() && self.shared.slot(self.index).is_empty() {
            self.publish_oldest();
        }
    }

    /// elcore's `sync`: run inline if unclaimed, else help until the thief is done.
    #[inline]
    pub(crate) fn sync_job<F, T>(&self, job: &StackJob<F, T>) -> T
    where
        F: FnOnce(&Worker) -> T + Send,
        T: Send,
    {
        let header = &job.header;
        let claimed_by_us = match header.state.get() {
            JobState::Local => {
                self.unlink(header);
                true
            }
            JobState::Published => self.shared.slot(self.index).reclaim(header),
            JobState::Finished => unreachable!("a job handle is synced at most once"),
        };
        header.state.set(JobState::Finished);
        if claimed_by_us {
            match job.take_func() {
                Some(func) => func(self),
                None => unreachable!("an unclaimed job still holds its closure"),
            }
        } else {
            self.wait_helping(header);
            match job.take_result() {
                Some(Ok(value)) => value,
                Some(Err(payload)) => panic::resume_unwind(payload),
                None => unreachable!("a completed job holds its result"),
            }
        }
    }

    /// Waits for a stolen job, executing other published jobs meanwhile ("from the tail" of the
    /// pool's work, in elcore's words), and parking when there is nothing to do.
    #[cold]
    fn wait_helping(&self, job: &JobHeader) {
        self.help_until(|| job.is_done(), false);
    }

    /// Waits until `done()`, executing this pool's published jobs meanwhile, and its root jobs
    /// too if `take_roots` (a root job is independent work; running it on top of this frame is
    /// what the run loop does, one frame higher).
    fn help_until(&self, done: impl Fn() -> bool, take_roots: bool) {
        let mut idle_polls = 0;
        while !done() {
            self.refill_slot();
            let work = if take_roots {
                self.shared
                    .take_injected()
                    .or_else(|| self.find_stealable())
            } else {
                self.find_stealable()
            };
            if let Some(other) = work {
                // SAFETY: claimed from the injector or a slot; its owner (a worker, or an
                // `install` caller) waits for `done` before freeing it.
                unsafe { JobHeader::execute(other, self) };
                idle_polls = 0;
            } else if idle_polls < SPINS_BEFORE_SLEEP {
                idle_polls += 1;
                spin_once();
            } else {
                self.shared.sleep(self.index, take_roots, &done);
                idle_polls = 0;
            }
        }
    }

    /// Waits until `done()` on the current thread: a worker of any pool keeps serving its own
    /// pool meanwhile (published jobs and root jobs), any other thread parks until unparked.
    ///
    /// This is how `Pool::install` waits when called from a worker of *another* pool: that
    /// worker may be the only one able to run a job the installed work is waiting for (pool A
    /// installs into B, which installs back into A), so it must not just park.
    pub(crate) fn wait_on_current_thread(done: impl Fn() -> bool) {
        let current = CURRENT.with(Cell::get);
        // SAFETY: see `Worker::with_current`.
        match unsafe { current.as_ref() } {
            Some(worker) => worker.help_until(done, true),
            None => {
                while !done() {
                    crate::sync::park();
                }
            }
        }
    }

    /// Waits for a stolen job without running anything else (used while unwinding).
    #[cold]
    fn wait_without_helping(&self, job: &JobHeader) {
        let mut polls = 0;
        while !job.is_done() {
            if polls < SPINS_BEFORE_SLEEP {
                polls += 1;
                spin_once();
            } else {
                // Only the job's completion can end this wait, so park until it unparks us.
                crate::sync::park();
            }
        }
    }

    /// A published job of another worker, or this worker's own published job (possible when
    /// jobs are synced out of spawn order: running it now is the same as running it at its sync).
    fn find_stealable(&self) -> Option<*const JobHeader> {
        self.shared
            .steal_from_others(self.index)
            .or_else(|| self.shared.slot(self.index).steal())
    }

    /// The loop of a pool thread: run root jobs and stolen jobs until the pool shuts down.
    pub(crate) fn run_loop(&self) {
        let _current = CurrentGuard::set(self);
        let mut idle_polls = 0;
        loop {
            let work = self
                .shared
                .take_injected()
                .or_else(|| self.shared.steal_from_others(self.index));
            if let Some(job) = work {
                // SAFETY: claimed from the injector or a slot; the job's owner (a worker, or an
                // `install` caller) waits for `done` before freeing it.
                unsafe { JobHeader::execute(job, self) };
                idle_polls = 0;
            } else if self.shared.is_terminating() {
                return;
            } else if idle_polls < SPINS_BEFORE_SLEEP {
                idle_polls += 1;
                spin_once();
            } else {
                self.shared.sleep(self.index, true, || false);
                idle_polls = 0;
            }
        }
    }

    /// The worker running on the current thread, if it belongs to the pool `shared`.
    pub(crate) fn with_current<R>(shared: &Arc<Shared>, f: impl FnOnce(Option<&Worker>) -> R) -> R {
        let current = CURRENT.with(Cell::get);
        // SAFETY: CURRENT points to the worker whose `run_loop` is on this thread's stack, and
        // is reset before that frame ends (`CurrentGuard`), so the pointer is live here.
        let worker = unsafe { current.as_ref() }.filter(|w| Arc::ptr_eq(&w.shared, shared));
        f(worker)
    }
}

/// The index of the pool worker running the calling thread, or `None` outside any pool
/// (elcore's `get_core_id`).
pub fn current_worker() -> Option<usize> {
    let current = CURRENT.with(Cell::get);
    // SAFETY: see `Worker::with_current`.
    unsafe { current.as_ref() }.map(Worker::index)
}

struct CurrentGuard;

impl CurrentGuard {
    fn set(worker: &Worker) -> Self {
        CURRENT.with(|current| current.set(worker));
        CurrentGuard
    }
}

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.set(ptr::null()));
    }
}
