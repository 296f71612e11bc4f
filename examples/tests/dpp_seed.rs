//! The seed-style dining philosophers (interface `Phils`, `AtomicT<i64>.check_and_set` with two
//! continuations): checked and run.
#![allow(missing_docs)]

use codegear::ViolationKind;
use codegear::prelude::*;
use gears_examples::dpp_seed::{FREE, Order, table};

#[test]
fn the_naive_order_gets_stuck_with_a_trace() {
    let table = table(3, 1, Order::Naive);
    let report = table.check(Check::new());
    let violation = report.violation().expect("the naive order gets stuck");
    assert_eq!(
        violation.kind,
        ViolationKind::Always("not all waiting for their right fork".into())
    );
    // Each philosopher: thinking, pickup_lfork, check_and_set on its left fork (each is then
    // pending pickup_rfork): 9 steps.
    assert_eq!(violation.trace.len(), 9, "{report}");
    let takes = violation
        .trace
        .iter()
        .filter(|step| step.goto.starts_with("AtomicTImpl<i64>::check_and_set("))
        .count();
    assert_eq!(takes, 3, "{report}");
    for step in &violation.trace {
        assert!(
            step.goto.starts_with("PhilsImpl::thinking(")
                || step.goto.starts_with("PhilsImpl::pickup_lfork(")
                || step.goto.starts_with("PhilsImpl::pickup_rfork(")
                || step.goto.starts_with("AtomicTImpl<i64>::check_and_set("),
            "{step}"
        );
    }
}

#[test]
fn the_fixed_order_holds_and_runs_to_the_end() {
    let table = table(3, 1, Order::Fixed);
    let report = table.check(Check::new());
    assert!(report.holds(), "{report}");
    assert!(report.states > 100, "{report}");

    let mut running = gears_examples::dpp_seed::table(3, 50, Order::Fixed);
    running
        .world
        .run(Parallel::new(2).step_limit(1 << 24))
        .expect("the fixed order finishes");
    for &phil in &running.phils {
        assert_eq!(running.world.get(phil).unwrap().meals_left, 0);
    }
    for &fork in &running.forks {
        assert_eq!(running.world.get(fork).unwrap().value, FREE);
    }
}

#[test]
fn the_tables_show_the_seed_names() {
    let _ = table(2, 1, Order::Fixed);
    let described = Context::new().describe();
    for needle in [
        "C_AtomicTImpl<i64>_check_and_set",
        "C_PhilsImpl_pickup_rfork",
        "typedef struct AtomicT<T> {",
        "__code check_and_set(&mut self, old: T, new: T, next: Next<()>, fail: Next<()>);",
        "} Phils;  // implemented by: PhilsImpl",
        "// struct PhilsImpl { id: i64, me: Gear<dyn Phils>, left_fork: Gear<dyn AtomicT<i64>>,",
    ] {
        assert!(
            described.contains(needle),
            "{needle} missing from\n{described}"
        );
    }
}
