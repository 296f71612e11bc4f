//! Choice inside a task: a code gear continues with one of several transitions
//! ([`Goto::choose`], `choose!`). [`World::check`](crate::World::check) explores every
//! alternative; a single step ([`World::step`](crate::World::step)) and a parallel run
//! ([`World::run`](crate::World::run)) take one, drawn from a seeded generator so that a run is
//! reproducible.
//!
//! A choice is a pending transition to the pseudo code gear `choose` whose argument is the list
//! of alternatives. A world resolves it as part of the step that returned it, so a choice costs
//! no extra step and never appears as a task's pending transition in a state. Run by a plain
//! [`Context`](crate::Context), the pseudo gear is one step that picks an alternative with a
//! per-thread generator (seeded with [`World::DEFAULT_SEED`](crate::World::DEFAULT_SEED)).

use std::cell::Cell;

use gears_runtime::registry::Site;

use crate::code::{CodeGearInfo, Goto};
use crate::error::{Error, ErrorKind};
use crate::heap::Heap;
use crate::value::Args;

/// The seed of the choice generators unless set ([`crate::World::seed_choices`],
/// [`crate::Parallel::seed`]).
pub(crate) const DEFAULT_SEED: u64 = 0x6765_6172_735f_6368;

static CHOICE: CodeGearInfo = CodeGearInfo::new(
    "choose",
    "codegear::choose",
    None,
    &[],
    Site::new(file!(), line!(), column!()),
    choice_stub,
);

std::thread_local! {
    static CONTEXT_RNG: Cell<u64> = const { Cell::new(DEFAULT_SEED) };
}

/// Run as a step by a plain context: picks an alternative with the thread's generator.
fn choice_stub(_: &mut Heap, goto: &mut Goto) -> Result<(), Error> {
    let alternatives = goto.__gears_take::<Vec<Goto>>()?;
    let pick = CONTEXT_RNG.with(|rng| {
        let mut state = rng.get();
        let pick = pick(&mut state, alternatives.len());
        rng.set(state);
        pick
    });
    match alternatives.into_iter().nth(pick) {
        Some(chosen) => {
            *goto = chosen;
            Ok(())
        }
        None => Err(no_alternative()),
    }
}

pub(crate) fn no_alternative() -> Error {
    ErrorKind::Stopped {
        reason: "`choose!` was given no alternative".to_string(),
    }
    .into()
}

/// SplitMix64: the next number of the stream `state`.
pub(crate) fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An index below `len` (at least 1) from the stream `state`.
pub(crate) fn pick(state: &mut u64, len: usize) -> usize {
    ((u128::from(next_random(state)) * len.max(1) as u128) >> 64) as usize
}

/// The generator of task `task` in a world seeded with `seed`: one stream per task, so the
/// choices a task makes do not depend on how the tasks interleave.
pub(crate) fn task_stream(seed: u64, task: u32) -> u64 {
    let mut state = seed ^ (u64::from(task).wrapping_mul(0xd6e8_feb8_6659_fd93));
    next_random(&mut state)
}

impl Goto {
    /// A nondeterministic continuation: the task goes on with one of `alternatives`. The
    /// checker explores each; a run takes one (seeded, reproducible). `choose!(a, b, ..)` is
    /// this with the alternatives written as `goto!(..)`s. One alternative is that transition
    /// itself; none is an error when the step runs.
    ///
    /// ```
    /// use codegear::prelude::*;
    ///
    /// #[data_gear]
    /// #[derive(Default)]
    /// pub struct Link { delivered: u32, lost: u32 }
    ///
    /// /// Sends one message over a lossy link: it arrives or it is lost.
    /// #[code_gear]
    /// fn send(link: Mut<'_, Link>, next: Next<()>) -> Goto {
    ///     choose!(
    ///         goto!(deliver(link.gear(), next.clone())),
    ///         goto!(lose(link.gear(), next)),
    ///     )
    /// }
    ///
    /// #[code_gear]
    /// fn deliver(link: Mut<'_, Link>, next: Next<()>) -> Goto {
    ///     let mut link = link;
    ///     link.delivered += 1;
    ///     goto!(next())
    /// }
    ///
    /// #[code_gear]
    /// fn lose(link: Mut<'_, Link>, next: Next<()>) -> Goto {
    ///     let mut link = link;
    ///     link.lost += 1;
    ///     goto!(next())
    /// }
    ///
    /// let mut world = World::new();
    /// let link = world.alloc_shared(Link::default());
    /// par_goto!(world, send(link, Next::exit()));
    /// let report = world.check(Check::new().terminal_states(true));
    /// assert!(report.holds(), "{report}");
    /// assert_eq!(report.terminal_states().len(), 2); // delivered, or lost
    /// ```
    pub fn choose(alternatives: impl IntoIterator<Item = Goto>) -> Goto {
        // A choice among choices is one choice among all their alternatives.
        let mut alternatives: Vec<Goto> = alternatives
            .into_iter()
            .flat_map(|goto| match goto.alternatives() {
                Some(inner) => inner.to_vec(),
                None => vec![goto],
            })
            .collect();
        if alternatives.len() == 1 {
            return alternatives.pop().expect("one alternative");
        }
        Goto::new(&CHOICE, Args::new(alternatives))
    }

    /// The alternatives, if this is a choice ([`Goto::choose`]).
    pub fn alternatives(&self) -> Option<&[Goto]> {
        if !std::ptr::eq(self.code_gear(), &CHOICE) {
            return None;
        }
        self.args().downcast_ref::<Vec<Goto>>().map(Vec::as_slice)
    }
}

/// Resolves a choice a step returned with the stream `rng`; other transitions pass through.
///
/// # Errors
/// A choice with no alternative.
pub(crate) fn resolve(goto: Goto, rng: &mut u64) -> Result<Goto, Error> {
    match goto.alternatives() {
        None => Ok(goto),
        Some([]) => Err(no_alternative()),
        Some(alternatives) => {
            let chosen = pick(rng, alternatives.len());
            Ok(alternatives[chosen].clone())
        }
    }
}

/// `choose!(goto!(a(..)), goto!(b(..)), ..)`: the task continues with one of the transitions
/// (see [`Goto::choose`]); the model checker explores every one.
#[macro_export]
macro_rules! choose {
    () => {
        ::core::compile_error!(
            "`choose!` needs at least one alternative: `choose!(goto!(a(..)), goto!(b(..)))`"
        )
    };
    ($($alternative:expr),+ $(,)?) => {
        $crate::Goto::choose([$($alternative),+])
    };
}
