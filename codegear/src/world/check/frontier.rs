//! The frontier: states waiting to be expanded, as records of component ids (see `explore.rs`:
//! header, slot ids, task ids, length).
//!
//! Breadth-first, records leave in the order they came, and neighbours in that order are
//! siblings or cousins that differ in a few components (a step changes one task's transition
//! and the gears it wrote). So each record is stored as its difference from the record pushed
//! before it: the changed components as (distance from the previous change, new id) varints,
//! the fingerprint, and flags for a depth step and a change in the number of tasks; the index
//! is implicit (states are stored in the order they are expanded). The decoder replays the
//! same differences against the record it decoded last. A state of 64 philosophers (192
//! components, 780 bytes as plain `u32`s) takes about 20-30 bytes.
//!
//! Depth-first, records leave in the opposite order, and are kept plain.

use std::collections::VecDeque;

const HEADER: usize = 5;

pub(super) enum Frontier {
    /// Words, and records held.
    Plain(VecDeque<u32>, usize),
    Compressed(Compressed),
}

pub(super) struct Compressed {
    /// The encoded records: `bytes[head..]` are waiting (see [`Compressed::compact`]).
    bytes: Vec<u8>,
    head: usize,
    /// The last record pushed and popped (full records).
    last_in: Vec<u32>,
    last_out: Vec<u32>,
    /// Scratch of [`Compressed::push`]: the positions and ids of the changed components.
    changes: Vec<(u32, u32)>,
    /// Index of the next record popped, and records held.
    next_index: u32,
    records: usize,
    slots: usize,
}

impl Frontier {
    pub(super) fn new(depth_first: bool, slots: usize) -> Self {
        if depth_first {
            Frontier::Plain(VecDeque::new(), 0)
        } else {
            Frontier::Compressed(Compressed {
                bytes: Vec::new(),
                head: 0,
                last_in: Vec::new(),
                changes: Vec::new(),
                last_out: Vec::new(),
                next_index: 0,
                records: 0,
                slots,
            })
        }
    }

    /// States waiting.
    pub(super) fn len(&self) -> usize {
        match self {
            Frontier::Plain(_, records) => *records,
            Frontier::Compressed(c) => c.records,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        match self {
            Frontier::Plain(words, _) => words.is_empty(),
            Frontier::Compressed(c) => c.records == 0,
        }
    }

    /// Bytes held (allocated).
    pub(super) fn capacity_bytes(&self) -> usize {
        match self {
            Frontier::Plain(words, _) => words.capacity() * 4,
            Frontier::Compressed(c) => {
                c.bytes.capacity()
                    + (c.last_in.capacity() + c.last_out.capacity()) * 4
                    + c.changes.capacity() * 8
            }
        }
    }

    /// Bytes in use.
    pub(super) fn used_bytes(&self) -> usize {
        match self {
            Frontier::Plain(words, _) => words.len() * 4,
            Frontier::Compressed(c) => c.bytes.len() - c.head,
        }
    }

    /// Breadth-first, the index of the first record popped from an empty frontier (a check
    /// resumed from a checkpoint starts past 0; the indices are implicit).
    pub(super) fn first_index(&mut self, index: u32) {
        if let Frontier::Compressed(c) = self {
            debug_assert_eq!(c.records, 0);
            c.next_index = index;
        }
    }

    /// Adds a record (header, ids, length word).
    pub(super) fn push(&mut self, record: &[u32]) {
        match self {
            Frontier::Plain(words, records) => {
                words.extend(record);
                *records += 1;
            }
            Frontier::Compressed(c) => c.push(record),
        }
    }

    /// Takes the next record (breadth-first: the oldest; depth-first: the newest) into `out`.
    pub(super) fn pop(&mut self, out: &mut Vec<u32>, depth_first: bool, slots: usize) {
        out.clear();
        match self {
            Frontier::Plain(words, records) => {
                *records -= 1;
                if depth_first {
                    let len = *words.back().expect("not empty") as usize;
                    out.extend(words.drain(words.len() - len..));
                } else {
                    let len = HEADER + slots + words[4] as usize + 1;
                    out.extend(words.drain(..len));
                }
            }
            Frontier::Compressed(c) => c.pop(out),
        }
    }
}

/// Appends `value` as a LEB128 varint (7 bits a byte, low first, high bit: more follow).
#[inline]
fn put_varint(bytes: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        bytes.push((value as u8) | 0x80);
        value >>= 7;
    }
    bytes.push(value as u8);
}

