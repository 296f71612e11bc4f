//! Choice inside a task (`choose!`): every alternative explored, runs seeded and reproducible;
//! action properties; traces that show data.
#![allow(missing_docs)]

use codegear::prelude::*;
use codegear::{TaskId, View, ViolationKind};

#[data_gear]
#[derive(Default)]
pub struct Link {
    sent: u32,
    delivered: u32,
    lost: u32,
}

/// Sends `left` messages over a lossy link: each arrives or is lost.
#[code_gear]
fn send(link: Mut<'_, Link>, left: u32, next: Next<()>) -> Goto {
    let mut link = link;
    if left == 0 {
        return goto!(next());
    }
    link.sent += 1;
    choose!(
        goto!(deliver(link.gear(), left, next.clone())),
        goto!(lose(link.gear(), left, next)),
    )
}

#[code_gear]
fn deliver(link: Mut<'_, Link>, left: u32, next: Next<()>) -> Goto {
    let mut link = link;
    link.delivered += 1;
    goto!(send(link.gear(), left - 1, next))
}

#[code_gear]
fn lose(link: Mut<'_, Link>, left: u32, next: Next<()>) -> Goto {
    let mut link = link;
    link.lost += 1;
    goto!(send(link.gear(), left - 1, next))
}

fn lossy(messages: u32) -> (World, Gear<Link>) {
    let mut world = World::new();
    let link = world.alloc_shared(Link::default());
    par_goto!(world, send(link, messages, Next::exit()));
    (world, link)
}

#[test]
fn the_checker_explores_every_alternative() {
    for messages in 1..5u32 {
        let (world, link) = lossy(messages);
        let report = world.check(Check::new().terminal_states(true).always(
            "nothing is both",
            move |v| {
                let l = v.get(link);
                l.delivered + l.lost <= l.sent
            },
        ));
        assert!(report.holds(), "{report}");
        // Terminal states: how many were lost, 0..=messages.
        assert_eq!(report.terminal_states().len() as u32, messages + 1);
        // States: at `send` after k messages with j <= k lost (k + 1 of them for each k);
        // at `deliver` or `lose` with k - 1 resolved (2k for each k >= 1; the choice is
        // resolved in the step that made it, so it adds no state of its own); and finished.
        let at_send: u32 = (0..=messages).map(|k| k + 1).sum();
        let in_flight: u32 = (1..=messages).map(|k| 2 * k).sum();
        let finished = messages + 1;
        assert_eq!(
            report.states as u32,
            at_send + in_flight + finished,
            "{report}"
        );
    }
    // An invariant only some alternatives break is found, with the choice in the trace.
    let (world, link) = lossy(3);
    let report =
        world.check(Check::new().always("at most one lost", move |v| v.get(link).lost <= 1));
    let violation = report.violation().expect("two losses are possible");
    assert_eq!(
        violation.kind,
        ViolationKind::Always("at most one lost".into())
    );
    let chose: Vec<&str> = violation
        .trace
        .iter()
        .filter_map(|s| s.chose.as_deref())
        .collect();
    assert_eq!(chose.len(), 2, "{report}");
    assert!(
        chose
            .iter()
            .all(|c| c.starts_with("alternative 2 of 2: lose(")),
        "{report}"
    );
    let printed = report.to_string();
    // Each step shows what it changed, field by field.
    assert!(printed.contains("lost: 0 → 1"), "{printed}");
    assert!(printed.contains("lost: 1 → 2"), "{printed}");
    assert!(printed.contains("sent: 1 → 2"), "{printed}");
}

fn run_steps(world: &mut World) {
    while !world.finished(TaskId::from_index(0)) {
        world.step(TaskId::from_index(0)).unwrap();
    }
}

