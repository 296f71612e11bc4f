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
//! `always` invariants and action properties are preserved. Liveness under fairness needs
//! every task's enabledness in every state of a cycle, which a reduced state does not have, so
//! liveness checks (and symmetry reduction, whose visited set is not per state) run unreduced.

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

    /// The same reads, for a run that starts over with them.
    pub(super) fn snapshot(&self) -> Self {
        Self {
            slots: self.slots.iter().map(|c| Cell::new(c.get())).collect(),
            tasks: RefCell::new(self.tasks.borrow().clone()),
            grew: Cell::new(false),
        }
    }
}
