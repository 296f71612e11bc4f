//! Compact storage of the visited states: a fingerprint table of 8 bytes per slot kept 72-90%
//! full, and the breadth-first parent links in about 1.3 bytes per state.
//!
//! # The fingerprint table
//!
//! Open addressing over buckets of eight `u64`s, each bucket one 64-byte cache line (`0` marks
//! a free slot; the fingerprint `0` is stored as `1`, merging two of 2^64 values). The home
//! bucket of a fingerprint is `fp * buckets >> 64`; a fingerprint goes in the first slot free
//! in its home bucket or, if that is full, in the next bucket with room (linear probing over
//! buckets). Nothing is ever removed, so a bucket's fingerprints fill it from the front and a
//! lookup stops at the first bucket that is not full.
//!
//! Why buckets: at 90% load, linear probing over single slots scans about 50 slots (six or
//! seven cache lines) to find that a fingerprint is new, and every new state is such a search.
//! A bucket of eight absorbs the fluctuation: most lookups, new or not, read one line, the one
//! [`FpTable::prefetch`] loaded some expansions earlier; and the huge pages spare the TLB miss
//! of a random page per insert. Measured with `perf` on dining philosophers (N=5, 3 meals), the
//! check's CPU time fell by about a fifth; the insert is still its largest item (about a
//! quarter), now waiting on memory despite the prefetch.
//!
//! Growth is by 5/4, not 2, to stay dense (the table holds 72-90% of its slots). Home buckets
//! are ordered like the fingerprints, so the rehash walks the old table once and writes the new
//! one almost sequentially.
//!
//! # Parent links
//!
//! Breadth-first, states are expanded in the order they were stored and each expansion stores
//! its new states in order, so parent indices never decrease: a state's parent is implied by
//! how many children each earlier state had. The log keeps, per expanded state, its number of
//! children in unary (`1` per child, then a `0`), about 2 bits per state, and per state the
//! label of the step that reached it, as a byte index into a table of distinct labels (a `u32`
//! per state once there are more than 255). A trace is rebuilt by scanning the bits once per
//! step (a popcount per word): cheap, and only for counterexamples.

/// Fingerprints per bucket: 8 `u64`s, one cache line.
const BUCKET: usize = 8;

/// One cache line of fingerprints, filled from the front (`0`: free).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Bucket([u64; BUCKET]);

/// Asks the kernel to back the untouched allocation at `start` (`len` bytes) with huge pages.
///
/// Every insert lands on a random page of a table of many megabytes: with 4 KiB pages nearly
/// each one also misses the TLB, and under a hypervisor a TLB miss is a two-level page walk
/// that a prefetch does not hide. Only the 2 MiB-aligned part of the range is advised; the
/// advice is a hint (transparent huge pages may be off), so its result is ignored.
pub(super) fn advise_huge(start: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let begin = (start as usize).next_multiple_of(HUGE);
        let end = (start as usize + len) / HUGE * HUGE;
        if end > begin {
            // SAFETY: `madvise(MADV_HUGEPAGE)` changes no memory contents, only how the kernel
            // backs the pages; the range lies inside an allocation this table owns.
            let _ = unsafe {
                libc::madvise(begin as *mut libc::c_void, end - begin, libc::MADV_HUGEPAGE)
            };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, len);
}

/// The visited fingerprints.
///
/// Invariants: every stored fingerprint is non-zero and sits in its home bucket or in a later
/// one (cyclically) such that every bucket from its home up to it is full; a bucket's
/// `overflow` bit is set if a fingerprint whose home it is sits in a later bucket; the free
/// slots of a bucket follow its used ones; `len` counts the stored fingerprints and stays at
/// most [`MAX_LOAD`] of the slots.
pub(super) struct FpTable {
    buckets: Vec<Bucket>,
    /// A bit per bucket: some fingerprint of this home bucket overflowed to a later one. A
    /// lookup whose home bucket is full stops there unless the bit is set: at 72-90% load
    /// without it a lookup read about 2.9 buckets (measured on dining philosophers, N=5, 2
    /// meals), and only the first is prefetched.
    overflow: Vec<u64>,
    len: usize,
    /// The `len` at which the next insertion grows the table ([`MAX_LOAD`] of the slots).
    grow_at: usize,
}

