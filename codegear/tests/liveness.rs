//! Liveness under fairness: livelocks and spin loops that are not deadlocks, the cases that
//! hold, weak against strong fairness, `leads_to`, and the lassos printed.
#![allow(missing_docs)]

use codegear::prelude::*;
use codegear::{Fairness, TaskId, ViolationKind};

#[data_gear]
#[derive(Default)]
pub struct Flags {
    raised: [bool; 2],
}

/// Polite mutual exclusion: raise my flag; if the other's is up, lower mine and try again.
#[code_gear]
fn polite_raise(flags: Mut<'_, Flags>, me: usize, next: Next<()>) -> Goto {
    let mut flags = flags;
    flags.raised[me] = true;
    goto!(polite_look(flags.gear(), me, next))
}

#[code_gear]
fn polite_look(flags: Mut<'_, Flags>, me: usize, next: Next<()>) -> Goto {
    let mut flags = flags;
    if flags.raised[1 - me] {
        flags.raised[me] = false;
        return goto!(polite_raise(flags.gear(), me, next));
    }
    flags.raised[me] = false; // leaves the critical section at once
    goto!(next())
}

fn polite_pair() -> World {
    let mut world = World::new();
    let flags = world.alloc_shared(Flags::default());
    par_goto!(world, polite_raise(flags, 0, Next::exit()));
    par_goto!(world, polite_raise(flags, 1, Next::exit()));
    world
}

#[test]
fn a_polite_livelock_is_reported_as_a_fair_lasso() {
    let world = polite_pair();
    // No deadlock and no invariant broken: safety alone says "holds".
    assert!(world.check(Check::new()).holds());
    let report = world.check(Check::new().every_task_finishes());
    let violation = report.violation().unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        violation.kind,
        ViolationKind::Liveness("every task eventually finishes".into())
    );
    // The cycle is a real, fair loop: both tasks step in it, and it returns to its start.
    assert!(!violation.cycle.is_empty(), "{report}");
    for task in 0..2 {
        assert!(
            violation.cycle.iter().any(|step| step.task == task),
            "task {task} never steps in the cycle: {report}"
        );
    }
    let replayed = replay(&world, violation.trace.iter().map(|s| s.task));
    let mut around = replayed.clone();
    for step in &violation.cycle {
        around.step(TaskId::from_index(step.task)).unwrap();
    }
    assert_eq!(around.fingerprint(), replayed.fingerprint(), "{report}");
    let printed = report.to_string();
    assert!(printed.contains("cycle ("), "{printed}");
    assert!(printed.contains("polite_look"), "{printed}");
    // Under strong fairness the livelock is still fair: both tasks keep stepping.
    let strong = world.check(
        Check::new()
            .every_task_finishes()
            .fairness(Fairness::Strong),
    );
    assert!(strong.violation().is_some(), "{strong}");
}

fn replay(world: &World, tasks: impl IntoIterator<Item = usize>) -> World {
    let mut world = world.clone();
    for task in tasks {
        world.step(TaskId::from_index(task)).unwrap();
    }
    world
}

/// Task 0 has priority: it waits (busy-waits, state unchanged) while 1's flag is up; task 1
/// backs off and waits until 0's flag is down.
#[code_gear]
fn eager_raise(flags: Mut<'_, Flags>, next: Next<()>) -> Goto {
    let mut flags = flags;
    flags.raised[0] = true;
    goto!(eager_look(flags.gear(), next))
}

#[code_gear]
fn eager_look(flags: Mut<'_, Flags>, next: Next<()>) -> Goto {
    let mut flags = flags;
    if flags.raised[1] {
        return goto!(eager_look(flags.gear(), next));
    }
    flags.raised[0] = false;
    goto!(next())
}

#[code_gear]
fn yielding_raise(flags: Mut<'_, Flags>, next: Next<()>) -> Goto {
    let mut flags = flags;
    flags.raised[1] = true;
    goto!(yielding_look(flags.gear(), next))
}

