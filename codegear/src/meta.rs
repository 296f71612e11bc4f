//! The meta level's hooks: what runs around every code gear (GearsOS's meta code gears), and
//! replacing them per code gear by name pattern, regular expression or interface (meta.pm's
//! `replaceMeta`).
//!
//! A [`Meta`] observes ([`Meta::before`], [`Meta::after`]) and decides ([`Meta::redirect`]):
//! run the code gear as written, send the transition elsewhere, insert steps before it, or stop.
//! meta.pm's `[qr/PhilsImpl/ => \&generateMcMeta]` is
//! `ctx.replace_meta(Selector::regex("PhilsImpl")?, McMeta)` with `McMeta::redirect` returning
//! `Redirect::To(goto!(mc_meta(transition.pending())))`.

use std::fmt;

use crate::code::{CodeGearInfo, Goto};
use crate::error::ErrorKind;
use crate::value::Args;

/// What a meta decides for the transition about to run ([`Meta::redirect`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Redirect {
    /// Run the code gear as written, with [`Meta::before`] and [`Meta::after`] around it: the
    /// default meta.
    Run,
    /// Send the transition elsewhere: run this one instead, in the same step (GearsOS's
    /// `goto mcMeta(context, next)` in place of `goto meta(context, next)`). It runs at the meta
    /// level, without metas around it; what it returns continues as usual (and meets the metas
    /// again). Redirecting to an exit transition ends the run. To run a step of the meta's own
    /// and then the original transition, use [`Redirect::Insert`].
    To(Goto),
    /// Insert steps: run this transition to its exit first (each step counts, no metas around
    /// them; its outputs are dropped), then the original one as [`Redirect::Run`] would.
    Insert(Goto),
    /// Stop the run before the code gear.
    Stop(Stop),
}

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

impl Transition<'_> {
    /// The pending transition itself (code gear and arguments), e.g. to hand it to a meta code
    /// gear as an argument: `Redirect::To(goto!(audit(t.pending())))`.
    pub fn pending(&self) -> Goto {
        Goto::new(self.code_gear, self.args.clone())
    }
}

impl fmt::Debug for Transition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {:?}",
            self.task,
            Goto::describe(self.code_gear, self.args)
        )
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

/// A meta computation around code gears. Every hook defaults to doing nothing, which is the
/// default meta: plain dispatch.
pub trait Meta: Send {
    /// Decides what the transition does, before anything else runs for it; the default runs it
    /// as written. See [`Redirect`].
    fn redirect(&mut self, transition: &Transition<'_>) -> Redirect {
        let _ = transition;
        Redirect::Run
    }

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
///
/// Names are matched against a code gear's short name (`pickup_lfork`,
/// `PhilsImpl::pickup_lfork`), its display name and its full path (`crate::module::name`), so
/// that homonyms in different modules can be told apart by qualifying the pattern
/// (`"store_a::Cell::*"`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Selector {
    /// Every code gear.
    All,
    /// Code gears whose name matches a glob (`*` any run of characters, `?` one character),
    /// e.g. `"pickup_*"` or `"SingleLinkedStack::*"`; the whole name must match.
    Name(String),
    /// Code gears whose name contains a match of a regular expression, as meta.pm's
    /// `qr/PhilsImpl/` (anchor it with `^..$` to match whole names).
    Regex(Pattern),
    /// The API code gears of every implementation of an interface, e.g. `"Stack"`, or
    /// `"module::Stack"` where two modules define a `Stack`. A generic interface's name selects
    /// the code gears of all its instances; one instance's are selected by name
    /// (`Selector::name("SingleLinkedStack<i64>::*")`).
    Interface(String),
}

/// A compiled regular expression for [`Selector::Regex`] (syntax of the `regex-lite` crate).
#[derive(Clone, Debug)]
pub struct Pattern(regex_lite::Regex);

impl Pattern {
    /// The expression as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// A [`Selector::regex`] pattern that does not compile.
#[derive(Clone, Debug)]
pub struct PatternError {
    pattern: String,
    message: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "selector pattern `{}` is not a regular expression: {}",
            self.pattern, self.message
        )
    }
}

impl std::error::Error for PatternError {}

impl Selector {
    /// Code gears whose name matches `glob`.
    pub fn name(glob: impl Into<String>) -> Self {
        Self::Name(glob.into())
    }

    /// Code gears whose name contains a match of `pattern` (meta.pm's `qr/PhilsImpl/`).
    ///
    /// # Errors
    /// A pattern that is not a regular expression, with the parser's message.
    pub fn regex(pattern: &str) -> Result<Self, PatternError> {
        regex_lite::Regex::new(pattern)
            .map(|regex| Self::Regex(Pattern(regex)))
            .map_err(|error| PatternError {
                pattern: pattern.to_string(),
                message: error.to_string(),
            })
    }

    /// API code gears of `interface`.
    pub fn interface(interface: impl Into<String>) -> Self {
        Self::Interface(interface.into())
    }

    /// Whether it selects `gear`.
    pub fn matches(&self, gear: &CodeGearInfo) -> bool {
        let names = [gear.name, gear.display_name(), gear.path];
        match self {
            Self::All => true,
            Self::Name(glob) => names
                .iter()
                .any(|name| glob_matches(glob.as_bytes(), name.as_bytes())),
            Self::Regex(pattern) => names.iter().any(|name| pattern.0.is_match(name)),
            Self::Interface(name) => gear.interface.is_some_and(|interface| {
                interface.name == name
                    || format!("{}::{}", interface.module, interface.name)
                        .strip_suffix(name.as_str())
                        .is_some_and(|rest| rest.ends_with("::"))
            }),
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
            code_gear = t.code_gear.display_name(),
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
            code_gear = t.code_gear.display_name(),
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
