//! The dining philosophers checked against an independent enumeration of the same transition
//! system, written here from its plain description (no code gears, no world).
#![allow(missing_docs)]

use std::collections::{HashMap, VecDeque};

use codegear::prelude::*;
use codegear::{Verdict, ViolationKind};
use gears_examples::dpp::{Fork, Order, Phil, Table, pickup_rfork, table};

/// Where a philosopher is, as the description says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Pc {
    Thinking,
    PickLeft,
    PickRight,
    Eating,
    PutRight,
    PutLeft,
    Done,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct State {
    pcs: Vec<Pc>,
    meals: Vec<u32>,
    /// Fork `i` is left of philosopher `i`, right of `i - 1`.
    forks: Vec<Option<usize>>,
}

/// The successor of philosopher `p`'s step (`None` when it has left the table).
fn step(state: &State, p: usize, left_first: &[bool]) -> Option<State> {
    let n = state.pcs.len();
    let (left, right) = (p, (p + 1) % n);
    let mut s = state.clone();
    match state.pcs[p] {
        Pc::Done => return None,
        Pc::Thinking if state.meals[p] == 0 => s.pcs[p] = Pc::Done,
        Pc::Thinking => {
            s.pcs[p] = if left_first[p] {
                Pc::PickLeft
            } else {
                Pc::PickRight
            }
        }
        Pc::PickLeft => {
            if state.forks[left].is_none() {
                s.forks[left] = Some(p);
                s.pcs[p] = if left_first[p] {
                    Pc::PickRight
                } else {
                    Pc::Eating
                };
            }
        }
        Pc::PickRight => {
            if state.forks[right].is_none() {
                s.forks[right] = Some(p);
                s.pcs[p] = if left_first[p] {
                    Pc::Eating
                } else {
                    Pc::PickLeft
                };
            }
        }
        Pc::Eating => {
            s.meals[p] -= 1;
            s.pcs[p] = Pc::PutRight;
        }
        Pc::PutRight => {
            s.forks[right] = None;
            s.pcs[p] = Pc::PutLeft;
        }
        Pc::PutLeft => {
            s.forks[left] = None;
            s.pcs[p] = Pc::Thinking;
        }
    }
    Some(s)
}

struct Enumeration {
    states: u64,
    transitions: u64,
    /// BFS distance of the nearest deadlock (unfinished, every step a self-loop), if any.
    nearest_deadlock: Option<u32>,
    max_depth: u32,
}

fn enumerate(n: usize, meals: u32, order: Order) -> Enumeration {
    let left_first: Vec<bool> = (0..n).map(|p| order == Order::Naive || p + 1 < n).collect();
    let init = State {
        pcs: vec![Pc::Thinking; n],
        meals: vec![meals; n],
        forks: vec![None; n],
    };
    let mut depth_of = HashMap::from([(init.clone(), 0u32)]);
    let mut queue = VecDeque::from([init]);
    let (mut transitions, mut nearest_deadlock, mut max_depth) = (0, None, 0);
    while let Some(state) = queue.pop_front() {
        let depth = depth_of[&state];
        max_depth = max_depth.max(depth);
        let mut any_step = false;
        let mut all_self = true;
        for p in 0..n {
            let Some(next) = step(&state, p, &left_first) else {
                continue;
            };
            any_step = true;
            transitions += 1;
            if next != state {
                all_self = false;
                if !depth_of.contains_key(&next) {
                    depth_of.insert(next.clone(), depth + 1);
                    queue.push_back(next);
                }
            }
        }
        if any_step && all_self && nearest_deadlock.is_none() {
            nearest_deadlock = Some(depth);
        }
    }
    Enumeration {
        states: depth_of.len() as u64,
        transitions,
        nearest_deadlock,
        max_depth,
    }
}

