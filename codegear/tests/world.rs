//! World, par_goto!, the model checker and the parallel run on small programs whose state
//! spaces are known exactly.
#![allow(missing_docs)]

use codegear::prelude::*;
use codegear::{Bound, ErrorKind, TaskId, Verdict, ViolationKind};

#[data_gear]
#[derive(Default)]
pub struct Counter {
    value: u64,
}

/// Atomic increment: one step reads and writes.
#[code_gear]
fn increment(counter: Mut<'_, Counter>, times: u32, next: Next<()>) -> Goto {
    let mut counter = counter;
    if times == 0 {
        return goto!(next());
    }
    counter.value += 1;
    goto!(increment(counter.gear(), times - 1, next))
}

/// Racy increment: reads in one step, writes the old value + 1 in the next.
#[code_gear]
fn racy_read(counter: Ref<'_, Counter>, times: u32, next: Next<()>) -> Goto {
    if times == 0 {
        return goto!(next());
    }
    let seen = counter.value;
    goto!(racy_write(counter.gear(), seen, times, next))
}

#[code_gear]
fn racy_write(counter: Mut<'_, Counter>, seen: u64, times: u32, next: Next<()>) -> Goto {
    let mut counter = counter;
    counter.value = seen + 1;
    goto!(racy_read(counter.gear(), times - 1, next))
}

#[code_gear]
fn boom(counter: Ref<'_, Counter>, next: Next<()>) -> Goto {
    assert!(counter.value < 1, "counter reached {}", counter.value);
    goto!(next())
}

#[code_gear]
fn spin_until(counter: Ref<'_, Counter>, target: u64, next: Next<()>) -> Goto {
    if counter.value >= target {
        goto!(next())
    } else {
        goto!(spin_until(counter.gear(), target, next))
    }
}

fn two_incrementers(times: u32) -> (World, Gear<Counter>) {
    let mut world = World::new();
    let counter = world.alloc_shared(Counter::default());
    par_goto!(world, increment(counter, times, Next::exit()));
    par_goto!(world, increment(counter, times, Next::exit()));
    (world, counter)
}

#[test]
fn atomic_steps_interleave_into_a_grid_and_always_sum() {
    for times in 1..5u32 {
        let (world, counter) = two_incrementers(times);
        let n = u64::from(times);
        let report =
            world.check(Check::new().always("at most 2n", move |v| v.get(counter).value <= 2 * n));
        assert!(report.holds(), "{report}");
        // Each task is at one of times + 2 program points (times..0 remaining, then exit);
        // the counter is determined by them: a (times+2)^2 grid.
        let side = u64::from(times) + 2;
        assert_eq!(report.states, side * side, "{report}");
        // Every non-exit point has one step per task: 2 * (times + 1) * side.
        assert_eq!(report.transitions, 2 * (side - 1) * side, "{report}");
        assert_eq!(report.depth, 2 * (times + 1));
    }
}

#[test]
fn a_lost_update_is_found_with_the_shortest_trace() {
    let mut world = World::new();
    let counter = world.alloc_shared(Counter::default());
    for _ in 0..2 {
        par_goto!(world, racy_read(counter, 1, Next::exit()));
    }
    let done = |v: &codegear::View<'_>| (0..2).all(|t| v.finished(TaskId::from_index(t)));
    let report = world.check(Check::new().always("both increments count", move |v| {
        !done(v) || v.get(counter).value == 2
    }));
    let violation = report.violation().expect("the race is reachable");
    assert_eq!(
        violation.kind,
        ViolationKind::Always("both increments count".into())
    );
    // read, read, write, write, exit, exit: six steps is the shortest.
    assert_eq!(violation.trace.len(), 6, "{report}");
    let printed = report.to_string();
    assert!(printed.contains("0: racy_read(Counter#"), "{printed}");
    assert!(printed.contains("racy_write(Counter#"), "{printed}");
    assert!(printed.contains(", 0, 1, exit)"), "{printed}");
}

