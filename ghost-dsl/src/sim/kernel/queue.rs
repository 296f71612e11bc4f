//! The event queue: a tournament tree of per-CPU timers for the hot events (an agent's next step,
//! the end of the running task's stretch) and a binary heap of everything else, both ordered by
//! (time, sequence) so that equal times run in the order they were scheduled.

use std::cmp::Ordering;

use super::Kernel;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EventKind {
    Arrive(u32),
    Wake(u32),
    Tick(u16),
    /// A burst on a CPU; its length is `burst_lens[index]`.
    InterferenceStart(u16, u32),
    InterferenceEnd(u16),
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Event {
    pub(super) time: u64,
    pub(super) seq: u64,
    pub(super) kind: EventKind,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl Eq for Event {}
impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Event {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (time, seq) on top.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// What the simulation does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Kernel,
    AgentStart(u16),
    AgentExec(u16),
    /// The running task of the CPU reached the end of its stretch of CPU time.
    TaskTimer(u16),
}

/// A timer slot that is not set: after every real (time, sequence).
pub(super) const NO_TIMER: (u64, u64) = (u64::MAX, u64::MAX);

/// Fixed timer slots keyed by (time, sequence), with the earliest found in O(1) and updates in
/// O(log slots): a tournament tree whose node `i` holds the key and slot winning among its
/// leaves. Keys are packed into one `u128` (time high, sequence low) so that each step is one
/// compare of two adjacent nodes and a conditional move; an update stops as soon as a node comes
/// out unchanged, since nothing above it can change then.
#[derive(Clone, Debug)]
pub(super) struct TimerTree {
    size: usize,
    /// `nodes[size + slot]` is the leaf of `slot`; `nodes[1]` the overall winner.
    nodes: Vec<(u128, u32)>,
}

const NO_KEY: u128 = u128::MAX;

fn pack((time, seq): (u64, u64)) -> u128 {
    (u128::from(time) << 64) | u128::from(seq)
}

fn unpack(key: u128) -> (u64, u64) {
    ((key >> 64) as u64, key as u64)
}

impl TimerTree {
    pub(super) fn new(slots: usize) -> Self {
        let size = slots.next_power_of_two().max(1);
        let mut nodes = vec![(NO_KEY, 0u32); 2 * size];
        for slot in 0..size {
            nodes[size + slot].1 = slot as u32;
        }
        // All keys are equal (unset): the left child wins.
        for i in (1..size).rev() {
            nodes[i] = nodes[2 * i];
        }
        Self { size, nodes }
    }

    pub(super) fn set(&mut self, slot: usize, key: (u64, u64)) {
        let mut i = self.size + slot;
        self.nodes[i].0 = pack(key);
        while i > 1 {
            i /= 2;
            let (left, right) = (self.nodes[2 * i], self.nodes[2 * i + 1]);
            let winner = if right.0 < left.0 { right } else { left };
            if self.nodes[i] == winner {
                break;
            }
            self.nodes[i] = winner;
        }
    }

    pub(super) fn get(&self, slot: usize) -> (u64, u64) {
        unpack(self.nodes[self.size + slot].0)
    }

    /// The earliest set slot and its key.
    pub(super) fn earliest(&self) -> Option<(usize, (u64, u64))> {
        let (key, slot) = self.nodes[1];
        (key != NO_KEY).then(|| (slot as usize, unpack(key)))
    }
}

impl Kernel {
    pub(super) fn next_seq(&mut self) -> u64 {
        let seq = self.seq;
        self.seq += 1;
        seq
    }

    pub(super) fn schedule_burst(&mut self, c: u16, time: u64, len: u64) {
        let index = u32::try_from(self.burst_lens.len()).expect("fewer than 2^32 bursts");
        self.burst_lens.push(len);
        self.schedule(time, EventKind::InterferenceStart(c, index));
    }

    pub(super) fn set_timer(&mut self, index: usize, time: u64) {
        let seq = self.next_seq();
        self.timers.set(index, (time, seq));
    }

    pub(super) fn timer_time(&self, index: usize) -> u64 {
        self.timers.get(index).0
    }

    /// Clears timer `index` and returns its time.
    pub(super) fn take_timer(&mut self, index: usize) -> u64 {
        let (time, _) = self.timers.get(index);
        if time != u64::MAX {
            self.timers.set(index, NO_TIMER);
        }
        time
    }

    pub(super) fn set_agent_timer(&mut self, c: u16, time: u64) {
        self.set_timer(2 * self.cpus[c as usize].k, time);
    }

    /// Clears the agent timer of `c` and returns its time.
    pub(super) fn take_agent_timer(&mut self, c: u16) -> u64 {
        self.take_timer(2 * self.cpus[c as usize].k)
    }

    pub(super) fn set_task_timer(&mut self, c: u16, time: u64) {
        self.set_timer(2 * self.cpus[c as usize].k + 1, time);
    }

    pub(super) fn clear_task_timer(&mut self, c: u16) {
        self.take_timer(2 * self.cpus[c as usize].k + 1);
    }

    pub(super) fn schedule(&mut self, time: u64, kind: EventKind) {
        let seq = self.seq;
        self.seq += 1;
        self.heap.push(Event { time, seq, kind });
    }
}

#[cfg(test)]
mod tests {
    use super::{NO_TIMER, TimerTree};
    use crate::sim::SimRng;

    /// The tree's earliest slot is always the brute-force minimum, through random sets and
    /// clears (including sets that leave a node unchanged, where updates stop early).
    #[test]
    fn timer_tree_tracks_the_minimum() {
        for slots in [1, 2, 3, 8, 13, 16] {
            let mut rng = SimRng::new(slots as u64);
            let mut tree = TimerTree::new(slots);
            let mut model = vec![NO_TIMER; slots];
            assert_eq!(tree.earliest(), None);
            for seq in 0..5_000u64 {
                let slot = rng.range(0, slots as u64 - 1) as usize;
                let key = if rng.range(0, 3) == 0 {
                    NO_TIMER
                } else {
                    (rng.range(0, 50), seq)
                };
                tree.set(slot, key);
                model[slot] = key;
                let want = model
                    .iter()
                    .enumerate()
                    .filter(|(_, k)| **k != NO_TIMER)
                    .min_by_key(|(_, k)| **k)
                    .map(|(s, k)| (s, *k));
                assert_eq!(tree.earliest(), want, "{slots} slots after {seq} updates");
                assert_eq!(tree.get(slot), key);
            }
        }
    }
}
