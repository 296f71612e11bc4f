//! The visited set of the parallel explorer: one fingerprint table that every worker inserts
//! into without a lock, grown only while nobody inserts.
//!
//! # Layout
//!
//! The single worker's [`FpTable`](super::super::visited::FpTable) layout, with atomic slots:
//! open addressing over buckets of eight `u64`s (one cache line each), `0` marking a free
//! slot (the fingerprint `0` is stored as `1`), home bucket `fp * buckets >> 64`, linear
//! probing over buckets.
//!
//! # The insert protocol
//!
//! A slot is written once: from `0` to a fingerprint, by a compare-and-swap, and never again
//! until the table is replaced. An insert walks the probe sequence of its fingerprint and stops
//! at the first slot that holds it (not new) or is free; it claims a free slot by the CAS, and
//! if another insert won that slot, looks at what was written (its own fingerprint: not new;
//! another: the walk goes on to the next slot). Every insert of the same fingerprint walks the
//! same sequence over the same write-once slots, so they all stop at the same slot, exactly one
//! CAS there succeeds, and that insert alone reports the fingerprint as new. A slot is taken
//! only after the ones before it in its bucket (a walk moves past a slot only once it is
//! taken), so a bucket fills from the front and a walk may stop at the first free slot.
//!
//! `Relaxed` is enough: a slot's value is the whole datum (nothing else is published through
//! it), and the atomicity of each slot's single write (its modification order) is all the
//! argument above uses. The tables the workers read were written before the scope that runs
//! them started, and the scope's end orders their inserts before the growth that reads them.
//!
//! # Growth, and the room that avoids it during a level
//!
//! A table may hold [`MAX_LOAD`] of its slots. Inserting needs *room*: a worker takes units of
//! it in small chunks from one atomic counter before it inserts (one unit per new state), so
//! the table never passes its load while workers insert; a worker that finds no room left
//! stops at the state it is expanding, and once every worker has stopped the table grows (by
//! 5/4, as the single worker's) with the workers rehashing parts of the old table in parallel,
//! and the level goes on.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError, TryLockError};

use gears_runtime::pool::Worker;

use super::super::visited::advise_huge;

/// Fingerprints per bucket: one cache line.
const BUCKET: usize = 8;
/// Fill ratio a table may reach (the single worker's).
const MAX_LOAD: f64 = 0.9;
/// Growth factor: 5/4 (dense: between 72% and 90% full).
const GROW_NUM: usize = 5;
const GROW_DEN: usize = 4;
const INITIAL_BUCKETS: usize = 128;
/// Room a worker takes at a time, at most: the counter is touched once per this many states.
const MAX_CLAIM: usize = 256;
/// Buckets below which a growth rehashes on one thread (a parallel one costs a scope).
const PARALLEL_REHASH: usize = 1 << 12;
/// Parts of a parallel rehash per worker (each a job of the scope).
const REHASH_PARTS_PER_WORKER: usize = 4;

#[repr(C, align(64))]
struct Bucket([AtomicU64; BUCKET]);

/// A fingerprint table shared by the workers (see the module documentation).
///
/// Invariants: as [`FpTable`](super::super::visited::FpTable)'s; besides, `len + room` never
/// passes [`MAX_LOAD`] of the slots, every insert took a unit of room first, and `len` counts
/// the fingerprints stored up to the last [`SharedTable::settle`].
pub(in crate::world::check) struct SharedTable {
    buckets: Buckets,
    len: usize,
    room: AtomicUsize,
    /// The buckets a growth replaced, freed by a worker in the next phase (unmapping many
    /// megabytes is a few milliseconds the barrier need not wait for).
    retired: Mutex<Option<Buckets>>,
}

impl SharedTable {
    pub(in crate::world::check) fn new() -> Self {
        let mut table = Self {
            buckets: allocate(INITIAL_BUCKETS),
            len: 0,
            room: AtomicUsize::new(0),
            retired: Mutex::new(None),
        };
        table.settle(0);
        table
    }

    fn threshold(buckets: usize) -> usize {
        ((buckets * BUCKET) as f64 * MAX_LOAD) as usize
    }

