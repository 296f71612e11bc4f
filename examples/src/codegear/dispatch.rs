//! The `dispatch` workload: a loop of three code gears passing a small value, and the same work
//! as a hand-written `enum` + `match` state machine (the anchor).

use codegear::prelude::*;

/// One round of the work, split in three steps so that each is a transition.
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

#[code_gear]
/// Step 1 of 3: mixes the counter into the accumulator.
pub fn mix(n: u64, acc: u64) -> Goto {
    goto!(shift(n, acc.wrapping_mul(MULTIPLIER).wrapping_add(n)))
}

#[code_gear]
/// Step 2 of 3: folds the high bits down.
pub fn shift(n: u64, acc: u64) -> Goto {
    goto!(count(n, acc ^ (acc >> 29)))
}

#[code_gear]
/// Step 3 of 3: counts down, and exits with the accumulator at zero.
pub fn count(n: u64, acc: u64) -> Goto {
    if n == 0 {
        Goto::exit((acc,))
    } else {
        goto!(mix(n - 1, acc))
    }
}

/// Runs `rounds + 1` rounds through the meta level; returns (accumulator, transitions).
pub fn run_gears(ctx: &mut Context, rounds: u64) -> (u64, u64) {
    let before = ctx.steps();
    let exit = ctx
        .run(goto!(mix(rounds, 0)))
        .expect("the dispatch loop never fails");
    let (acc,) = exit
        .outputs
        .take::<(u64,)>()
        .expect("count exits with (u64,)");
    (acc, exit.steps - before)
}

/// The hand-written state machine: the same three steps as `enum` variants.
enum State {
    Mix { n: u64, acc: u64 },
    Shift { n: u64, acc: u64 },
    Count { n: u64, acc: u64 },
    Done { acc: u64 },
}

/// One transition of the hand-written machine.
#[inline(always)]
fn transition(state: State) -> State {
    match state {
        State::Mix { n, acc } => State::Shift {
            n,
            acc: acc.wrapping_mul(MULTIPLIER).wrapping_add(n),
        },
        State::Shift { n, acc } => State::Count {
            n,
            acc: acc ^ (acc >> 29),
        },
        State::Count { n: 0, acc } => State::Done { acc },
        State::Count { n, acc } => State::Mix { n: n - 1, acc },
        State::Done { acc } => State::Done { acc },
    }
}

/// Runs the same rounds as [`run_gears`] with a `match` loop; returns (accumulator, transitions).
///
/// rustc sees the whole machine here and fuses it into one straight loop (no dispatch is left),
/// which is the best a hand-written machine can be.
pub fn run_match(rounds: u64) -> (u64, u64) {
    let mut state = State::Mix { n: rounds, acc: 0 };
    let mut transitions = 0;
    loop {
        if let State::Done { acc } = state {
            return (acc, transitions);
        }
        state = transition(state);
        transitions += 1;
    }
}

/// The same machine with the state kept opaque between transitions (`black_box`), as when the
/// machine is driven from outside (an event loop, an interpreter): each transition dispatches on
/// the state.
pub fn run_match_opaque(rounds: u64) -> (u64, u64) {
    let mut state = State::Mix { n: rounds, acc: 0 };
    let mut transitions = 0;
    loop {
        state = std::hint::black_box(state);
        if let State::Done { acc } = state {
            return (acc, transitions);
        }
        state = transition(state);
        transitions += 1;
    }
}