#[test]
fn a_single_run_takes_one_alternative_reproducibly_by_seed() {
    let outcome = |seed: u64| {
        let (mut world, link) = lossy(16);
        world.seed_choices(seed);
        run_steps(&mut world);
        let l = world.get(link).unwrap();
        assert_eq!(l.delivered + l.lost, 16);
        (l.delivered, l.lost)
    };
    assert_eq!(outcome(7), outcome(7));
    assert_eq!(outcome(World::DEFAULT_SEED), {
        let (mut world, link) = lossy(16);
        run_steps(&mut world);
        let l = world.get(link).unwrap();
        (l.delivered, l.lost)
    });
    // Different seeds give different runs (16 fair coin flips: all equal is 2^-15 per pair).
    let runs: std::collections::HashSet<_> = (0..8).map(outcome).collect();
    assert!(runs.len() > 1, "{runs:?}");
}

#[test]
fn a_parallel_run_takes_one_alternative_per_task_reproducibly() {
    let outcome = |seed: u64| {
        let mut world = World::new();
        let links: Vec<_> = (0..3)
            .map(|_| world.alloc_shared(Link::default()))
            .collect();
        for &link in &links {
            par_goto!(world, send(link, 12, Next::exit()));
        }
        world.run(Parallel::new(2).seed(seed)).unwrap();
        links
            .iter()
            .map(|&l| world.get(l).unwrap().lost)
            .collect::<Vec<_>>()
    };
    for seed in [1, 2, 3] {
        assert_eq!(outcome(seed), outcome(seed), "seed {seed}");
    }
}

#[test]
fn a_choice_can_start_a_task() {
    let mut world = World::new();
    let link = world.alloc_shared(Link::default());
    world.par_goto(choose!(
        goto!(deliver(link, 1, Next::exit())),
        goto!(lose(link, 1, Next::exit())),
    ));
    let report = world.check(Check::new().terminal_states(true));
    assert!(report.holds(), "{report}");
    assert_eq!(report.terminal_states().len(), 2);
    let mut run = world.clone();
    run_steps(&mut run);
    let l = run.get(link).unwrap();
    assert_eq!(l.delivered + l.lost, 1);
}

#[data_gear]
#[derive(Default)]
pub struct Counter {
    value: i64,
}

#[code_gear]
fn add(counter: Mut<'_, Counter>, by: i64, times: u32, next: Next<()>) -> Goto {
    let mut counter = counter;
    if times == 0 {
        return goto!(next());
    }
    counter.value += by;
    goto!(add(counter.gear(), by, times - 1, next))
}

#[test]
fn action_properties_see_each_step_before_and_after() {
    let mut world = World::new();
    let counter = world.alloc_shared(Counter::default());
    par_goto!(world, add(counter, 1, 3, Next::exit()));
    par_goto!(world, add(counter, 2, 2, Next::exit()));
    let grows = move |before: &View<'_>, after: &View<'_>| {
        after.get(counter).value >= before.get(counter).value
    };
    let report = world.check(Check::new().action("the counter only grows", grows));
    assert!(report.holds(), "{report}");
    assert!(
        report
            .to_string()
            .contains("every step `the counter only grows`")
    );

    par_goto!(world, add(counter, -1, 1, Next::exit()));
    let report = world.check(Check::new().action("the counter only grows", grows));
    let violation = report.violation().unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        violation.kind,
        ViolationKind::Action("the counter only grows".into())
    );
    // The shortest such trace is the decrement itself, first.
    assert_eq!(violation.trace.len(), 1, "{report}");
    let last = violation.trace.last().unwrap();
    assert_eq!(last.task, 2);
    assert_eq!(
        last.changes,
        vec![format!("Counter#{}.0: value: 0 → -1", world.heap().id())]
    );
    // Steps that change nothing are not actions (TLA+'s stuttering).
    let mut idle = World::new();
    let counter = idle.alloc_shared(Counter::default());
    par_goto!(idle, add(counter, 0, 2, Next::exit()));
    let report = idle.check(Check::new().action("never", |_, _| false));
    assert!(
        matches!(
            report.violation().map(|v| &v.kind),
            Some(ViolationKind::Action(_))
        ),
        "a step moving the task on is a step: {report}"
    );
}
