//! The meta level's hooks: what runs around every code gear (GearsOS's meta code gears), and
//! replacing them per code gear by name pattern or interface (meta.pm's `replaceMeta`).

use std::fmt;

use crate::code::{CodeGearInfo, Goto};
use crate::error::ErrorKind;
use crate::value::Args;

/// One transition as the meta level sees it, before the code gear runs.
#[derive(Clone, Copy)]
pub struct Transition<'a> {
    /// The task (0 for a single context).
    pub task: usize,
    /// Transitions completed so far in this context.
    pub step: u64,
    /// The code gear about to run.
    pub code_gear: &'static CodeGearInfo,
    /// Its arguments (`Debug` prints them as a tuple).
    pub args: &'a Args,
}

impl fmt::Debug for Transition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}{:?}", self.task, self.code_gear.name, self.args)
    }
}

/// Why a meta stopped the run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stop(pub(crate) ErrorKind);

impl Stop {
    /// Stop with a reason of the meta's own.
    pub fn because(reason: impl Into<String>) -> Self {
        Self(ErrorKind::Stopped {
            reason: reason.into(),
        })
    }
}

/// A meta computation around code gears. Both hooks default to doing nothing, which is the
/// default meta: plain dispatch.
pub trait Meta: Send {
    /// Runs before the code gear; `Err` stops the run before it.
    fn before(&mut self, transition: &Transition<'_>) -> Result<(), Stop> {
        let _ = transition;
        Ok(())
    }

    /// Runs after the code gear, with the transition it returned.
    fn after(&mut self, transition: &Transition<'_>, next: &Goto) -> Result<(), Stop> {
        let _ = (transition, next);
        Ok(())
    }
}

/// Which code gears a meta replacement applies to.
#[derive(Clone, Debug)]
pub enum Selector {
    /// Every code gear.
    All,
    /// Code gears whose name matches a glob (`*` any run of characters, `?` one character),
    /// e.g. `"pickup_*"` or `"SingleLinkedStack::*"`.
    Name(String),
    /// The API code gears of every implementation of an interface, e.g. `"Stack"`.
    Interface(String),
}

impl Selector {
    /// Code gears whose name matches `glob`.
    pub fn name(glob: impl Into<String>) -> Self {
        Self::Name(glob.into())
    }

    /// API code gears of `interface`.
    pub fn interface(interface: impl Into<String>) -> Self {
        Self::Interface(interface.into())
    }

    /// Whether it selects `gear`.
    pub fn matches(&self, gear: &CodeGearInfo) -> bool {
        match self {
            Self::All => true,
            Self::Name(glob) => glob_matches(glob.as_bytes(), gear.name.as_bytes()),
            Self::Interface(name) => gear.interface == Some(name.as_str()),
        }
    }
}

/// Glob matching with `*` and `?`, iterative with one backtrack point (linear for one `*`).
fn glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Logs every transition with the `tracing` crate (target `codegear`, level TRACE before and
/// DEBUG-free after): task, step, code gear and arguments.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tracing;

impl Meta for Tracing {
    fn before(&mut self, t: &Transition<'_>) -> Result<(), Stop> {
        tracing::trace!(
            target: "codegear",
            task = t.task,
            step = t.step,
            code_gear = t.code_gear.name,
            args = ?t.args,
            "goto"
        );
        Ok(())
    }

    fn after(&mut self, t: &Transition<'_>, next: &Goto) -> Result<(), Stop> {
        tracing::trace!(
            target: "codegear",
            task = t.task,
            step = t.step,
            code_gear = t.code_gear.name,
            next = ?next,
            "returned"
        );
        Ok(())
    }
}

/// Stops the run once the code gears it is installed on have run `limit` times.
#[derive(Clone, Debug)]
pub struct StepLimit {
    limit: u64,
    taken: u64,
}

impl StepLimit {
    /// A limit of `limit` transitions.
    pub fn new(limit: u64) -> Self {
        Self { limit, taken: 0 }
    }

    /// Transitions counted so far.
    pub fn taken(&self) -> u64 {
        self.taken
    }
}

impl Meta for StepLimit {
    fn before(&mut self, _: &Transition<'_>) -> Result<(), Stop> {
        if self.taken >= self.limit {
            return Err(Stop(ErrorKind::StepLimit { limit: self.limit }));
        }
        self.taken += 1;
        Ok(())
    }
}

/// Records every transition as `task: code_gear(args)` lines (for tests and small traces).
#[derive(Clone, Debug, Default)]
pub struct Record {
    /// The lines, in order.
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Meta for Record {
    fn before(&mut self, t: &Transition<'_>) -> Result<(), Stop> {
        let goto = format!("{:?}", crate::code::Goto::describe(t.code_gear, t.args));
        self.lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(format!("{}: {goto}", t.task));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs() {
        for (pattern, text, expected) in [
            ("*", "anything", true),
            ("pickup_*", "pickup_lfork", true),
            ("pickup_*", "putdown", false),
            ("*::pop?", "SingleLinkedStack::pop2", true),
            ("*::pop?", "SingleLinkedStack::pop", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("", "", true),
            ("exact", "exact", true),
        ] {
            assert_eq!(
                glob_matches(pattern.as_bytes(), text.as_bytes()),
                expected,
                "{pattern} vs {text}"
            );
        }
    }
}
