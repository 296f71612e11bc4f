//! Partial-order reduction from step footprints: at a state, expand only the steps of a set of
//! tasks that nothing outside the set can interfere with before one of them moves (an *ample*
//! set, Peled's conditions C0-C3), when that is sound.
//!
//! # Footprints and reach
//!
//! A step takes exactly the data gears its stub lists (`Mut`/`Ref`, found by probing; see
//! [`World::gears_taken_by`](crate::World::gears_taken_by)): its *footprint*. What a task may
//! take in the future is bounded by its *reach*: the gears whose handles are in its pending
//! transition's arguments, or in the data gears in its reach (transitively; handles are found
//! by hashing values with a collector on, since a handle's `Hash` reports itself). A step can
//! only pass on handles it can reach, so the union of the reaches of a set of tasks is closed
//! under their steps (and under the tasks they spawn).
//!
//! # The ample set
//!
//! Starting from one task `t`, the set `T` grows by every task whose reach meets the footprint
//! of a current step in `T`, until closed. Then no sequence of steps of tasks outside `T` can
//! touch a gear a `T` step takes (their union of reaches is closed and disjoint from the
//! footprints): the `T` steps are independent of everything outside `T` until they move (C1).
//! The set is used only if, besides:
//!
//! - every `T` step is *invisible*: it writes no gear a property read, and its task's pending
//!   transition was not read by a property (C2; properties' reads are recorded as they run,
//!   and a check whose recorded reads grow after the first state is run again with them);
//! - every `T` step changes the state and spawns no task (a waiting step is a disabled
//!   transition, which the closure argument does not cover; spawning renumbers later tasks);
//! - every successor through `T` is a new state (C3, the cycle proviso in its breadth-first
//!   form: a reduced edge always goes to a later-discovered state, so every cycle has a fully
//!   expanded state);
//! - `T` is smaller than the set of unfinished tasks (C0 and the point of it all).
//!
//! Otherwise the state is expanded fully. Deadlocks (states where no step changes anything),
//! `always` invariants and action properties are preserved.
//!
//! # Liveness and fairness
//!
//! With liveness properties the reduced graph is analysed for fair cycles (see
//! `liveness.rs`), which stays exact under two more rules:
//!
//! - the predicates of `eventually` and `leads_to` are properties like any other: their reads
//!   make steps visible (C2). "Every task finishes" needs nothing more: a `T` step never
//!   changes whether every task has finished, since `T` is smaller than the unfinished tasks
//!   and those outside it do not move;
//! - a reduced state still probes the steps of the tasks it postpones (memoized, nothing
//!   stored) and records which of them are enabled: the fairness analysis asks whether a task
//!   is enabled in a state of the *program*, which a reduced state's edges do not show.
//!
//! Why no fair violation is lost: take a fair run σ that stays bad from some point, and build
//! the reduced run the usual way (at a reduced state, move the first `T` step of the rest of σ
//! to the front: it commutes with the steps before it, which are outside `T`). If the rest of
//! σ had no `T` step at all, every `T` task would stay enabled forever (nothing outside `T`
//! touches its footprint) without stepping, and σ would be unfair under both notions: so that
//! case never arises, and the reduced run takes exactly σ's steps, reordered, each one
//! eventually (every cycle of the reduced graph has a fully expanded state, C3). So a task σ
//! takes infinitely often is taken infinitely often. A task `u` σ takes finitely often keeps
//! its pending transition after its last step, and whether it is enabled is then a function of
//! the gears its step takes. No move reorders two writes to those gears: the moved step and
//! the steps it passes cannot both touch `u`'s footprint (if `u` is in `T`, the steps passed
//! are outside `T` and never touch a `T` footprint; if not, the moved step never touches
//! `u`'s reach). So the values of `u`'s gears along the reduced run are those along σ,
//! stuttered, and `u` is disabled (or enabled) as often as in σ. The reduced run is fair, and
//! bad as often (C2). Conversely every run of the reduced graph is a run of the program, and
//! the enabledness recorded is the program's: a fair cycle the analysis finds is a real one.
//! The differential test (`tests/por.rs`) compares verdicts with and without reduction for
//! `eventually`, `leads_to` and "every task finishes" under both fairness notions over random
//! programs; without the probing of postponed tasks it fails within a few hundred programs.
//!
//! # Symmetry
//!
//! Partial-order reduction is not combined with symmetry reduction: with a symmetry key the
//! visited set holds one representative per class, so "this successor is new" (C3) is a
//! statement about a class, and a cycle of classes need not be a cycle of states through a
//! fully expanded one. A check asking for both runs with symmetry reduction and says so in
//! its report. (With liveness properties symmetry reduction is off, and partial-order
//! reduction is then in force.)

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::gear::RawGear;

