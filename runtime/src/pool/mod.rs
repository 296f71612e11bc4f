//! The spawn/sync worker pool: elcore-runtime's fork-join model on threads.
//!
//! elcore-runtime (seed `002`) gives a DSP program `elcore_spawn(f, ..)`, which puts a job in a
//! queue that idle helper cores scan and claim atomically, and `elcore_sync(id, &ret)`, which runs
//! the job itself if nobody claimed it, or else executes other queued jobs until the claimed one
//! is finished. This pool keeps those semantics:
//!
//! | elcore | here |
//! |---|---|
//! | `elcore_spawn(f, argc, ..)` | [`Worker::spawn`]`(f, continuation)`: the job, and the code that runs while it may be claimed |
//! | `elcore_sync(id, &ret)` | [`JobHandle::sync`]: returns the value; re-raises the job's panic |
//! | `elcore_spawn` in a loop, `elcore_sync` by id later | [`Worker::scope`]: [`Scope::spawn`] returns a [`ScopedHandle`] at once; [`ScopedHandle::sync`] |
//! | helper cores in `spawner_loop` | the pool's threads ([`Pool::new`]) |
//! | `get_core_id()` | [`Worker::index`], [`current_worker`] |
//!
//! # How it is fast
//!
//! A spawned job lives in the stack frame of `spawn` (no allocation) and is first only linked into
//! the worker's private list: no atomic read-modify-write, no fence. Each worker exposes exactly
//! one job to thieves, its *oldest* unsynced one (the one with the most work behind it), in a
//! cache-line-padded slot, and publishes a new one only when the slot has been emptied. Claiming
//! is one compare-and-swap on that slot, by a thief or by the owner at `sync`. So the common
//! spawn+sync pair costs a few plain loads and stores; a single-worker pool never publishes.
//!
//! # Scoping and panics
//!
//! The continuation-passing shape of [`Worker::spawn`] is what makes borrowing sound: the job
//! cannot outlive the `spawn` call, which does not return (or unwind past its frame) before the
//! job has finished or been cancelled. A handle that could be leaked (`mem::forget`, a leaked
//! future) would let a helper run a job after the data it borrows was gone.
//!
//! A job's panic is caught on the helper that ran it and re-raised by `sync` in the thread that
//! spawned it. While a panic unwinds, every enclosing `spawn` frame first waits for its job (or
//! cancels it if nobody started it), so the panic leaves the pool only after every job of the
//! scope is finished, and [`Pool::install`] re-raises it in its caller.

mod job;
#[cfg(all(test, loom))]
mod loom_tests;
mod scope;
mod shared;
mod worker;

use std::fmt;
use std::io;
use std::panic;
use std::thread::JoinHandle;

pub use scope::{Scope, ScopedHandle};
pub use worker::{JobHandle, Worker, current_worker};

use job::{StackJob, Waiter};
use shared::{InjectedJob, Shared};

use crate::cpu_list::{AffinityError, CpuList};
use crate::sync::{Arc, current_thread};

/// The default stack of a worker thread. Jobs that wait help with other jobs on top of their own
/// frames, so deep fork-join recursion needs more stack than a plain thread's 2 MiB.
pub const DEFAULT_STACK_SIZE: usize = 16 << 20;

/// The most workers one pool may have; [`PoolBuilder::build`] refuses more with
/// [`PoolError::TooManyWorkers`] before it starts any thread.
///
/// A fork-join pool gains nothing from more workers than CPUs (they only steal from each other
/// and spin before they sleep), and a mistyped count (`Pool::new(100_000)`) would otherwise start
/// threads until the operating system refuses, loading every CPU of the machine meanwhile. The
/// cap is far above any machine this pool is meant for, so a deliberate oversubscription (say a
/// few hundred workers for jobs that block) still works.
pub const MAX_WORKERS: usize = 1024;

