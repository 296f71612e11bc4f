// A continuation whose outputs are not a tuple (`Next<u64>` for `Next<(u64,)>`): one error at
// each written type, with the fix, in a free code gear and in an interface (its impl and its
// callers add nothing); through an alias the macro cannot see, the `goto!` of it is rustc's
// error (it used to compile and panic at run time).
use codegear::prelude::*;

#[code_gear]
fn count(n: u64, next: Next<u64>) -> Goto {
    goto!(next(n + 1))
}

#[code_gear]
fn counts(next: Next<(u64,)>) -> Goto {
    goto!(count(1, next))
}

#[interface]
pub trait Stack {
    fn pop(&mut self, next: Next<Option<i64>>) -> Goto;
}

#[data_gear]
#[derive(Default)]
pub struct VecStack {
    items: Vec<i64>,
}

#[code_gear]
impl Stack for VecStack {
    fn pop(&mut self, next: Next<Option<i64>>) -> Goto {
        let top = self.items.pop();
        goto!(next(top))
    }
}

#[code_gear]
fn pops(stack: Gear<dyn Stack>, next: Next<(Option<i64>,)>) -> Goto {
    goto!(stack.pop(next))
}

type Outputs = u64;

#[code_gear]
fn aliased(next: Next<Outputs>) -> Goto {
    goto!(next(1))
}

fn main() {
    let mut ctx = Context::new();
    let stack = ctx.alloc(VecStack::default()).upcast::<dyn Stack>();
    let _ = ctx.run(goto!(pops(stack, Next::exit())));
    let _ = ctx.run(goto!(counts(Next::exit())));
    let _ = ctx.run(goto!(aliased(Next::exit())));
}