#[test]
fn state_counts_match_the_independent_enumeration_for_2_to_6_seats() {
    for n in 2..=6 {
        let meals_list: &[u32] = if n <= 4 { &[1, 2] } else { &[1] };
        for &meals in meals_list {
            for order in [Order::Naive, Order::Fixed] {
                let expected = enumerate(n, meals, order);
                let table = table(n, meals, order);
                let report = table.check(Check::new().deadlocks(false));
                let context = format!("n={n} meals={meals} {order:?}:\n{report}");
                assert!(report.holds(), "{context}");
                assert_eq!(report.states, expected.states, "{context}");
                assert_eq!(report.transitions, expected.transitions, "{context}");
                assert_eq!(report.depth, expected.max_depth, "{context}");
                // Both searches agree on which order can deadlock.
                assert_eq!(
                    expected.nearest_deadlock.is_some(),
                    order == Order::Naive,
                    "{context}"
                );
            }
        }
    }
}

/// The number of rotation classes among the reachable states.
fn rotation_classes(n: usize, meals: u32, order: Order) -> u64 {
    let left_first: Vec<bool> = (0..n).map(|p| order == Order::Naive || p + 1 < n).collect();
    let init = State {
        pcs: vec![Pc::Thinking; n],
        meals: vec![meals; n],
        forks: vec![None; n],
    };
    let local = |s: &State, p: usize| {
        (
            format!("{:?}", s.pcs[p]),
            s.meals[p],
            s.forks[p] == Some(p),
            s.forks[(p + 1) % n] == Some(p),
            left_first[p],
        )
    };
    let class = |s: &State| {
        (0..n)
            .map(|k| (0..n).map(|i| local(s, (k + i) % n)).collect::<Vec<_>>())
            .min()
            .unwrap()
    };
    let mut seen = std::collections::HashSet::from([init.clone()]);
    let mut queue = VecDeque::from([init]);
    let mut classes = std::collections::HashSet::new();
    while let Some(state) = queue.pop_front() {
        classes.insert(class(&state));
        for p in 0..n {
            if let Some(next) = step(&state, p, &left_first)
                && seen.insert(next.clone())
            {
                queue.push_back(next);
            }
        }
    }
    classes.len() as u64
}

#[test]
fn symmetry_reduction_stores_one_state_per_rotation_class() {
    for n in 2..=6 {
        let naive = table(n, 1, Order::Naive);
        let full = naive.check(Check::new().deadlocks(false));
        let reduced = naive.check(
            Check::new()
                .deadlocks(false)
                .symmetry(naive.rotation_symmetry()),
        );
        assert!(reduced.holds(), "{reduced}");
        assert_eq!(
            reduced.states,
            rotation_classes(n, 1, Order::Naive),
            "n={n}"
        );
        assert!(reduced.states < full.states, "n={n}: {reduced} vs {full}");
        // The deadlock is still found, with a trace as short as without the reduction.
        let plain = naive.check(Check::new());
        let symmetric = naive.check(Check::new().symmetry(naive.rotation_symmetry()));
        assert_eq!(
            symmetric.violation().map(|v| (&v.kind, v.trace.len())),
            plain.violation().map(|v| (&v.kind, v.trace.len())),
            "{symmetric}"
        );
        // The fixed order has no rotation symmetry: the key reduces nothing.
        let fixed = table(n, 1, Order::Fixed);
        let reduced = fixed.check(Check::new().symmetry(fixed.rotation_symmetry()));
        assert_eq!(reduced.states, fixed.check(Check::new()).states, "n={n}");
        assert_eq!(
            reduced.states,
            rotation_classes(n, 1, Order::Fixed),
            "n={n}"
        );
    }
}

#[test]
fn the_naive_order_deadlocks_with_the_shortest_trace() {
    for n in 2..=6 {
        let expected = enumerate(n, 1, Order::Naive);
        let table = table(n, 1, Order::Naive);
        let report = table.check(Check::new());
        let violation = report.violation().expect("the naive order deadlocks");
        assert_eq!(violation.kind, ViolationKind::Deadlock, "{report}");
        assert_eq!(
            Some(violation.trace.len() as u32),
            expected.nearest_deadlock,
            "{report}"
        );
        // Every philosopher is stuck retrying its right fork, each holding its left one.
        assert_eq!(violation.stuck.len(), n, "{report}");
        for (p, stuck) in violation.stuck.iter().enumerate() {
            assert_eq!(stuck.task, p);
            assert!(stuck.goto.starts_with("pickup_rfork(Phil#"), "{report}");
        }
        for &fork in &table.forks {
            assert!(
                table.world.get(fork).unwrap().holder.is_none(),
                "the check leaves the world as it was"
            );
        }
        let printed = report.to_string();
        assert!(printed.contains("DEADLOCK"), "{printed}");
        assert!(printed.contains(": thinking(Phil#"), "{printed}");
        assert!(printed.contains(": pickup_lfork(Phil#"), "{printed}");
    }
}