/// Fill ratio at which the table grows.
const MAX_LOAD: f64 = 0.9;
/// Growth factor, as a fraction: 5/4.
const GROW_NUM: usize = 5;
const GROW_DEN: usize = 4;
/// Buckets of a new table.
const INITIAL_BUCKETS: usize = 128;

impl Default for FpTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FpTable {
    /// An empty table (8 KiB).
    pub(super) fn new() -> Self {
        Self {
            buckets: Self::allocate(INITIAL_BUCKETS),
            overflow: vec![0; INITIAL_BUCKETS.div_ceil(64)],
            len: 0,
            grow_at: Self::threshold(INITIAL_BUCKETS),
        }
    }

    /// Fingerprints stored.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    fn home(fingerprint: u64, buckets: usize) -> usize {
        ((u128::from(fingerprint) * buckets as u128) >> 64) as usize
    }

    /// Whether `bucket` holds `fingerprint`, and the index of its first free slot (`BUCKET`
    /// if full): the slots fill from the front, so the first free one is the number of used
    /// ones, and a hit needs only an `or` of the compares. Branch-free over the whole line
    /// (measured with callgrind on dining philosophers, N=5, 2 meals: the per-slot bit masks
    /// this replaced took 4% more instructions of the whole check; SSE2 compares saved
    /// nothing over this).
    #[inline]
    fn scan(bucket: &Bucket, fingerprint: u64) -> (bool, u32) {
        let mut hit = false;
        let mut used = 0u32;
        for &slot in &bucket.0 {
            hit |= slot == fingerprint;
            used += u32::from(slot != 0);
        }
        (hit, used)
    }

    /// Inserts `fingerprint`; whether it was new.
    #[inline]
    pub(super) fn insert(&mut self, fingerprint: u64) -> bool {
        let fingerprint = fingerprint.max(1);
        if self.near_growth() {
            self.grow();
        }
        let count = self.buckets.len();
        let home = Self::home(fingerprint, count);
        let (hit, free) = Self::scan(&self.buckets[home], fingerprint);
        if hit {
            return false;
        }
        if let Some(slot) = self.buckets[home].0.get_mut(free as usize) {
            *slot = fingerprint;
            self.len += 1;
            return true;
        }
        if self.overflowed(home) {
            // Fingerprints of this home sit in later buckets, up to the first one not full.
            let mut at = home;
            loop {
                at = if at + 1 == count { 0 } else { at + 1 };
                let (hit, free) = Self::scan(&self.buckets[at], fingerprint);
                if hit {
                    return false;
                }
                if let Some(slot) = self.buckets[at].0.get_mut(free as usize) {
                    *slot = fingerprint;
                    self.len += 1;
                    return true;
                }
            }
        }
        Self::place_after(&mut self.buckets, &mut self.overflow, home, fingerprint);
        self.len += 1;
        true
    }

    /// Whether a fingerprint of home bucket `home` sits in a later bucket.
    #[inline]
    fn overflowed(&self, home: usize) -> bool {
        self.overflow[home / 64] & (1 << (home % 64)) != 0
    }

    /// Stores `fingerprint`, known absent, whose home bucket `home` is full, in the first bucket
    /// after it with room, and marks the home as overflowed.
    fn place_after(buckets: &mut [Bucket], overflow: &mut [u64], home: usize, fingerprint: u64) {
        overflow[home / 64] |= 1 << (home % 64);
        let count = buckets.len();
        let mut at = home;
        loop {
            at = if at + 1 == count { 0 } else { at + 1 };
            let (_, free) = Self::scan(&buckets[at], fingerprint);
            if let Some(slot) = buckets[at].0.get_mut(free as usize) {
                *slot = fingerprint;
                return;
            }
        }
    }

    /// Whether `fingerprint` is stored.
    #[cfg(test)]
    fn contains(&self, fingerprint: u64) -> bool {
        let fingerprint = fingerprint.max(1);
        let count = self.buckets.len();
        let home = Self::home(fingerprint, count);
        let mut at = home;
        loop {
            let (hit, free) = Self::scan(&self.buckets[at], fingerprint);
            if hit {
                return true;
            }
            if (free as usize) < BUCKET || (at == home && !self.overflowed(home)) {
                return false;
            }
            at = (at + 1) % count;
        }
    }

    /// Starts loading the bucket where `fingerprint` would be, so that a later
    /// [`FpTable::insert`] of it does not wait for memory (the table is far larger than the
    /// caches; the explorer prefetches a node's successors an expansion ahead).
    #[inline]
    pub(super) fn prefetch(&self, fingerprint: u64) {
        let at = Self::home(fingerprint.max(1), self.buckets.len());
        self.prefetch_bucket(at);
        // A lookup from an overflowed home reads the next bucket too (and rarely more): with
        // only the home prefetched, that second line was most of the insert's wait (`perf
        // annotate`, dining philosophers N=5, 3 meals). The bits are few and stay cached.
        if self.overflowed(at) {
            self.prefetch_bucket(if at + 1 == self.buckets.len() {
                0
            } else {
                at + 1
            });
        }
    }

    #[inline]
    fn prefetch_bucket(&self, at: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let address = std::ptr::from_ref(&self.buckets[at]).cast::<i8>();
            // SAFETY: a prefetch is a hint with no effect on memory; the address is that of a
            // bucket of the table (`at` is below its length, checked by the index). It
            // measured 1.4x on the 7-seat table.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(address) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = at;
    }

    /// Bytes the table would need after its next growth (for the memory budget).
    pub(super) fn bytes_after_growth(&self) -> usize {
        let count = Self::grown(self.buckets.len());
        count * size_of::<Bucket>() + count.div_ceil(64) * 8
    }

    /// Whether the next insertion may grow the table.
    #[inline]
    pub(super) fn near_growth(&self) -> bool {
        self.len >= self.grow_at
    }

    /// The `len` from which an insertion grows a table of `buckets`: where one more
    /// fingerprint would pass [`MAX_LOAD`] of its slots.
    fn threshold(buckets: usize) -> usize {
        ((buckets * BUCKET) as f64 * MAX_LOAD) as usize
    }

    fn grown(buckets: usize) -> usize {
        buckets * GROW_NUM / GROW_DEN
    }

    #[cold]
    fn grow(&mut self) {
        let count = Self::grown(self.buckets.len());
        let old = std::mem::replace(&mut self.buckets, Self::allocate(count));
        self.overflow = vec![0; count.div_ceil(64)];
        self.grow_at = Self::threshold(count);
        // In old bucket order the home buckets in the new table only rise (but for the few
        // that wrapped around the end), so these writes walk the new table once.
        for bucket in &old {
            for &fingerprint in bucket.0.iter().take_while(|&&f| f != 0) {
                let home = Self::home(fingerprint, count);
                let (_, free) = Self::scan(&self.buckets[home], fingerprint);
                if let Some(slot) = self.buckets[home].0.get_mut(free as usize) {
                    *slot = fingerprint;
                } else {
                    Self::place_after(&mut self.buckets, &mut self.overflow, home, fingerprint);
                }
            }
        }
    }

    /// `count` free buckets, on huge pages where the kernel has them (see [`advise_huge`]).
    fn allocate(count: usize) -> Vec<Bucket> {
        let mut buckets: Vec<Bucket> = Vec::with_capacity(count);
        advise_huge(buckets.as_mut_ptr().cast(), count * size_of::<Bucket>());
        buckets.resize(count, Bucket([0; BUCKET]));
        buckets
    }

    /// Bytes allocated.
    pub(super) fn bytes(&self) -> usize {
        self.buckets.capacity() * size_of::<Bucket>() + self.overflow.capacity() * 8
    }
}

