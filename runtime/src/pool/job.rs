//! Jobs and the claim/complete protocol.
//!
//! A job is a closure plus room for its result, living in the stack frame of
//! [`Worker::spawn`](super::Worker::spawn) (or of [`Pool::install`](super::Pool::install)), never on
//! the heap. Its life, for the worker that spawned it (the owner):
//!
//! ```text
//! Local ──publish──▶ Published ──steal (thief CAS)──▶ [thief runs it] ──complete──▶ done
//!   │                    │
//!   │ sync / cancel      │ reclaim (owner CAS) ──▶ the owner runs it inline, or cancels it
//!   ▼                    ▼
//! Finished (the owner has settled it: ran it, took its result, or cancelled it)
//! ```
//!
//! Only two things are shared between threads: the owner's one-job [`JobSlot`] (claiming is a
//! compare-and-swap of the job pointer to null, so exactly one of the owner and the thieves wins),
//! and the job's `done` flag, set with `Release` by the thief after it wrote the result and read
//! everything it needs, and read with `Acquire` by the owner before it takes the result. After
//! setting `done` the thief never touches the job again: the owner may return and free the frame.

use std::cell::Cell;
use std::marker::PhantomPinned;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use crate::sync::{AtomicBool, AtomicPtr, Ordering, Thread, UnsafeCell};

use super::shared::Shared;
use super::worker::Worker;

/// Where a job is, as seen by its owner. Only the owner reads or writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobState {
    /// In the owner's local list: nobody else knows it exists.
    Local,
    /// In the owner's slot, or taken from it by a thief.
    Published,
    /// Settled: run inline, result taken, or cancelled.
    Finished,
}

/// Whom to wake when a stolen job completes.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// The worker with this index in the pool that runs the job.
    Worker(usize),
    /// A thread outside the pool, blocked in `Pool::install`.
    External(Thread),
}

/// The type-erased part of a job: all a thief needs, plus the owner's list links.
pub(crate) struct JobHeader {
    /// Runs the job on a thief: takes the closure, runs it under `catch_unwind`, stores the
    /// result, then completes the job.
    execute: unsafe fn(*const JobHeader, &Worker),
    /// Set once the thief has stored the result; the job's frame may vanish right after.
    done: AtomicBool,
    /// Fixed at construction, so a thief may read it without synchronisation beyond the steal.
    waiter: Waiter,
    // The owner's intrusive doubly linked list of local jobs, and the job's state. Owner only.
    pub(crate) prev: Cell<*const JobHeader>,
    pub(crate) next: Cell<*const JobHeader>,
    pub(crate) state: Cell<JobState>,
}

impl JobHeader {
    /// Whether a thief has finished the job (synchronises with its result).
    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// Runs a job this thread claimed from a slot or the injector.
    ///
    /// # Safety
    /// `job` must point to a live job that this thread claimed (so nobody else runs it), and whose
    /// owner waits for `done` before freeing it.
    pub(crate) unsafe fn execute(job: *const JobHeader, worker: &Worker) {
        // SAFETY: the caller guarantees `job` is live until `done` is set.
        let execute = unsafe { (*job).execute };
        // SAFETY: `execute` was stored with this very header, so it matches the concrete job
        // type, and the caller's claim makes this thread the only one to run it.
        unsafe { execute(job, worker) }
    }

    /// Publishes that the result is stored and wakes the waiter.
    ///
    /// # Safety
    /// `this` must be a live job claimed by the calling thread, whose result has been stored.
    /// After this call the job may be freed at any moment.
    unsafe fn complete(this: *const JobHeader, shared: &Shared) {
        // Everything needed after `done` is read (or cloned) before it: once `done` is visible
        // the owner may return and the header is gone.
        // SAFETY: `this` is live until we set `done` below.
        let wake = match unsafe { &(*this).waiter } {
            Waiter::Worker(index) => WakeTarget::Worker(*index),
            Waiter::External(thread) => WakeTarget::External(thread.clone()),
        };
        // SAFETY: as above; this is the last access to the job.
        unsafe { (*this).done.store(true, Ordering::Release) };
        match wake {
            WakeTarget::Worker(index) => shared.unpark_worker(index),
            WakeTarget::External(thread) => thread.unpark(),
        }
    }
}

enum WakeTarget {
    Worker(usize),
    External(Thread),
}

/// A job in a stack frame: header first, so a `*const JobHeader` is a `*const StackJob`.
#[repr(C)]
pub(crate) struct StackJob<F, T> {
    pub(crate) header: JobHeader,
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<Option<std::thread::Result<T>>>,
    // The list and the slot hold the job's address.
    _pinned: PhantomPinned,
}

