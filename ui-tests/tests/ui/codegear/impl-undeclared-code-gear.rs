use codegear::prelude::*;

#[interface]
pub trait Stack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto;
    fn pop(&mut self, next: Next<(Option<i64>,)>) -> Goto;
}

#[data_gear]
pub struct VecStack {
    items: Vec<i64>,
}

#[code_gear]
impl Stack for VecStack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto {
        self.items.push(data);
        goto!(next())
    }
    fn pop(&mut self, next: Next<(Option<i64>,)>) -> Goto {
        let top = self.items.pop();
        goto!(next(top))
    }
    fn peek(&mut self, next: Next<(Option<i64>,)>) -> Goto {
        let top = self.items.last().copied();
        goto!(next(top))
    }
}

#[code_gear]
fn uses(stack: Gear<dyn Stack>, next: Next<(Option<i64>,)>) -> Goto {
    goto!(stack.pop(next))
}

fn main() {
    let mut ctx = Context::new();
    let stack = ctx.alloc(VecStack { items: vec![1] }).upcast::<dyn Stack>();
    let _ = ctx.run(goto!(uses(stack, Next::exit())));
}