    #[inline]
    fn home(fingerprint: u64, buckets: usize) -> usize {
        ((u128::from(fingerprint) * buckets as u128) >> 64) as usize
    }

    /// Fingerprints stored (up to the last [`SharedTable::settle`]).
    pub(in crate::world::check) fn len(&self) -> usize {
        self.len
    }

    /// Room for at most `MAX_CLAIM` inserts, fewer as it runs out (`workers` share it), or 0
    /// if there is none: the table must grow first.
    pub(in crate::world::check) fn claim(&self, workers: usize) -> usize {
        let mut left = self.room.load(Ordering::Relaxed);
        loop {
            if left == 0 {
                return 0;
            }
            // Near the end, small claims: room one worker holds unused is room another lacks.
            let take = (left / (4 * workers.max(1))).clamp(1, MAX_CLAIM);
            match self.room.compare_exchange_weak(
                left,
                left - take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return take,
                Err(now) => left = now,
            }
        }
    }

    /// Inserts `fingerprint`; whether it was new. The caller holds a unit of room (see
    /// [`SharedTable::claim`]) and uses it up if the fingerprint was new.
    #[inline]
    pub(in crate::world::check) fn insert(&self, fingerprint: u64) -> bool {
        let fingerprint = fingerprint.max(1);
        let count = self.buckets.len();
        let mut at = Self::home(fingerprint, count);
        loop {
            for slot in &self.buckets[at].0 {
                let mut seen = slot.load(Ordering::Relaxed);
                if seen == 0 {
                    match slot.compare_exchange(
                        0,
                        fingerprint,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => return true,
                        Err(now) => seen = now,
                    }
                }
                if seen == fingerprint {
                    return false;
                }
            }
            at += 1;
            if at == count {
                at = 0;
            }
        }
    }

    /// Whether `fingerprint` is stored.
    #[cfg(test)]
    fn contains(&self, fingerprint: u64) -> bool {
        let fingerprint = fingerprint.max(1);
        let count = self.buckets.len();
        let mut at = Self::home(fingerprint, count);
        loop {
            for slot in &self.buckets[at].0 {
                match slot.load(Ordering::Relaxed) {
                    0 => return false,
                    seen if seen == fingerprint => return true,
                    _ => {}
                }
            }
            at = (at + 1) % count;
        }
    }

    /// Starts loading the bucket of `fingerprint` (the workers prefetch a few states ahead).
    #[inline]
    pub(in crate::world::check) fn prefetch(&self, fingerprint: u64) {
        let at = Self::home(fingerprint.max(1), self.buckets.len());
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let address = std::ptr::from_ref(&self.buckets[at]).cast::<i8>();
            // SAFETY: a prefetch is a hint with no effect on memory; the address is that of a
            // bucket of the table (`at` is below its length, checked by the index).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(address) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = at;
    }

    /// Counts `inserted` more fingerprints (the inserts since the last call, which took their
    /// room) and hands out the room left before the table must grow.
    pub(in crate::world::check) fn settle(&mut self, inserted: usize) {
        self.len += inserted;
        let limit = Self::threshold(self.buckets.len());
        *self.room.get_mut() = limit.saturating_sub(self.len);
    }

    /// Room left, as [`SharedTable::settle`] handed it out (less what has been claimed).
    pub(in crate::world::check) fn room(&self) -> usize {
        self.room.load(Ordering::Relaxed)
    }

    /// Bytes allocated.
    pub(in crate::world::check) fn bytes(&self) -> usize {
        self.buckets.len() * size_of::<Bucket>()
    }

    /// Bytes of the table after [`SharedTable::grow`]`(room)`.
    pub(in crate::world::check) fn bytes_after_growth(&self, room: usize) -> usize {
        self.grown_buckets(room) * size_of::<Bucket>()
    }

    /// The buckets of the table grown by 5/4 until it has `room` more than its fingerprints
    /// (by 5/4 at least once).
    fn grown_buckets(&self, room: usize) -> usize {
        let mut count = grown(self.buckets.len());
        while Self::threshold(count) < self.len.saturating_add(room) {
            count = grown(count);
        }
        count
    }

