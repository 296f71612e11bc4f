//! Metas that redirect (meta.pm's `replaceMeta`): send a transition elsewhere, insert steps
//! before it, stop; selected by glob, regular expression or interface.

#![allow(missing_docs, unreachable_pub)]

use std::sync::{Arc, Mutex};

use codegear::prelude::*;
use codegear::{ErrorKind, Meta, Record, Redirect, Selector, Stop, Transition};

#[data_gear]
#[derive(Default)]
pub struct Audit {
    seen: Vec<String>,
}

#[code_gear]
fn mix(n: u64, acc: u64) -> Goto {
    goto!(shift(n, acc * 3 + n))
}

#[code_gear]
fn shift(n: u64, acc: u64) -> Goto {
    goto!(count(n, acc + 1))
}

#[code_gear]
fn count(n: u64, acc: u64) -> Goto {
    if n == 0 {
        Goto::exit((acc,))
    } else {
        goto!(mix(n - 1, acc))
    }
}

/// What `shift` is replaced with: skips the `+ 1` and goes on to `count`.
#[code_gear]
fn shift_elsewhere(n: u64, acc: u64) -> Goto {
    goto!(count(n, acc))
}

/// An inserted meta step: records the transition it was inserted before, then ends.
#[code_gear]
fn audit(log: Mut<'_, Audit>, before: Goto) -> Goto {
    let mut log = log;
    log.seen.push(format!("{before:?}"));
    Goto::exit(())
}

fn result(ctx: &mut Context, rounds: u64) -> Result<(u64, u64), codegear::Error> {
    let exit = ctx.run(goto!(mix(rounds, 0)))?;
    Ok((exit.outputs.take::<(u64,)>().unwrap().0, exit.steps))
}

/// The plain loop, computed by hand: per round acc = (acc*3 + n) + 1.
fn expected(rounds: u64, plus_one: bool) -> u64 {
    let mut acc = 0u64;
    let mut n = rounds;
    loop {
        acc = acc * 3 + n + u64::from(plus_one);
        if n == 0 {
            return acc;
        }
        n -= 1;
    }
}

/// Sends every `shift` to `shift_elsewhere`.
struct SendElsewhere;

impl Meta for SendElsewhere {
    fn redirect(&mut self, t: &Transition<'_>) -> Redirect {
        let (n, acc) = t
            .args
            .clone()
            .take::<(u64, u64)>()
            .expect("shift's arguments");
        Redirect::To(goto!(shift_elsewhere(n, acc)))
    }
}

#[test]
fn redirect_sends_a_transition_elsewhere() {
    let mut plain = Context::new();
    assert_eq!(result(&mut plain, 5).unwrap(), (expected(5, true), 18));

    let mut ctx = Context::new();
    assert_eq!(ctx.replace_meta(Selector::name("shift"), SendElsewhere), 1);
    let record = Record::default();
    // Recorded where the redirect does not apply, to see which gears ran.
    ctx.replace_meta(
        Selector::regex("^(mix|count|shift_elsewhere)$").unwrap(),
        record.clone(),
    );
    assert_eq!(ctx.run(goto!(mix(1, 0))).unwrap().steps, 6);
    let lines = record.lines.lock().unwrap().clone();
    // shift_elsewhere ran in shift's step, at the meta level: not recorded.
    assert_eq!(
        lines,
        [
            "0: mix(1, 0)",
            "0: count(1, 1)",
            "0: mix(0, 1)",
            "0: count(0, 3)"
        ]
    );
    let mut ctx = Context::new();
    ctx.replace_meta(Selector::name("shift"), SendElsewhere);
    assert_eq!(result(&mut ctx, 5).unwrap(), (expected(5, false), 18));
}

/// Inserts `audit` before every code gear it covers.
struct InsertAudit(Gear<Audit>);

impl Meta for InsertAudit {
    fn redirect(&mut self, t: &Transition<'_>) -> Redirect {
        Redirect::Insert(goto!(audit(self.0, t.pending())))
    }
}

#[test]
fn redirect_inserts_steps_and_the_program_is_unchanged() {
    let mut ctx = Context::new();
    let log = ctx.alloc(Audit::default());
    // meta.pm's `qr/..../`: a regular expression over names.
    let covered = ctx.replace_meta(Selector::regex("^(mix|count)$").unwrap(), InsertAudit(log));
    assert_eq!(covered, 2);
    let (acc, steps) = result(&mut ctx, 2).unwrap();
    assert_eq!(acc, expected(2, true), "the program computes the same");
    // 9 own steps + one audit before each of the 3 mix and 3 count.
    assert_eq!(steps, 9 + 6);
    let seen = &ctx.get(log).unwrap().seen;
    assert_eq!(
        seen,
        &[
            "mix(2, 0)",
            "count(2, 3)",
            "mix(1, 3)",
            "count(1, 11)",
            "mix(0, 11)",
            "count(0, 34)"
        ]
    );
}

/// Stops before the code gear once `after` transitions have passed it.
struct StopAt {
    after: u32,
}

impl Meta for StopAt {
    fn redirect(&mut self, _: &Transition<'_>) -> Redirect {
        if self.after == 0 {
            return Redirect::Stop(Stop::because("the meta said so"));
        }
        self.after -= 1;
        Redirect::Run
    }
}

#[test]
fn redirect_stops_with_the_meta_reason_and_place() {
    let mut ctx = Context::new();
    ctx.replace_meta(Selector::name("count"), StopAt { after: 2 });
    let error = result(&mut ctx, 5).unwrap_err();
    assert_eq!(
        error.kind(),
        &ErrorKind::Stopped {
            reason: "the meta said so".into()
        }
    );
    let text = error.to_string();
    assert!(text.contains("count"), "{text}");
    // Stopped before the third `count`: two full rounds and mix, shift of the third.
    assert_eq!(ctx.steps(), 8);
}

/// Redirects to an exit transition: ends the run early with outputs of the meta's choice.
struct EndEarly;

impl Meta for EndEarly {
    fn redirect(&mut self, t: &Transition<'_>) -> Redirect {
        let (_, acc) = t.args.clone().take::<(u64, u64)>().unwrap();
        Redirect::To(Goto::exit((acc,)))
    }
}

#[test]
fn redirect_to_exit_ends_the_run() {
    let mut ctx = Context::new();
    ctx.replace_meta(Selector::name("count"), EndEarly);
    // mix(5, 0), shift(5, 5), then count(5, 6) is sent to exit((6,)): three steps.
    assert_eq!(result(&mut ctx, 5).unwrap(), (6, 3));
}

/// Observing metas see `before`/`after` as before when they do not redirect.
#[test]
fn observing_metas_are_unchanged() {
    let seen = Arc::new(Mutex::new(0u32));
    struct Count(Arc<Mutex<u32>>);
    impl Meta for Count {
        fn after(&mut self, _: &Transition<'_>, next: &Goto) -> Result<(), Stop> {
            assert!(!next.code_gear().name.is_empty());
            *self.0.lock().unwrap() += 1;
            Ok(())
        }
    }
    let mut ctx = Context::new();
    ctx.replace_meta(Selector::All, Count(Arc::clone(&seen)));
    let (acc, steps) = result(&mut ctx, 3).unwrap();
    assert_eq!(acc, expected(3, true));
    assert_eq!(u64::from(*seen.lock().unwrap()), steps);
}
