//! Transitions whose arguments fit the inline buffer allocate nothing: counted with a global
//! allocator wrapper, over a whole run, in a test binary of its own (so no other test allocates
//! meanwhile).
#![allow(missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use codegear::prelude::*;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[data_gear]
#[derive(Default)]
pub struct Tally {
    total: u64,
}

#[code_gear]
fn mix(n: u64, acc: u64, tally: Gear<Tally>, done: Next<(u64,)>) -> Goto {
    goto!(add(n, acc.wrapping_mul(31).wrapping_add(n), tally, done))
}

#[code_gear]
fn add(n: u64, acc: u64, tally: Gear<Tally>, done: Next<(u64,)>) -> Goto {
    goto!(count(tally, n, acc, done))
}

#[code_gear]
fn count(tally: Mut<'_, Tally>, n: u64, acc: u64, done: Next<(u64,)>) -> Goto {
    let mut tally = tally;
    tally.total += 1;
    if n == 0 {
        goto!(done(acc))
    } else {
        goto!(mix(n - 1, acc, tally.gear(), done))
    }
}

#[test]
fn a_run_of_inline_transitions_allocates_nothing() {
    // Three values and a continuation: 8 + 8 + 12 + 24 bytes, inside the inline buffer.
    assert!(codegear::Args::fits_inline::<(
        u64,
        u64,
        Gear<Tally>,
        Next<(u64,)>
    )>());
    let mut ctx = Context::new();
    let tally = ctx.alloc(Tally::default());
    // Warm up: the first run may build the tables.
    ctx.run(goto!(mix(10, 0, tally, Next::exit()))).unwrap();

    let rounds = 100_000u64;
    let start = goto!(mix(rounds, 0, tally, Next::exit()));
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let exit = ctx.run(start).unwrap();
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    let transitions = exit.steps - 33;
    assert_eq!(transitions, 3 * (rounds + 1));
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {transitions} transitions"
    );
    assert_eq!(ctx.get(tally).unwrap().total, rounds + 1 + 11);

    // The counter does count: a boxed argument tuple allocates.
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let boxed = codegear::Args::new([0u64; 8]);
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 1);
    drop(boxed);
}