#[code_gear]
fn yielding_look(flags: Mut<'_, Flags>, next: Next<()>) -> Goto {
    let mut flags = flags;
    if flags.raised[0] {
        flags.raised[1] = false;
        return goto!(yielding_wait(flags.gear(), next));
    }
    flags.raised[1] = false;
    goto!(next())
}

#[code_gear]
fn yielding_wait(flags: Ref<'_, Flags>, next: Next<()>) -> Goto {
    if flags.raised[0] {
        return goto!(yielding_wait(flags.gear(), next));
    }
    goto!(yielding_raise(flags.gear(), next))
}

#[test]
fn a_protocol_with_priority_finishes_under_weak_fairness() {
    let mut world = World::new();
    let flags = world.alloc_shared(Flags::default());
    let eager = par_goto!(world, eager_raise(flags, Next::exit()));
    par_goto!(world, yielding_raise(flags, Next::exit()));
    let report = world.check(
        Check::new()
            .every_task_finishes()
            .eventually("task 0 finishes", move |v| v.finished(eager))
            .leads_to(
                "a raised flag is lowered",
                move |v| v.get(flags).raised[1],
                move |v| !v.get(flags).raised[1],
            ),
    );
    assert!(report.holds(), "{report}");
    assert!(report.liveness_elapsed.is_some());
    assert_eq!(report.liveness.len(), 3);
    let printed = report.to_string();
    assert!(
        printed.contains("on every fair run `every task eventually finishes`"),
        "{printed}"
    );
}

#[data_gear]
#[derive(Default)]
pub struct Spin {
    ready: bool,
    retries: u8,
}

/// Waits for `ready`, counting retries modulo 3: the state keeps changing, so it is no
/// deadlock, but it never gets anywhere if nobody sets `ready`.
#[code_gear]
fn spin_loop(cell: Mut<'_, Spin>, next: Next<()>) -> Goto {
    let mut cell = cell;
    if cell.ready {
        return goto!(next());
    }
    cell.retries = (cell.retries + 1) % 3;
    goto!(spin_loop(cell.gear(), next))
}

#[code_gear]
fn set_ready(cell: Mut<'_, Spin>, next: Next<()>) -> Goto {
    let mut cell = cell;
    cell.ready = true;
    goto!(next())
}

#[code_gear]
fn wander(cell: Ref<'_, Spin>, next: Next<()>) -> Goto {
    let _ = cell;
    goto!(next())
}

#[test]
fn a_spin_loop_whose_counter_changes_is_reported_and_a_released_one_holds() {
    // Nobody sets `ready`: a cycle of three states in which the spinner steps forever.
    let mut world = World::new();
    let gear = world.alloc_shared(Spin::default());
    par_goto!(world, spin_loop(gear, Next::exit()));
    par_goto!(world, wander(gear, Next::exit()));
    assert!(world.check(Check::new()).holds(), "no deadlock");
    let report = world.check(Check::new().every_task_finishes());
    let violation = report.violation().unwrap_or_else(|| panic!("{report}"));
    assert_eq!(violation.cycle.len(), 3, "{report}");
    assert!(
        violation.cycle.iter().all(|step| step.task == 0),
        "{report}"
    );
    // The cycle shows the counter changing.
    assert!(
        violation
            .cycle
            .iter()
            .any(|step| step.changes.iter().any(|c| c.ends_with("retries: 1 → 2"))),
        "{report}"
    );
    let eventually = world.check(Check::new().eventually("ready", move |v| v.get(gear).ready));
    assert!(
        matches!(&eventually.violation().unwrap().kind, ViolationKind::Liveness(name) if name == "ready"),
        "{eventually}"
    );

    // With a task that sets it, weak fairness makes that task run: it holds.
    let mut world = World::new();
    let gear = world.alloc_shared(Spin::default());
    par_goto!(world, spin_loop(gear, Next::exit()));
    par_goto!(world, set_ready(gear, Next::exit()));
    let report = world.check(
        Check::new()
            .every_task_finishes()
            .eventually("ready", move |v| v.get(gear).ready),
    );
    assert!(report.holds(), "{report}");
}

