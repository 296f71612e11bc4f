//! The intern tables as a worker's steps see them: frozen during a level (a step whose outcome
//! has no id yet is deferred to the barrier), growing at the barrier; and the per-worker copies
//! of the tables.

use std::sync::Arc;

use super::super::intern::{GotoEntry, Interned, NONE, ObjectEntry};
use super::super::step::Intern;
use crate::code::Goto;
use crate::heap::DataGearObject;

/// The intern tables as a worker's step sees them ([`Intern`]), and whether they are frozen.
pub(super) trait Ids: Intern {
    /// Whether a step may be deferred to the barrier (false once there: the tables grow).
    fn frozen(&self) -> bool;
}

/// A worker's copy of the tables during a level: lookups only.
pub(super) struct Frozen<'a>(pub(super) &'a Interned);

impl Intern for Frozen<'_> {
    fn table(&self) -> &Interned {
        self.0
    }

    fn object(
        &mut self,
        slot: u32,
        object: Option<&Arc<dyn DataGearObject>>,
        term: u64,
    ) -> Option<u32> {
        let table = self.0;
        let mut id = *table.object_ids.get(&term)?;
        loop {
            let entry = &table.objects[id as usize];
            if entry.is(slot, object) {
                return Some(id);
            }
            if entry.next == NONE {
                return None;
            }
            id = entry.next;
        }
    }

    fn goto(&mut self, task: u32, goto: Goto, term: u64) -> Option<u32> {
        let table = self.0;
        let mut id = *table.goto_ids.get(&term)?;
        while id != NONE {
            let entry = &table.gotos[id as usize];
            if entry.task == task && entry.goto == goto {
                return Some(id);
            }
            id = entry.next;
        }
        None
    }
}

impl Ids for Frozen<'_> {
    fn frozen(&self) -> bool {
        true
    }
}

/// The barrier's tables: every value gets an id (the single worker's [`Intern`]).
impl Ids for Interned {
    fn frozen(&self) -> bool {
        false
    }
}

/// A copy of the intern tables, entry for entry (so ids agree).
pub(super) fn replicate(table: &Interned) -> Interned {
    Interned {
        heap_id: table.heap_id,
        slots: table.slots,
        objects: table
            .objects
            .iter()
            .map(|entry| ObjectEntry {
                slot: entry.slot,
                object: entry.object.clone(),
                term: entry.term,
                next: entry.next,
            })
            .collect(),
        object_ids: table.object_ids.clone(),
        gotos: table
            .gotos
            .iter()
            .map(|entry| GotoEntry {
                task: entry.task,
                goto: entry.goto.clone(),
                term: entry.term,
                exit: entry.exit,
                next: entry.next,
                taken: entry.taken.clone(),
                memoizable: entry.memoizable,
                alternatives: entry.alternatives.clone(),
            })
            .collect(),
        goto_ids: table.goto_ids.clone(),
    }
}
