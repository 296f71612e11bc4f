//! [`World`]: tasks that run code gears over shared data gears, and the two meta computations
//! that run a world unchanged: [`World::run`] with [`Parallel`] (real threads) and
//! [`World::check`] with [`Check`] (every interleaving).
//!
//! A world is one [`Heap`] whose slots are tagged with an owner: shared (any task may take the
//! gear) or private to one task. Each task is a pending [`Goto`]; it ends when its continuation
//! reaches `Next::exit()`. One **step** of a task runs one code gear, atomically over the data
//! gears it takes (`Mut`/`Ref`): that is the unit the checker interleaves and the parallel run
//! locks, so what the checker proves holds for the parallel run.
//!
//! `par_goto!(world, f(args))` adds a task from set-up code; `par_goto!(f(args))` inside a
//! code gear adds one from the running task's step (task creation is part of the step: the
//! checker's states include how many tasks there are). A code gear may continue
//! nondeterministically with `choose!(goto!(a(..)), goto!(b(..)))` ([`Goto::choose`]): the
//! checker explores every alternative, a run takes one with a seeded generator.

mod check;
mod choice;
mod fingerprint;
mod parallel;
mod spawn;

use std::panic::{self, AssertUnwindSafe};

pub(crate) use check::note_handle;
pub use check::{
    Bound, Check, CheckpointError, Fairness, Report, TraceStep, Verdict, View, Violation,
    ViolationKind,
};
pub use parallel::{Parallel, RunStats};
#[doc(hidden)]
pub use spawn::par_goto_from_code_gear;

use crate::code::{Goto, Next, ParamKind};
use crate::error::{Error, ErrorKind};
use crate::gear::{DataGear, Gear, RawGear};
use crate::heap::{ANY_TASK, Heap, PROBE};
use crate::meta::{Meta, Selector};
use crate::value::Args;
use crate::world_meta::{Begun, Tasks, WorldMetas};

/// A task of a [`World`]: its index, as traces print it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(u32);

impl TaskId {
    /// The task's index (0, 1, .. in the order they were added).
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The task with this index.
    pub fn from_index(index: usize) -> Self {
        Self(u32::try_from(index).expect("fewer than 2^32 tasks"))
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Tasks, their private data gears and the shared data gears: GearsOS's `par goto` world,
/// run by [`World::run`] with [`Parallel`] (real threads) or explored by [`World::check`] with
/// [`Check`] (every interleaving), the program unchanged.
///
/// A world is one [`Heap`] whose slots are tagged with an owner: shared
/// ([`World::alloc_shared`], any task may take the gear) or private to one task
/// ([`World::alloc_private`]; handing it to another task's code gear is the error
/// [`ErrorKind::PrivateGear`]). Each task is a pending [`Goto`]; it ends when its continuation
/// reaches `Next::exit()`. One **step** of a task runs one code gear, atomically over the data
/// gears it takes (`Mut`/`Ref`): the unit the checker interleaves and the parallel run locks
/// (in slot order), so what the checker proves holds for the parallel run.
///
/// `par_goto!(world, f(args))` adds a task from set-up code; `par_goto!(f(args))` inside a
/// code gear adds one from the running task's step (task creation is part of the step: the
/// checker's states include how many tasks there are). A code gear may continue
/// nondeterministically with `choose!(goto!(a(..)), goto!(b(..)))` ([`Goto::choose`]): the
/// checker explores every alternative, a run takes one with a seeded generator.
///
/// ```
/// use codegear::prelude::*;
///
/// #[data_gear]
/// #[derive(Default)]
/// pub struct Counter { value: u64 }
///
/// #[code_gear]
/// fn add(counter: Mut<'_, Counter>, times: u32, next: Next<()>) -> Goto {
///     let mut counter = counter;
///     if times == 0 {
///         return goto!(next());
///     }
///     counter.value += 1;
///     goto!(add(counter.gear(), times - 1, next))
/// }
///
/// let mut world = World::new();
/// let counter = world.alloc_shared(Counter::default());
/// par_goto!(world, add(counter, 3, Next::exit()));
/// par_goto!(world, add(counter, 3, Next::exit()));
/// let report = world.check(Check::new().always("at most 6", move |v| v.get(counter).value <= 6));
/// assert!(report.holds(), "{report}");
/// assert_eq!(report.states, 25); // each task at one of 5 points
/// world.run(Parallel::new(2)).unwrap();
/// assert_eq!(world.get(counter).unwrap().value, 6);
/// ```
///
/// Invariant: `pending.len() == started.len()`; a task that is not started has an exit
/// transition pending (it has no steps).
#[derive(Clone)]
pub struct World {
    heap: Heap,
    pending: Vec<Goto>,
    started: Vec<bool>,
    /// Per task, the generator [`World::step`] resolves its choices with.
    streams: Vec<u64>,
    seed: u64,
    /// Metas around the steps of `step` and `run` (see [`World::replace_meta`]).
    pub(crate) metas: WorldMetas,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("pending", &self.pending)
            .field("heap", &self.heap)
            .finish()
    }
}

fn not_started() -> Goto {
    Next::<()>::exit().goto_with(())
}

impl World {
    /// The seed of the generators that resolve choices (`choose!`) unless
    /// [`World::seed_choices`] or [`Parallel::seed`] sets another.
    pub const DEFAULT_SEED: u64 = choice::DEFAULT_SEED;

