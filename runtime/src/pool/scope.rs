//! Scopes: any number of jobs spawned in a loop and synced by handle.
//!
//! [`Worker::spawn`] ties each job to one continuation, which is what lets the job live in a
//! stack frame. A loop that spawns one job per item (elcore's `elcore_spawn` in a `for`, each
//! call returning an id to `elcore_sync` later) cannot nest continuations: [`Worker::scope`]
//! gives it a [`Scope`] whose [`Scope::spawn`] returns a [`ScopedHandle`] at once.
//!
//! # Invariants
//!
//! - Each job is one heap allocation (a `StackJob` in a `Box`), linked into the owning worker's
//!   local list like a stack job, so it is published, stolen, reclaimed and run by exactly the
//!   protocol of `job.rs`. The scope records every job it spawned.
//! - No job outlives the scope call: when the scope's closure returns, every job not synced by
//!   its handle is synced (run inline if nobody claimed it, waited for otherwise); when it
//!   unwinds, every job is cancelled if nobody started it, or waited for. Only then are the jobs
//!   freed and `scope` left. This is what makes borrowing from the caller's stack sound even if
//!   a handle is leaked with `mem::forget`: the scope, not the handle, owns the job.
//! - A handle is used only on the scope's worker (`Scope` and `ScopedHandle` are neither
//!   `Send` nor `Sync`), because only the owner touches a job's list links and state.
//! - Panics: [`ScopedHandle::sync`] re-raises its job's panic in the caller; a job never synced
//!   by handle has its panic re-raised when the scope ends, after every other job is finished.
//!   Either way the panic leaves `scope` only once nothing of the scope runs any more, and
//!   [`Pool::install`](super::Pool::install) carries it on to its caller.

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use super::job::{JobHeader, JobState, StackJob, Waiter};
use super::worker::Worker;

/// A job of a scope, with its concrete type erased.
struct ScopeJob {
    header: *const JobHeader,
    /// Settles the job if no handle did (normally or, with `unwinding`, by cancelling or
    /// waiting), frees it, and gives back its panic if it panicked unsynced.
    finish: unsafe fn(*const JobHeader, &Worker, bool) -> Option<Box<dyn Any + Send>>,
}

/// Where [`Worker::scope`]'s closure spawns jobs; see the [`pool`](super) docs for the spawn/sync
/// semantics.
///
/// `'scope` is the scope's own lifetime, `'env` that of what its jobs may borrow.
pub struct Scope<'scope, 'env: 'scope> {
    worker: &'scope Worker,
    jobs: RefCell<Vec<ScopeJob>>,
    // Invariant in both, as `std::thread::Scope`: neither may be shortened or stretched.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope")
            .field("worker", &self.worker.index())
            .field("jobs", &self.jobs.borrow().len())
            .finish()
    }
}

/// The handle of a job spawned in a [`Scope`] (elcore's job id): [`ScopedHandle::sync`] waits
/// for it and returns its value.
///
/// Dropping (or leaking) a handle does not cancel the job: the scope syncs it when it ends.
pub struct ScopedHandle<'scope, T> {
    header: *const JobHeader,
    sync: unsafe fn(*const JobHeader, &Worker) -> T,
    worker: &'scope Worker,
    _value: PhantomData<T>,
}

impl<T> std::fmt::Debug for ScopedHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedHandle")
            .field("owner", &self.worker.index())
            .finish_non_exhaustive()
    }
}

impl<T> ScopedHandle<'_, T> {
    /// Waits for the job and returns its value (elcore's `sync`).
    ///
    /// If no helper claimed the job, it runs here, inline; if a helper is running it, this
    /// worker runs other published jobs (and keeps its own slot filled with the scope's next
    /// job) until it is done. A panic of the job is re-raised here.
    pub fn sync(self) -> T {
        // SAFETY: `header` is a live job of this handle's scope (the scope frees its jobs only
        // after its closure returned, and the handle cannot outlive the closure), `sync` was
        // made for its concrete type, and `self` is consumed, so it is synced at most once.
        unsafe { (self.sync)(self.header, self.worker) }
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns `job` (elcore's `spawn`) and returns its handle at once; an idle worker of the
    /// pool may claim it from now on.
    ///
    /// The job may borrow anything that outlives the scope. It is one allocation; use
    /// [`Worker::join`] or [`Worker::spawn`] where the fork-join shape is fixed.
    pub fn spawn<F, T>(&'scope self, job: F) -> ScopedHandle<'scope, T>
    where
        F: FnOnce(&Worker) -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let boxed = Box::new(StackJob::new(job, Waiter::Worker(self.worker.index())));
        // `StackJob` is `repr(C)` with its header first.
        let header = Box::into_raw(boxed).cast_const().cast::<JobHeader>();
        // Recorded first, so that the job is settled and freed even if publishing panicked.
        self.jobs.borrow_mut().push(ScopeJob {
            header,
            finish: finish_job::<F, T>,
        });
        // SAFETY: the job is live until the scope frees it, after settling it.
        self.worker.push_job(unsafe { &*header });
        ScopedHandle {
            header,
            sync: sync_job::<F, T>,
            worker: self.worker,
            _value: PhantomData,
        }
    }

    /// The worker this scope runs on.
    pub fn worker(&self) -> &'scope Worker {
        self.worker
    }

    /// Jobs spawned in this scope so far.
    pub fn spawned(&self) -> usize {
        self.jobs.borrow().len()
    }

    /// Syncs every job not synced yet (or, `unwinding`, cancels or waits for it), frees them
    /// all, and returns the first panic of a job no handle synced.
    fn finish(&self, unwinding: bool) -> Option<Box<dyn Any + Send>> {
        let jobs = std::mem::take(&mut *self.jobs.borrow_mut());
        let mut first_panic = None;
        for job in jobs {
            // SAFETY: each job is live (freed only here, once) and `finish` matches its type.
            let panic = unsafe { (job.finish)(job.header, self.worker, unwinding) };
            if first_panic.is_none() {
                first_panic = panic;
            }
        }
        first_panic
    }
}

