//! `&'static T` fields: a data gear may hold static names and tables (they are values: cloned,
//! hashed and compared through `T`), on a `Context` and under the model checker.

#![allow(missing_docs, unreachable_pub)]

use codegear::prelude::*;

#[data_gear]
pub struct Named {
    name: &'static str,
    seen: Vec<&'static str>,
}

#[code_gear]
fn visit(mut gear: Mut<'_, Named>, place: &'static str, next: Next<(&'static str,)>) -> Goto {
    gear.seen.push(place);
    let name = gear.name;
    goto!(next(name))
}

#[test]
fn a_data_gear_holds_static_references() {
    let mut ctx = Context::new();
    let gear = ctx.alloc(Named {
        name: "gear",
        seen: Vec::new(),
    });
    let exit = ctx
        .run(goto!(visit(gear, "kyoto", Next::exit())))
        .expect("runs");
    assert_eq!(exit.outputs.take::<(&'static str,)>().unwrap(), ("gear",));
    assert_eq!(ctx.get(gear).unwrap().seen, ["kyoto"]);
    // This test binary's tables: one of each, counted in the singular.
    assert!(
        ctx.describe()
            .starts_with("// context.h: 1 code gear, 1 data gear, 0 interfaces ("),
        "{}",
        ctx.describe()
    );
    assert!(
        ctx.describe()
            .contains("struct Named { name: &'static str, seen: Vec<&'static str> }"),
        "{}",
        ctx.describe()
    );
}

#[test]
fn the_checker_tells_states_apart_by_the_referenced_values() {
    let mut world = World::new();
    let gear = world.alloc_shared(Named {
        name: "shared",
        seen: Vec::new(),
    });
    for place in ["a", "b"] {
        let task = world.reserve_task();
        world.start(task, goto!(visit(gear, place, Next::exit())));
    }
    // Two orders of two visits: the initial state, two after one visit, two after both.
    let report = world.check(Check::new());
    assert!(report.holds(), "{report}");
    assert_eq!(report.states, 5, "{report}");
}
