//! The seed's stack: an interface with two continuations, one implementation, and the
//! pop2Test / pop2Test1 chain, run through the meta level.
#![allow(missing_docs)]

use std::sync::{Arc, Mutex};

use codegear::prelude::*;
use codegear::{ErrorKind, Record, Selector, StepLimit};

#[interface]
pub trait Stack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto;
    fn pop(&mut self, next: Next<(Option<i64>,)>) -> Goto;
    fn pop2(&mut self, next: Next<(Option<i64>, Option<i64>)>) -> Goto;
    fn is_empty(&self, next: Next<()>, when_empty: Next<()>) -> Goto;
}

#[data_gear]
#[derive(Default)]
pub struct SingleLinkedStack {
    items: Vec<i64>,
}

#[code_gear]
impl Stack for SingleLinkedStack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto {
        self.items.push(data);
        goto!(next())
    }
    fn pop(&mut self, next: Next<(Option<i64>,)>) -> Goto {
        let d = self.items.pop();
        goto!(next(d))
    }
    fn pop2(&mut self, next: Next<(Option<i64>, Option<i64>)>) -> Goto {
        let a = self.items.pop();
        let b = self.items.pop();
        goto!(next(a, b))
    }
    fn is_empty(&self, next: Next<()>, when_empty: Next<()>) -> Goto {
        if self.items.is_empty() {
            goto!(when_empty())
        } else {
            goto!(next())
        }
    }
}

#[data_gear]
#[derive(Default)]
pub struct Printed {
    lines: Vec<String>,
}

#[code_gear]
fn push_test(stack: Gear<dyn Stack>, out: Gear<Printed>, next: Next<()>) -> Goto {
    goto!(stack.push(1, next!(push_test2(stack, out, next))))
}

#[code_gear]
fn push_test2(stack: Gear<dyn Stack>, out: Gear<Printed>, next: Next<()>) -> Goto {
    goto!(stack.push(2, next!(pop2_test(stack, out, next))))
}

#[code_gear]
fn pop2_test(stack: Gear<dyn Stack>, out: Gear<Printed>, next: Next<()>) -> Goto {
    goto!(stack.pop2(next!(pop2_test1(out, next))))
}

#[code_gear]
fn pop2_test1(out: Mut<'_, Printed>, next: Next<()>, a: Option<i64>, b: Option<i64>) -> Goto {
    let mut out = out;
    out.lines.push(format!("{a:?} {b:?}"));
    goto!(next())
}

fn setup() -> (Context, Gear<dyn Stack>, Gear<Printed>) {
    let mut ctx = Context::new();
    let stack = ctx
        .alloc(SingleLinkedStack::default())
        .upcast::<dyn Stack>();
    let out = ctx.alloc(Printed::default());
    (ctx, stack, out)
}

#[test]
fn pop2_receives_both_outputs_in_the_continuation() {
    let (mut ctx, stack, out) = setup();
    let exit = ctx.run(goto!(push_test(stack, out, Next::exit()))).unwrap();
    assert_eq!(ctx.get(out).unwrap().lines, ["Some(2) Some(1)"]);
    // push_test, push, push_test2, push, pop2_test, pop2, pop2_test1.
    assert_eq!(exit.steps, 7);
    assert_eq!(exit.outputs.take::<()>().unwrap(), ());
}

