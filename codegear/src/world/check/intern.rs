//! The intern tables of collapse compression (every distinct data-gear value and pending
//! transition stored once, a state being the row of their ids) and the memo of steps.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Arc;

use crate::code::Goto;
use crate::heap::DataGearObject;
use crate::world::fingerprint::{FpHasher, task_term};
use crate::world::taken_gears;

/// Fingerprints are already mixed: the set uses them as their own hash.
#[derive(Default)]
pub(super) struct Identity(u64);

impl Hasher for Identity {
    fn write(&mut self, _: &[u8]) {
        unreachable!("only u64 fingerprints are hashed")
    }
    fn write_u64(&mut self, fingerprint: u64) {
        self.0 = fingerprint;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A distinct value of one heap slot.
pub(super) struct ObjectEntry {
    pub(super) slot: u32,
    pub(super) object: Option<Arc<dyn DataGearObject>>,
    pub(super) term: u64,
    /// The next entry with the same term (a fingerprint-term collision), or [`NONE`].
    pub(super) next: u32,
}

impl ObjectEntry {
    /// Whether this entry is the value `object` in slot `slot` (the same allocation, or an
    /// equal value).
    pub(super) fn is(&self, slot: u32, object: Option<&Arc<dyn DataGearObject>>) -> bool {
        self.slot == slot
            && match (&self.object, object) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b) || a.eq_object(&**b),
                _ => false,
            }
    }
}

/// A distinct pending transition of one task.
pub(super) struct GotoEntry {
    pub(super) task: u32,
    pub(super) goto: Goto,
    pub(super) term: u64,
    pub(super) exit: bool,
    pub(super) next: u32,
    /// The slots of this world's heap its step takes, `(slot, is_mut)`.
    pub(super) taken: Box<[(u32, bool)]>,
    /// Whether its steps can be memoized: at most [`MAX_TAKEN`] gears, all of this world's heap
    /// (a foreign handle is an error the step itself must report).
    pub(super) memoizable: bool,
    /// For a choice (`choose!`): the ids of its alternatives, pending in the same task.
    pub(super) alternatives: Option<Box<[u32]>>,
}

/// Gears a step may take and still be memoized.
pub(super) const MAX_TAKEN: usize = 4;

/// A step's inputs: the transition and the values of the gears it takes. A code gear is a
/// function of these (its stub reaches the heap only through them), so equal inputs give equal
/// outputs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct StepInputs {
    pub(super) goto: u32,
    pub(super) taken: [u32; MAX_TAKEN],
}

impl Hash for StepInputs {
    /// Two words, not the derive's five writes and a length: the memo is looked up once per
    /// transition, and its hasher mixes each word it is given.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        let [a, b, c, d] = self.taken.map(u64::from);
        state.write_u64(u64::from(self.goto) | (a << 32));
        state.write_u64((b | (c << 32)) ^ d.rotate_left(21));
    }
}

/// A step's outputs: the next transition and the values of the gears it took, afterwards.
#[derive(Clone, Copy)]
pub(super) struct StepOutputs {
    pub(super) next: u32,
    pub(super) taken: [u32; MAX_TAKEN],
}

pub(super) const NONE: u32 = u32::MAX;

/// What the single worker's memo keeps of a step: its outputs, and what the step adds to a
/// state's fingerprint (the transition's term out, each written gear's old term out and new
/// term in; the next transition's term is not in it, so that a choice's alternatives share it).
///
/// With the delta a memoized step's successor fingerprint is one addition, and its writes are
/// needed only when the successor is new (about one transition in five on dining
/// philosophers): they are rebuilt then from the outputs ([`Learnt::writes`]).
#[derive(Clone, Copy)]
pub(super) struct Learnt {
    pub(super) outputs: StepOutputs,
    pub(super) delta: u64,
}

impl Learnt {
    /// A step not learnt (`outputs.next == NONE`).
    pub(super) const UNKNOWN: Learnt = Learnt {
        outputs: StepOutputs {
            next: NONE,
            taken: [NONE; MAX_TAKEN],
        },
        delta: 0,
    };

