//! Multi-core checking: 1, 2 and 3 workers give the same reports on random programs (shared
//! and private gears, waits, loops, choices), with violations, deadlocks and bounds.
#![allow(missing_docs)]

mod common;

use codegear::prelude::*;
use codegear::{Verdict, ViolationKind};
use common::random_programs::*;
/// What must agree between worker counts: verdict (with its counterexample), counts, depth.
fn summary(report: &codegear::Report) -> (Verdict, u64, u64, u32) {
    (
        report.verdict.clone(),
        report.states,
        report.transitions,
        report.depth,
    )
}

#[test]
fn one_two_and_three_workers_agree_on_random_programs() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut verdicts = std::collections::BTreeMap::<String, u32>::new();
    for round in 0..400 {
        let (world, cells) = random_world(&mut rng);
        let watched = cells[rng.below(cells.len() as u64) as usize];
        let bad = rng.below(3) as u8;
        let property = round % 5;
        let check = |workers: usize| {
            let check = Check::new().workers(workers).max_states(200_000);
            let check = match property {
                0 => check,
                1 => check.always("watched cell avoids the bad value", move |v| {
                    v.get(watched).v != bad
                }),
                2 => {
                    let first = cells[0];
                    check
                        .deadlocks(false)
                        .action("cell 0 never jumps by two", move |b, a| {
                            (a.get(first).v + 3 - b.get(first).v) % 3 != 2
                        })
                }
                3 => check.deadlocks(false).max_states(40),
                _ => check.deadlocks(false).max_depth(4),
            };
            world.check(check)
        };
        let one = check(1);
        for workers in [2, 3] {
            let many = check(workers);
            assert_eq!(
                summary(&one),
                summary(&many),
                "round {round}, {workers} workers: {world:?}\none:\n{one}\nmany:\n{many}"
            );
            if let Some(violation) = one.violation() {
                // The shortest counterexample stays the shortest.
                assert_eq!(
                    violation.trace.len(),
                    many.violation().expect("same verdict").trace.len()
                );
            }
        }
        *verdicts.entry(kind(&one.verdict)).or_default() += 1;
    }
    // Every kind of verdict came up: holds, deadlock, invariant, action, both bounds.
    assert!(verdicts.len() >= 6, "{verdicts:?}");
}
fn kind(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Holds => "holds".into(),
        Verdict::Violated(v) => match &v.kind {
            ViolationKind::Deadlock => "deadlock".into(),
            ViolationKind::Always(name) => format!("always {name}"),
            ViolationKind::Action(name) => format!("action {name}"),
            other => format!("{other:?}"),
        },
        other => format!("{other:?}"),
    }
}

#[data_gear]
#[derive(Default)]
pub struct Counter {
    value: u64,
}

#[code_gear]
fn count(counter: Mut<'_, Counter>, limit: u64, next: Next<()>) -> Goto {
    let mut counter = counter;
    if counter.value == limit {
        return goto!(next());
    }
    counter.value += 1;
    goto!(count(counter.gear(), limit, next))
}

#[code_gear]
fn increment(counter: Mut<'_, Counter>, next: Next<()>) -> Goto {
    let mut counter = counter;
    counter.value += 1;
    goto!(next())
}

/// Starts `workers` incrementers, one per step (tasks created by a code gear).
#[code_gear]
fn spawner(counter: Ref<'_, Counter>, workers: u32, next: Next<()>) -> Goto {
    if workers == 0 {
        return goto!(next());
    }
    par_goto!(increment(counter.gear(), Next::exit()));
    goto!(spawner(counter.gear(), workers - 1, next))
}

/// `tasks` tasks each counting its own counter to `limit`: `(limit + 2)^tasks` states.
fn counters(tasks: usize, limit: u64) -> (World, Vec<Gear<Counter>>) {
    let mut world = World::new();
    let mut gears = Vec::new();
    for _ in 0..tasks {
        let task = world.reserve_task();
        let counter = world.alloc_private(task, Counter::default());
        gears.push(counter);
        world.start(task, goto!(count(counter, limit, Next::exit())));
    }
    (world, gears)
}

#[test]
fn a_larger_space_is_explored_in_parallel_with_the_same_counts() {
    let (world, gears) = counters(3, 30);
    let sum_below =
        move |v: &codegear::View<'_>| gears.iter().map(|&g| v.get(g).value).sum::<u64>() <= 90;
    let one = world.check(
        Check::new()
            .terminal_states(true)
            .always("sum", sum_below.clone()),
    );
    assert!(one.holds(), "{one}");
    for workers in [2, 3] {
        let many = world.check(
            Check::new()
                .workers(workers)
                .terminal_states(true)
                .always("sum", sum_below.clone()),
        );
        assert!(many.holds(), "{many}");
        assert_eq!(summary(&one), summary(&many));
        assert_eq!(one.terminal_states(), many.terminal_states());
        assert!(
            many.notes
                .iter()
                .any(|n| n.contains("breadth-first by levels")),
            "ran in parallel: {:?}",
            many.notes
        );
    }
}

#[test]
fn an_invariant_broken_deep_down_gives_the_single_workers_shortest_trace() {
    let (world, gears) = counters(3, 12);
    let (a, b) = (gears[0], gears[1]);
    let check = |workers| {
        world.check(
            Check::new()
                .workers(workers)
                .always("a + b below 15", move |v| {
                    v.get(a).value + v.get(b).value < 15
                }),
        )
    };
    let one = check(1);
    let violation = one.violation().expect("violated");
    assert_eq!(violation.trace.len(), 15, "{one}");
    for workers in [2, 3] {
        let many = check(workers);
        assert_eq!(summary(&one), summary(&many), "{many}");
    }
}

