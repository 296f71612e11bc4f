//! Suite `dispatch`: a loop of three code gears passing a small value, through the full meta
//! level (`Context::run`), against a hand-written `enum` + `match` state machine doing the same
//! work, in the same run. The anchor is measured twice: with the state opaque between
//! transitions (one dispatch per transition, as a state machine driven from outside has), and as
//! rustc fuses it when it sees the whole loop (no dispatch left: the floor of the arithmetic).
//! The third anchor is GearsOS's own dispatch: a table of function pointers indexed by code-gear
//! number with the arguments in a context struct (`context->code[next](context)`), the design
//! this crate's meta level replaces; `code_gears_vs_fn_table` is the ratio that says what the
//! typed, checkable transitions cost over it (target: at most 1.2).

use std::hint::black_box;

use codegear::Context;

use super::{Effort, interleaved_medians, report, report_ratio};
use crate::codegear::dispatch::{run_fn_table, run_gears, run_match, run_match_opaque};

/// Runs the suite and prints its figures.
pub fn run(effort: Effort) {
    let (rounds, reps) = match effort {
        Effort::Full => (2_000_000u64, 21),
        Effort::Quick => (20_000, 3),
    };
    let mut ctx = Context::new();
    let (expected, transitions) = run_match(rounds);
    let (acc, gear_transitions) = run_gears(&mut ctx, rounds);
    assert_eq!(acc, expected, "code gears and match compute the same value");
    assert_eq!(
        gear_transitions, transitions,
        "and take the same transitions"
    );
    assert_eq!(
        run_fn_table(rounds),
        (expected, transitions),
        "and the function table"
    );

    let medians = interleaved_medians(
        reps,
        &mut [
            &mut || assert_eq!(run_gears(&mut ctx, black_box(rounds)).0, expected),
            &mut || assert_eq!(run_match(black_box(rounds)).0, expected),
            &mut || assert_eq!(run_match_opaque(black_box(rounds)).0, expected),
            &mut || assert_eq!(run_fn_table(black_box(rounds)).0, expected),
        ],
    );
    let per = |i: usize| medians[i].as_secs_f64() * 1e9 / transitions as f64;
    report("dispatch.code_gears", per(0), "ns/transition");
    report("dispatch.hand_written_match_fused", per(1), "ns/transition");
    report(
        "dispatch.hand_written_match_opaque",
        per(2),
        "ns/transition",
    );
    report("dispatch.gearsos_fn_table", per(3), "ns/transition");
    report_ratio("dispatch.code_gears_vs_fn_table", per(0), per(3));
    report_ratio("dispatch.code_gears_vs_match_opaque", per(0), per(2));
    report_ratio("dispatch.code_gears_vs_match_fused", per(0), per(1));

    // Compile-time cost: a crate of 200 code gears vs the same logic as 200 plain functions
    // (cargo builds; full runs only).
    match effort {
        Effort::Full => super::compile_cost::run(200, 3),
        Effort::Quick => println!("bench dispatch.build_200_code_gears skipped (quick run)"),
    }
}
