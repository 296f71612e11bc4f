//! [`View`]: a stored state as invariants and other properties see it.

use super::intern::Interned;
use super::por::Reads;
use crate::code::Goto;
use crate::error::Error;
use crate::gear::{DataGear, Gear};
use crate::heap::Heap;
use crate::world::TaskId;

/// A reachable state, as invariants see it.
pub struct View<'a> {
    /// The world's heap: slot layout, owners and types (constant during a check).
    pub(super) layout: &'a Heap,
    /// This state's object id per slot.
    pub(super) slots: &'a [u32],
    /// This state's transition id per task.
    pub(super) tasks: &'a [u32],
    pub(super) interned: &'a Interned,
    /// Where the checker records what properties read (for partial-order reduction).
    pub(super) reads: Option<&'a Reads>,
}

impl<'a> View<'a> {
    /// The data gear behind `gear` in this state.
    ///
    /// # Panics
    /// If the handle is not a live gear of the world (a bug in the invariant; see
    /// [`View::try_get`]).
    pub fn get<T: DataGear>(&self, gear: Gear<T>) -> &'a T {
        self.try_get(gear)
            .unwrap_or_else(|error| panic!("invariant read {gear:?}: {error}"))
    }

    /// The data gear behind `gear` in this state.
    ///
    /// # Errors
    /// Foreign, stale or mistyped handles.
    pub fn try_get<T: DataGear>(&self, gear: Gear<T>) -> Result<&'a T, Error> {
        // Validates the handle (heap, generation, liveness) against the layout, which no step
        // changes; the type is checked once, on this state's value (a slot's type never
        // changes, so the layout's value need not be downcast too).
        self.layout.slot(gear.raw(), T::INFO.name)?;
        let index = gear.raw().index() as usize;
        if let Some(reads) = self.reads {
            reads.slot(index);
        }
        let id = self.slots[index];
        let object = self.interned.objects[id as usize]
            .object
            .as_deref()
            .expect("a live slot of the layout is live in every state");
        crate::heap::downcast_ref(object)
    }

    /// The transition `task` takes next.
    pub fn pending(&self, task: TaskId) -> &'a Goto {
        if let Some(reads) = self.reads {
            reads.task(task.index());
        }
        &self.interned.gotos[self.tasks[task.index()] as usize].goto
    }

    /// Whether `task` has finished.
    pub fn finished(&self, task: TaskId) -> bool {
        self.pending(task).is_exit()
    }

    /// Number of tasks.
    pub fn tasks(&self) -> usize {
        self.tasks.len()
    }
}
