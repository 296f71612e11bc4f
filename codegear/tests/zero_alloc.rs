//! Transitions whose arguments fit the inline buffer allocate nothing: counted with a global
//! allocator wrapper, over a whole run. The count is per thread, so that what the test harness
//! or any other thread allocates meanwhile (its output capture, another test) is not counted:
//! only the thread that runs the transitions is measured.
#![allow(missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use codegear::prelude::*;

struct Counting;

thread_local! {
    // Const-initialised and without a destructor: reading or bumping it never allocates and
    // never registers anything, so it is safe to use inside the allocator.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Allocations (and reallocations) made so far by the calling thread.
fn counted() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn count_one() {
    // `try_with`: a thread tearing down its thread-locals may still allocate; it is not ours.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
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
    let before = counted();
    let exit = ctx.run(start).unwrap();
    let allocations = counted() - before;
    let transitions = exit.steps - 33;
    assert_eq!(transitions, 3 * (rounds + 1));
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {transitions} transitions"
    );
    assert_eq!(ctx.get(tally).unwrap().total, rounds + 1 + 11);

    // The counter does count: a boxed argument tuple allocates.
    let before = counted();
    let boxed = codegear::Args::new([0u64; 8]);
    assert_eq!(counted() - before, 1);
    drop(boxed);
}

#[test]
fn the_counter_sees_only_the_calling_thread() {
    let before = counted();
    let other = std::thread::spawn(|| {
        let start = counted();
        let boxes: Vec<Box<u64>> = (0..1000).map(Box::new).collect();
        (counted() - start, boxes.len())
    })
    .join()
    .unwrap();
    assert_eq!(
        other,
        (1001, 1000),
        "the other thread counts its own allocations"
    );
    // The other thread's 1001 allocations are not on this thread's count; spawning allocates
    // here only a few bookkeeping objects (thread handle, result packet).
    let here = counted() - before;
    assert!(
        here < 100,
        "{here} allocations counted here for a spawn and a join"
    );
    let before = counted();
    let local = std::hint::black_box(vec![1u8; 10]);
    assert_eq!(counted() - before, 1);
    drop(local);
}