/// Reads a varint at `*at`, moving `*at` past it.
///
/// # Panics
/// If the bytes end inside it (the frontier only reads whole records it wrote).
#[inline]
fn get_varint(bytes: &[u8], at: &mut usize) -> u32 {
    let byte = bytes[*at];
    *at += 1;
    if byte < 0x80 {
        // Most ids and distances fit one byte.
        return u32::from(byte);
    }
    let mut value = u32::from(byte & 0x7f);
    let mut shift = 7;
    loop {
        let byte = bytes[*at];
        *at += 1;
        value |= u32::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return value;
        }
        shift += 7;
    }
}

impl Compressed {
    fn push(&mut self, record: &[u32]) {
        let body = &record[HEADER..record.len() - 1];
        let depth = record[1];
        let tasks = record[4];
        let (last_depth, last_tasks, last_body): (u32, u32, &[u32]) = if self.last_in.is_empty() {
            (0, u32::MAX, &[])
        } else {
            (
                self.last_in[1],
                self.last_in[4],
                &self.last_in[HEADER..self.last_in.len() - 1],
            )
        };
        // One pass over the components: the changed ones, as (distance from the previous
        // change, new id).
        self.changes.clear();
        let mut previous = 0usize;
        let common = body.len().min(last_body.len());
        for (i, (&id, &last)) in body[..common].iter().zip(last_body).enumerate() {
            if id != last {
                self.changes.push(((i - previous) as u32, id));
                previous = i;
            }
        }
        for (i, &id) in body.iter().enumerate().skip(common) {
            self.changes.push(((i - previous) as u32, id));
            previous = i;
        }
        // The most this record can take: flags, depth and tasks, two varints per change, the
        // fingerprint. Rather than let the buffer double while a quarter of it is consumed
        // bytes, drop those (the buffer stays within about twice what is waiting, as a ring
        // buffer's would).
        let most = 3 * 5 + self.changes.len() * 10 + 8;
        if self.bytes.len() + most > self.bytes.capacity() && self.head * 4 >= self.bytes.len() {
            self.bytes.drain(..self.head);
            self.head = 0;
        }
        let depth_step = depth != last_depth;
        debug_assert!(!depth_step || depth == last_depth + 1 || self.last_in.is_empty());
        let tasks_changed = tasks != last_tasks;
        put_varint(
            &mut self.bytes,
            ((self.changes.len() as u32) << 2)
                | (u32::from(depth_step) << 1)
                | u32::from(tasks_changed),
        );
        if depth_step && self.last_in.is_empty() {
            put_varint(&mut self.bytes, depth);
        }
        if tasks_changed {
            put_varint(&mut self.bytes, tasks);
        }
        for &(distance, id) in &self.changes {
            put_varint(&mut self.bytes, distance);
            put_varint(&mut self.bytes, id);
        }
        self.bytes.extend_from_slice(&record[2].to_le_bytes());
        self.bytes.extend_from_slice(&record[3].to_le_bytes());
        self.last_in.clear();
        self.last_in.extend_from_slice(record);
        self.records += 1;
    }

    /// Drops the bytes already popped once they are at least half of the buffer (each byte
    /// moves at most once on average, and the buffer stays within twice what is waiting).
    fn compact(&mut self) {
        if self.head >= 4096 && self.head * 2 >= self.bytes.len() {
            self.bytes.drain(..self.head);
            self.head = 0;
        }
    }

