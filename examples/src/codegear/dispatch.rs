//! The `dispatch` workload: a loop of three code gears passing a small value, and the same work
//! as a hand-written `enum` + `match` state machine and as GearsOS's own dispatch (the anchors).

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

/// GearsOS's context for the function-table anchor: the arguments of the next code gear live in
/// the context (`Gearef(context, ..)`), and `next` is the number of the code gear to run
/// (`enum Code`).
pub struct FnContext {
    n: u64,
    acc: u64,
    next: usize,
}

/// `enum Code` of the anchor.
const C_MIX: usize = 0;
const C_SHIFT: usize = 1;
const C_COUNT: usize = 2;
const C_EXIT: usize = 3;

/// A GearsOS code gear after the Perl transpiler: takes the context only, writes the next code
/// gear's arguments into it and `goto meta(context, next)` (here: sets `next` and returns to the
/// trampoline, since Rust has no guaranteed tail calls).
type CodeFn = fn(&mut FnContext);

fn mix_c(ctx: &mut FnContext) {
    ctx.acc = ctx.acc.wrapping_mul(MULTIPLIER).wrapping_add(ctx.n);
    ctx.next = C_SHIFT;
}

fn shift_c(ctx: &mut FnContext) {
    ctx.acc ^= ctx.acc >> 29;
    ctx.next = C_COUNT;
}

fn count_c(ctx: &mut FnContext) {
    if ctx.n == 0 {
        ctx.next = C_EXIT;
    } else {
        ctx.n -= 1;
        ctx.next = C_MIX;
    }
}

/// `context->code`: the code-gear table, indexed by code-gear number.
static CODE: [CodeFn; 3] = [mix_c, shift_c, count_c];

/// GearsOS's own dispatch: `goto meta(context, next)` is `context->code[next](context)`, an
/// indirect call through the table per transition. The table is opaque to rustc (`black_box`),
/// as GearsOS's is to the C compiler (filled at run time from the generated `enum Code`).
pub fn run_fn_table(rounds: u64) -> (u64, u64) {
    let code: &[CodeFn; 3] = std::hint::black_box(&CODE);
    let mut ctx = FnContext {
        n: rounds,
        acc: 0,
        next: C_MIX,
    };
    let mut transitions = 0;
    while ctx.next != C_EXIT {
        code[ctx.next](&mut ctx);
        transitions += 1;
    }
    (ctx.acc, transitions)
}
