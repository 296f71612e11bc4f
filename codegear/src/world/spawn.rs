//! Tasks created by code gears: `par_goto!(f(args))` inside a code gear's body (GearsOS's
//! `par goto` in a code gear) adds a task to the world whose step is running, starting at
//! `goto!(f(args))`. The new task exists from the end of that step on (it is part of the
//! step's successor state), after the tasks already there, in the order the body spawned them.
//!
//! The spawned transitions are collected per thread while a world step runs
//! ([`World::step`](crate::World::step), a parallel run, or the checker), so the stub signature
//! and `Context::step` stay as they are. Outside a world step (a plain
//! [`Context`](crate::Context) run, set-up code) there is no world to add the task to: the call
//! panics with a message saying so.

use std::cell::RefCell;

use crate::code::Goto;

std::thread_local! {
    /// The tasks the running world step has spawned, or `None` outside a world step.
    static SPAWNED: RefCell<Option<Vec<Goto>>> = const { RefCell::new(None) };
}

/// What `par_goto!(f(args))` (no world) expands to: adds a task starting at `first` to the
/// world whose step is running.
///
/// # Panics
/// Outside a step of a [`World`](crate::World)'s task.
#[doc(hidden)]
pub fn par_goto_from_code_gear(first: Goto) {
    SPAWNED.with(|spawned| match spawned.borrow_mut().as_mut() {
        Some(spawned) => spawned.push(first),
        None => panic!(
            "`par_goto!({first:?})` without a world starts a task from inside a code gear of a \
             `World` task; here no world step is running (in set-up code write \
             `par_goto!(world, ..)`)"
        ),
    });
}

/// Runs `step` collecting the tasks it spawns into `out` (appended, in order).
pub(crate) fn collecting<R>(out: &mut Vec<Goto>, step: impl FnOnce() -> R) -> R {
    let outer = SPAWNED.with(|spawned| spawned.borrow_mut().replace(Vec::new()));
    struct Restore(Option<Option<Vec<Goto>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take().expect("restored once");
            SPAWNED.with(|spawned| *spawned.borrow_mut() = outer);
        }
    }
    let restore = Restore(Some(outer));
    let result = step();
    let collected = SPAWNED.with(|spawned| spawned.borrow_mut().take());
    drop(restore);
    out.extend(collected.unwrap_or_default());
    result
}