    fn pop(&mut self, out: &mut Vec<u32>) {
        self.compact();
        let bytes = &self.bytes[..];
        let mut at = self.head;
        let first = self.last_out.is_empty();
        let flags = get_varint(bytes, &mut at);
        let changed = flags >> 2;
        let depth_step = flags & 2 != 0;
        let tasks_changed = flags & 1 != 0;
        let mut depth = if first { 0 } else { self.last_out[1] };
        if depth_step {
            depth = if first {
                get_varint(bytes, &mut at)
            } else {
                depth + 1
            };
        }
        let tasks = if tasks_changed {
            get_varint(bytes, &mut at) as usize
        } else {
            self.last_out[4] as usize
        };
        let len = HEADER + self.slots + tasks + 1;
        // Decoded in place over the last record (its trailer word dropped), then copied out
        // once.
        let last = &mut self.last_out;
        if first {
            last.resize(len, 0);
        } else if last.len() != len {
            last.truncate(last.len().min(len) - 1);
            last.resize(len, 0);
        }
        let mut component = 0usize;
        for _ in 0..changed {
            component += get_varint(bytes, &mut at) as usize;
            last[HEADER + component] = get_varint(bytes, &mut at);
        }
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        last[2] = word(at);
        last[3] = word(at + 4);
        self.head = at + 8;
        last[0] = self.next_index;
        last[1] = depth;
        last[4] = tasks as u32;
        last[len - 1] = len as u32;
        self.next_index += 1;
        self.records -= 1;
        out.clear();
        out.extend_from_slice(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_as_they_went_in() {
        let slots = 3;
        let record = |index: u32, depth: u32, fp: u64, ids: &[u32]| {
            let mut r = vec![
                index,
                depth,
                fp as u32,
                (fp >> 32) as u32,
                (ids.len() - slots) as u32,
            ];
            r.extend_from_slice(ids);
            r.push((r.len() + 1) as u32);
            r
        };
        let records = [
            record(0, 0, 0xdead_beef_0000_0001, &[1, 2, 3, 4, 5]),
            record(1, 1, 7, &[1, 9, 3, 4, 6]),
            record(2, 1, 8, &[1, 9, 3, 4, 6, 300_000]),
            record(3, 2, u64::MAX, &[0, 0, 0, 4]),
            record(4, 2, 9, &[0, 0, 0, 4]),
        ];
        let mut frontier = Frontier::new(false, slots);
        let mut out = Vec::new();
        // Interleaved pushes and pops, as breadth-first exploration does.
        frontier.push(&records[0]);
        frontier.pop(&mut out, false, slots);
        assert_eq!(out, records[0]);
        frontier.push(&records[1]);
        frontier.push(&records[2]);
        frontier.pop(&mut out, false, slots);
        assert_eq!(out, records[1]);
        frontier.push(&records[3]);
        frontier.pop(&mut out, false, slots);
        assert_eq!(out, records[2]);
        frontier.push(&records[4]);
        frontier.pop(&mut out, false, slots);
        assert_eq!(out, records[3]);
        frontier.pop(&mut out, false, slots);
        assert_eq!(out, records[4]);
        assert!(frontier.is_empty());
    }

    #[test]
    fn a_long_breadth_first_run_survives_compaction() {
        // Breadth-first order: a level of records pushed while the previous one is popped,
        // far more bytes than the compaction threshold, with wide ids and growing task counts.
        let slots = 4;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut frontier = Frontier::new(false, slots);
        let mut expected = std::collections::VecDeque::new();
        let mut out = Vec::new();
        let mut index = 0u32;
        let mut ids = vec![1u32; slots + 2];
        let mut depth = 0;
        let mut peak_used = 0;
        for round in 0..20_000u32 {
            for _ in 0..(next() % 4) {
                let changed = (next() as usize) % ids.len();
                ids[changed] = (next() % 1_000_000) as u32;
                if next() % 500 == 0 {
                    ids.push(round);
                }
                let mut record = vec![index, depth, next() as u32, next() as u32, 0];
                record[4] = (ids.len() - slots) as u32;
                record.extend_from_slice(&ids);
                record.push((record.len() + 1) as u32);
                index += 1;
                frontier.push(&record);
                expected.push_back(record);
            }
            if round % 100 == 0 {
                depth += 1;
            }
            if let Some(want) = expected.pop_front() {
                frontier.pop(&mut out, false, slots);
                assert_eq!(out, want);
            }
            assert_eq!(frontier.len(), expected.len());
            peak_used = peak_used.max(frontier.used_bytes());
        }
        // Consumed bytes are dropped rather than kept: the buffer stays within a small multiple
        // of what was ever waiting at once (as a ring buffer's would).
        assert!(
            frontier.capacity_bytes() <= 3 * peak_used + 8192,
            "{} bytes held for at most {peak_used} waiting",
            frontier.capacity_bytes()
        );
        while let Some(want) = expected.pop_front() {
            frontier.pop(&mut out, false, slots);
            assert_eq!(out, want);
        }
        assert!(frontier.is_empty());
        assert_eq!(frontier.used_bytes(), 0);
        assert!(index > 25_000, "{index} records went through");
        assert!(peak_used > 50_000, "{peak_used} bytes waited at once");
    }
}
