//! Metas on worlds: `Record`, `StepLimit`, redirects and user metas around `World::step` and
//! `World::run` (single and parallel), per task or for all, and observers during `check`.

#![allow(missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use codegear::prelude::*;
use codegear::{ErrorKind, Meta, Record, Redirect, Selector, StepLimit, Stop, Transition};

#[data_gear]
#[derive(Default)]
pub struct Counter {
    value: u64,
}

#[code_gear]
fn add(counter: Mut<'_, Counter>, times: u32, next: Next<()>) -> Goto {
    let mut counter = counter;
    if times == 0 {
        return goto!(next());
    }
    counter.value += 1;
    goto!(add(counter.gear(), times - 1, next))
}

#[code_gear]
fn add_ten(counter: Mut<'_, Counter>, times: u32, next: Next<()>) -> Goto {
    let mut counter = counter;
    if times == 0 {
        return goto!(next());
    }
    counter.value += 10;
    goto!(add(counter.gear(), times - 1, next))
}

#[code_gear]
fn audit(log: Mut<'_, Counter>) -> Goto {
    let mut log = log;
    log.value += 1;
    Goto::exit(())
}

fn two_tasks(times: u32) -> (World, Gear<Counter>, [codegear::TaskId; 2]) {
    let mut world = World::new();
    let counter = world.alloc_shared(Counter::default());
    let a = par_goto!(world, add(counter, times, Next::exit()));
    let b = par_goto!(world, add(counter, times, Next::exit()));
    (world, counter, [a, b])
}

#[test]
fn record_sees_every_step_of_every_task() {
    let (mut world, counter, [a, b]) = two_tasks(2);
    let record = Record::default();
    world.replace_meta(Selector::All, record.clone());
    world.step(a).unwrap();
    world.step(b).unwrap();
    world.step(a).unwrap();
    let lines = record.lines.lock().unwrap().clone();
    let c = counter.raw();
    assert_eq!(
        lines,
        [
            format!("0: add(Counter{c}, 2, exit)"),
            format!("1: add(Counter{c}, 2, exit)"),
            format!("0: add(Counter{c}, 1, exit)"),
        ]
    );
}

#[test]
fn a_task_meta_sees_only_its_task_in_a_parallel_run() {
    let (mut world, counter, [_, b]) = two_tasks(50);
    let record = Record::default();
    world.replace_task_meta(b, Selector::name("add"), record.clone());
    world.run(Parallel::new(2)).unwrap();
    assert_eq!(world.get(counter).unwrap().value, 100);
    let lines = record.lines.lock().unwrap().clone();
    // Task 1's 51 steps: add with times 50 down to 0.
    assert_eq!(lines.len(), 51, "{lines:?}");
    assert!(
        lines.iter().all(|line| line.starts_with("1: add(")),
        "{lines:?}"
    );
}

#[test]
fn a_step_limit_stops_a_parallel_run() {
    let (mut world, _, _) = two_tasks(1_000);
    world.replace_meta(Selector::All, StepLimit::new(100));
    let error = world.run(Parallel::new(2)).unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::StepLimit { limit: 100 });
}

/// Sends the first `add` of each task to `add_ten`.
struct Boost {
    boosted: Arc<AtomicU64>,
}

impl Meta for Boost {
    fn redirect(&mut self, t: &Transition<'_>) -> Redirect {
        let (counter, times, next) = t
            .args
            .clone()
            .take::<(Gear<Counter>, u32, Next<()>)>()
            .unwrap();
        if times == 3 {
            self.boosted.fetch_add(1, Ordering::Relaxed);
            Redirect::To(goto!(add_ten(counter, times, next)))
        } else {
            Redirect::Run
        }
    }
}

