// An interface implemented for a type that is not a data gear: one error, at the type.
use codegear::prelude::*;

#[interface]
pub trait Stack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto;
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Plain {
    items: Vec<i64>,
}

#[code_gear]
impl Stack for Plain {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto {
        self.items.push(data);
        goto!(next())
    }
}

#[code_gear]
fn uses(stack: Gear<dyn Stack>, next: Next<()>) -> Goto {
    goto!(stack.push(1, next))
}

// Upcasting and running it add no error: the one at the impl says what to fix.
fn run(ctx: &mut Context, plain: Gear<Plain>) {
    let stack = plain.upcast::<dyn Stack>();
    ctx.run(goto!(stack.push(1, Next::exit()))).unwrap();
    ctx.run(goto!(uses(stack, Next::exit()))).unwrap();
}

fn main() {
    let _ = run;
}
