//! [`World::run`] with [`Parallel`]: the tasks on the gears-runtime spawn/sync pool, each step
//! atomic over the shared data gears it takes.
//!
//! # Locking protocol
//!
//! Every shared slot has its own `RwLock`. Before a step, the gears its arguments make it take
//! are listed ([`World::gears_taken_by`]: its stub run on an empty probe heap, which stops
//! before the body); the shared ones are locked in ascending slot order (write for `Mut`, read
//! for `Ref`), so two steps never wait on each other in a cycle. A `Mut` gear is moved out of its lock into the task's own view of the
//! heap (so the step writes it in place, no copy), a `Ref` gear is shared into it; the stub runs
//! unchanged on that view, and the gears go back before the locks are released. A task's private
//! gears live in its view for the whole run, where no other task can reach them.
//!
//! Tasks are scheduled round-robin from a queue, a slice of steps at a time, so a task that
//! busy-waits for another cannot starve it even on one worker.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use gears_runtime::pool::{Pool, Worker};

use super::{World, not_started, step_task, taken_gears};
use crate::code::Goto;
use crate::error::{Error, ErrorKind};
use crate::gear::RawGear;
use crate::heap::{DataGearObject, Heap};

/// Runs a world's tasks on `workers` threads of a gears-runtime pool.
#[derive(Clone, Copy, Debug)]
pub struct Parallel {
    workers: usize,
    slice: u32,
    step_limit: Option<u64>,
}

impl Parallel {
    /// `workers` threads (at least one), slices of 64 steps, no step limit.
    pub fn new(workers: usize) -> Self {
        Self {
            workers: workers.max(1),
            slice: 64,
            step_limit: None,
        }
    }

    /// Steps a task takes before the worker moves on to the next task in the queue.
    pub fn slice(mut self, steps: u32) -> Self {
        self.slice = steps.max(1);
        self
    }

    /// Stops the run with [`ErrorKind::StepLimit`] after this many steps in all (a program that
    /// deadlocks by busy-waiting would otherwise run forever).
    pub fn step_limit(mut self, steps: u64) -> Self {
        self.step_limit = Some(steps);
        self
    }
}

/// What a parallel run did.
#[derive(Clone, Debug)]
pub struct RunStats {
    /// Steps of all tasks.
    pub steps: u64,
    /// Steps per task.
    pub task_steps: Vec<u64>,
    /// Worker threads.
    pub workers: usize,
    /// Wall time.
    pub elapsed: Duration,
}

type Object = Option<Arc<dyn DataGearObject>>;

struct TaskRun {
    /// The task's view: its private gears, and the shared gears it holds during a step.
    heap: Heap,
    pending: Goto,
    steps: u64,
}

struct Run {
    shared: Vec<RwLock<Object>>,
    /// Whether slot `i` is shared (private slots have no lock to take).
    is_shared: Vec<bool>,
    heap_id: u32,
    tasks: Vec<Mutex<TaskRun>>,
    queue: Mutex<VecDeque<u32>>,
    unfinished: AtomicUsize,
    steps: AtomicU64,
    stop: AtomicBool,
    error: Mutex<Option<Error>>,
    slice: u32,
    step_limit: u64,
}