    /// A world with no tasks and no data gears.
    pub fn new() -> Self {
        Self {
            heap: Heap::new(),
            pending: Vec::new(),
            started: Vec::new(),
            streams: Vec::new(),
            seed: choice::DEFAULT_SEED,
            metas: WorldMetas::default(),
        }
    }

    /// Installs `meta` around the steps of every task whose code gear `selector` matches, in
    /// [`World::step`] and [`World::run`] (later installations win where they overlap), as
    /// [`Context::replace_meta`](crate::Context::replace_meta) does for a context: tracing,
    /// recording, step limits, redirects. See the `world_meta` notes on [`World::run`].
    pub fn replace_meta(&mut self, selector: Selector, meta: impl Meta + 'static) -> &mut Self {
        self.metas
            .install(Tasks::All, selector, false, Box::new(meta));
        self
    }

    /// As [`World::replace_meta`], for the steps of `task` only.
    pub fn replace_task_meta(
        &mut self,
        task: TaskId,
        selector: Selector,
        meta: impl Meta + 'static,
    ) -> &mut Self {
        self.metas
            .install(Tasks::One(task.0), selector, false, Box::new(meta));
        self
    }

    /// As [`World::replace_meta`], and [`World::check`] shows the meta every step it explores
    /// too (`before` and `after`; its redirects and stops apply to runs only: a check explores
    /// the program as written).
    pub fn observe_meta(&mut self, selector: Selector, meta: impl Meta + 'static) -> &mut Self {
        self.metas
            .install(Tasks::All, selector, true, Box::new(meta));
        self
    }

    /// As [`World::observe_meta`], for the steps of `task` only (in runs and in checks).
    pub fn observe_task_meta(
        &mut self,
        task: TaskId,
        selector: Selector,
        meta: impl Meta + 'static,
    ) -> &mut Self {
        self.metas
            .install(Tasks::One(task.0), selector, true, Box::new(meta));
        self
    }

    /// Reseeds the generators [`World::step`] resolves choices (`choose!`) with: one stream per
    /// task, so the same seed and the same steps give the same choices.
    pub fn seed_choices(&mut self, seed: u64) {
        self.seed = seed;
        for (task, stream) in self.streams.iter_mut().enumerate() {
            *stream = choice::task_stream(seed, task as u32);
        }
    }