#[test]
fn the_memory_budget_ends_both_alike() {
    let (world, _) = counters(3, 60);
    let one = world.check(Check::new().max_memory(1 << 20));
    assert_eq!(
        one.verdict,
        Verdict::Incomplete(codegear::Bound::MaxMemory(1 << 20)),
        "{one}"
    );
    let two = world.check(Check::new().workers(2).max_memory(1 << 20));
    assert_eq!(summary(&one), summary(&two), "{two}");
}

#[test]
fn tasks_started_by_code_gears_are_explored_in_parallel() {
    for spawned in 0..6u32 {
        let mut world = World::new();
        let counter = world.alloc_shared(Counter::default());
        par_goto!(world, spawner(counter, spawned, Next::exit()));
        let check = |workers| world.check(Check::new().workers(workers).terminal_states(true));
        let one = check(1);
        assert!(one.holds(), "{one}");
        for workers in [2, 3] {
            let many = check(workers);
            assert_eq!(summary(&one), summary(&many), "{many}");
            assert_eq!(one.terminal_states(), many.terminal_states());
        }
    }
}

#[test]
fn what_stays_single_worker_says_so_and_agrees() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for round in 0..60 {
        let (world, _) = random_world(&mut rng);
        let checks = [
            |w| Check::new().workers(w).every_task_finishes(),
            |w| Check::new().workers(w).partial_order_reduction(true),
            |w| Check::new().workers(w).depth_first(),
        ];
        for (i, check) in checks.iter().enumerate() {
            let one = world.check(check(1));
            let two = world.check(check(2));
            assert_eq!(summary(&one), summary(&two), "round {round}, check {i}");
            assert!(
                two.notes
                    .iter()
                    .any(|n| n.contains("checked on one worker")),
                "{:?}",
                two.notes
            );
        }
    }
}

#[test]
fn a_panicking_invariant_is_reported_alike() {
    let (world, gears) = counters(2, 9);
    let a = gears[0];
    let check = |workers| {
        world.check(Check::new().workers(workers).always("a below 7", move |v| {
            assert!(v.get(a).value < 7, "a reached 7");
            true
        }))
    };
    let one = check(1);
    let violation = one.violation().expect("the panic is a finding");
    assert!(
        matches!(&violation.kind, ViolationKind::PropertyPanicked { message, .. } if message.contains("a reached 7")),
        "{one}"
    );
    for workers in [2, 3] {
        assert_eq!(summary(&one), summary(&check(workers)));
    }
}

/// Sets the counter to one of `values` values, chosen.
#[code_gear]
fn pick(counter: Mut<'_, Counter>, values: u64, next: Next<()>) -> Goto {
    Goto::choose((0..values).map(|value| goto!(set(counter.gear(), value, next.clone()))))
}

#[code_gear]
fn set(counter: Mut<'_, Counter>, value: u64, next: Next<()>) -> Goto {
    let mut counter = counter;
    counter.value = value;
    goto!(next())
}

/// How many times a parallel run's visited table grew while the workers expanded a level, as
/// its report's notes say.
fn mid_level_growths(report: &codegear::Report) -> u64 {
    let note = report
        .notes
        .iter()
        .find(|n| n.contains("breadth-first by levels"))
        .unwrap_or_else(|| panic!("a parallel run: {:?}", report.notes));
    let (_, after) = note
        .split_once("table growths (")
        .expect("growths in the note");
    after
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a count")
}

#[test]
fn a_level_that_outgrows_the_table_stops_grows_and_goes_on_alike() {
    // Two tasks each choose one of 120 values: a level of a few hundred states has tens of
    // thousands of successors, far more than the table was grown for at the barrier, so it
    // grows while the workers are in the level (their expansions cut short and redone).
    let mut world = World::new();
    let mut gears = Vec::new();
    for _ in 0..2 {
        let task = world.reserve_task();
        let counter = world.alloc_private(task, Counter::default());
        gears.push(counter);
        world.start(task, goto!(pick(counter, 120, Next::exit())));
    }
    let (a, b) = (gears[0], gears[1]);
    let holds = |workers| world.check(Check::new().workers(workers).terminal_states(true));
    let one = holds(1);
    assert!(one.holds(), "{one}");
    assert_eq!(one.terminal_states().len(), 120 * 120, "{one}");
    for workers in [2, 3] {
        let many = holds(workers);
        assert_eq!(summary(&one), summary(&many), "{many}");
        assert_eq!(one.terminal_states(), many.terminal_states());
        assert!(mid_level_growths(&many) > 0, "{:?}", many.notes);
    }
    // Broken only in one terminal state: the same shortest trace.
    let broken = |workers| {
        world.check(
            Check::new()
                .workers(workers)
                .always("not 77 and 33", move |v| {
                    !(v.get(a).value == 77 && v.get(b).value == 33)
                }),
        )
    };
    let one = broken(1);
    let violation = one.violation().expect("violated");
    assert_eq!(violation.trace.len(), 4, "{one}");
    for workers in [2, 3] {
        let many = broken(workers);
        assert_eq!(summary(&one), summary(&many), "{many}");
    }
}
