//! Partial-order reduction on the dining philosophers: same verdicts, far fewer states.
#![allow(missing_docs)]

use codegear::{Check, ViolationKind};
use gears_examples::dpp::{Order, table};

#[test]
fn reduction_keeps_verdicts_and_cuts_states() {
    for (n, meals) in [(3, 1), (4, 1), (5, 1)] {
        for order in [Order::Naive, Order::Fixed] {
            let t = table(n, meals, order);
            let full = t.world.check(Check::new());
            let reduced = t.world.check(Check::new().partial_order_reduction(true));
            println!(
                "{n} {order:?} full {} reduced {}",
                full.states, reduced.states
            );
            assert_eq!(
                full.violation().map(|v| v.kind.clone()),
                reduced.violation().map(|v| v.kind.clone()),
                "{full}\n{reduced}"
            );
            let full = t.check(Check::new());
            let reduced = t.check(Check::new().partial_order_reduction(true));
            println!(
                "  with invariant: full {} reduced {}",
                full.states, reduced.states
            );
            assert_eq!(
                full.violation().map(|v| v.kind.clone()),
                reduced.violation().map(|v| v.kind.clone()),
            );
            if order == Order::Naive {
                assert_eq!(reduced.violation().unwrap().kind, ViolationKind::Deadlock);
            }
        }
    }
}
