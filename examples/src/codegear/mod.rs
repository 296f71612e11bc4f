//! codegear examples: the seed's stack (pop2Test / pop2Test1) and the three-gear loop the
//! `dispatch` bench measures.

pub mod dispatch;
pub mod stack;

use codegear::prelude::*;
use codegear::{Record, Selector, StepLimit};

/// The tour's codegear section: the seed's stack run through the meta level, the generated
/// context tables, a meta replaced by interface, and the runtime errors the meta level reports.
pub fn tour() -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== codegear: GearsOS code gears and data gears");
    let (ctx, out, steps) = stack::run()?;
    println!(
        "StackTest ran {steps} transitions through the meta level; pop2Test1 got {:?}",
        ctx.get(out)?.lines
    );

    println!("\nthe generated context.h (code gears, data gears, interfaces, from the registry):");
    for line in ctx.describe().lines() {
        println!("  {line}");
    }

    println!(
        "\nmeta replaced for interface Stack only (meta.pm's replaceMeta), tracing its code gears:"
    );
    let mut ctx = Context::new();
    let record = Record::default();
    let covered = ctx.replace_meta(Selector::interface("Stack"), record.clone());
    let stack = ctx
        .alloc(stack::SingleLinkedStack::default())
        .upcast::<dyn stack::Stack>();
    let out = ctx.alloc(stack::Output::default());
    ctx.run(goto!(stack::insert_test(stack, out, Next::exit())))?;
    println!("  ({covered} code gears covered)");
    for line in record.lines.lock().map_err(|_| "poisoned")?.iter() {
        println!("  {line}");
    }

    println!("\nerrors the meta level reports instead of undefined behaviour:");
    let mut ctx = Context::new().with_meta(Selector::name("mix"), StepLimit::new(1_000));
    let error = ctx
        .run(goto!(dispatch::mix(u64::MAX, 0)))
        .expect_err("a step limit of 1000 stops a loop of 2^64 rounds");
    println!("  {error}");
    let mut ctx = Context::new();
    let out = ctx.alloc(stack::Output::default());
    ctx.heap_mut().free(out)?;
    let error = ctx
        .run(goto!(stack::pop2_test1(out, Next::exit(), None, None)))
        .expect_err("a freed gear's handle is stale");
    println!("  {error}");
    Ok(())
}