/// Why a pool could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolError {
    /// A pool needs at least one worker.
    #[error("a pool needs at least one worker (got 0)")]
    NoWorkers,
    /// More workers were asked for than [`MAX_WORKERS`]; no thread was started.
    #[error(
        "a pool of {requested} workers is too large: at most {max} are allowed (this machine has {available} CPUs; ask for about that many)"
    )]
    TooManyWorkers {
        /// The number of workers asked for.
        requested: usize,
        /// The cap, [`MAX_WORKERS`].
        max: usize,
        /// The machine's available parallelism (1 if unknown), for the message.
        available: usize,
    },
    /// `pin_to` was given an empty CPU list.
    #[error("cannot pin pool workers to an empty CPU list (give at least one CPU)")]
    EmptyCpuList,
    /// Worker `index` could not be pinned to its CPU.
    #[error("could not pin pool worker {index} to CPU {cpu}")]
    Pin {
        /// The worker that could not be pinned.
        index: usize,
        /// The CPU it was to run on.
        cpu: usize,
        /// Why pinning failed.
        source: AffinityError,
    },
    /// The [thread name prefix](PoolBuilder::thread_name) holds a NUL byte, which an OS thread
    /// name cannot; no thread was started.
    #[error(
        "pool thread name {prefix:?} contains a NUL byte, which an OS thread name cannot hold; remove it"
    )]
    ThreadName {
        /// The prefix given.
        prefix: String,
    },
    /// The operating system refused to start worker thread `index`.
    #[error("could not start the thread of pool worker {index}")]
    Spawn {
        /// The worker whose thread failed to start.
        index: usize,
        /// The error from `std::thread::Builder::spawn`.
        source: io::Error,
    },
}

/// Configures a [`Pool`]; start from [`Pool::builder`].
#[derive(Debug, Clone)]
pub struct PoolBuilder {
    workers: usize,
    stack_size: usize,
    thread_name: String,
    pin_to: Option<CpuList>,
}

impl PoolBuilder {
    /// Pins worker `i` to the `i`-th CPU of `cpus` (cycling when there are more workers than
    /// CPUs), like elcore's one job per DSP core. `build` fails if a worker cannot be pinned.
    pub fn pin_to(mut self, cpus: CpuList) -> Self {
        self.pin_to = Some(cpus);
        self
    }

    /// The number of worker threads (default: the machine's available parallelism); from 1 to
    /// [`MAX_WORKERS`], else `build` fails with [`PoolError::NoWorkers`] or
    /// [`PoolError::TooManyWorkers`] without starting a thread.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// The stack size of each worker thread (default [`DEFAULT_STACK_SIZE`]).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// The name prefix of the worker threads; worker `i` is named `{prefix}-{i}` (default
    /// `gears-pool`). A prefix with a NUL byte makes `build` fail with
    /// [`PoolError::ThreadName`].
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Self {
        self.thread_name = prefix.into();
        self
    }

    /// Starts the worker threads.
    ///
    /// Checks the configuration first (worker count, CPU list), so a bad one starts no thread. If
    /// a thread cannot be started or pinned, the workers already started are stopped and joined
    /// before the error is returned.
    pub fn build(self) -> Result<Pool, PoolError> {
        if self.workers == 0 {
            return Err(PoolError::NoWorkers);
        }
        if self.thread_name.contains('\0') {
            // std's thread builder would panic on it, after some workers had started.
            return Err(PoolError::ThreadName {
                prefix: self.thread_name,
            });
        }
        if self.workers > MAX_WORKERS {
            return Err(PoolError::TooManyWorkers {
                requested: self.workers,
                max: MAX_WORKERS,
                available: std::thread::available_parallelism().map_or(1, |n| n.get()),
            });
        }
        let cpus: Option<Vec<usize>> = self.pin_to.map(|list| list.iter().collect());
        if cpus.as_ref().is_some_and(Vec::is_empty) {
            return Err(PoolError::EmptyCpuList);
        }
        let shared = Arc::new(Shared::new(self.workers));
        let mut threads = Vec::with_capacity(self.workers);
        // Each worker reports whether it could pin itself before it takes any work.
        let (pinned_tx, pinned_rx) = std::sync::mpsc::channel();
        for index in 0..self.workers {
            let worker_shared = Arc::clone(&shared);
            let cpu = cpus.as_ref().map(|cpus| cpus[index % cpus.len()]);
            let pinned_tx = pinned_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{}-{index}", self.thread_name))
                .stack_size(self.stack_size)
                .spawn(move || {
                    if let Some(cpu) = cpu {
                        let pinned = CpuList::single(cpu)
                            .map_err(AffinityError::OutOfRange)
                            .and_then(|one| one.pin_current_thread());
                        let failed = pinned.is_err();
                        let _ = pinned_tx.send((index, cpu, pinned));
                        drop(pinned_tx);
                        if failed {
                            return;
                        }
                    }
                    worker_shared.register_thread(index, current_thread());
                    Worker::new(index, worker_shared).run_loop();
                });
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(source) => {
                    shutdown(&shared, &mut threads);
                    return Err(PoolError::Spawn { index, source });
                }
            }
        }
        drop(pinned_tx);
        if cpus.is_some() {
            // One report per worker; a worker cannot end before it reported.
            for (index, cpu, pinned) in pinned_rx.iter().take(self.workers) {
                if let Err(source) = pinned {
                    shutdown(&shared, &mut threads);
                    return Err(PoolError::Pin { index, cpu, source });
                }
            }
        }
        Ok(Pool { shared, threads })
    }
}

