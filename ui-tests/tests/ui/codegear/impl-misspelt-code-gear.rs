// A misspelt interface code gear in an impl: one error (the typo, with the rename), not also
// "does not define `push`", and nothing from the generated API table; the impl is used.
use codegear::prelude::*;

#[interface]
pub trait Stack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto;
    fn pop(&mut self, next: Next<(Option<i64>,)>) -> Goto;
}

#[data_gear]
#[derive(Default)]
pub struct VecStack {
    items: Vec<i64>,
}

#[code_gear]
impl Stack for VecStack {
    fn pop(&mut self, next: Next<(Option<i64>,)>) -> Goto {
        let top = self.items.pop();
        goto!(next(top))
    }
    fn pish(&mut self, data: i64, next: Next<()>) -> Goto {
        self.items.push(data);
        goto!(next())
    }
}

#[code_gear]
fn uses(stack: Gear<dyn Stack>, next: Next<(Option<i64>,)>) -> Goto {
    goto!(stack.push(1, next!(stack.pop(next))))
}

fn main() {
    let mut ctx = Context::new();
    let stack = ctx.alloc(VecStack::default()).upcast::<dyn Stack>();
    let _ = ctx.run(goto!(uses(stack, Next::exit())));
}
