//! Step application over collapsed states, shared by the explorers: a task's step from a row of
//! component ids, looked up in a memo or run on a scratch heap, as the writes it makes, its
//! next transition and the successor's fingerprint and row.
//!
//! The single worker interns whatever a step produces; the parallel one reads frozen tables
//! during a level and defers a step whose outcome they do not hold. [`Intern`] is that
//! difference.

use std::sync::Arc;

use super::explore::HEADER;
use super::intern::{Interned, MAX_TAKEN, NONE, StepInputs, StepOutputs};
use crate::code::Goto;
use crate::error::Error;
use crate::heap::{DataGearObject, Heap};
use crate::world::fingerprint::{slot_term, task_term};
use crate::world::step_task;

/// `(slot, object id before, object id after)` of a gear a step wrote.
pub(super) type Write = (u32, u32, u32);

/// Where a step's new values and transitions get their ids.
pub(super) trait Intern {
    /// The tables ids index.
    fn table(&self) -> &Interned;
    /// The id of `object` in `slot` (term `term`); `None` if it has none and cannot get one.
    fn object(
        &mut self,
        slot: u32,
        object: Option<&Arc<dyn DataGearObject>>,
        term: u64,
    ) -> Option<u32>;
    /// The id of `goto` pending in `task` (term `term`); `None` as for [`Intern::object`].
    fn goto(&mut self, task: u32, goto: Goto, term: u64) -> Option<u32>;
}

/// The single worker's tables: every value gets an id.
impl Intern for Interned {
    #[inline]
    fn table(&self) -> &Interned {
        self
    }
    #[inline]
    fn object(
        &mut self,
        slot: u32,
        object: Option<&Arc<dyn DataGearObject>>,
        term: u64,
    ) -> Option<u32> {
        Some(Interned::object(self, slot, object, term))
    }
    #[inline]
    fn goto(&mut self, task: u32, goto: Goto, term: u64) -> Option<u32> {
        Some(Interned::goto(self, task, goto, term))
    }
}

/// The memo key of transition `goto_id`'s step from a state with object ids `slot_ids`, if its
/// steps can be memoized.
#[inline]
pub(super) fn memo_key(table: &Interned, goto_id: u32, slot_ids: &[u32]) -> Option<StepInputs> {
    let entry = &table.gotos[goto_id as usize];
    if !entry.memoizable {
        return None;
    }
    let mut inputs = StepInputs {
        goto: goto_id,
        taken: [NONE; MAX_TAKEN],
    };
    for (i, &(slot, _)) in entry.taken.iter().enumerate() {
        inputs.taken[i] = slot_ids[slot as usize];
    }
    Some(inputs)
}

/// A memoized step's writes (into `writes`) and next transition.
#[inline]
pub(super) fn memo_hit(
    table: &Interned,
    inputs: &StepInputs,
    outputs: &StepOutputs,
    writes: &mut Vec<Write>,
) -> u32 {
    writes.clear();
    let entry = &table.gotos[inputs.goto as usize];
    for (i, &(slot, is_mut)) in entry.taken.iter().enumerate() {
        if is_mut && inputs.taken[i] != outputs.taken[i] {
            writes.push((slot, inputs.taken[i], outputs.taken[i]));
        }
    }
    outputs.next
}

/// A scratch heap that steps run on, and the object id it holds per slot.
pub(super) struct Scratch {
    pub(super) heap: Heap,
    pub(super) ids: Vec<u32>,
}

impl Scratch {
    /// Makes the heap hold the objects of `slot_ids` (only the slots that differ are replaced).
    fn become_state(&mut self, table: &Interned, slot_ids: &[u32]) {
        for (slot, (&want, have)) in slot_ids.iter().zip(self.ids.iter_mut()).enumerate() {
            if want != *have {
                self.heap
                    .put_object(slot as u32, table.objects[want as usize].object.clone());
                *have = want;
            }
        }
    }
}

/// What running a step found.
pub(super) enum Fresh {
    /// The step's next transition, and its memo entry if it may be memoized (it took at most
    /// [`MAX_TAKEN`] gears of this heap and spawned no task: a spawning step's successor's new
    /// tasks depend on how many the state has).
    Next(u32, Option<(StepInputs, StepOutputs)>),
    /// A value or transition [`Intern`] has no id for.
    Unknown,
}