#[test]
fn a_panic_in_a_code_gear_is_a_violation_with_its_trace() {
    let (mut world, counter) = two_incrementers(1);
    par_goto!(world, boom(counter, Next::exit()));
    let report = world.check(Check::new());
    let violation = report.violation().expect("boom panics after an increment");
    match &violation.kind {
        ViolationKind::Error(error) => {
            assert!(
                matches!(error.kind(), ErrorKind::Panicked { message } if message == "counter reached 1"),
                "{error}"
            );
            assert_eq!(error.task(), Some(2));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(violation.trace.len(), 2, "{report}");
    assert_eq!(violation.trace[1].task, 2);
    assert!(
        violation.trace[1].goto.starts_with("boom(Counter#"),
        "{report}"
    );
}

#[test]
fn busy_waiting_forever_is_a_deadlock_and_waiting_for_progress_is_not() {
    let mut world = World::new();
    let counter = world.alloc_shared(Counter::default());
    par_goto!(world, spin_until(counter, 1, Next::exit()));
    let report = world.check(Check::new());
    let violation = report.violation().expect("nobody increments");
    assert_eq!(violation.kind, ViolationKind::Deadlock);
    assert!(violation.trace.is_empty());
    assert_eq!(violation.stuck.len(), 1);
    assert!(violation.stuck[0].to_string().starts_with("0: spin_until("));

    par_goto!(world, increment(counter, 1, Next::exit()));
    let report = world.check(Check::new());
    assert!(report.holds(), "{report}");
    world.run(Parallel::new(2)).unwrap();
    assert_eq!(world.get(counter).unwrap().value, 1);
}

#[test]
fn bounds_end_with_an_incomplete_verdict() {
    let (world, _) = two_incrementers(50);
    let report = world.check(Check::new().max_states(100));
    assert_eq!(report.verdict, Verdict::Incomplete(Bound::MaxStates(100)));
    assert_eq!(report.states, 100);
    let report = world.check(Check::new().max_depth(3));
    assert_eq!(report.verdict, Verdict::Incomplete(Bound::MaxDepth(3)));
    // Depths 0..=3 of the grid: 1 + 2 + 3 + 4 states.
    assert_eq!(report.states, 10);
    assert!(report.to_string().contains("incomplete"), "{report}");
}

#[test]
fn depth_first_finds_the_same_states() {
    let (world, _) = two_incrementers(6);
    let bfs = world.check(Check::new());
    let dfs = world.check(Check::new().depth_first());
    assert!(dfs.holds(), "{dfs}");
    assert_eq!(bfs.states, dfs.states);
    assert_eq!(bfs.transitions, dfs.transitions);
}

#[test]
fn a_private_gear_handed_to_another_task_is_an_error_everywhere() {
    let mut world = World::new();
    let owner = world.reserve_task();
    let private = world.alloc_private(owner, Counter::default());
    world.start(owner, goto!(increment(private, 1, Next::exit())));
    let thief = par_goto!(world, increment(private, 1, Next::exit()));
    let report = world.check(Check::new());
    let violation = report.violation().expect("task 1 takes task 0's gear");
    let ViolationKind::Error(error) = &violation.kind else {
        panic!("{report}")
    };
    assert!(
        matches!(
            error.kind(),
            ErrorKind::PrivateGear {
                owner: 0,
                task: 1,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("private to task 0"), "{error}");
    assert_eq!(violation.trace.len(), 1, "{report}");

    let mut stepped = world.clone();
    assert!(stepped.step(thief).is_err());
    assert!(!stepped.step(owner).unwrap());
    assert!(stepped.step(owner).unwrap());
    assert_eq!(stepped.get(private).unwrap().value, 1);

    let error = world.run(Parallel::new(2)).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::PrivateGear { task: 1, .. }),
        "{error}"
    );
    assert_eq!(error.task(), Some(1));
}

#[test]
fn parallel_runs_make_every_atomic_increment_count_and_match_a_terminal_state() {
    for workers in 1..=3 {
        let mut world = World::new();
        let counter = world.alloc_shared(Counter::default());
        let mut tasks = Vec::new();
        for _ in 0..4 {
            tasks.push(par_goto!(world, increment(counter, 500, Next::exit())));
        }
        let stats = world.run(Parallel::new(workers).slice(7)).unwrap();
        assert_eq!(world.get(counter).unwrap().value, 2000);
        assert_eq!(stats.steps, 4 * 501);
        assert!(tasks.iter().all(|&t| world.finished(t)));
        assert_eq!(
            world.outputs(tasks[0]).unwrap().clone().take::<()>(),
            Ok(())
        );
    }
    let (world, _) = two_incrementers(3);
    let report = world.check(Check::new().terminal_states(true));
    assert_eq!(report.terminal_states().len(), 1);
    let mut ran = world.clone();
    ran.run(Parallel::new(2)).unwrap();
    assert_eq!(report.terminal_states(), [ran.fingerprint()]);
    assert_ne!(world.fingerprint(), ran.fingerprint());
}

#[test]
fn a_busy_waiting_run_stops_at_the_step_limit() {
    let mut world = World::new();
    let counter = world.alloc_shared(Counter::default());
    par_goto!(world, spin_until(counter, 1, Next::exit()));
    let error = world.run(Parallel::new(2).step_limit(1000)).unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::StepLimit { limit: 1000 });
}

/// Takes five gears: more than the checker memoizes, so each of its steps really runs.
#[code_gear]
#[allow(clippy::too_many_arguments)]
fn bump_five(
    a: Mut<'_, Counter>,
    b: Mut<'_, Counter>,
    c: Mut<'_, Counter>,
    d: Mut<'_, Counter>,
    e: Ref<'_, Counter>,
    times: u32,
    next: Next<()>,
) -> Goto {
    let (mut a, mut b, mut c, mut d) = (a, b, c, d);
    if times == 0 {
        return goto!(next());
    }
    for counter in [&mut *a, &mut *b, &mut *c, &mut *d] {
        counter.value += e.value + 1;
    }
    goto!(bump_five(
        a.gear(),
        b.gear(),
        c.gear(),
        d.gear(),
        e.gear(),
        times - 1,
        next
    ))
}

#[test]
fn steps_that_take_many_gears_are_explored_without_the_memo() {
    let mut world = World::new();
    let gears: Vec<Gear<Counter>> = (0..5)
        .map(|_| world.alloc_shared(Counter::default()))
        .collect();
    let [a, b, c, d, e] = gears[..] else {
        unreachable!()
    };
    par_goto!(world, bump_five(a, b, c, d, e, 3, Next::exit()));
    par_goto!(world, increment(e, 3, Next::exit()));
    let report = world.check(Check::new().terminal_states(true));
    assert!(report.holds(), "{report}");
    // Task 0 at one of 5 points, task 1 at one of 5, but the counters remember the order in
    // which bumps and increments interleaved: count the distinct (i, j, a) triples directly.
    let mut expected = std::collections::HashSet::new();
    fn walk(i: u32, j: u32, a: u64, e: u64, seen: &mut std::collections::HashSet<(u32, u32, u64)>) {
        if !seen.insert((i, j, a)) {
            return;
        }
        if i < 4 {
            let a = if i < 3 { a + e + 1 } else { a };
            walk(i + 1, j, a, e, seen);
        }
        if j < 4 {
            let e = if j < 3 { e + 1 } else { e };
            walk(i, j + 1, a, e, seen);
        }
    }
    walk(0, 0, 0, 0, &mut expected);
    assert_eq!(report.states, expected.len() as u64, "{report}");
    let finals = expected
        .iter()
        .filter(|(i, j, _)| *i == 4 && *j == 4)
        .count();
    assert_eq!(report.terminal_states().len(), finals);
}

#[interface]
pub trait Tally {
    fn add(&mut self, n: u64, next: Next<()>) -> Goto;
    fn read(&self, into: Gear<Counter>, next: Next<()>) -> Goto;
}

#[data_gear]
#[derive(Default)]
pub struct Sum {
    total: u64,
}

#[code_gear]
impl Tally for Sum {
    fn add(&mut self, n: u64, next: Next<()>) -> Goto {
        self.total += n;
        goto!(next())
    }
    fn read(&self, into: Gear<Counter>, next: Next<()>) -> Goto {
        let _ = into;
        goto!(next())
    }
}

#[code_gear]
fn no_gears(n: u64, next: Next<()>) -> Goto {
    let _ = n;
    goto!(next())
}

#[test]
fn the_gears_a_step_takes_are_listed_without_running_it() {
    let mut world = World::new();
    let counter = world.alloc_shared(Counter::default());
    let other = world.alloc_shared(Counter::default());
    let sum = world.alloc_shared(Sum::default()).upcast::<dyn Tally>();
    let raw = |gear: Gear<Counter>| gear.raw();
    assert_eq!(
        World::gears_taken_by(&goto!(increment(counter, 1, Next::exit()))),
        [(raw(counter), true)]
    );
    assert_eq!(
        World::gears_taken_by(&goto!(racy_read(counter, 1, Next::exit()))),
        [(raw(counter), false)]
    );
    assert_eq!(
        World::gears_taken_by(&goto!(bump_five(
            counter,
            other,
            counter,
            other,
            counter,
            1,
            Next::exit()
        ))),
        [
            (raw(counter), true),
            (raw(other), true),
            (raw(counter), true),
            (raw(other), true),
            (raw(counter), false)
        ]
    );
    // An API code gear takes its receiver; a handle passed on (`Gear<T>`) is not taken.
    assert_eq!(
        World::gears_taken_by(&goto!(sum.add(2, Next::exit()))),
        [(sum.raw(), true)]
    );
    assert_eq!(
        World::gears_taken_by(&goto!(sum.read(counter, Next::exit()))),
        [(sum.raw(), false)]
    );
    assert!(World::gears_taken_by(&goto!(no_gears(1, Next::exit()))).is_empty());
    assert!(World::gears_taken_by(&Goto::exit(())).is_empty());
    // Probing runs no body: the counters are untouched.
    assert_eq!(world.get(counter).unwrap().value, 0);
    par_goto!(world, sum.add(2, Next::exit()));
    par_goto!(world, sum.add(3, Next::exit()));
    assert!(world.check(Check::new()).holds());
    world.run(Parallel::new(2)).unwrap();
}