    /// Grows the table, by 5/4 or as many times 5/4 as it takes to have `room` for more
    /// fingerprints (one rehash for all), rehashing on `worker` and the pool's other workers
    /// when it is large. Only between levels' phases: nobody inserts.
    pub(in crate::world::check) fn grow(
        &mut self,
        room: usize,
        worker: Option<&Worker>,
        workers: usize,
    ) {
        let count = self.grown_buckets(room);
        let old = std::mem::replace(&mut self.buckets, allocate(count));
        let parts = match worker {
            // More parts than workers, claimed as the pool's workers come free: a worker woken
            // late, or preempted, leaves its parts to the others instead of a half to wait for.
            Some(_) if old.len() >= PARALLEL_REHASH => {
                (workers.max(1) * REHASH_PARTS_PER_WORKER).min(old.len() / (PARALLEL_REHASH / 4))
            }
            _ => 1,
        };
        let new = &*self;
        // Part `k` of the old table is rehashed into region `k` of the new one (the regions'
        // bounds are where the parts' home buckets go): each thread writes only its region, so
        // plain stores do. The few fingerprints whose place is not in their part's region
        // (they overflowed across a boundary, in the old table or the new) are placed after.
        let bounds: Vec<usize> = (0..=parts).map(|k| old.len() * k / parts).collect();
        let region = |k: usize| {
            let start = ((bounds[k] as u128 * count as u128) / old.len() as u128) as usize;
            let end = ((bounds[k + 1] as u128 * count as u128) / old.len() as u128) as usize;
            (start, if k + 1 == parts { count } else { end })
        };
        let overflow: Vec<u64> = match worker {
            Some(worker) if parts > 1 => worker.scope(|scope| {
                let old = &old;
                let handles: Vec<_> = (1..parts)
                    .map(|k| {
                        let (start, end) = region(k);
                        let part = &old[bounds[k]..bounds[k + 1]];
                        scope.spawn(move |_| new.rehash(part, start, end))
                    })
                    .collect();
                let (start, end) = region(0);
                let mut overflow = new.rehash(&old[bounds[0]..bounds[1]], start, end);
                for handle in handles {
                    overflow.extend(handle.sync());
                }
                overflow
            }),
            _ => new.rehash(&old, 0, count),
        };
        *self
            .retired
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = Some(old);
        for fingerprint in overflow {
            let mut at = Self::home(fingerprint, count);
            while !self.place(at, count, fingerprint) {
                at = if at + 1 == count { 0 } else { at + 1 };
            }
        }
        let len = self.len;
        self.len = 0;
        self.settle(len);
    }

    /// Frees the buckets the last growth replaced, unless another thread is at it.
    pub(in crate::world::check) fn free_retired(&self) {
        let old = match self.retired.try_lock() {
            Ok(mut retired) => retired.take(),
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().take(),
            Err(TryLockError::WouldBlock) => None,
        };
        drop(old);
    }

    /// Moves the fingerprints of `old` buckets into buckets `start..end` (the only ones this
    /// thread writes; the fingerprints are distinct, so no lookups are needed), and returns
    /// those whose place is outside.
    fn rehash(&self, old: &[Bucket], start: usize, end: usize) -> Vec<u64> {
        let count = self.buckets.len();
        let mut outside = Vec::new();
        for bucket in old {
            for slot in &bucket.0 {
                let fingerprint = slot.load(Ordering::Relaxed);
                if fingerprint == 0 {
                    break;
                }
                let mut at = Self::home(fingerprint, count);
                if !(start..end).contains(&at) {
                    outside.push(fingerprint);
                    continue;
                }
                loop {
                    if at == end {
                        outside.push(fingerprint);
                        break;
                    }
                    if self.place(at, count, fingerprint) {
                        break;
                    }
                    at += 1;
                }
            }
        }
        outside
    }

    /// Puts `fingerprint` in the first free slot of bucket `at`; false if it is full. Only a
    /// thread that alone writes the bucket (a load then a store, not a CAS).
    #[inline]
    fn place(&self, at: usize, count: usize, fingerprint: u64) -> bool {
        debug_assert!(at < count);
        for slot in &self.buckets[at].0 {
            if slot.load(Ordering::Relaxed) == 0 {
                slot.store(fingerprint, Ordering::Relaxed);
                return true;
            }
        }
        false
    }
}