enum Held<'a> {
    Read(#[allow(dead_code)] RwLockReadGuard<'a, Object>),
    Write(RwLockWriteGuard<'a, Object>),
}

pub(super) fn run(world: &mut World, parallel: Parallel) -> Result<RunStats, Error> {
    let started = Instant::now();
    let pool =
        Pool::new(parallel.workers).map_err(|error| Error::new(ErrorKind::Pool(error.into())))?;
    let slots = world.heap.slot_count() as u32;
    let tasks: Vec<Mutex<TaskRun>> = (0..world.tasks() as u32)
        .map(|task| {
            Mutex::new(TaskRun {
                heap: world.heap.view(|owner| owner == task),
                pending: world.pending[task as usize].clone(),
                steps: 0,
            })
        })
        .collect();
    let is_shared: Vec<bool> = (0..slots)
        .map(|slot| world.heap.owner_of(slot).is_none())
        .collect();
    // Move every gear out of the world's heap, so that each has one owner during the run (a
    // task view or a lock) and `Mut` writes in place.
    let shared = (0..slots)
        .map(|slot| {
            let object = world.heap.take_object(slot);
            RwLock::new(if is_shared[slot as usize] {
                object
            } else {
                None
            })
        })
        .collect();
    let unfinished = world.pending.iter().filter(|g| !g.is_exit()).count();
    let run = Run {
        shared,
        is_shared,
        heap_id: world.heap.id(),
        tasks,
        queue: Mutex::new(
            (0..world.tasks() as u32)
                .filter(|&t| !world.pending[t as usize].is_exit())
                .collect(),
        ),
        unfinished: AtomicUsize::new(unfinished),
        steps: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        error: Mutex::new(None),
        slice: parallel.slice,
        step_limit: parallel.step_limit.unwrap_or(u64::MAX),
    };
    pool.install(|worker| spawn_workers(worker, parallel.workers, &run));

    // Everything back into the world.
    for (slot, lock) in run.shared.into_iter().enumerate() {
        let object = lock.into_inner().unwrap_or_else(PoisonError::into_inner);
        if run.is_shared[slot] {
            world.heap.put_object(slot as u32, object);
        }
    }
    let mut task_steps = Vec::with_capacity(run.tasks.len());
    for (task, state) in run.tasks.into_iter().enumerate() {
        let mut state = state.into_inner().unwrap_or_else(PoisonError::into_inner);
        for slot in 0..slots {
            if world.heap.owner_of(slot) == Some(task as u32) {
                world.heap.put_object(slot, state.heap.take_object(slot));
            }
        }
        world.pending[task] = state.pending;
        task_steps.push(state.steps);
    }
    if let Some(error) = run
        .error
        .into_inner()
        .unwrap_or_else(PoisonError::into_inner)
    {
        return Err(error);
    }
    Ok(RunStats {
        steps: task_steps.iter().sum(),
        task_steps,
        workers: parallel.workers,
        elapsed: started.elapsed(),
    })
}

/// Starts `count` worker loops as spawned jobs (the pool's helpers claim them).
fn spawn_workers(worker: &Worker, count: usize, run: &Run) {
    if count <= 1 {
        work(run);
        return;
    }
    worker.spawn(
        |_| work(run),
        |worker, job| {
            spawn_workers(worker, count - 1, run);
            job.sync();
        },
    );
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn work(run: &Run) {
    let mut taken = Vec::new();
    let mut order = Vec::new();
    while !run.stop.load(Ordering::Acquire) && run.unfinished.load(Ordering::Acquire) > 0 {
        let Some(task) = lock(&run.queue).pop_front() else {
            std::thread::yield_now();
            continue;
        };
        let mut state = lock(&run.tasks[task as usize]);
        let mut finished = false;
        for _ in 0..run.slice {
            if run.steps.fetch_add(1, Ordering::Relaxed) >= run.step_limit {
                fail(
                    run,
                    Error::new(ErrorKind::StepLimit {
                        limit: run.step_limit,
                    })
                    .in_task(task),
                );
                break;
            }
            match step_locked(run, &mut state, task, &mut taken, &mut order) {
                Ok(true) => {
                    finished = true;
                    run.unfinished.fetch_sub(1, Ordering::AcqRel);
                    break;
                }
                Ok(false) => {}
                Err(error) => {
                    fail(run, error);
                    break;
                }
            }
        }
        drop(state);
        if !finished && !run.stop.load(Ordering::Acquire) {
            lock(&run.queue).push_back(task);
        }
    }
}

fn fail(run: &Run, error: Error) {
    lock(&run.error).get_or_insert(error);
    run.stop.store(true, Ordering::Release);
}

/// One step of `task` with the shared gears it takes locked; returns whether it finished.
fn step_locked(
    run: &Run,
    state: &mut TaskRun,
    task: u32,
    taken: &mut Vec<(RawGear, bool)>,
    order: &mut Vec<(u32, bool)>,
) -> Result<bool, Error> {
    let goto = std::mem::replace(&mut state.pending, not_started());
    taken.clear();
    taken_gears(&goto, taken);
    order.clear();
    order.extend(
        taken
            .iter()
            .filter(|(raw, _)| {
                raw.owner() == run.heap_id
                    && run.is_shared.get(raw.index() as usize).copied() == Some(true)
            })
            .map(|(raw, is_mut)| (raw.index(), *is_mut)),
    );
    order.sort_unstable();
    // One lock per gear: a gear taken twice is locked for writing if either is `Mut` (the stub
    // then reports the aliasing itself).
    order.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            earlier.1 |= later.1;
        }
        same
    });
    let mut held = Vec::with_capacity(order.len());
    for &(slot, is_mut) in order.iter() {
        let lock = &run.shared[slot as usize];
        if is_mut {
            let mut guard = lock.write().unwrap_or_else(PoisonError::into_inner);
            state.heap.put_object(slot, guard.take());
            held.push(Held::Write(guard));
        } else {
            let guard = lock.read().unwrap_or_else(PoisonError::into_inner);
            state.heap.put_object(slot, guard.clone());
            held.push(Held::Read(guard));
        }
    }
    let result = step_task(&mut state.heap, task, goto.clone(), state.steps);
    for (&(slot, _), guard) in order.iter().zip(held) {
        let object = state.heap.take_object(slot);
        if let Held::Write(mut guard) = guard {
            *guard = object;
        }
    }
    match result {
        Ok(next) => {
            state.steps += 1;
            let done = next.is_exit();
            state.pending = next;
            Ok(done)
        }
        Err(error) => {
            state.pending = goto;
            Err(error)
        }
    }
}