#[data_gear]
#[derive(Default)]
pub struct Lock {
    holder: Option<u8>,
}

/// Takes the lock and gives it back, forever.
#[code_gear]
fn hog_take(lock: Mut<'_, Lock>, next: Next<()>) -> Goto {
    let mut lock = lock;
    if lock.holder.is_none() {
        lock.holder = Some(0);
        return goto!(hog_give(lock.gear(), next));
    }
    goto!(hog_take(lock.gear(), next))
}

#[code_gear]
fn hog_give(lock: Mut<'_, Lock>, next: Next<()>) -> Goto {
    let mut lock = lock;
    lock.holder = None;
    goto!(hog_take(lock.gear(), next))
}

/// Takes the lock once (busy-waiting while it is held) and finishes.
#[code_gear]
fn once_take(lock: Mut<'_, Lock>, next: Next<()>) -> Goto {
    let mut lock = lock;
    if lock.holder.is_none() {
        lock.holder = Some(1);
        lock.holder = None;
        return goto!(next());
    }
    goto!(once_take(lock.gear(), next))
}

#[test]
fn a_task_enabled_now_and_then_starves_under_weak_but_not_strong_fairness() {
    let mut world = World::new();
    let lock = world.alloc_shared(Lock::default());
    par_goto!(world, hog_take(lock, Next::exit()));
    let once = par_goto!(world, once_take(lock, Next::exit()));
    let property =
        move |check: Check| check.eventually("task 1 gets the lock", move |v| v.finished(once));
    let weak = world.check(property(Check::new()));
    let violation = weak.violation().unwrap_or_else(|| panic!("{weak}"));
    assert!(violation.cycle.iter().all(|step| step.task == 0), "{weak}");
    assert_eq!(violation.cycle.len(), 2, "{weak}");
    let strong = world.check(property(Check::new().fairness(Fairness::Strong)));
    assert!(strong.holds(), "{strong}");
}

#[test]
fn a_run_that_stops_short_of_the_goal_violates_eventually() {
    // Two incrementers of a flag that never reach 3: the run ends (every task finished).
    let mut world = World::new();
    let gear = world.alloc_shared(Spin::default());
    par_goto!(world, wander(gear, Next::exit()));
    let report = world.check(Check::new().eventually("ready", move |v| v.get(gear).ready));
    let violation = report.violation().unwrap_or_else(|| panic!("{report}"));
    assert!(violation.cycle.is_empty());
    assert_eq!(violation.trace.len(), 1);
    assert!(report.to_string().contains("stays in this state forever"));
    // And with deadlock reporting off, a deadlocked state is a run that stops too.
    let mut world = World::new();
    let gear = world.alloc_shared(Spin::default());
    par_goto!(world, polite_wait(gear, Next::exit()));
    let report = world.check(Check::new().deadlocks(false).every_task_finishes());
    let violation = report.violation().unwrap_or_else(|| panic!("{report}"));
    assert!(violation.trace.is_empty() && violation.cycle.is_empty());
    assert_eq!(violation.stuck.len(), 1, "{report}");
}

#[code_gear]
fn polite_wait(cell: Ref<'_, Spin>, next: Next<()>) -> Goto {
    if cell.ready {
        return goto!(next());
    }
    goto!(polite_wait(cell.gear(), next))
}

#[test]
fn liveness_on_an_incomplete_graph_is_not_claimed() {
    let world = polite_pair();
    let report = world.check(Check::new().every_task_finishes().max_states(3));
    assert!(
        matches!(report.verdict, codegear::Verdict::Incomplete(_)),
        "{report}"
    );
}

#[data_gear]
#[derive(Default)]
pub struct Count {
    n: u8,
}