/// Runs the step of `task` (transition `goto_id`, at `depth`) from the state with object ids
/// `slot_ids` on `scratch`, fills `writes` (gears whose value changed) and `spawned` (tasks it
/// started). `observe` sees the transition before and after (for metas), before anything is
/// interned. The scratch heap is left holding `slot_ids` again.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_step<I: Intern>(
    scratch: &mut Scratch,
    ids: &mut I,
    slot_ids: &[u32],
    task: u32,
    goto_id: u32,
    depth: u32,
    writes: &mut Vec<Write>,
    spawned: &mut Vec<Goto>,
    observe: impl FnOnce(&Goto, &Goto),
) -> Result<Fresh, Error> {
    scratch.become_state(ids.table(), slot_ids);
    let goto = ids.table().gotos[goto_id as usize].goto.clone();
    spawned.clear();
    let next = step_task(&mut scratch.heap, task, goto, u64::from(depth), spawned)?;
    observe(&ids.table().gotos[goto_id as usize].goto, &next);
    let next_term = task_term(task, &next);
    let next_id = ids.goto(task, next, next_term);
    let entry = &ids.table().gotos[goto_id as usize];
    let taken = entry.taken.clone();
    let memoizable = entry.memoizable;
    let mut inputs = StepInputs {
        goto: goto_id,
        taken: [NONE; MAX_TAKEN],
    };
    let mut outputs = StepOutputs {
        next: next_id.unwrap_or(NONE),
        taken: [NONE; MAX_TAKEN],
    };
    let mut unknown = next_id.is_none();
    writes.clear();
    for (i, &(slot, is_mut)) in taken.iter().enumerate() {
        let before = slot_ids[slot as usize];
        let mut after = before;
        if is_mut && !writes.iter().any(|&(written, _, _)| written == slot) {
            let object = scratch.heap.object(slot);
            let unchanged = match (&ids.table().objects[before as usize].object, object) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            };
            if !unchanged {
                match ids.object(slot, object, slot_term(slot, object)) {
                    Some(id) => after = id,
                    None => unknown = true,
                }
                writes.push((slot, before, after));
            }
        }
        if i < MAX_TAKEN {
            inputs.taken[i] = before;
            outputs.taken[i] = after;
        }
    }
    // Back to the state being expanded, for the next task.
    for &(slot, before, _) in writes.iter() {
        scratch
            .heap
            .put_object(slot, ids.table().objects[before as usize].object.clone());
    }
    let Some(next_id) = next_id.filter(|_| !unknown) else {
        return Ok(Fresh::Unknown);
    };
    writes.retain(|&(_, before, after)| before != after);
    let memo = (memoizable && spawned.is_empty()).then_some((inputs, outputs));
    Ok(Fresh::Next(next_id, memo))
}

/// The fingerprint of the state `fingerprint` after transition `goto_id`'s `writes`, without
/// the term of the task's next transition (nor of spawned tasks).
#[inline]
pub(super) fn base(table: &Interned, fingerprint: u64, goto_id: u32, writes: &[Write]) -> u64 {
    let mut base = fingerprint.wrapping_sub(table.gotos[goto_id as usize].term);
    for &(_, before, after) in writes {
        base = base
            .wrapping_sub(table.objects[before as usize].term)
            .wrapping_add(table.objects[after as usize].term);
    }
    base
}

/// Fills `next_state` with the record of `node` after a step of `task` that made `writes`,
/// left it at transition `next` and spawned the tasks `spawned_ids` (header words as the
/// node's, trailer 0: see [`super::explore::set_header`]).
#[inline]
pub(super) fn build_successor(
    next_state: &mut Vec<u32>,
    node: &[u32],
    slots: usize,
    writes: &[Write],
    task: u32,
    next: u32,
    spawned_ids: &[u32],
) {
    next_state.clear();
    next_state.extend_from_slice(&node[..node.len() - 1]);
    for &(slot, _, after) in writes {
        next_state[HEADER + slot as usize] = after;
    }
    next_state[HEADER + slots + task as usize] = next;
    next_state.extend_from_slice(spawned_ids);
    next_state.push(0);
}
