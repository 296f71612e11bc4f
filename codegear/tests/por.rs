//! Partial-order reduction: the same verdicts with and without it, on random programs (shared
//! and private gears, waits, loops, choices), and fewer states.
#![allow(missing_docs)]

mod common;

use std::sync::Arc;

use codegear::prelude::*;
use codegear::{Verdict, ViolationKind};
use common::random_programs::*;
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

#[test]
fn reduction_gives_the_same_verdicts_on_random_programs() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut full_states, mut reduced_states) = (0u64, 0u64);
    let mut verdicts = std::collections::BTreeMap::<String, u32>::new();
    for round in 0..3000 {
        let (world, cells) = random_world(&mut rng);
        let watched = cells[rng.below(cells.len() as u64) as usize];
        let bad = rng.below(3) as u8;
        // One property per check, so that "which violation comes first" cannot differ.
        let property = round % 3;
        let checks = |reduced: bool| {
            let check = Check::new()
                .partial_order_reduction(reduced)
                .max_states(200_000);
            let check = match property {
                0 => check,
                1 => check
                    .deadlocks(false)
                    .always("watched cell avoids the bad value", move |v| {
                        v.get(watched).v != bad
                    }),
                _ => {
                    let first = cells[0];
                    check
                        .deadlocks(false)
                        .action("cell 0 never jumps by two", move |b, a| {
                            (a.get(first).v + 3 - b.get(first).v) % 3 != 2
                        })
                }
            };
            world.check(check)
        };
        let full = checks(false);
        let reduced = checks(true);
        assert_eq!(
            kind(&full.verdict),
            kind(&reduced.verdict),
            "round {round}: {world:?}\nfull:\n{full}\nreduced:\n{reduced}"
        );
        if full.holds() {
            // (A violated check stops at its first counterexample, which comes at another
            // point of a reduced exploration.)
            assert!(reduced.states <= full.states, "round {round}");
            full_states += full.states;
            reduced_states += reduced.states;
        }
        *verdicts.entry(kind(&full.verdict)).or_default() += 1;
    }
    // Every kind of verdict came up, and the reduction reduced.
    assert!(verdicts.len() >= 4, "{verdicts:?}");
    println!("{verdicts:?}: {reduced_states} of {full_states} states");
    assert!(
        reduced_states * 10 < full_states * 9,
        "{reduced_states} of {full_states}"
    );
}

#[test]
fn a_property_that_reads_more_later_restarts_the_reduction() {
    // The property reads the private cell only once the shared cell is 1: the reduction must
    // not have taken steps on the private cell as invisible before that.
    let mut world = World::new();
    let shared = world.alloc_shared(Cell::default());
    let t0 = world.reserve_task();
    let own = world.alloc_private(t0, Cell::default());
    let prog0 = Prog {
        ops: Arc::new(vec![Op::Add(1, 1), Op::Add(1, 1), Op::Set(0, 1)]),
        gears: Arc::new(vec![shared, own]),
    };
    world.start(t0, at(prog0, 0, Next::exit()));
    let t1 = world.reserve_task();
    let other = world.alloc_private(t1, Cell::default());
    let prog1 = Prog {
        ops: Arc::new(vec![Op::Add(0, 1), Op::Add(0, 2)]),
        gears: Arc::new(vec![other]),
    };
    world.start(t1, at(prog1, 0, Next::exit()));
    let property = move |v: &codegear::View<'_>| v.get(shared).v != 1 || v.get(own).v == 2;
    let full = world.check(Check::new().always("late read", property));
    let reduced = world.check(
        Check::new()
            .always("late read", property)
            .partial_order_reduction(true),
    );
    assert_eq!(
        kind(&full.verdict),
        kind(&reduced.verdict),
        "{full}\n{reduced}"
    );
    assert!(reduced.states < full.states, "{reduced}");
}

fn liveness_kind(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Violated(v) => match &v.kind {
            ViolationKind::Liveness(name) => format!("liveness {name}"),
            _ => kind(verdict),
        },
        _ => kind(verdict),
    }
}