    /// Stores a data gear every task may take.
    pub fn alloc_shared<T: DataGear>(&mut self, value: T) -> Gear<T> {
        self.heap.alloc(value)
    }

    /// Adds a task that has not started yet, so that its private gears can be allocated before
    /// its first transition is written ([`World::start`]).
    pub fn reserve_task(&mut self) -> TaskId {
        let id = u32::try_from(self.pending.len())
            .ok()
            .filter(|&id| id < PROBE)
            .expect("fewer than 2^32 - 2 tasks");
        self.pending.push(not_started());
        self.started.push(false);
        self.streams.push(choice::task_stream(self.seed, id));
        TaskId(id)
    }

    /// Stores a data gear only `task`'s code gears may take; handing it to another task's code
    /// gear is the error [`ErrorKind::PrivateGear`].
    pub fn alloc_private<T: DataGear>(&mut self, task: TaskId, value: T) -> Gear<T> {
        assert!(
            task.index() < self.pending.len(),
            "no {task:?} in this world"
        );
        self.heap.alloc_owned(value, task.0)
    }

    /// As [`World::alloc_private`], for a data gear that holds its own handle (see
    /// [`Heap::alloc_with`]).
    pub fn alloc_private_with<T: DataGear>(
        &mut self,
        task: TaskId,
        make: impl FnOnce(Gear<T>) -> T,
    ) -> Gear<T> {
        assert!(
            task.index() < self.pending.len(),
            "no {task:?} in this world"
        );
        self.heap.alloc_owned_with(make, task.0)
    }

    /// Gives a reserved task its first transition.
    ///
    /// # Panics
    /// If the task was already started: a task has one program counter.
    pub fn start(&mut self, task: TaskId, first: Goto) {
        let started = &mut self.started[task.index()];
        assert!(!*started, "task {task} was already started");
        *started = true;
        self.pending[task.index()] = first;
    }

    /// Adds a task starting at `first`: what `par_goto!(world, f(args))` expands to.
    pub fn par_goto(&mut self, first: Goto) -> TaskId {
        let task = self.reserve_task();
        self.start(task, first);
        task
    }

    /// What `par_goto!` evaluates to after reporting a compile error: a task id that names no
    /// task (never run: the program did not compile).
    pub(crate) fn invalid_task() -> TaskId {
        TaskId(u32::MAX)
    }

    /// The data gears a step of `goto` takes, `(handle, is_mut)` in parameter order (receiver
    /// first): what the parallel run locks and the checker memoizes steps by. Found by running
    /// the stub on an empty probe heap, which stops it before the body.
    pub fn gears_taken_by(goto: &Goto) -> Vec<(RawGear, bool)> {
        let mut taken = Vec::new();
        taken_gears(goto, &mut taken);
        taken
    }

    /// Number of tasks.
    pub fn tasks(&self) -> usize {
        self.pending.len()
    }

    /// The transition `task` takes next (`exit(..)` once it has finished).
    ///
    /// # Panics
    /// If `task` is not a task of this world.
    pub fn pending(&self, task: TaskId) -> &Goto {
        &self.pending[task.index()]
    }

    /// Whether `task` has reached `Next::exit()` (or was never started).
    ///
    /// # Panics
    /// If `task` is not a task of this world.
    pub fn finished(&self, task: TaskId) -> bool {
        self.pending[task.index()].is_exit()
    }

    /// The outputs `task` passed to `Next::exit()`, once it has finished.
    ///
    /// # Panics
    /// If `task` is not a task of this world.
    pub fn outputs(&self, task: TaskId) -> Option<&Args> {
        let goto = &self.pending[task.index()];
        (goto.is_exit() && self.started[task.index()]).then(|| goto.args())
    }

    /// A data gear (shared or private to any task).
    ///
    /// # Errors
    /// Foreign, stale or mistyped handles (see [`Heap::get`]).
    pub fn get<T: DataGear>(&self, gear: Gear<T>) -> Result<&T, Error> {
        self.heap.get(gear)
    }

