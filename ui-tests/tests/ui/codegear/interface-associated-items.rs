// An interface with an associated type and a const, which its implementation defines too: one
// error per item of the trait (none repeated at the impl, nothing from the generated code); the
// interface is implemented and used.
use codegear::prelude::*;

#[interface]
pub trait Stack {
    type Item;
    const CAPACITY: usize;
    fn push(&mut self, data: i64, next: Next<()>) -> Goto;
}

#[data_gear]
#[derive(Default)]
pub struct VecStack {
    items: Vec<i64>,
}

#[code_gear]
impl Stack for VecStack {
    type Item = i64;
    const CAPACITY: usize = 8;
    fn push(&mut self, data: i64, next: Next<()>) -> Goto {
        self.items.push(data);
        goto!(next())
    }
}

#[code_gear]
fn uses(stack: Gear<dyn Stack>, next: Next<()>) -> Goto {
    goto!(stack.push(1, next))
}

fn main() {
    let mut ctx = Context::new();
    let stack = ctx.alloc(VecStack::default()).upcast::<dyn Stack>();
    let _ = ctx.run(goto!(uses(stack, Next::exit())));
}