#[test]
fn the_fixed_order_is_deadlock_free_and_no_fork_is_held_twice() {
    for n in 2..=6 {
        let table = table(n, 1, Order::Fixed);
        let report = table.check(Check::new());
        assert_eq!(report.verdict, Verdict::Holds, "{report}");
        assert_eq!(report.states, enumerate(n, 1, Order::Fixed).states);
    }
}

/// A broken pick-up: looks at the fork in one step and takes it blindly in the next (a
/// test-then-set race), so that the invariant has something to catch.
#[code_gear]
fn peek_lfork(phil: Ref<'_, Phil>, fork: Ref<'_, Fork>, next: Next<()>) -> Goto {
    if fork.holder.is_some() {
        goto!(peek_lfork(phil.gear(), fork.gear(), next))
    } else {
        goto!(grab_lfork(phil.gear(), fork.gear(), next))
    }
}

#[code_gear]
fn grab_lfork(phil: Mut<'_, Phil>, fork: Mut<'_, Fork>, next: Next<()>) -> Goto {
    let (mut phil, mut fork) = (phil, fork);
    fork.holder = Some(phil.id);
    phil.holds_left = true;
    goto!(pickup_rfork(phil.gear(), phil.right, next))
}

#[test]
fn the_invariant_catches_a_test_then_set_race() {
    let n = 2;
    let mut world = World::new();
    let forks: Vec<Gear<Fork>> = (0..n)
        .map(|_| world.alloc_shared(Fork::default()))
        .collect();
    let mut phils = Vec::new();
    for id in 0..n {
        let task = world.reserve_task();
        let phil = world.alloc_private(
            task,
            Phil {
                id: id as u32,
                left: forks[id],
                right: forks[(id + 1) % n],
                left_first: true,
                meals_left: 1,
                holds_left: false,
                holds_right: false,
            },
        );
        world.start(task, goto!(peek_lfork(phil, forks[id], Next::exit())));
        phils.push(phil);
    }
    let table = Table {
        world,
        forks,
        phils,
        tasks: Vec::new(),
    };
    let report = table.check(Check::new());
    let violation = report.violation().expect("the race is reachable");
    assert_eq!(
        violation.kind,
        ViolationKind::Always("no fork held by two philosophers".into()),
        "{report}"
    );
    // E.g. 0 grabs fork 0; 1 peeks at fork 1; 0 takes fork 1 as its right; 1 grabs fork 1.
    assert_eq!(violation.trace.len(), 5, "{report}");
    assert!(
        violation.trace[4].goto.starts_with("grab_lfork("),
        "{report}"
    );
}

#[test]
fn the_fixed_table_runs_in_parallel_to_a_state_the_checker_allows() {
    for workers in [1, 2, 4] {
        for (n, meals) in [(2, 3), (5, 1)] {
            let mut table = table(n, meals, Order::Fixed);
            let report = table.check(Check::new().terminal_states(true));
            assert!(report.holds(), "{report}");
            let stats = table.world.run(Parallel::new(workers).slice(3)).unwrap();
            assert!(table.tasks.iter().all(|&t| table.world.finished(t)));
            assert_eq!(table.meals_eaten(meals), vec![meals; n]);
            assert!(
                table
                    .forks
                    .iter()
                    .all(|&f| table.world.get(f).unwrap().holder.is_none())
            );
            assert!(stats.steps >= (n as u64) * (u64::from(meals) * 6 + 1));
            assert!(
                report
                    .terminal_states()
                    .binary_search(&table.world.fingerprint())
                    .is_ok(),
                "the parallel run ended in a state the checker did not reach"
            );
        }
    }
}