#[test]
fn a_redirect_applies_in_a_parallel_run_with_the_right_gears_locked() {
    let (mut world, counter, _) = two_tasks(3);
    let boosted = Arc::new(AtomicU64::new(0));
    world.replace_meta(
        Selector::name("add"),
        Boost {
            boosted: Arc::clone(&boosted),
        },
    );
    world.run(Parallel::new(2)).unwrap();
    assert_eq!(boosted.load(Ordering::Relaxed), 2);
    // Each task: 10 + 1 + 1.
    assert_eq!(world.get(counter).unwrap().value, 24);
}

/// Inserts an `audit` of a shared log before every `add`.
struct InsertAudit(Gear<Counter>);

impl Meta for InsertAudit {
    fn redirect(&mut self, _: &Transition<'_>) -> Redirect {
        Redirect::Insert(goto!(audit(self.0)))
    }
}

#[test]
fn inserted_steps_run_in_parallel_runs_and_count() {
    let (mut world, counter, _) = two_tasks(20);
    let log = world.alloc_shared(Counter::default());
    world.replace_meta(Selector::name("add"), InsertAudit(log));
    let stats = world.run(Parallel::new(2)).unwrap();
    assert_eq!(world.get(counter).unwrap().value, 40);
    assert_eq!(world.get(log).unwrap().value, 42, "one audit per add step");
    assert_eq!(stats.steps, 84, "21 add steps and 21 audits per task");
}

/// A user meta that counts what it sees and stops runs at a bound.
struct Observer {
    seen: Arc<AtomicU64>,
}

impl Meta for Observer {
    fn before(&mut self, _: &Transition<'_>) -> Result<(), Stop> {
        self.seen.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

#[test]
fn observers_see_the_steps_a_check_computes() {
    let (mut world, counter, _) = two_tasks(3);
    let seen = Arc::new(AtomicU64::new(0));
    world.observe_meta(
        Selector::All,
        Observer {
            seen: Arc::clone(&seen),
        },
    );
    let record = Record::default();
    world.replace_meta(Selector::All, record.clone());
    let report = world.check(Check::new().always("at most 6", move |v| v.get(counter).value <= 6));
    assert!(report.holds(), "{report}");
    let observed = seen.load(Ordering::Relaxed);
    assert!(observed > 0, "the observer saw the check's steps");
    assert!(
        observed <= report.transitions,
        "{observed} > {}",
        report.transitions
    );
    assert!(
        record.lines.lock().unwrap().is_empty(),
        "a meta not installed to observe checks sees none of its steps"
    );
    // The check left the world unchanged. In a run the later installation wins where both
    // select a code gear (as with a context): the record sees the run's 8 steps, the observer
    // none.
    let before = seen.load(Ordering::Relaxed);
    world.run(Parallel::new(1)).unwrap();
    assert_eq!(record.lines.lock().unwrap().len(), 8);
    assert_eq!(seen.load(Ordering::Relaxed), before);
}

/// Records the tasks of the steps it sees.
struct TaskLog(Arc<std::sync::Mutex<Vec<usize>>>);

impl Meta for TaskLog {
    fn before(&mut self, t: &Transition<'_>) -> Result<(), Stop> {
        self.0.lock().unwrap().push(t.task);
        Ok(())
    }
}

#[test]
fn a_task_observer_sees_only_its_task_in_checks_and_runs() {
    let (mut world, _counter, [_first, second]) = two_tasks(3);
    let tasks = Arc::new(std::sync::Mutex::new(Vec::new()));
    world.observe_task_meta(second, Selector::All, TaskLog(Arc::clone(&tasks)));
    let report = world.check(Check::new());
    assert!(report.holds(), "{report}");
    let in_check = tasks.lock().unwrap().clone();
    assert!(
        !in_check.is_empty(),
        "the check's steps of task 1 are observed"
    );
    assert!(in_check.iter().all(|&t| t == 1), "{in_check:?}");
    tasks.lock().unwrap().clear();
    world.run(Parallel::new(2)).unwrap();
    assert_eq!(
        *tasks.lock().unwrap(),
        [1, 1, 1, 1],
        "task 1's four steps of the run"
    );
}
