//! A worker's step application over the shared one ([`super::super::step`]): a memoized step
//! looked up in the frozen memo or the worker's own, or a fresh step run on the worker's
//! scratch heap, deferred when its outcome has no id in frozen tables.

use super::super::intern::{Interned, Learnt, MAX_TAKEN, NONE, StepInputs};
use super::super::step::{self, Fresh, memo_key};
use super::Memo;
use super::ids::Ids;
use super::worker::Own;

/// One step's outcome for the expansion.
pub(super) enum Step {
    Next(u32),
    Defer,
    Failed,
}

/// Entries of a worker's direct-mapped cache of steps: 40 KiB, about the first-level data
/// cache, as the single worker's [`Memo`](super::super::intern::Memo) sized its own (a model
/// has few distinct steps; at 4096 entries the cache's own misses cost it cycles).
const CACHE: usize = 1 << 10;

/// A worker's memo: the steps it learnt this level (merged into the shared memo at the
/// barrier), and in front of both a direct-mapped cache of the steps it looked up last. Each
/// step comes with its fingerprint delta, as in the single worker's memo: a successor is
/// looked up by `fingerprint + delta` and built only if it is new.
///
/// A lookup per transition: the hash table's probe is about four times the instructions of
/// the cache's index and compare, and the shared table's lines are read by both cores.
/// Invariant: every cached pair is in the shared memo or in `learnt` (a step's outcome never
/// changes, and ids are the same in every worker's tables, so an entry stays true across
/// levels); a free entry has `goto == NONE`, which no transition id is.
pub(super) struct StepCache {
    learnt: Memo,
    cache: Box<[(StepInputs, Learnt)]>,
}

impl Default for StepCache {
    fn default() -> Self {
        let free = (
            StepInputs {
                goto: NONE,
                taken: [NONE; MAX_TAKEN],
            },
            Learnt::UNKNOWN,
        );
        StepCache {
            learnt: Memo::default(),
            cache: vec![free; CACHE].into_boxed_slice(),
        }
    }
}

impl StepCache {
    /// The cache entry of `inputs`: a multiplicative hash of its words.
    #[inline]
    fn slot(inputs: &StepInputs) -> usize {
        let [a, b, c, d] = inputs.taken.map(u64::from);
        let words = (u64::from(inputs.goto) | (a << 32)) ^ (b | (c << 32)).rotate_left(17) ^ d;
        (words.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - CACHE.trailing_zeros())) as usize
    }

    /// The outputs of the step with `inputs`: cached, in the shared memo or learnt.
    #[inline]
    fn get(&mut self, shared: &Memo, inputs: &StepInputs) -> Option<Learnt> {
        let slot = Self::slot(inputs);
        let cached = &self.cache[slot];
        if cached.0 == *inputs {
            return Some(cached.1);
        }
        let outputs = *shared.get(inputs).or_else(|| self.learnt.get(inputs))?;
        self.cache[slot] = (*inputs, outputs);
        Some(outputs)
    }

    /// Learns a step.
    fn insert(&mut self, inputs: StepInputs, learnt: Learnt) {
        self.learnt.insert(inputs, learnt);
        self.cache[Self::slot(&inputs)] = (inputs, learnt);
    }

    /// The steps learnt since the last call (for the shared memo); the cache stays.
    pub(super) fn drain(&mut self) -> impl Iterator<Item = (StepInputs, Learnt)> + '_ {
        self.learnt.drain()
    }

    /// Bytes allocated.
    pub(super) fn bytes(&self) -> usize {
        self.learnt.capacity() * (size_of::<(StepInputs, Learnt)>() + 1)
            + self.cache.len() * size_of::<(StepInputs, Learnt)>()
    }
}

/// The memoized step of `goto_id` from a state with `slot_ids` (in the shared memo, or the one
/// the worker learnt this level): its outputs and fingerprint delta (its writes, if needed,
/// come from [`Learnt::writes`]).
#[inline]
pub(super) fn memoized(
    table: &Interned,
    shared: &Memo,
    own: &mut StepCache,
    goto_id: u32,
    slot_ids: &[u32],
) -> Option<Learnt> {
    let inputs = memo_key(table, goto_id, slot_ids)?;
    own.get(shared, &inputs)
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
                let learnt = Learnt::new(ids.table(), &inputs, outputs);
                own.memo.insert(inputs, learnt);
            }
            Step::Next(next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::intern::StepOutputs;
    use super::*;

    fn inputs(goto: u32) -> StepInputs {
        StepInputs {
            goto,
            taken: [goto % 7, 1, NONE, NONE],
        }
    }

    fn outputs(next: u32) -> Learnt {
        Learnt {
            outputs: StepOutputs {
                next,
                taken: [next, 2, NONE, NONE],
            },
            delta: u64::from(next) * 3,
        }
    }

    /// A step as a comparable value (`Learnt` has no `PartialEq`).
    fn seen(learnt: Option<Learnt>) -> Option<(u32, [u32; MAX_TAKEN], u64)> {
        learnt.map(|l| (l.outputs.next, l.outputs.taken, l.delta))
    }

    #[test]
    fn the_cache_answers_only_what_the_memos_hold_through_evictions_and_merges() {
        let mut own = StepCache::default();
        let mut shared = Memo::default();
        let a = inputs(3);
        // An input with the same cache entry as `a`, so that one evicts the other.
        let b = (4..)
            .map(inputs)
            .find(|b| StepCache::slot(b) == StepCache::slot(&a))
            .expect("some input shares a's entry");
        assert_eq!(seen(own.get(&shared, &a)), None, "nothing learnt yet");
        own.insert(a, outputs(30));
        own.insert(b, outputs(40));
        // `a` was evicted from the cache, and comes from the learnt table (and is cached again).
        assert_eq!(seen(own.get(&shared, &a)), seen(Some(outputs(30))));
        assert_eq!(seen(own.get(&shared, &b)), seen(Some(outputs(40))));
        // A step nobody learnt, whose entry holds another step, is not found.
        let c = (b.goto + 1..)
            .map(inputs)
            .find(|c| StepCache::slot(c) == StepCache::slot(&a))
            .expect("a third input shares the entry");
        assert_eq!(seen(own.get(&shared, &c)), None);
        // At the barrier the learnt steps move to the shared memo; both are still found.
        shared.extend(own.drain());
        assert_eq!(shared.len(), 2);
        assert_eq!(seen(own.get(&shared, &b)), seen(Some(outputs(40))));
        assert_eq!(seen(own.get(&shared, &a)), seen(Some(outputs(30))));
        // Another worker, with an empty cache, finds them in the shared memo.
        let mut other = StepCache::default();
        assert_eq!(seen(other.get(&shared, &a)), seen(Some(outputs(30))));
        assert_eq!(seen(other.get(&shared, &c)), None);
    }
}