#[test]
fn the_tables_list_every_gear() {
    let (ctx, _, _) = setup();
    let names: Vec<&str> = ctx.code_gears().map(|g| g.name).collect();
    for expected in [
        "SingleLinkedStack::push",
        "SingleLinkedStack::pop2",
        "SingleLinkedStack::is_empty",
        "pop2_test",
        "pop2_test1",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let described = ctx.describe();
    assert!(described.contains("enum Code {"), "{described}");
    assert!(described.contains("D_SingleLinkedStack"), "{described}");
    assert!(
        described.contains("__code pop2(&mut self, next: Next<(Option<i64>, Option<i64>)>);"),
        "{described}"
    );
    assert!(
        described.contains("implemented by: SingleLinkedStack"),
        "{described}"
    );
    assert!(
        described.contains(
            "pop2_test1(out: Mut<'_, Printed>, next: Next<()>, a: Option<i64>, b: Option<i64>)"
        ),
        "{described}"
    );
}

#[test]
fn the_meta_sees_every_transition_and_can_be_replaced_by_interface() {
    let (mut ctx, stack, out) = setup();
    let all = Record::default();
    let stack_only = Record::default();
    ctx.replace_meta(Selector::All, all.clone());
    let covered = ctx.replace_meta(Selector::interface("Stack"), stack_only.clone());
    assert_eq!(covered, 4);
    ctx.run(goto!(push_test(stack, out, Next::exit()))).unwrap();
    let all = all.lines.lock().unwrap().clone();
    let stack_only = stack_only.lines.lock().unwrap().clone();
    assert_eq!(
        all,
        [
            format!("0: push_test({stack:?}, {out:?}, exit)"),
            format!("0: push_test2({stack:?}, {out:?}, exit)"),
            format!("0: pop2_test({stack:?}, {out:?}, exit)"),
            format!("0: pop2_test1({out:?}, exit, Some(2), Some(1))"),
        ]
    );
    assert_eq!(stack_only.len(), 3, "{stack_only:?}");
    assert!(
        stack_only[0].starts_with("0: SingleLinkedStack::push("),
        "{stack_only:?}"
    );
    assert!(
        stack_only[2].contains("pop2_test1(Printed"),
        "{stack_only:?}"
    );
}

#[test]
fn is_empty_takes_one_of_two_continuations() {
    #[code_gear]
    fn report(log: Mut<'_, Printed>, what: String, next: Next<()>) -> Goto {
        let mut log = log;
        log.lines.push(what);
        goto!(next())
    }
    let (mut ctx, stack, out) = setup();
    let check = |ctx: &mut Context| {
        ctx.run(goto!(stack.is_empty(
            next!(report(out, "not empty".to_string(), Next::exit())),
            next!(report(out, "empty".to_string(), Next::exit()))
        )))
        .unwrap();
    };
    check(&mut ctx);
    ctx.run(goto!(stack.push(5, Next::exit()))).unwrap();
    check(&mut ctx);
    assert_eq!(ctx.get(out).unwrap().lines, ["empty", "not empty"]);
}

#[test]
fn step_limit_stops_an_endless_loop_with_a_clear_error() {
    #[code_gear]
    fn spin(n: u64) -> Goto {
        goto!(spin(n + 1))
    }
    let mut ctx = Context::new().with_meta(Selector::name("spin"), StepLimit::new(100));
    let error = ctx.run(goto!(spin(0))).unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::StepLimit { limit: 100 });
    assert_eq!(error.code_gear(), Some("spin"));
    assert_eq!(error.step(), Some(100));
    assert!(error.to_string().contains("step limit of 100"), "{error}");
}

#[test]
fn two_mut_of_one_data_gear_is_a_runtime_error() {
    #[code_gear]
    fn both(a: Mut<'_, Printed>, b: Mut<'_, Printed>) -> Goto {
        let _ = (a, b);
        goto!(Next::<()>::exit()())
    }
    let (mut ctx, _, out) = setup();
    let error = ctx.run(goto!(both(out, out))).unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::AliasedMut {
                data_gear: "Printed",
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("taken twice"), "{error}");
}

#[test]
fn stale_and_foreign_handles_are_runtime_errors() {
    let (mut ctx, _, out) = setup();
    let (other, _, other_out) = setup();
    drop(other);
    let error = ctx
        .run(goto!(pop2_test1(other_out, Next::exit(), None, None)))
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::ForeignHandle { .. }),
        "{error}"
    );
    // The message fits a handle from another context too, not only a task's private one.
    assert!(
        error
            .to_string()
            .contains("can be used only by the context or world that allocated it"),
        "{error}"
    );
    ctx.heap_mut().free(out).unwrap();
    let error = ctx
        .run(goto!(pop2_test1(out, Next::exit(), None, None)))
        .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::StaleHandle { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("stale handle"), "{error}");
}

/// Collects what a `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn tracing_meta_logs_each_transition() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let (ctx, stack, out) = setup();
    let mut ctx = ctx.with_meta(Selector::name("pop2*"), codegear::Tracing);
    tracing::subscriber::with_default(subscriber, || {
        ctx.run(goto!(push_test(stack, out, Next::exit()))).unwrap();
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let gotos: Vec<&str> = log.lines().filter(|l| l.contains("goto")).collect();
    // pop2_test and pop2_test1 match "pop2*"; the Stack API gears are named SingleLinkedStack::*.
    assert_eq!(gotos.len(), 2, "{log}");
    assert!(gotos[0].contains("code_gear=\"pop2_test\""), "{log}");
    assert!(gotos[1].contains("code_gear=\"pop2_test1\""), "{log}");
    assert!(gotos[1].contains("Some(2), Some(1)"), "{log}");
    assert_eq!(
        log.lines().filter(|l| l.contains("returned")).count(),
        2,
        "{log}"
    );
}