/// Breadth-first parent links (see the module documentation).
pub(super) struct ParentLog {
    /// Per expanded state: a `1` per child, then a `0`.
    bits: Vec<u64>,
    bit_len: u64,
    /// The distinct labels, and per state (after the first) its label's index or the label.
    dictionary: Vec<u32>,
    small: Vec<u8>,
    wide: Option<Vec<u32>>,
    children: u32,
}

impl ParentLog {
    pub(super) fn new() -> Self {
        Self {
            bits: Vec::new(),
            bit_len: 0,
            dictionary: Vec::new(),
            small: Vec::new(),
            wide: None,
            children: 0,
        }
    }

    fn push_bit(&mut self, one: bool) {
        let word = (self.bit_len / 64) as usize;
        if word == self.bits.len() {
            self.bits.push(0);
        }
        if one {
            self.bits[word] |= 1 << (self.bit_len % 64);
        }
        self.bit_len += 1;
    }

    /// A new state, child of the state being expanded, reached by the step `label`.
    pub(super) fn child(&mut self, label: u32) {
        self.push_bit(true);
        self.children += 1;
        if let Some(wide) = &mut self.wide {
            wide.push(label);
            return;
        }
        let index = match self.dictionary.iter().position(|&l| l == label) {
            Some(index) => index,
            None if self.dictionary.len() < 255 => {
                self.dictionary.push(label);
                self.dictionary.len() - 1
            }
            None => {
                let mut wide: Vec<u32> = self
                    .small
                    .iter()
                    .map(|&i| self.dictionary[i as usize])
                    .collect();
                wide.push(label);
                self.small = Vec::new();
                self.wide = Some(wide);
                return;
            }
        };
        self.small.push(index as u8);
    }