    /// `inputs`' step with `outputs`, its delta computed from the terms in `table`.
    pub(super) fn new(table: &Interned, inputs: &StepInputs, outputs: StepOutputs) -> Self {
        let entry = &table.gotos[inputs.goto as usize];
        let mut delta = 0u64.wrapping_sub(entry.term);
        for (i, &(_, is_mut)) in entry.taken.iter().enumerate() {
            let (before, after) = (inputs.taken[i], outputs.taken[i]);
            if is_mut && before != after {
                delta = delta
                    .wrapping_sub(table.objects[before as usize].term)
                    .wrapping_add(table.objects[after as usize].term);
            }
        }
        Self { outputs, delta }
    }

    /// The writes of this step of transition `goto` from a state with object ids `slot_ids`
    /// (as [`super::step::memo_hit`] gives them), into `writes`.
    #[inline]
    pub(super) fn writes(
        &self,
        table: &Interned,
        goto: u32,
        slot_ids: &[u32],
        writes: &mut Vec<(u32, u32, u32)>,
    ) {
        writes.clear();
        let entry = &table.gotos[goto as usize];
        for (i, &(slot, is_mut)) in entry.taken.iter().enumerate() {
            let (before, after) = (slot_ids[slot as usize], self.outputs.taken[i]);
            if is_mut && before != after {
                writes.push((slot, before, after));
            }
        }
    }
}

/// Entries of [`Memo`]'s direct-mapped cache: 48 KiB, about the first-level data cache.
///
/// A model has few distinct steps (dining philosophers, N=5: a few hundred), and the cache is
/// read once per transition at a random entry: at 4096 entries (224 KiB) its misses made the
/// lookup 9% of the check's cycles (`perf`) for 5% of its instructions.
const MEMO_CACHE: usize = 1 << 10;

/// An entry of [`Memo`]'s cache: a learnt step with its inputs, in 48 bytes (a `(StepInputs,
/// Learnt)` pair pads to 56).
#[derive(Clone, Copy)]
#[repr(C)]
struct Cached {
    delta: u64,
    inputs: StepInputs,
    outputs: StepOutputs,
}

/// The memo of steps: every step learnt, and in front of it a direct-mapped cache of the
/// recent ones (a lookup per transition: the hash table's probe cost about 60 instructions,
/// the cache's index and compare about 15; measured with callgrind on dining philosophers).
///
/// Invariant: every cached pair is also in the table (the cache is only a faster way to it);
/// a free cache entry has `goto == NONE`, which no transition id is.
pub(super) struct Memo {
    table: HashMap<StepInputs, Learnt, BuildHasherDefault<FpHasher>>,
    cache: Box<[Cached]>,
}

impl Default for Memo {
    fn default() -> Self {
        let free = Cached {
            delta: 0,
            inputs: StepInputs {
                goto: NONE,
                taken: [NONE; MAX_TAKEN],
            },
            outputs: Learnt::UNKNOWN.outputs,
        };
        Self {
            table: HashMap::default(),
            cache: vec![free; MEMO_CACHE].into_boxed_slice(),
        }
    }
}

impl Memo {
    /// The cache entry of `inputs`: a multiplicative hash of its words.
    #[inline]
    fn slot(inputs: &StepInputs) -> usize {
        let [a, b, c, d] = inputs.taken.map(u64::from);
        let words = (u64::from(inputs.goto) | (a << 32)) ^ (b | (c << 32)).rotate_left(17) ^ d;
        (words.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - MEMO_CACHE.trailing_zeros())) as usize
    }

    /// The step with `inputs`, if learnt.
    #[inline(always)]
    pub(super) fn get(&mut self, inputs: &StepInputs) -> Option<Learnt> {
        let slot = Self::slot(inputs);
        let cached = &self.cache[slot];
        if cached.inputs == *inputs {
            return Some(Learnt {
                outputs: cached.outputs,
                delta: cached.delta,
            });
        }
        let learnt = *self.table.get(inputs)?;
        self.cache[slot] = Cached::new(inputs, &learnt);
        Some(learnt)
    }

    /// Learns a step (its delta from the terms in `table`).
    pub(super) fn insert(&mut self, table: &Interned, inputs: StepInputs, outputs: StepOutputs) {
        let learnt = Learnt::new(table, &inputs, outputs);
        self.table.insert(inputs, learnt);
        self.cache[Self::slot(&inputs)] = Cached::new(&inputs, &learnt);
    }

    /// Bytes allocated.
    pub(super) fn bytes(&self) -> usize {
        self.table.capacity() * (size_of::<(StepInputs, Learnt)>() + 1)
            + self.cache.len() * size_of::<Cached>()
    }
}