/// # Safety
/// `header` must be a live job of type `StackJob<F, T>` owned by `worker`, not synced yet.
unsafe fn sync_job<F, T>(header: *const JobHeader, worker: &Worker) -> T
where
    F: FnOnce(&Worker) -> T + Send,
    T: Send,
{
    // SAFETY: per the contract, `header` heads a live `StackJob<F, T>`.
    let job = unsafe { &*header.cast::<StackJob<F, T>>() };
    worker.refill_slot();
    worker.sync_job(job)
}

/// # Safety
/// `header` must be a job of type `StackJob<F, T>` allocated by `Scope::spawn` and owned by
/// `worker`; it is freed here, so this is called once per job.
unsafe fn finish_job<F, T>(
    header: *const JobHeader,
    worker: &Worker,
    unwinding: bool,
) -> Option<Box<dyn Any + Send>>
where
    F: FnOnce(&Worker) -> T + Send,
    T: Send,
{
    let raw = header.cast::<StackJob<F, T>>().cast_mut();
    // SAFETY: per the contract the job is live until the `Box::from_raw` below.
    let job = unsafe { &*raw };
    let mut panic = None;
    if job.header.state.get() != JobState::Finished {
        if unwinding {
            worker.abandon(job);
        } else {
            worker.refill_slot();
            // Its value is dropped: nobody asked for it. Its panic is carried to the scope's end.
            panic = panic::catch_unwind(AssertUnwindSafe(|| drop(worker.sync_job(job)))).err();
        }
    }
    // SAFETY: the job is settled (state `Finished`: run here, cancelled, or completed by a
    // helper, which touches it no more after setting `done`), unlinked and out of the slot, so
    // nobody refers to it; it came from `Box::into_raw` in `Scope::spawn`.
    drop(unsafe { Box::from_raw(raw) });
    panic
}

/// Settles the scope's jobs if its closure unwinds.
struct UnwindGuard<'a, 'scope, 'env>(&'a Scope<'scope, 'env>);

impl Drop for UnwindGuard<'_, '_, '_> {
    fn drop(&mut self) {
        // The closure's panic is the one that continues; the jobs' are dropped.
        drop(self.0.finish(true));
    }
}

impl Worker {
    /// Runs `f` with a [`Scope`] in which any number of jobs can be spawned, each returning a
    /// handle to sync later (elcore's `spawn` in a loop, then `sync` by id), and returns `f`'s
    /// value once every job of the scope is finished.
    ///
    /// Jobs may borrow from the caller's stack: none outlives this call. A job's panic is
    /// re-raised by its handle's `sync`, or, if no handle synced it, here when the scope ends,
    /// after every other job is finished.
    ///
    /// ```
    /// use gears_runtime::pool::Pool;
    ///
    /// let pool = Pool::new(2)?;
    /// let chunks: Vec<Vec<u64>> = (0..8).map(|i| (i * 100..(i + 1) * 100).collect()).collect();
    /// let total = pool.install(|w| {
    ///     w.scope(|s| {
    ///         let handles: Vec<_> = chunks
    ///             .iter()
    ///             .map(|chunk| s.spawn(move |_| chunk.iter().sum::<u64>()))
    ///             .collect();
    ///         handles.into_iter().map(|h| h.sync()).sum::<u64>()
    ///     })
    /// });
    /// assert_eq!(total, (0..800).sum::<u64>());
    /// # Ok::<(), gears_runtime::pool::PoolError>(())
    /// ```
    pub fn scope<'env, F, R>(&self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        let scope = Scope {
            worker: self,
            jobs: RefCell::new(Vec::new()),
            _scope: PhantomData,
            _env: PhantomData,
        };
        let guard = UnwindGuard(&scope);
        let value = f(&scope);
        std::mem::forget(guard);
        if let Some(payload) = scope.finish(false) {
            panic::resume_unwind(payload);
        }
        value
    }
}