    /// The state being expanded is done.
    pub(super) fn expanded(&mut self) {
        self.push_bit(false);
    }

    /// The label of the step that reached state `index` (at least 1).
    fn label(&self, index: u32) -> u32 {
        let i = index as usize - 1;
        match &self.wide {
            Some(wide) => wide[i],
            None => self.dictionary[self.small[i] as usize],
        }
    }

    /// The parent of state `index` (at least 1): the number of `0`s before the
    /// `(index - 1)`-th `1`.
    fn parent(&self, index: u32) -> u32 {
        let mut ones_left = u64::from(index - 1);
        let mut zeros = 0u64;
        for (w, &word) in self.bits.iter().enumerate() {
            let valid = if (w as u64 + 1) * 64 <= self.bit_len {
                64
            } else {
                (self.bit_len % 64) as u32
            };
            let mask = if valid == 64 {
                u64::MAX
            } else {
                (1u64 << valid) - 1
            };
            let ones = u64::from((word & mask).count_ones());
            if ones_left < ones {
                // The wanted `1` is in this word.
                let mut remaining = ones_left;
                for bit in 0..valid {
                    if word & (1 << bit) != 0 {
                        if remaining == 0 {
                            return zeros as u32;
                        }
                        remaining -= 1;
                    } else {
                        zeros += 1;
                    }
                }
                unreachable!("the word has enough ones");
            }
            ones_left -= ones;
            zeros += u64::from(valid) - ones;
        }
        unreachable!("state {index} has a parent link")
    }

    /// The labels of the steps from the initial state to state `index`.
    pub(super) fn path(&self, mut index: u32) -> Vec<u32> {
        let mut labels = Vec::new();
        while index != 0 {
            labels.push(self.label(index));
            index = self.parent(index);
        }
        labels.reverse();
        labels
    }

    pub(super) fn bytes(&self) -> usize {
        self.bits.capacity() * 8
            + self.small.capacity()
            + self.wide.as_ref().map_or(0, |w| w.capacity() * 4)
            + self.dictionary.capacity() * 4
    }
}

/// How a check keeps its states' parent links: the compact breadth-first log, or explicit
/// `(parent, label)` pairs (depth-first, and with the state graph).
pub(super) enum Parents {
    Log(ParentLog),
    Pairs(Vec<(u32, u32)>),
}

impl Parents {
    /// State `parent` (the one being expanded) reached a new state by the step `label`.
    #[inline]
    pub(super) fn child(&mut self, parent: u32, label: u32) {
        match self {
            Parents::Log(log) => log.child(label),
            Parents::Pairs(pairs) => pairs.push((parent, label)),
        }
    }