fn grown(buckets: usize) -> usize {
    buckets * GROW_NUM / GROW_DEN
}

/// Tables from this size on are mapped from the kernel directly (see [`Buckets`]). Not only
/// the large ones: from the allocator, a table of up to two megabytes came zeroed by the
/// calling thread page by page before the rehash; mapped, its pages are zeroed as the rehash
/// first touches them, on both threads. The calling thread's CPU in the growths to tables
/// below 4 MB, dining philosophers N=5, 3 meals, three runs each, under load: 15.0-16.5 ms
/// mapped from 64 KiB, 15.9-18.8 ms from 2 MiB.
const MAPPED_BYTES: usize = 64 << 10;

/// A table's buckets, all free at first.
///
/// A large table is its own anonymous mapping: the kernel hands out zeroed pages as they are
/// first touched, by the rehash that the workers share, on huge pages where it has them. From
/// the allocator, a table freed by a growth raises its threshold for mappings, and the next
/// one came from the heap and was filled with zeros by one thread before the rehash: most of
/// a growth's time, all of it between levels.
enum Buckets {
    Heap(Box<[Bucket]>),
    #[cfg(unix)]
    Mapped(std::ptr::NonNull<Bucket>, usize),
}

// SAFETY: `Mapped` owns its mapping as a `Box<[Bucket]>` owns its allocation (nothing else
// refers to it; it is unmapped once, on drop), and `Bucket` is `Send + Sync` (atomics).
unsafe impl Send for Buckets {}
// SAFETY: as for `Send`: shared references only read or atomically update the buckets.
unsafe impl Sync for Buckets {}

impl std::ops::Deref for Buckets {
    type Target = [Bucket];

    fn deref(&self) -> &[Bucket] {
        match self {
            Buckets::Heap(buckets) => buckets,
            #[cfg(unix)]
            // SAFETY: the mapping holds `count` buckets (mapped readable and writable, page
            // aligned, so aligned for `Bucket`), zeroed by the kernel, and all zero bits are a
            // valid `Bucket`; it lives until `self` is dropped.
            Buckets::Mapped(start, count) => unsafe {
                std::slice::from_raw_parts(start.as_ptr(), *count)
            },
        }
    }
}

impl Drop for Buckets {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Buckets::Mapped(start, count) = self {
            // SAFETY: the mapping was made by `allocate` with this address and length, and no
            // reference into it outlives `self`.
            let _ = unsafe { libc::munmap(start.as_ptr().cast(), *count * size_of::<Bucket>()) };
        }
    }
}

