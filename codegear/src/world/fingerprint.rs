//! 64-bit state fingerprints, summed over components so that a step's successor is fingerprinted
//! from its parent in time proportional to what the step changed.
//!
//! A state's fingerprint is `Σ h(component)` (wrapping) over its heap slots and its tasks'
//! pending transitions, each `h` seeded with the component's position (Zobrist hashing with
//! addition instead of xor). A step changes one task's transition and the slots it wrote, so the
//! successor's fingerprint is the parent's minus the old terms plus the new ones.
//!
//! Two distinct states share a fingerprint with probability about 2^-64 each, so the chance of
//! any collision among `n` stored states is about `n² / 2^65` (3·10^-6 for ten million states);
//! a collision would make the checker skip a state, never report a false violation.
//!
//! Fingerprints are stable: nothing in them depends on the process (no addresses, no random
//! seeds, no heap ids: a handle hashes as its slot and generation), so the same state of the same
//! program has the same fingerprint in another world and in another process.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::code::Goto;
use crate::heap::{DataGearObject, Heap};

const K0: u64 = 0x243f_6a88_85a3_08d3;
const K1: u64 = 0x9e37_79b9_7f4a_7c15;
const K2: u64 = 0xa409_3822_299f_31d0;

#[inline]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// A fast, well-mixing 64-bit hasher (one folded multiply per word).
pub(crate) struct FpHasher(u64);

impl Default for FpHasher {
    fn default() -> Self {
        Self::seeded(0)
    }
}

impl FpHasher {
    #[inline]
    fn seeded(seed: u64) -> Self {
        Self(folded_multiply(seed ^ K0, K1))
    }
}

impl Hasher for FpHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().expect("chunks of 8"));
            self.write_u64(word);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.0 = folded_multiply(self.0 ^ i, K1).wrapping_add(K2);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        folded_multiply(self.0 ^ K2, K0)
    }
}

/// The term of heap slot `index` holding `object` (or nothing).
#[inline]
pub(crate) fn slot_term(index: u32, object: Option<&Arc<dyn DataGearObject>>) -> u64 {
    let mut hasher = FpHasher::seeded(u64::from(index));
    match object {
        None => hasher.write_u8(0),
        Some(object) => object.hash_object(&mut hasher),
    }
    hasher.finish()
}

/// The term of task `task` about to take `goto`: the code gear by its registry path (unique per
/// program, the same in every process; an address would not be) and its arguments by value.
#[inline]
pub(crate) fn task_term(task: u32, goto: &Goto) -> u64 {
    let mut hasher = FpHasher::seeded(u64::from(task) | (1 << 40));
    goto.code_gear().path.hash(&mut hasher);
    goto.args().hash(&mut hasher);
    hasher.finish()
}

/// The fingerprint of a whole state.
pub(crate) fn state(heap: &Heap, pending: &[Goto]) -> u64 {
    let slots = (0..heap.slot_count() as u32)
        .map(|index| slot_term(index, heap.object(index)))
        .fold(0u64, u64::wrapping_add);
    pending
        .iter()
        .enumerate()
        .map(|(task, goto)| task_term(task as u32, goto))
        .fold(slots, u64::wrapping_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_in_another_order_hash_differently_and_equal_input_equally() {
        let hash = |words: &[u64]| {
            let mut h = FpHasher::seeded(1);
            for &w in words {
                h.write_u64(w);
            }
            h.finish()
        };
        assert_eq!(hash(&[1, 2, 3]), hash(&[1, 2, 3]));
        assert_ne!(hash(&[1, 2, 3]), hash(&[3, 2, 1]));
        assert_ne!(hash(&[0]), hash(&[0, 0]));
        let mut seen = std::collections::HashSet::new();
        for a in 0..64u64 {
            for b in 0..64u64 {
                assert!(seen.insert(hash(&[a, b])), "collision at {a} {b}");
            }
        }
    }

    #[test]
    fn byte_strings_of_different_lengths_differ() {
        let hash = |bytes: &[u8]| {
            let mut h = FpHasher::seeded(0);
            h.write(bytes);
            h.finish()
        };
        assert_ne!(hash(b"ab"), hash(b"ab\0"));
        assert_ne!(hash(b""), hash(b"\0"));
        assert_eq!(hash(b"abcdefghij"), hash(b"abcdefghij"));
    }
}