/// A fork-join worker pool with elcore-runtime spawn/sync semantics.
///
/// ```
/// use gears_runtime::pool::Pool;
///
/// let pool = Pool::new(2)?;
/// let data: Vec<u64> = (1..=1000).collect();
/// let (left, right) = data.split_at(500);
/// let sum = pool.install(|w| {
///     let (a, b) = w.join(|_| left.iter().sum::<u64>(), |_| right.iter().sum::<u64>());
///     a + b
/// });
/// assert_eq!(sum, 500_500);
/// # Ok::<(), gears_runtime::pool::PoolError>(())
/// ```
pub struct Pool {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.shared.num_workers())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool of `workers` threads with default settings.
    ///
    /// `workers` must be from 1 to [`MAX_WORKERS`]: `Pool::new(0)` is [`PoolError::NoWorkers`],
    /// `Pool::new(100_000)` is [`PoolError::TooManyWorkers`], and neither starts a thread.
    pub fn new(workers: usize) -> Result<Pool, PoolError> {
        Pool::builder().workers(workers).build()
    }

    /// A builder with the defaults: one worker per available CPU, [`DEFAULT_STACK_SIZE`].
    pub fn builder() -> PoolBuilder {
        PoolBuilder {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            stack_size: DEFAULT_STACK_SIZE,
            thread_name: "gears-pool".to_owned(),
            pin_to: None,
        }
    }

    /// The number of worker threads.
    pub fn num_workers(&self) -> usize {
        self.shared.num_workers()
    }

    /// Runs `f` on a worker of this pool and returns its value; the calling thread blocks.
    ///
    /// Called from a worker of this same pool, `f` runs inline on that worker. Called from a
    /// worker of another pool, that worker keeps running its own pool's jobs while it waits, so
    /// pools may install into each other (A into B into A) without a deadlock. A panic in `f` (or
    /// in any job it spawned and synced) is re-raised here, after every job it spawned is finished.
    pub fn install<F, R>(&self, f: F) -> R
    where
        F: FnOnce(&Worker) -> R + Send,
        R: Send,
    {
        let inline = Worker::with_current(&self.shared, |worker| worker.is_some());
        if inline {
            // Re-enter the worker that is running us; `with_current` gives it for the call only.
            return Worker::with_current(&self.shared, |worker| match worker {
                Some(worker) => f(worker),
                None => unreachable!("checked just above on the same thread"),
            });
        }
        let job = StackJob::new(f, Waiter::External(current_thread()));
        self.shared.inject(InjectedJob(&job.header));
        // The job lives in this frame: do not leave it (not even by unwinding; nothing here
        // panics, and jobs helped with meanwhile run under `catch_unwind`) until a worker has
        // set `done`. A worker of another pool keeps serving that pool while it waits.
        Worker::wait_on_current_thread(|| job.header.is_done());
        match job.take_result() {
            Some(Ok(value)) => value,
            Some(Err(payload)) => panic::resume_unwind(payload),
            None => unreachable!("a completed job holds its result"),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        shutdown(&self.shared, &mut self.threads);
    }
}

fn shutdown(shared: &Shared, threads: &mut Vec<JoinHandle<()>>) {
    shared.terminate();
    for thread in threads.drain(..) {
        // A worker thread never panics: jobs run under `catch_unwind`.
        let _ = thread.join();
    }
}
