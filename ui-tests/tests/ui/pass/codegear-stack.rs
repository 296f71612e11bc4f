//! The seed's stack compiles as written in DESIGN.md, including a renamed crate path.
use codegear::prelude::*;

#[interface]
pub trait Stack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto;
    fn pop2(&mut self, next: Next<(Option<i64>, Option<i64>)>) -> Goto;
}

#[data_gear(crate = ::codegear)]
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
    fn pop2(&mut self, next: Next<(Option<i64>, Option<i64>)>) -> Goto {
        let a = self.items.pop();
        let b = self.items.pop();
        goto!(next(a, b))
    }
}

#[code_gear]
fn pop2_test(stack: Gear<dyn Stack>, next: Next<()>) -> Goto {
    goto!(stack.pop2(next!(pop2_test1(next))))
}

#[code_gear]
fn pop2_test1(next: Next<()>, a: Option<i64>, b: Option<i64>) -> Goto {
    println!("{a:?} {b:?}");
    goto!(next())
}

fn main() {
    let mut ctx = Context::new();
    let stack = ctx.alloc(SingleLinkedStack::default()).upcast::<dyn Stack>();
    ctx.run(goto!(stack.push(1, next!(pop2_test(stack, Next::exit())))))
        .unwrap();
}
