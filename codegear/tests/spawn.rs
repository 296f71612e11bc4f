//! Tasks created by code gears: `par_goto!(f(args))` inside a code gear starts a task of the
//! running world; the checker counts task creation as part of the state.
#![allow(missing_docs)]

use codegear::TaskId;
use codegear::prelude::*;

#[data_gear]
#[derive(Default)]
pub struct Counter {
    value: u64,
}

#[code_gear]
fn increment(counter: Mut<'_, Counter>, next: Next<()>) -> Goto {
    let mut counter = counter;
    counter.value += 1;
    goto!(next())
}

/// Starts `workers` incrementers, one per step, then finishes.
#[code_gear]
fn spawner(counter: Ref<'_, Counter>, workers: u32, next: Next<()>) -> Goto {
    if workers == 0 {
        return goto!(next());
    }
    par_goto!(increment(counter.gear(), Next::exit()));
    goto!(spawner(counter.gear(), workers - 1, next))
}

/// Starts two incrementers in one step.
#[code_gear]
fn fork_two(counter: Ref<'_, Counter>, next: Next<()>) -> Goto {
    par_goto!(increment(counter.gear(), Next::exit()));
    par_goto!(increment(counter.gear(), Next::exit()));
    goto!(next())
}

#[test]
fn the_checker_explores_tasks_started_by_code_gears() {
    for workers in 0..5u32 {
        let mut world = World::new();
        let counter = world.alloc_shared(Counter::default());
        par_goto!(world, spawner(counter, workers, Next::exit()));
        let report = world.check(
            Check::new()
                .terminal_states(true)
                .every_task_finishes()
                .always("one increment per started worker", move |v| {
                    let started = v.tasks() as u64 - 1;
                    let finished = (1..v.tasks())
                        .filter(|&t| v.finished(TaskId::from_index(t)))
                        .count() as u64;
                    v.get(counter).value == finished && started <= u64::from(workers)
                }),
        );
        assert!(report.holds(), "{report}");
        assert_eq!(report.terminal_states().len(), 1, "{report}");
        // A state: the spawner has started s workers (s = 0..=w, then it finishes: w + 2
        // program points) and f <= s of them have finished; the workers are identical but
        // at fixed positions, so each subset of finished workers is its own state.
        let w = workers as usize;
        let expected: usize = (0..=w).map(|s| 1 << s).sum::<usize>() + (1 << w);
        assert_eq!(report.states as usize, expected, "{report}");
        // More workers than tasks: the idle ones sleep until a spawned task wakes them, and
        // all of them wake when the run ends.
        for threads in [2, 4] {
            let mut run = world.clone();
            run.run(Parallel::new(threads)).unwrap();
            assert_eq!(run.tasks(), 1 + w);
            assert_eq!(run.get(counter).unwrap().value, u64::from(workers));
            assert_eq!(run.fingerprint(), report.terminal_states()[0]);
        }
    }
}

#[test]
fn a_step_may_start_several_tasks_and_single_steps_add_them() {
    let mut world = World::new();
    let counter = world.alloc_shared(Counter::default());
    let parent = par_goto!(world, fork_two(counter, Next::exit()));
    let report = world.check(Check::new().terminal_states(true));
    assert!(report.holds(), "{report}");
    // fork, then the two workers in either order.
    assert_eq!(report.states, 1 + 4);
    assert!(world.step(parent).unwrap());
    assert_eq!(world.tasks(), 3);
    assert!(!world.finished(TaskId::from_index(1)));
    world.step(TaskId::from_index(2)).unwrap();
    world.step(TaskId::from_index(1)).unwrap();
    assert_eq!(world.get(counter).unwrap().value, 2);
    assert_eq!(report.terminal_states(), [world.fingerprint()]);
    // The counterexample trace says which task a step started.
    let report = world_with_fork(counter_limit(1));
    let printed = report.to_string();
    assert!(printed.contains("started task 1: increment("), "{printed}");
}

fn counter_limit(limit: u64) -> impl Fn(&mut World) -> Check {
    move |world: &mut World| {
        let counter = world.alloc_shared(Counter::default());
        par_goto!(world, fork_two(counter, Next::exit()));
        Check::new().always("at most the limit", move |v| v.get(counter).value <= limit)
    }
}

fn world_with_fork(build: impl Fn(&mut World) -> Check) -> codegear::Report {
    let mut world = World::new();
    let check = build(&mut world);
    world.check(check)
}

#[test]
fn par_goto_without_a_world_outside_a_world_step_is_a_clear_panic() {
    let mut ctx = Context::new();
    let counter = ctx.alloc(Counter::default());
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = ctx.run(goto!(fork_two(counter, Next::exit())));
    }))
    .unwrap_err();
    let message = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("no world step is running"), "{message}");
    assert!(message.contains("par_goto!(world, ..)"), "{message}");
    // Inside a world step the same code gear works; a panic there would be an error of it.
    let mut world = World::new();
    let counter = world.alloc_shared(Counter::default());
    par_goto!(world, fork_two(counter, Next::exit()));
    world.run(Parallel::new(1)).unwrap();
    assert_eq!(world.get(counter).unwrap().value, 2);
}