impl Cached {
    fn new(inputs: &StepInputs, learnt: &Learnt) -> Self {
        Self {
            delta: learnt.delta,
            inputs: *inputs,
            outputs: learnt.outputs,
        }
    }
}

/// The intern tables of collapse compression.
pub(super) struct Interned {
    pub(super) heap_id: u32,
    pub(super) slots: usize,
    pub(super) objects: Vec<ObjectEntry>,
    pub(super) object_ids: HashMap<u64, u32, BuildHasherDefault<Identity>>,
    pub(super) gotos: Vec<GotoEntry>,
    pub(super) goto_ids: HashMap<u64, u32, BuildHasherDefault<Identity>>,
}

impl Interned {
    /// The id of `object` in `slot`, whose term is `term`, adding it if new.
    pub(super) fn object(
        &mut self,
        slot: u32,
        object: Option<&Arc<dyn DataGearObject>>,
        term: u64,
    ) -> u32 {
        let fresh = self.objects.len() as u32;
        let mut id = *self.object_ids.entry(term).or_insert(fresh);
        if id != fresh {
            loop {
                let entry = &self.objects[id as usize];
                if entry.is(slot, object) {
                    return id;
                }
                if entry.next == NONE {
                    self.objects[id as usize].next = fresh;
                    break;
                }
                id = entry.next;
            }
        }
        self.objects.push(ObjectEntry {
            slot,
            object: object.cloned(),
            term,
            next: NONE,
        });
        fresh
    }

    /// The id of `goto` pending in `task`, whose term is `term`, adding it if new (and, for a
    /// choice, its alternatives first).
    pub(super) fn goto(&mut self, task: u32, goto: Goto, term: u64) -> u32 {
        let mut last = NONE;
        if let Some(&first) = self.goto_ids.get(&term) {
            let mut id = first;
            while id != NONE {
                let entry = &self.gotos[id as usize];
                if entry.task == task && entry.goto == goto {
                    return id;
                }
                last = id;
                id = entry.next;
            }
        }
        let alternatives = goto.alternatives().map(|alternatives| {
            alternatives
                .iter()
                .map(|alternative| {
                    let term = task_term(task, alternative);
                    self.goto(task, alternative.clone(), term)
                })
                .collect()
        });
        let fresh = self.gotos.len() as u32;
        if alternatives.is_some() {
            // Interning the alternatives may have added entries with this term.
            last = NONE;
            let mut id = self.goto_ids.get(&term).copied().unwrap_or(NONE);
            while id != NONE {
                last = id;
                id = self.gotos[id as usize].next;
            }
        }
        if last == NONE {
            self.goto_ids.insert(term, fresh);
        } else {
            self.gotos[last as usize].next = fresh;
        }
        let mut taken = Vec::new();
        taken_gears(&goto, &mut taken);
        let memoizable = taken.len() <= MAX_TAKEN
            && taken
                .iter()
                .all(|(raw, _)| raw.owner() == self.heap_id && (raw.index() as usize) < self.slots);
        self.gotos.push(GotoEntry {
            task,
            exit: goto.is_exit(),
            goto,
            term,
            next: NONE,
            taken: taken
                .iter()
                .filter(|(raw, _)| {
                    raw.owner() == self.heap_id && (raw.index() as usize) < self.slots
                })
                .map(|(raw, is_mut)| (raw.index(), *is_mut))
                .collect(),
            memoizable,
            alternatives,
        });
        fresh
    }

    pub(super) fn bytes(&self) -> usize {
        self.objects.capacity() * size_of::<ObjectEntry>()
            + self.gotos.iter().map(|g| g.taken.len() * 8).sum::<usize>()
            + self.gotos.capacity() * size_of::<GotoEntry>()
            + (self.object_ids.capacity() + self.goto_ids.capacity())
                * (size_of::<(u64, u32)>() + 1)
    }
}

// The cache entry's layout is what its size budget assumes.
const _: () = assert!(size_of::<Cached>() == 48);