    /// The heap of shared and private data gears.
    pub fn heap(&self) -> &Heap {
        &self.heap
    }

    /// The 64-bit fingerprint of the world's state (data gears and pending transitions), as the
    /// checker stores states: compare it with [`Report::terminal_states`].
    pub fn fingerprint(&self) -> u64 {
        fingerprint::state(&self.heap, &self.pending)
    }

    /// Runs one step of `task` here, on this thread; returns whether the task has finished. A
    /// choice (`choose!`) the step returns is resolved with the task's seeded generator
    /// ([`World::seed_choices`]).
    ///
    /// # Errors
    /// The step's error (the world is then unchanged except for the gears the failed step
    /// wrote before failing), or [`ErrorKind::UnknownTask`] for a task this world does not have.
    pub fn step(&mut self, task: TaskId) -> Result<bool, Error> {
        if task.index() >= self.pending.len() {
            return Err(ErrorKind::UnknownTask {
                task: task.index(),
                tasks: self.pending.len(),
            }
            .into());
        }
        let goto = std::mem::replace(&mut self.pending[task.index()], not_started());
        if goto.is_exit() {
            self.pending[task.index()] = goto;
            return Ok(true);
        }
        let stream = &mut self.streams[task.index()];
        let mut spawned = Vec::new();
        let result = if self.metas.is_empty() {
            step_resolving(
                &mut self.heap,
                task.0,
                goto.clone(),
                0,
                stream,
                &mut spawned,
            )
        } else {
            step_with_metas(
                &self.metas,
                &mut self.heap,
                task.0,
                goto.clone(),
                0,
                stream,
                &mut spawned,
            )
            .map(|(next, _)| next)
        };
        match result {
            Ok(next) => {
                let done = next.is_exit();
                self.pending[task.index()] = next;
                for first in spawned {
                    self.par_goto(first);
                }
                Ok(done)
            }
            Err(error) => {
                self.pending[task.index()] = goto;
                Err(error)
            }
        }
    }

    /// Explores every interleaving of the tasks' steps from the current state (which it does not
    /// change) and reports what it found.
    pub fn check(&self, check: Check) -> Report {
        check::explore(self, check)
    }

    /// Goes on with the check saved at `path` by [`Check::checkpoint`] (in this process or
    /// another), to the verdict and state count the check would have reached uninterrupted.
    /// `check` must have the same properties and options (by name; the bounds may change,
    /// and it may name a checkpoint path of its own) and `self` be the world it was checked on.
    ///
    /// # Errors
    /// The file cannot be read, is not a checkpoint, has another format version, is truncated
    /// or corrupted, was written for another program or by another check, or replaying its
    /// states does not reach them: see [`CheckpointError`].
    pub fn resume(
        &self,
        check: Check,
        path: impl AsRef<std::path::Path>,
    ) -> Result<Report, CheckpointError> {
        check::resume(self, check, path.as_ref())
    }

