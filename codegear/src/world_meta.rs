//! Metas on [`World`](crate::World) runs: the same [`Meta`]s a [`Context`](crate::Context)
//! takes ([`Tracing`](crate::Tracing), [`Record`](crate::Record),
//! [`StepLimit`](crate::StepLimit), the user's own), installed for every task or for one, by
//! [`Selector`], around the steps of [`World::step`](crate::World::step) and
//! [`World::run`](crate::World::run).
//!
//! A parallel run's workers share a world's metas: each is behind its own mutex, taken for each
//! hook call (`redirect` and `before` before the step takes its data gears, `after` while it
//! still holds them; a hook never waits for a data gear, so the two kinds of lock cannot wait
//! on each other in a cycle). A redirect is decided before the step takes its data gears, so a parallel run locks the
//! gears of the transition that really runs. Steps inserted by [`Redirect::Insert`] run in the
//! same step, under the same locks: in a parallel run they may take the task's private gears
//! and the shared gears the original transition takes, nothing else.

use std::sync::{Arc, Mutex, PoisonError};

use crate::code::{CodeGearInfo, Goto};
use crate::error::Error;
use crate::meta::{Meta, Redirect, Selector, Transition};
use crate::value::Args;

/// Which tasks a world meta applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tasks {
    All,
    One(u32),
}

struct Entry {
    tasks: Tasks,
    selector: Selector,
    /// Whether [`World::check`](crate::World::check) shows it the transitions it explores.
    in_check: bool,
    meta: Mutex<Box<dyn Meta>>,
}

/// The metas installed on a world, later installations first where they overlap. A clone of the
/// world shares them (and their state: a `Record` installed before cloning records both).
#[derive(Clone, Default)]
pub(crate) struct WorldMetas {
    entries: Vec<Arc<Entry>>,
}

impl std::fmt::Debug for WorldMetas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} meta(s)", self.entries.len())
    }
}

/// What [`WorldMetas::begin`] decided for a step.
pub(crate) struct Begun {
    /// The transition the step runs: the pending one, or the one a meta sent it to.
    pub(crate) goto: Goto,
    /// Steps to run first (to their exit), from [`Redirect::Insert`].
    pub(crate) inserted: Option<Goto>,
    /// The meta to call `after` with, and what it saw.
    observer: Option<(usize, &'static CodeGearInfo, Args)>,
}

impl WorldMetas {
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn install(
        &mut self,
        tasks: Tasks,
        selector: Selector,
        in_check: bool,
        meta: Box<dyn Meta>,
    ) {
        self.entries.push(Arc::new(Entry {
            tasks,
            selector,
            in_check,
            meta: Mutex::new(meta),
        }));
    }

    fn find(&self, task: u32, gear: &CodeGearInfo, in_check: bool) -> Option<usize> {
        self.entries.iter().rposition(|entry| {
            (!in_check || entry.in_check)
                && match entry.tasks {
                    Tasks::All => true,
                    Tasks::One(only) => only == task,
                }
                && entry.selector.matches(gear)
        })
    }

    fn with<R>(&self, index: usize, f: impl FnOnce(&mut dyn Meta) -> R) -> R {
        let mut meta = self.entries[index]
            .meta
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut **meta)
    }

    /// Before a step of `task` (its `step`-th): the redirect and `before` hooks of the meta
    /// installed for the pending code gear, if any.
    ///
    /// # Errors
    /// A meta's stop, placed at the code gear and task.
    pub(crate) fn begin(&self, task: u32, step: u64, goto: Goto) -> Result<Begun, Error> {
        let gear = goto.code_gear();
        let Some(index) = self.find(task, gear, false) else {
            return Ok(Begun {
                goto,
                inserted: None,
                observer: None,
            });
        };
        let seen = goto.args().clone();
        let transition = Transition {
            task: task as usize,
            step,
            code_gear: gear,
            args: &seen,
        };
        let stopped = |stop: crate::meta::Stop| {
            Error::new(stop.0)
                .at(gear.display_name(), step)
                .in_task(task)
        };
        let inserted = match self.with(index, |meta| meta.redirect(&transition)) {
            Redirect::Run => None,
            Redirect::To(elsewhere) => {
                return Ok(Begun {
                    goto: elsewhere,
                    inserted: None,
                    observer: None,
                });
            }
            Redirect::Insert(first) => Some(first),
            Redirect::Stop(stop) => return Err(stopped(stop)),
        };
        self.with(index, |meta| meta.before(&transition))
            .map_err(stopped)?;
        Ok(Begun {
            goto,
            inserted,
            observer: Some((index, gear, seen)),
        })
    }

    /// After the step [`WorldMetas::begin`] began: the `after` hook.
    ///
    /// # Errors
    /// A meta's stop.
    pub(crate) fn end(&self, begun: Begun, task: u32, step: u64, next: &Goto) -> Result<(), Error> {
        let Some((index, gear, seen)) = begun.observer else {
            return Ok(());
        };
        let transition = Transition {
            task: task as usize,
            step,
            code_gear: gear,
            args: &seen,
        };
        self.with(index, |meta| meta.after(&transition, next))
            .map_err(|stop| {
                Error::new(stop.0)
                    .at(gear.display_name(), step)
                    .in_task(task)
            })
    }

    /// What [`World::check`](crate::World::check) shows the metas installed with
    /// `World::observe_meta`: one step the checker computes, `before` then `after` (their
    /// results are ignored: a check explores every interleaving and is not stopped by an
    /// observer). A step the checker has memoized is not computed, nor shown, again.
    pub(crate) fn observe(&self, task: u32, depth: u64, goto: &Goto, next: &Goto) {
        if self.is_empty() {
            return;
        }
        let gear = goto.code_gear();
        let Some(index) = self.find(task, gear, true) else {
            return;
        };
        let transition = Transition {
            task: task as usize,
            step: depth,
            code_gear: gear,
            args: goto.args(),
        };
        self.with(index, |meta| {
            let _ = meta.before(&transition);
            let _ = meta.after(&transition, next);
        });
    }
}
