//! What a check does with user code that misbehaves outside code gears: properties that panic,
//! tasks the world does not have.
#![allow(missing_docs)]

use codegear::prelude::*;
use codegear::{ErrorKind, TaskId, ViolationKind};

#[data_gear]
#[derive(Default)]
pub struct Tally {
    n: u32,
}

/// Counts to 4, then exits.
#[code_gear]
fn count(tally: Mut<'_, Tally>, next: Next<()>) -> Goto {
    let mut tally = tally;
    tally.n += 1;
    if tally.n >= 4 {
        goto!(next())
    } else {
        goto!(count(tally.gear(), next))
    }
}

fn counter() -> (World, Gear<Tally>) {
    let mut world = World::new();
    let tally = world.alloc_shared(Tally::default());
    par_goto!(world, count(tally, Next::exit()));
    (world, tally)
}

fn panicked(report: &codegear::Report) -> (String, String, usize) {
    let violation = report.violation().expect("a property panic is a violation");
    match &violation.kind {
        ViolationKind::PropertyPanicked { property, message } => {
            (property.clone(), message.clone(), violation.trace.len())
        }
        other => panic!("expected a property panic, got {other:?}"),
    }
}

#[test]
fn a_panicking_invariant_is_reported_at_its_state_with_the_trace() {
    let (world, tally) = counter();
    let report = world.check(Check::new().always("n is small", move |v| {
        assert!(v.get(tally).n != 2, "n reached two");
        true
    }));
    let (property, message, steps) = panicked(&report);
    assert_eq!(property, "n is small");
    assert!(message.contains("n reached two"), "{message}");
    assert_eq!(steps, 2, "the shortest trace to n == 2");
    let text = report.to_string();
    assert!(text.contains("property `n is small` panicked"), "{text}");
}

#[test]
fn a_panicking_symmetry_key_is_reported_at_its_state_with_the_trace() {
    let (world, tally) = counter();
    let report = world.check(Check::new().symmetry(move |v| {
        let n = v.get(tally).n;
        assert!(n != 3, "no key for three");
        u64::from(n)
    }));
    let (property, message, steps) = panicked(&report);
    assert_eq!(property, "symmetry key");
    assert!(message.contains("no key for three"), "{message}");
    assert_eq!(steps, 3, "the shortest trace to n == 3");
    // The same check with a key that does not panic holds, over every state: small keys
    // (0, 1, 2, ..) are distinct classes (0 and 1 were once merged by the visited table).
    let fine = world.check(Check::new().symmetry(move |v| u64::from(v.get(tally).n)));
    assert!(fine.holds(), "{fine}");
    assert_eq!(fine.states, world.check(Check::new()).states, "{fine}");
}

#[test]
fn a_panicking_liveness_predicate_is_reported_not_taken_as_false() {
    let (world, tally) = counter();
    let report = world.check(Check::new().eventually("reaches 4", move |v| {
        let n = v.get(tally).n;
        if n == 3 {
            panic!("three is unexpected");
        }
        n == 4
    }));
    let (property, message, steps) = panicked(&report);
    assert_eq!(property, "reaches 4");
    assert!(message.contains("three is unexpected"), "{message}");
    assert_eq!(steps, 3);
}

#[test]
fn a_panicking_action_is_reported_on_its_step() {
    let (world, tally) = counter();
    let report = world.check(Check::new().action("grows by one", move |before, after| {
        let (b, a) = (before.get(tally).n, after.get(tally).n);
        if a == 3 {
            panic!("step to three");
        }
        a == b + 1
    }));
    let (property, message, steps) = panicked(&report);
    assert_eq!(property, "grows by one");
    assert!(message.contains("step to three"), "{message}");
    assert_eq!(
        steps, 3,
        "the trace ends with the step the action panicked on"
    );
}

#[test]
fn properties_that_do_not_panic_still_hold() {
    let (world, tally) = counter();
    let report = world.check(
        Check::new()
            .always("n <= 4", move |v| v.get(tally).n <= 4)
            .eventually("reaches 4", move |v| v.get(tally).n == 4),
    );
    assert!(report.holds(), "{report}");
}

#[test]
fn stepping_a_task_the_world_does_not_have_is_an_error() {
    let (mut world, _) = counter();
    let error = world.step(TaskId::from_index(7)).unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::UnknownTask { task: 7, tasks: 1 },
        "{error}"
    );
    assert!(
        error.to_string().contains("not a task of this world"),
        "{error}"
    );
    // The world is untouched: its real task still runs to the end.
    while !world.step(TaskId::from_index(0)).unwrap() {}
}

/// `View::try_get` validates each handle against the checked world (its fast path tests the
/// handle's heap, slot and generation in one go): a gear of another world is an error naming
/// it, `View::get` of it a property panic with that message, and the world's own gear reads
/// the state's value (the tally counts 0..4 across the states, each seen once).
#[test]
fn a_view_of_another_worlds_gear_is_an_error_not_a_value() {
    let (world, tally) = counter();
    let (_other, foreign) = counter();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let report = world.check(Check::new().always("foreign handle", move |v| {
        let error = v.try_get(foreign).expect_err("a gear of another world");
        assert!(
            matches!(error.kind(), ErrorKind::ForeignHandle { .. }),
            "{error}"
        );
        log.lock()
            .unwrap()
            .push(v.try_get(tally).expect("the world's own gear").n);
        true
    }));
    assert!(report.holds(), "{report}");
    let mut seen = seen.lock().unwrap().clone();
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2, 3, 4]);

    let report = world.check(Check::new().always("foreign get", move |v| v.get(foreign).n < 9));
    let (property, message, steps) = panicked(&report);
    assert_eq!(property, "foreign get");
    assert!(message.contains("invariant read"), "{message}");
    assert_eq!(steps, 0, "the initial state already reads it");
}
