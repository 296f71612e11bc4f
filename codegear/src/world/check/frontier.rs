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
    bytes: VecDeque<u8>,
    /// The last record pushed and popped (full records).
    last_in: Vec<u32>,
    last_out: Vec<u32>,
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
                bytes: VecDeque::new(),
                last_in: Vec::new(),
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
                c.bytes.capacity() + (c.last_in.capacity() + c.last_out.capacity()) * 4
            }
        }
    }

    /// Bytes in use.
    pub(super) fn used_bytes(&self) -> usize {
        match self {
            Frontier::Plain(words, _) => words.len() * 4,
            Frontier::Compressed(c) => c.bytes.len(),
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

fn put_varint(bytes: &mut VecDeque<u8>, mut value: u32) {
    while value >= 0x80 {
        bytes.push_back((value as u8) | 0x80);
        value >>= 7;
    }
    bytes.push_back(value as u8);
}

fn get_varint(bytes: &mut VecDeque<u8>) -> u32 {
    let mut value = 0u32;
    let mut shift = 0;
    loop {
        let byte = bytes.pop_front().expect("a whole record");
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
        let changed = body
            .iter()
            .enumerate()
            .filter(|&(i, &id)| last_body.get(i) != Some(&id))
            .count() as u32;
        let depth_step = depth != last_depth;
        debug_assert!(!depth_step || depth == last_depth + 1 || self.last_in.is_empty());
        let tasks_changed = tasks != last_tasks;
        put_varint(
            &mut self.bytes,
            (changed << 2) | (u32::from(depth_step) << 1) | u32::from(tasks_changed),
        );
        if depth_step && self.last_in.is_empty() {
            put_varint(&mut self.bytes, depth);
        }
        if tasks_changed {
            put_varint(&mut self.bytes, tasks);
        }
        let mut previous = 0usize;
        for (i, &id) in body.iter().enumerate() {
            if last_body.get(i) != Some(&id) {
                put_varint(&mut self.bytes, (i - previous) as u32);
                put_varint(&mut self.bytes, id);
                previous = i;
            }
        }
        self.bytes.extend(record[2].to_le_bytes());
        self.bytes.extend(record[3].to_le_bytes());
        self.last_in.clear();
        self.last_in.extend_from_slice(record);
        self.records += 1;
    }

    fn pop(&mut self, out: &mut Vec<u32>) {
        let first = self.last_out.is_empty();
        let flags = get_varint(&mut self.bytes);
        let changed = flags >> 2;
        let depth_step = flags & 2 != 0;
        let tasks_changed = flags & 1 != 0;
        let mut depth = if first { 0 } else { self.last_out[1] };
        if depth_step {
            depth = if first {
                get_varint(&mut self.bytes)
            } else {
                depth + 1
            };
        }
        let tasks = if tasks_changed {
            get_varint(&mut self.bytes) as usize
        } else {
            self.last_out[4] as usize
        };
        let len = HEADER + self.slots + tasks + 1;
        out.clear();
        if first {
            out.resize(len, 0);
        } else {
            let keep = self.last_out.len().min(len) - 1;
            out.extend_from_slice(&self.last_out[..keep]);
            out.resize(len, 0);
        }
        let mut at = 0usize;
        for _ in 0..changed {
            at += get_varint(&mut self.bytes) as usize;
            out[HEADER + at] = get_varint(&mut self.bytes);
        }
        let mut word = [0u8; 4];
        for byte in word.iter_mut() {
            *byte = self.bytes.pop_front().expect("a whole record");
        }
        out[2] = u32::from_le_bytes(word);
        for byte in word.iter_mut() {
            *byte = self.bytes.pop_front().expect("a whole record");
        }
        out[3] = u32::from_le_bytes(word);
        out[0] = self.next_index;
        out[1] = depth;
        out[4] = tasks as u32;
        out[len - 1] = len as u32;
        self.next_index += 1;
        self.records -= 1;
        self.last_out.clear();
        self.last_out.extend_from_slice(out);
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
}