    /// Runs the tasks to their exits on `parallel`'s worker threads; the world holds the final
    /// state afterwards.
    ///
    /// # Errors
    /// The first step error (or panic) of any task, or the step limit; the world then holds the
    /// state the tasks had reached.
    pub fn run(&mut self, parallel: Parallel) -> Result<RunStats, Error> {
        parallel::run(self, parallel)
    }
}

/// One step of `task`: its code gear runs on `heap` with the private gears of other tasks
/// off limits; a panic becomes [`ErrorKind::Panicked`]. The tasks the step spawns
/// (`par_goto!` inside the code gear) are appended to `spawned` (nothing on an error).
pub(crate) fn step_task(
    heap: &mut Heap,
    task: u32,
    goto: Goto,
    step: u64,
    spawned: &mut Vec<Goto>,
) -> Result<Goto, Error> {
    let gear = goto.code_gear();
    let mut goto = goto;
    heap.set_stepping(task);
    let mut new_tasks = Vec::new();
    let result = spawn::collecting(&mut new_tasks, || {
        panic::catch_unwind(AssertUnwindSafe(|| (gear.stub())(heap, &mut goto)))
    });
    heap.set_stepping(ANY_TASK);
    let result = match result {
        Ok(result) => result,
        Err(payload) => Err(ErrorKind::Panicked {
            message: panic_message(payload.as_ref()),
        }
        .into()),
    };
    match result {
        Ok(()) => {
            spawned.extend(new_tasks);
            Ok(goto)
        }
        Err(error) => Err(error.at(gear.name, step).in_task(task)),
    }
}

/// One step of `task` as a run takes it: a pending choice is resolved without running code, and
/// a choice the step returns is resolved, both with the task's generator `stream`.
pub(crate) fn step_resolving(
    heap: &mut Heap,
    task: u32,
    goto: Goto,
    step: u64,
    stream: &mut u64,
    spawned: &mut Vec<Goto>,
) -> Result<Goto, Error> {
    let at = goto.code_gear().name;
    let next = if goto.alternatives().is_some() {
        goto
    } else {
        step_task(heap, task, goto, step, spawned)?
    };
    choice::resolve(next, stream).map_err(|error| error.at(at, step).in_task(task))
}

/// [`step_resolving`] with the world's metas around it (see [`WorldMetas`]): a redirect and
/// the inserted steps first; returns the next transition and the steps taken.
pub(crate) fn step_with_metas(
    metas: &WorldMetas,
    heap: &mut Heap,
    task: u32,
    goto: Goto,
    step: u64,
    stream: &mut u64,
    spawned: &mut Vec<Goto>,
) -> Result<(Goto, u64), Error> {
    let begun = metas.begin(task, step, goto)?;
    step_begun(metas, begun, heap, task, step, stream, spawned)
}

/// The rest of [`step_with_metas`] once the metas have decided (a parallel run locks the gears
/// of `begun.goto` in between).
pub(crate) fn step_begun(
    metas: &WorldMetas,
    mut begun: Begun,
    heap: &mut Heap,
    task: u32,
    step: u64,
    stream: &mut u64,
    spawned: &mut Vec<Goto>,
) -> Result<(Goto, u64), Error> {
    let mut steps = 0;
    if let Some(mut inserted) = begun.inserted.take() {
        while !inserted.is_exit() {
            inserted = step_resolving(heap, task, inserted, step + steps, stream, spawned)?;
            steps += 1;
        }
    }
    let goto = std::mem::replace(&mut begun.goto, not_started());
    let next = if goto.is_exit() {
        goto
    } else {
        steps += 1;
        step_resolving(heap, task, goto, step + steps - 1, stream, spawned)?
    };
    metas.end(begun, task, step, &next)?;
    Ok((next, steps))
}

/// Appends the data gears a step of `goto` takes, `(handle, is_mut)` in parameter order
/// (receiver first): its stub run on a probe heap, which fails before the body runs.
pub(crate) fn taken_gears(goto: &Goto, out: &mut Vec<(RawGear, bool)>) {
    let gear = goto.code_gear();
    let mut kinds = gear.params.iter().filter_map(|param| match param.kind {
        ParamKind::Mut => Some(true),
        ParamKind::Ref => Some(false),
        _ => None,
    });
    let Some(first_kind) = kinds.next() else {
        // No data-gear parameter: nothing to take (and the stub would run the body).
        return;
    };
    let mut probe = Heap::probe();
    let mut scratch = goto.clone();
    // The stub fails before the body; a panic here could only come from a broken stub.
    let _ = panic::catch_unwind(AssertUnwindSafe(|| (gear.stub())(&mut probe, &mut scratch)));
    for (raw, is_mut) in Heap::take_probed() {
        out.push((raw, is_mut.unwrap_or(first_kind)));
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_string()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "(a panic payload that is not a string)".to_string()
    }
}
