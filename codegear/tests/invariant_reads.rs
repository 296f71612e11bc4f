//! The checker evaluates an invariant again only where a step may have changed what it reads:
//! a property is a function of the gears and transitions it reads through its `View`, and the
//! checker records every read. These tests pin both halves: the skipping happens, and it never
//! hides a violation, also for a property that reads different gears in different states.
#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use codegear::prelude::*;
use codegear::{TaskId, ViolationKind};

#[data_gear]
#[derive(Default)]
pub struct Count {
    n: u32,
}

#[data_gear]
#[derive(Default)]
pub struct Switch {
    on: bool,
}

/// Counts to 3, then exits.
#[code_gear]
fn count(c: Mut<'_, Count>, next: Next<()>) -> Goto {
    let mut c = c;
    c.n += 1;
    if c.n >= 3 {
        goto!(next())
    } else {
        goto!(count(c.gear(), next))
    }
}

/// Turns the switch on, then exits.
#[code_gear]
fn turn_on(s: Mut<'_, Switch>, next: Next<()>) -> Goto {
    let mut s = s;
    s.on = true;
    goto!(next())
}

/// Waits for the switch, then counts.
#[code_gear]
fn wait_then_count(s: Ref<'_, Switch>, c: Gear<Count>, next: Next<()>) -> Goto {
    if s.on {
        goto!(count(c, next))
    } else {
        goto!(wait_then_count(s.gear(), c, next))
    }
}

/// Two independent counters; an invariant reading only the first is evaluated only in the
/// initial state and where the first counter's task stepped: fewer times than there are
/// states (4 x 4), and at least once per value of the first counter.
#[test]
fn an_invariant_is_not_evaluated_again_where_no_step_wrote_what_it_reads() {
    // One worker, and the parallel explorer (its own record of reads, merged at each level).
    for workers in [1, 2] {
        invariant_skipped_where_nothing_read_changed(workers);
    }
}

fn invariant_skipped_where_nothing_read_changed(workers: usize) {
    let mut world = World::new();
    let a = world.alloc_shared(Count::default());
    let c = world.alloc_shared(Count::default());
    par_goto!(world, count(a, Next::exit()));
    par_goto!(world, count(c, Next::exit()));
    let evaluations = Arc::new(AtomicUsize::new(0));
    let counted = evaluations.clone();
    let report = world.check(
        Check::new()
            .workers(workers)
            .always("a is small", move |v| {
                counted.fetch_add(1, Ordering::Relaxed);
                v.get(a).n <= 3
            }),
    );
    assert!(report.holds(), "{report}");
    assert_eq!(report.states, 16);
    let evaluations = evaluations.load(Ordering::Relaxed);
    assert!(
        (4..16).contains(&evaluations),
        "{evaluations} evaluations over 16 states on {workers} worker(s)"
    );

    // An invariant that also asks whether the second task finished reads its transition: it
    // is evaluated in every state. (Behind an `||` whose first operand is always true, the
    // question would never have been asked, nor the transition read: rightly skipped then.)
    let evaluations = Arc::new(AtomicUsize::new(0));
    let counted = evaluations.clone();
    let report = world.check(Check::new().workers(workers).always(
        "a small or c running",
        move |v| {
            counted.fetch_add(1, Ordering::Relaxed);
            let running = !v.finished(TaskId::from_index(1));
            v.get(a).n <= 3 || running
        },
    ));
    assert!(report.holds(), "{report}");
    assert_eq!(
        evaluations.load(Ordering::Relaxed),
        16,
        "on {workers} worker(s)"
    );
}

/// A property whose reads depend on the state: off, it reads the switch and `a`; on, the switch
/// and `b`. The only steps to its violation (`b` reaching 3 with the switch on) write `b`,
/// which the initial state never read: the checker must have recorded the read of `b` in the
/// states after the switch, and find the violation with its shortest trace (the switch, then
/// three counts).
#[test]
fn a_property_reading_other_gears_in_other_states_is_still_checked_everywhere() {
    for workers in [1, 2] {
        state_dependent_reads_are_checked(workers);
    }
}

fn state_dependent_reads_are_checked(workers: usize) {
    let mut world = World::new();
    let switch = world.alloc_shared(Switch::default());
    let a = world.alloc_shared(Count::default());
    let b = world.alloc_shared(Count::default());
    par_goto!(world, turn_on(switch, Next::exit()));
    par_goto!(world, wait_then_count(switch, b, Next::exit()));
    let report = world.check(Check::new().workers(workers).always(
        "the chosen counter is small",
        move |v| {
            if v.get(switch).on {
                v.get(b).n < 3
            } else {
                v.get(a).n < 10
            }
        },
    ));
    let violation = report.violation().expect("b reaches 3 with the switch on");
    assert!(
        matches!(&violation.kind, ViolationKind::Always(name) if name == "the chosen counter is small"),
        "{report}"
    );
    // The switch, the wait's end (it sees the switch on and goes on to count), three counts.
    assert_eq!(violation.trace.len(), 5, "on {workers} worker(s): {report}");
}
