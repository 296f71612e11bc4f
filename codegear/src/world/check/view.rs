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
    #[inline]
    pub fn get<T: DataGear>(&self, gear: Gear<T>) -> &'a T {
        match self.value(gear) {
            Some(value) => value,
            None => self.get_failed(gear),
        }
    }

    /// The data gear behind `gear` in this state.
    ///
    /// # Errors
    /// Foreign, stale or mistyped handles.
    #[inline]
    pub fn try_get<T: DataGear>(&self, gear: Gear<T>) -> Result<&'a T, Error> {
        match self.value(gear) {
            Some(value) => Ok(value),
            None => Err(self.get_error(gear)),
        }
    }

    /// The value behind a valid `gear`, `None` for a foreign, stale or mistyped handle.
    ///
    /// The hot path of every property: it runs once per `get` per stored state (dining
    /// philosophers' invariant: ten per state). So it validates the handle with one
    /// [`Heap::readable`] test against the layout (which no step changes), records the read
    /// only when partial-order reduction asks, and leaves building the error to the cold
    /// [`View::get_error`]. The type is checked once, on this state's value: a slot's type
    /// never changes during a check, so the layout's value need not be downcast too.
    #[inline]
    fn value<T: DataGear>(&self, gear: Gear<T>) -> Option<&'a T> {
        let raw = gear.raw();
        if !self.layout.readable(raw) {
            return None;
        }
        let index = raw.index() as usize;
        if let Some(reads) = self.reads {
            reads.slot(index);
        }
        let object = self.interned.objects[*self.slots.get(index)? as usize]
            .object
            .as_deref()?;
        (object as &dyn std::any::Any).downcast_ref::<T>()
    }

    /// Why [`View::value`] had no value for `gear` (cold).
    #[cold]
    #[inline(never)]
    fn get_error<T: DataGear>(&self, gear: Gear<T>) -> Error {
        if let Err(error) = self.layout.slot(gear.raw(), T::INFO.name) {
            return error;
        }
        let id = self.slots[gear.raw().index() as usize];
        let object = self.interned.objects[id as usize]
            .object
            .as_deref()
            .expect("a live slot of the layout is live in every state");
        match crate::heap::downcast_ref::<T>(object) {
            Err(error) => error,
            Ok(_) => unreachable!("View::value gives every readable value of its type"),
        }
    }

    #[cold]
    #[inline(never)]
    fn get_failed<T: DataGear>(&self, gear: Gear<T>) -> ! {
        panic!("invariant read {gear:?}: {}", self.get_error(gear))
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
