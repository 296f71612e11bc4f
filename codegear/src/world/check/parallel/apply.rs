//! A worker's step application over the shared one ([`super::super::step`]): a memoized step
//! looked up in the frozen memo or the worker's own, or a fresh step run on the worker's
//! scratch heap, deferred when its outcome has no id in frozen tables.

use super::super::intern::Interned;
use super::super::step::{self, Fresh, Write, memo_hit, memo_key};
use super::Memo;
use super::ids::Ids;
use super::worker::Own;

/// One step's outcome for the expansion.
pub(super) enum Step {
    Next(u32),
    Defer,
    Failed,
}

/// The memoized step of `goto_id` from a state with `slot_ids` (in the shared memo, or the one
/// the worker learnt this level): its next transition, with its writes in `writes`.
#[inline]
pub(super) fn memoized(
    table: &Interned,
    shared: &Memo,
    own: &Memo,
    goto_id: u32,
    slot_ids: &[u32],
    writes: &mut Vec<Write>,
) -> Option<u32> {
    let inputs = memo_key(table, goto_id, slot_ids)?;
    let outputs = shared.get(&inputs).or_else(|| own.get(&inputs))?;
    Some(memo_hit(table, &inputs, outputs, writes))
}

/// Runs the step of `task` on the worker's scratch heap, learning it into the worker's memo;
/// deferred when its outcome has no id in frozen tables, or it starts tasks (their ids are
/// new transitions too, given at the barrier).
pub(super) fn run_step<I: Ids>(
    own: &mut Own,
    ids: &mut I,
    slot_ids: &[u32],
    task: u32,
    goto_id: u32,
    depth: u32,
) -> Step {
    let fresh = step::run_step(
        &mut own.scratch,
        ids,
        slot_ids,
        task,
        goto_id,
        depth,
        &mut own.writes,
        &mut own.spawned,
        |_, _| {},
    );
    match fresh {
        Err(_) => Step::Failed,
        Ok(Fresh::Unknown) => Step::Defer,
        Ok(Fresh::Next(..)) if ids.frozen() && !own.spawned.is_empty() => Step::Defer,
        Ok(Fresh::Next(next, memo)) => {
            if let Some((inputs, outputs)) = memo {
                own.memo.insert(inputs, outputs);
            }
            Step::Next(next)
        }
    }
}
