#![allow(missing_docs)]
//! codegear's macros with `crate = cg`, in a package where `::codegear` does not resolve: every
//! attribute (data gear, interface, code gear fn, code gear impl) must reach the crate through
//! the override only, `goto!` / `next!` / `par_goto!` through `$crate`. The stack is then run.

use cg::{Context, Gear, Goto, Mut, Next, Parallel, World};

mod interface {
    // Another name again, visible in this module only: the impl below (outside this module)
    // can compile only if it goes through its own override rather than the interface's.
    use cg as cgx;
    use cgx::{Goto, Next};

    #[cgx::interface(crate = cgx)]
    pub trait Stack {
        fn push(&mut self, data: i64, next: Next<()>) -> Goto;
        fn pop2(&mut self, next: Next<(Option<i64>, Option<i64>)>) -> Goto;
    }
}

use interface::Stack;

#[cg::data_gear(crate = cg)]
#[derive(Default)]
pub struct SingleLinkedStack {
    items: Vec<i64>,
}

// The impl's own override (the interface's macro would otherwise supply the interface's root).
#[cg::code_gear(crate = cg)]
impl interface::Stack for SingleLinkedStack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto {
        self.items.push(data);
        cg::goto!(next())
    }
    fn pop2(&mut self, next: Next<(Option<i64>, Option<i64>)>) -> Goto {
        let (a, b) = (self.items.pop(), self.items.pop());
        cg::goto!(next(a, b))
    }
}

#[cg::data_gear(crate = cg)]
#[derive(Default)]
pub struct Popped {
    pairs: Vec<(Option<i64>, Option<i64>)>,
}

#[cg::code_gear(crate = cg)]
fn push_two(stack: Gear<dyn Stack>, out: Gear<Popped>, next: Next<()>) -> Goto {
    cg::goto!(stack.push(1, cg::next!(push_second(stack, out, next))))
}

#[cg::code_gear(crate = cg)]
fn push_second(stack: Gear<dyn Stack>, out: Gear<Popped>, next: Next<()>) -> Goto {
    cg::goto!(stack.push(2, cg::next!(pop_both(stack, out, next))))
}

#[cg::code_gear(crate = cg)]
fn pop_both(stack: Gear<dyn Stack>, out: Gear<Popped>, next: Next<()>) -> Goto {
    cg::goto!(stack.pop2(cg::next!(record(out, next))))
}

#[cg::code_gear(crate = cg)]
fn record(out: Mut<'_, Popped>, next: Next<()>, a: Option<i64>, b: Option<i64>) -> Goto {
    let mut out = out;
    out.pairs.push((a, b));
    cg::goto!(next())
}

#[test]
fn the_stack_runs_through_the_renamed_crate() {
    let mut ctx = Context::new();
    let stack = ctx
        .alloc(SingleLinkedStack::default())
        .upcast::<dyn Stack>();
    let out = ctx.alloc(Popped::default());
    ctx.run(cg::goto!(push_two(stack, out, Next::exit())))
        .unwrap();
    assert_eq!(ctx.get(out).unwrap().pairs, [(Some(2), Some(1))]);
    assert!(ctx.describe().contains("SingleLinkedStack"));
}

#[cg::data_gear(crate = cg)]
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Counter {
    n: u32,
}

#[cg::code_gear(crate = cg)]
fn bump(counter: Mut<'_, Counter>, next: Next<()>) -> Goto {
    let mut counter = counter;
    counter.n += 1;
    cg::goto!(next())
}

/// `par_goto!` inside a code gear (no world) reaches the crate through `$crate` too.
#[cg::code_gear(crate = cg)]
fn fork(counter: Gear<Counter>, next: Next<()>) -> Goto {
    cg::par_goto!(bump(counter, Next::exit()));
    cg::goto!(next())
}

#[test]
fn a_code_gear_starts_a_task_through_the_renamed_crate() {
    let mut world = World::new();
    let counter = world.alloc_shared(Counter::default());
    cg::par_goto!(world, fork(counter, Next::exit()));
    world.run(Parallel::new(1)).unwrap();
    assert_eq!(world.get(counter).unwrap().n, 1);
}

#[test]
fn a_world_runs_and_checks_through_the_renamed_crate() {
    let mut world = World::new();
    let counter = world.alloc_shared(Counter::default());
    cg::par_goto!(world, bump(counter, Next::exit()));
    cg::par_goto!(world, bump(counter, Next::exit()));
    let report = world.check(cg::Check::new());
    assert!(report.holds(), "{report}");
    world.run(Parallel::new(2)).unwrap();
    assert_eq!(world.get(counter).unwrap().n, 2);
}
