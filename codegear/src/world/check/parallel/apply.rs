//! A worker's step application: a memoized step looked up, or a fresh step run on the worker's
//! scratch heap (the single worker's `step`, with ids from [`Ids`]).

use std::sync::Arc;

use super::super::intern::{Interned, MAX_TAKEN, NONE, StepInputs, StepOutputs};
use super::Memo;
use super::ids::Ids;
use super::worker::Own;
use crate::world::fingerprint::{slot_term, task_term};
use crate::world::step_task;

/// One step's outcome for the expansion.
pub(super) enum Step {
    Next(u32),
    Defer,
    Failed,
}

/// The memoized step of `goto_id` from a state with `slot_ids`: its next transition, with its
/// writes in `writes`.
pub(super) fn memoized(
    table: &Interned,
    shared: &Memo,
    own: &Memo,
    goto_id: u32,
    slot_ids: &[u32],
    writes: &mut Vec<(u32, u32, u32)>,
) -> Option<u32> {
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
    let outputs = shared.get(&inputs).or_else(|| own.get(&inputs))?;
    writes.clear();
    for (i, &(slot, is_mut)) in entry.taken.iter().enumerate() {
        if is_mut && inputs.taken[i] != outputs.taken[i] {
            writes.push((slot, inputs.taken[i], outputs.taken[i]));
        }
    }
    Some(outputs.next)
}

/// Runs the step of `task` on the lane's scratch heap (as the single worker's `step`), or
/// defers it when its outcome has no id in frozen tables.
#[allow(clippy::too_many_arguments)]
pub(super) fn run_step<I: Ids>(
    lane: &mut Own,
    ids: &mut I,
    slot_ids: &[u32],
    task: u32,
    goto_id: u32,
    depth: u32,
) -> Step {
    for (slot, (&want, have)) in slot_ids.iter().zip(lane.scratch_ids.iter_mut()).enumerate() {
        if want != *have {
            lane.scratch.put_object(
                slot as u32,
                ids.table().objects[want as usize].object.clone(),
            );
            *have = want;
        }
    }
    let goto = ids.table().gotos[goto_id as usize].goto.clone();
    lane.spawned.clear();
    let next = match step_task(
        &mut lane.scratch,
        task,
        goto,
        u64::from(depth),
        &mut lane.spawned,
    ) {
        Ok(next) => next,
        Err(_) => return Step::Failed,
    };
    let entry = &ids.table().gotos[goto_id as usize];
    let taken = entry.taken.clone();
    let memoizable = entry.memoizable;
    let mut inputs = StepInputs {
        goto: goto_id,
        taken: [NONE; MAX_TAKEN],
    };
    let mut outputs = StepOutputs {
        next: NONE,
        taken: [NONE; MAX_TAKEN],
    };
    let mut unknown = false;
    lane.writes.clear();
    for (i, &(slot, is_mut)) in taken.iter().enumerate() {
        let before = slot_ids[slot as usize];
        let mut after = before;
        if is_mut && !lane.writes.iter().any(|&(written, _, _)| written == slot) {
            let object = lane.scratch.object(slot);
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
                lane.writes.push((slot, before, after));
            }
        }
        if i < MAX_TAKEN {
            inputs.taken[i] = before;
            outputs.taken[i] = after;
        }
    }
    // Back to the state being expanded, for the next task.
    for &(slot, before, _) in &lane.writes {
        lane.scratch
            .put_object(slot, ids.table().objects[before as usize].object.clone());
    }
    let next_term = task_term(task, &next);
    let next_id = if unknown {
        None
    } else {
        ids.goto(task, next, next_term)
    };
    let Some(next_id) = next_id.filter(|_| !ids.frozen() || lane.spawned.is_empty()) else {
        // A new value, a new transition, or new tasks: redone at the barrier.
        return Step::Defer;
    };
    lane.writes.retain(|&(_, before, after)| before != after);
    outputs.next = next_id;
    if memoizable && lane.spawned.is_empty() {
        lane.memo.insert(inputs, outputs);
    }
    Step::Next(next_id)
}