/// `count` free buckets, on huge pages where the kernel has them.
fn allocate(count: usize) -> Buckets {
    let bytes = count * size_of::<Bucket>();
    #[cfg(unix)]
    if bytes >= MAPPED_BYTES {
        // SAFETY: an anonymous private mapping of `bytes` at an address the kernel picks;
        // nothing is aliased, and the result is checked before use.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if start != libc::MAP_FAILED
            && let Some(start) = std::ptr::NonNull::new(start.cast::<Bucket>())
        {
            advise_huge(start.as_ptr().cast(), bytes);
            return Buckets::Mapped(start, count);
        }
    }
    let buckets = Box::<[Bucket]>::new_zeroed_slice(count);
    advise_huge(buckets.as_ptr().cast_mut().cast(), bytes);
    // SAFETY: all zero bits are a valid `Bucket`: eight `AtomicU64`s, each with the in-memory
    // representation of a `u64` (here 0, a free slot).
    Buckets::Heap(unsafe { buckets.assume_init() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    /// Inserts as a worker does: room first, then the insert.
    fn insert_all(table: &SharedTable, fingerprints: &[u64], room: &mut usize) -> Vec<u64> {
        let mut new = Vec::new();
        for &f in fingerprints {
            if *room == 0 {
                *room = table.claim(2);
                assert!(*room > 0, "the test sized the table");
            }
            if table.insert(f) {
                *room -= 1;
                new.push(f.max(1));
            }
        }
        new
    }

    #[test]
    fn every_fingerprint_is_new_exactly_once_across_threads_and_growths() {
        let mut table = SharedTable::new();
        let mut all = std::collections::HashSet::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..12 {
            // Two threads insert overlapping halves: a fingerprint in both is new for one.
            let batch: Vec<u64> = (0..(table.room() / 2).min(20_000))
                .map(|_| xorshift(&mut x) >> (round % 3))
                .collect();
            let (a, b) = batch.split_at(batch.len() * 2 / 3);
            let b: Vec<u64> = b.iter().chain(&a[a.len() / 2..]).copied().collect();
            // Both start together, so that their inserts overlap in time.
            let start = Barrier::new(2);
            let (new_a, new_b) = std::thread::scope(|s| {
                let one = s.spawn(|| {
                    start.wait();
                    insert_all(&table, a, &mut 0)
                });
                let two = s.spawn(|| {
                    start.wait();
                    insert_all(&table, &b, &mut 0)
                });
                (one.join().unwrap(), two.join().unwrap())
            });
            let mut news: Vec<u64> = new_a.iter().chain(&new_b).copied().collect();
            let inserted = news.len();
            news.sort_unstable();
            news.dedup();
            assert_eq!(news.len(), inserted, "a fingerprint reported new twice");
            for &f in &news {
                assert!(all.insert(f), "{f:#x} was already stored before this round");
            }
            for &f in a.iter().chain(&b) {
                assert!(all.contains(&f.max(1)), "{f:#x} is counted");
            }
            table.settle(inserted);
            assert_eq!(table.len(), all.len());
            table.grow(0, None, 1);
            for &f in &all {
                assert!(table.contains(f), "{f:#x} survives the growth");
            }
        }
        let load = table.len() as f64 / (table.buckets.len() * BUCKET) as f64;
        assert!(load <= MAX_LOAD, "{load}");
    }

    #[test]
    fn room_runs_out_at_the_load_limit_and_growth_brings_more() {
        let mut table = SharedTable::new();
        let limit = SharedTable::threshold(INITIAL_BUCKETS);
        let mut claimed = 0;
        loop {
            let got = table.claim(2);
            if got == 0 {
                break;
            }
            assert!(got <= MAX_CLAIM);
            claimed += got;
        }
        assert_eq!(claimed, limit, "all the room and no more");
        // Fill it to the limit: every bucket is reachable and no probe loops.
        let mut x = 7u64;
        let mut stored = 0;
        while stored < limit {
            if table.insert(xorshift(&mut x)) {
                stored += 1;
            }
        }
        table.settle(stored);
        assert_eq!(table.room(), 0);
        table.grow(0, None, 1);
        assert_eq!(table.len(), limit);
        assert_eq!(
            table.room(),
            SharedTable::threshold(grown(INITIAL_BUCKETS)) - limit
        );
    }

    #[test]
    fn a_parallel_rehash_keeps_every_fingerprint() {
        let pool = gears_runtime::pool::Pool::new(2).unwrap();
        let mut table = SharedTable::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut all = Vec::new();
        // Past the size from which tables are mapped from the kernel and rehashed in parallel
        // (in up to 4 parts per worker), grown again there a few times.
        assert!(PARALLEL_REHASH * size_of::<Bucket>() >= MAPPED_BYTES);
        let mut parallel_growths = 0;
        while table.buckets.len() < 8 * PARALLEL_REHASH {
            parallel_growths += usize::from(table.buckets.len() >= PARALLEL_REHASH);
            let mut room = 0;
            let batch: Vec<u64> = (0..table.room()).map(|_| xorshift(&mut x)).collect();
            let new = insert_all(&table, &batch, &mut room);
            table.settle(new.len());
            all.extend(new);
            // Two workers and three (more than the pool has): up to 8 and 12 parts.
            let workers = 2 + table.len() % 2;
            pool.install(|worker| table.grow(0, Some(worker), workers));
        }
        assert!(parallel_growths >= 3, "{parallel_growths}");
        assert_eq!(table.len(), all.len());
        for &f in &all {
            assert!(table.contains(f), "{f:#x}");
        }
    }
}