    /// The state being expanded (breadth-first: the next in storage order) is done.
    #[inline]
    pub(super) fn expanded(&mut self) {
        if let Parents::Log(log) = self {
            log.expanded();
        }
    }

    /// The step labels from the initial state to state `index`.
    pub(super) fn path(&self, index: u32) -> Vec<u32> {
        match self {
            Parents::Log(log) => log.path(index),
            Parents::Pairs(pairs) => {
                let mut labels = Vec::new();
                let mut at = index;
                while at != 0 {
                    let (parent, label) = pairs[at as usize - 1];
                    labels.push(label);
                    at = parent;
                }
                labels.reverse();
                labels
            }
        }
    }

    pub(super) fn bytes(&self) -> usize {
        match self {
            Parents::Log(log) => log.bytes(),
            Parents::Pairs(pairs) => pairs.capacity() * 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_keeps_every_fingerprint_through_growth() {
        let mut table = FpTable::new();
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut all = Vec::new();
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            all.push(x);
            assert!(table.insert(x));
        }
        for &f in &all {
            assert!(!table.insert(f));
        }
        assert!(table.insert(0));
        assert!(!table.insert(1), "0 is stored as 1");
        assert_eq!(table.len(), all.len() + 1);
        let load = table.len() as f64 / (table.buckets.len() * BUCKET) as f64;
        assert!((0.7..=0.9).contains(&load), "{load}");
        assert_eq!(
            table.bytes(),
            table.buckets.len() * 64 + table.buckets.len().div_ceil(64) * 8
        );
    }

    #[test]
    fn crowded_buckets_overflow_into_the_next_and_wrap_around() {
        // Fingerprints chosen to share a home bucket: the last bucket (top bits all ones), so
        // that the overflow wraps to bucket 0, and the first.
        let mut table = FpTable::new();
        let last: Vec<u64> = (0..20).map(|i| u64::MAX - i).collect();
        let first: Vec<u64> = (2..30).collect();
        for &f in last.iter().chain(&first) {
            assert!(table.insert(f), "{f:#x} is new");
        }
        for &f in last.iter().chain(&first) {
            assert!(table.contains(f), "{f:#x} is found");
            assert!(!table.insert(f), "{f:#x} is not new twice");
        }
        assert!(!table.contains(u64::MAX - 20));
        assert!(!table.contains(30));
        assert_eq!(table.len(), last.len() + first.len());
        // Growth keeps them (the wrapped run moves with its home bucket).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        while table.buckets.len() == INITIAL_BUCKETS {
            x = x.wrapping_mul(0x5851_f42d_4c95_7f2d).wrapping_add(1);
            table.insert(x);
        }
        for &f in last.iter().chain(&first) {
            assert!(table.contains(f), "{f:#x} is found after growth");
        }
    }

    #[test]
    fn parent_links_come_back_from_children_counts() {
        // Tree: 0 -> 1, 2; 1 -> 3; 2 -> (none); 3 -> 4, 5, 6.
        let mut log = ParentLog::new();
        for (children, base) in [(2, 10), (1, 20), (0, 0), (3, 30)] {
            for c in 0..children {
                log.child(base + c);
            }
            log.expanded();
        }
        assert_eq!(log.path(0), Vec::<u32>::new());
        assert_eq!(log.path(2), vec![11]);
        assert_eq!(log.path(3), vec![10, 20]);
        assert_eq!(log.path(6), vec![10, 20, 32]);
        // Past 255 distinct labels the log widens and keeps the earlier ones.
        let mut log = ParentLog::new();
        for label in 0..300 {
            log.child(label * 7);
        }
        log.expanded();
        assert_eq!(log.path(1), vec![0]);
        assert_eq!(log.path(300), vec![299 * 7]);
        // Many states: a long chain, each expanded with one child.
        let mut log = ParentLog::new();
        for i in 0..1000 {
            log.child(i % 3);
            log.expanded();
        }
        let path = log.path(1000);
        assert_eq!(path.len(), 1000);
        assert_eq!(path[999], 999 % 3);
    }
}