impl<F, T> StackJob<F, T>
where
    F: FnOnce(&Worker) -> T + Send,
    T: Send,
{
    pub(crate) fn new(func: F, waiter: Waiter) -> Self {
        StackJob {
            header: JobHeader {
                execute: Self::execute_stolen,
                done: AtomicBool::new(false),
                waiter,
                prev: Cell::new(ptr::null()),
                next: Cell::new(ptr::null()),
                state: Cell::new(JobState::Local),
            },
            func: UnsafeCell::new(Some(func)),
            result: UnsafeCell::new(None),
            _pinned: PhantomPinned,
        }
    }

    /// Takes the closure to run it inline or to drop it (cancel).
    ///
    /// The owner calls this only while it owns the job: `Local`, or `Published` after a
    /// successful reclaim. No thief can touch `func` then.
    #[inline]
    pub(crate) fn take_func(&self) -> Option<F> {
        // SAFETY: the owner holds the job exclusively (see above), so no other access to `func`
        // can happen concurrently.
        self.func.with_mut(|func| unsafe { (*func).take() })
    }

    /// Takes the result stored by the thief.
    ///
    /// Call only after [`JobHeader::is_done`] returned true: the thief no longer touches the job.
    pub(crate) fn take_result(&self) -> Option<std::thread::Result<T>> {
        // SAFETY: `done` was read with Acquire and the thief never touches the job after setting
        // it, so the owner has exclusive access and sees the thief's write.
        self.result.with_mut(|result| unsafe { (*result).take() })
    }

    /// The thief's entry point, stored in the header.
    ///
    /// # Safety
    /// `this` must be the header of a live `StackJob<F, T>` claimed by the calling thread.
    unsafe fn execute_stolen(this: *const JobHeader, worker: &Worker) {
        // SAFETY: `StackJob` is `repr(C)` with the header first, and the caller guarantees that
        // `this` belongs to a live `StackJob<F, T>`.
        let job = unsafe { &*this.cast::<StackJob<F, T>>() };
        // The claim made this thread the only one to touch `func` and `result` until `done`.
        let result = match job.take_func() {
            Some(func) => panic::catch_unwind(AssertUnwindSafe(|| func(worker))),
            // A job is published only with its closure in place and claimed at most once.
            None => Err(Box::new("gears pool: a job was claimed twice (runtime bug)") as Box<_>),
        };
        // SAFETY: as for `take_func`: claimed, exclusive until `done`.
        job.result.with_mut(|slot| unsafe { *slot = Some(result) });
        // SAFETY: claimed by us and the result is stored.
        unsafe { JobHeader::complete(this, worker.shared()) };
    }
}

/// A worker's one published job: the job thieves may claim.
///
/// Only the owner stores a job into it (and only when it is empty); anyone may take the job out
/// with a compare-and-swap to null, so each published job is claimed exactly once.
#[derive(Debug, Default)]
pub(crate) struct JobSlot {
    job: AtomicPtr<JobHeader>,
}

impl JobSlot {
    /// Whether the slot is empty. Exact for the owner (only the owner fills it); a hint for others.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.job.load(Ordering::Relaxed).is_null()
    }

    /// Owner: publishes `job` into the empty slot. `Release` pairs with the thieves' `Acquire`;
    /// the caller then notifies sleepers (see `shared::Shared`).
    pub(crate) fn publish(&self, job: *const JobHeader) {
        debug_assert!(self.is_empty(), "only an empty slot is published into");
        self.job.store(job.cast_mut(), Ordering::Release);
    }

    /// Owner: takes its own `job` back if no thief has claimed it.
    #[inline]
    pub(crate) fn reclaim(&self, job: *const JobHeader) -> bool {
        self.job
            .compare_exchange(
                job.cast_mut(),
                ptr::null_mut(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Thief: claims whatever job is published. `Acquire` pairs with the owner's store, so the
    /// thief sees the job's closure and header.
    pub(crate) fn steal(&self) -> Option<*const JobHeader> {
        let job = self.job.load(Ordering::Acquire);
        if job.is_null() {
            return None;
        }
        self.job
            .compare_exchange(job, ptr::null_mut(), Ordering::Acquire, Ordering::Relaxed)
            .ok()
            .map(|job| job.cast_const())
    }

    /// Whether `job` is the job published here (a hint for anyone but the owner).
    pub(crate) fn holds(&self, job: *const JobHeader) -> bool {
        ptr::eq(self.job.load(Ordering::Relaxed), job)
    }

    /// Whether a job is published here (a sleeper's last look before it parks).
    pub(crate) fn has_job(&self) -> bool {
        !self.job.load(Ordering::Acquire).is_null()
    }
}