#[test]
fn reduction_gives_the_same_liveness_verdicts_on_random_programs() {
    use codegear::Fairness;
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut full_states, mut reduced_states) = (0u64, 0u64);
    let mut verdicts = std::collections::BTreeMap::<String, u32>::new();
    for round in 0..2400 {
        let (world, cells) = random_world(&mut rng);
        let watched = cells[rng.below(cells.len() as u64) as usize];
        let other = cells[rng.below(cells.len() as u64) as usize];
        let (a, b) = (rng.below(3) as u8, rng.below(3) as u8);
        let fairness = if round % 2 == 0 {
            Fairness::Weak
        } else {
            Fairness::Strong
        };
        // One property per check, as above; deadlocks off so that liveness decides.
        let property = (round / 2) % 3;
        let checks = |reduced: bool| {
            let check = Check::new()
                .partial_order_reduction(reduced)
                .fairness(fairness)
                .deadlocks(false)
                .max_states(200_000);
            let check = match property {
                0 => check.every_task_finishes(),
                1 => check.eventually("watched cell reaches a", move |v| v.get(watched).v == a),
                _ => check.leads_to(
                    "watched at a leads to other at b",
                    move |v| v.get(watched).v == a,
                    move |v| v.get(other).v == b,
                ),
            };
            world.check(check)
        };
        let full = checks(false);
        let reduced = checks(true);
        assert_eq!(
            liveness_kind(&full.verdict),
            liveness_kind(&reduced.verdict),
            "round {round} ({fairness:?}): {world:?}\nfull:\n{full}\nreduced:\n{reduced}"
        );
        if full.holds() {
            assert!(reduced.states <= full.states, "round {round}");
            full_states += full.states;
            reduced_states += reduced.states;
        }
        *verdicts
            .entry(format!("{fairness:?} {}", liveness_kind(&full.verdict)))
            .or_default() += 1;
    }
    // Violations and passes of every liveness property under both fairness notions came up,
    // and the reduction reduced on checks with liveness properties too.
    for fairness in ["Weak", "Strong"] {
        for name in [
            "liveness every task eventually finishes",
            "liveness watched cell reaches a",
            "liveness watched at a leads to other at b",
            "holds",
        ] {
            let key = format!("{fairness} {name}");
            assert!(
                verdicts.get(&key).is_some_and(|&n| n >= 5),
                "{key}: {verdicts:?}"
            );
        }
    }
    println!("{verdicts:?}: {reduced_states} of {full_states} states");
    assert!(
        reduced_states * 10 < full_states * 9,
        "{reduced_states} of {full_states}"
    );
}

#[test]
fn reduction_and_symmetry_follow_the_documented_rule() {
    let mut rng = Rng(7);
    let (world, cells) = random_world(&mut rng);
    let first = cells[0];
    let key = move |v: &codegear::View<'_>| u64::from(v.get(first).v);
    // Both asked for, no liveness: symmetry is in force and the reduction is off, said so.
    let both = world.check(
        Check::new()
            .deadlocks(false)
            .symmetry(key)
            .partial_order_reduction(true),
    );
    assert!(
        both.notes
            .iter()
            .any(|n| n.contains("partial-order reduction off") && n.contains("symmetry")),
        "{both}"
    );
    assert!(
        !both.notes.iter().any(|n| n.contains("took an ample set")),
        "{both}"
    );
    // With a liveness property symmetry is off, and the reduction is on.
    let mut livelier = World::new();
    let shared = livelier.alloc_shared(Cell::default());
    for _ in 0..3 {
        let task = livelier.reserve_task();
        let own = livelier.alloc_private(task, Cell::default());
        let prog = Prog {
            ops: Arc::new(vec![Op::Add(1, 1), Op::Add(1, 1), Op::Add(0, 1)]),
            gears: Arc::new(vec![shared, own]),
        };
        livelier.start(task, at(prog, 0, Next::exit()));
    }
    let live = livelier.check(
        Check::new()
            .every_task_finishes()
            .symmetry(move |v| u64::from(v.get(shared).v))
            .partial_order_reduction(true),
    );
    assert!(live.holds(), "{live}");
    assert!(
        live.notes
            .iter()
            .any(|n| n.contains("symmetry reduction off")),
        "{live}"
    );
    assert!(
        live.notes.iter().any(|n| n.contains("took an ample set")),
        "{live}"
    );
}