/// Counts its private gear up to `to`, then finishes: steps independent of everything else.
#[code_gear]
fn count_up(count: Mut<'_, Count>, to: u8, next: Next<()>) -> Goto {
    let mut count = count;
    count.n += 1;
    if count.n < to {
        return goto!(count_up(count.gear(), to, next));
    }
    goto!(next())
}

/// Adds two independent counting tasks: partial-order reduction has interleavings to cut.
fn with_counters(world: &mut World) {
    for _ in 0..2 {
        let task = world.reserve_task();
        let own = world.alloc_private(task, Count::default());
        world.start(task, goto!(count_up(own, 4, Next::exit())));
    }
}

/// The lasso of `report` is a real run of `world` that returns to the cycle's start, and fair
/// for `fairness` (a task that never steps in the cycle is disabled somewhere on it, weakly, or
/// everywhere on it, strongly).
fn assert_real_fair_lasso(world: &World, report: &codegear::Report, fairness: Fairness) {
    let violation = report.violation().unwrap_or_else(|| panic!("{report}"));
    assert!(!violation.cycle.is_empty(), "{report}");
    let mut at = replay(world, violation.trace.iter().map(|s| s.task));
    let start = at.fingerprint();
    let mut states = vec![at.clone()];
    for step in &violation.cycle {
        at.step(TaskId::from_index(step.task)).unwrap();
        states.push(at.clone());
    }
    assert_eq!(at.fingerprint(), start, "the cycle returns: {report}");
    for task in 0..world.tasks() {
        if violation.cycle.iter().any(|s| s.task == task) {
            continue;
        }
        let enabled = |state: &World| {
            let mut next = state.clone();
            let before = next.fingerprint();
            next.step(TaskId::from_index(task)).is_ok() && next.fingerprint() != before
        };
        match fairness {
            Fairness::Strong => assert!(!states.iter().any(enabled), "{task} starves: {report}"),
            _ => assert!(!states.iter().all(enabled), "{task} starves: {report}"),
        }
    }
}

#[test]
fn livelocks_and_spin_loops_are_still_reported_under_partial_order_reduction() {
    for fairness in [Fairness::Weak, Fairness::Strong] {
        let mut polite = polite_pair();
        with_counters(&mut polite);
        let mut spin = World::new();
        let gear = spin.alloc_shared(Spin::default());
        par_goto!(spin, spin_loop(gear, Next::exit()));
        par_goto!(spin, wander(gear, Next::exit()));
        with_counters(&mut spin);
        for world in [&polite, &spin] {
            let check = |reduced: bool| {
                world.check(
                    Check::new()
                        .every_task_finishes()
                        .fairness(fairness)
                        .partial_order_reduction(reduced),
                )
            };
            let (full, reduced) = (check(false), check(true));
            assert_eq!(
                full.violation().map(|v| v.kind.clone()),
                Some(ViolationKind::Liveness(
                    "every task eventually finishes".into()
                )),
                "{full}"
            );
            assert_eq!(
                reduced.violation().map(|v| v.kind.clone()),
                full.violation().map(|v| v.kind.clone()),
                "{reduced}"
            );
            assert_real_fair_lasso(world, &reduced, fairness);
            assert!(
                reduced.to_string().contains("partial-order reduction:"),
                "{reduced}"
            );
        }
        // Released, the spinner finishes on every fair run, also reduced: fewer states.
        let mut released = World::new();
        let gear = released.alloc_shared(Spin::default());
        par_goto!(released, spin_loop(gear, Next::exit()));
        par_goto!(released, set_ready(gear, Next::exit()));
        with_counters(&mut released);
        let check = |reduced: bool| {
            released.check(
                Check::new()
                    .every_task_finishes()
                    .eventually("ready", move |v| v.get(gear).ready)
                    .fairness(fairness)
                    .partial_order_reduction(reduced),
            )
        };
        let (full, reduced) = (check(false), check(true));
        assert!(full.holds() && reduced.holds(), "{full}\n{reduced}");
        assert!(reduced.states < full.states, "{full}\n{reduced}");
    }
}