/// Collectors on, over all threads. Every handle's `Hash` reads it: a relaxed load and a
/// branch while none is on, instead of a thread-local access per hash (which cost ~10% of a
/// check's time when reduction was off). A thread's own increment, made before it hashes, is
/// visible to it in program order; another thread seeing it only takes the slow path.
static COLLECTORS: AtomicUsize = AtomicUsize::new(0);

std::thread_local! {
    /// While collecting: the handles hashed so far.
    static COLLECTED: RefCell<Option<Vec<RawGear>>> = const { RefCell::new(None) };
}

/// Called by a handle's `Hash`: records it while a collector is on.
#[inline]
pub(crate) fn note_handle(raw: RawGear) {
    if COLLECTORS.load(Ordering::Relaxed) != 0 {
        collect(raw);
    }
}

#[cold]
fn collect(raw: RawGear) {
    COLLECTED.with(|collected| {
        if let Ok(mut collected) = collected.try_borrow_mut()
            && let Some(collected) = collected.as_mut()
        {
            collected.push(raw);
        }
    });
}

/// The handles `hash` hashes.
pub(super) fn handles_in(hash: impl FnOnce()) -> Vec<RawGear> {
    /// Turns the collector count back down, also if `hash` panics.
    struct On;
    impl Drop for On {
        fn drop(&mut self) {
            COLLECTORS.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let outer = COLLECTED.with(|collected| collected.borrow_mut().replace(Vec::new()));
    COLLECTORS.fetch_add(1, Ordering::Relaxed);
    let on = On;
    hash();
    drop(on);
    COLLECTED
        .with(|collected| std::mem::replace(&mut *collected.borrow_mut(), outer))
        .unwrap_or_default()
}

/// What the properties read, as they run: slots and tasks' pending transitions.
#[derive(Default)]
pub(crate) struct Reads {
    slots: Vec<Cell<bool>>,
    tasks: RefCell<Vec<bool>>,
    /// Whether a read was recorded for the first time since [`Reads::settle`].
    grew: Cell<bool>,
}

impl Reads {
    pub(super) fn new(slots: usize) -> Self {
        Self {
            slots: (0..slots).map(|_| Cell::new(false)).collect(),
            tasks: RefCell::new(Vec::new()),
            grew: Cell::new(false),
        }
    }

    #[inline]
    pub(super) fn slot(&self, slot: usize) {
        if let Some(read) = self.slots.get(slot)
            && !read.get()
        {
            read.set(true);
            self.grew.set(true);
        }
    }

    pub(super) fn task(&self, task: usize) {
        let mut tasks = self.tasks.borrow_mut();
        if tasks.len() <= task {
            tasks.resize(task + 1, false);
        }
        if !tasks[task] {
            tasks[task] = true;
            self.grew.set(true);
        }
    }

    pub(super) fn slot_read(&self, slot: usize) -> bool {
        self.slots.get(slot).is_some_and(Cell::get)
    }

    pub(super) fn task_read(&self, task: usize) -> bool {
        self.tasks.borrow().get(task).copied().unwrap_or(false)
    }

    /// Whether reads grew since the last call.
    pub(super) fn settle(&self) -> bool {
        self.grew.replace(false)
    }

    /// The reads as flags, slots then tasks (for a checkpoint).
    pub(super) fn flags(&self) -> (Vec<bool>, Vec<bool>) {
        (
            self.slots.iter().map(Cell::get).collect(),
            self.tasks.borrow().clone(),
        )
    }

    /// Reads from a checkpoint's flags, over `slots` slots.
    pub(super) fn from_flags(slots: usize, read_slots: &[bool], read_tasks: &[bool]) -> Self {
        let reads = Self::new(slots);
        for (cell, &read) in reads.slots.iter().zip(read_slots) {
            cell.set(read);
        }
        *reads.tasks.borrow_mut() = read_tasks.to_vec();
        reads
    }

    /// The same reads, for a run that starts over with them.
    pub(super) fn snapshot(&self) -> Self {
        Self {
            slots: self.slots.iter().map(|c| Cell::new(c.get())).collect(),
            tasks: RefCell::new(self.tasks.borrow().clone()),
            grew: Cell::new(false),
        }
    }
}
