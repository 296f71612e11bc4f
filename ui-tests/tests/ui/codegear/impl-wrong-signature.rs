// An implementation whose code gear's signature differs from the interface's: rustc's one error
// at the impl, nothing from the generated code.
use codegear::prelude::*;

#[interface]
pub trait Stack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto;
}

#[data_gear]
#[derive(Default)]
pub struct VecStack {
    items: Vec<u32>,
}

#[code_gear]
impl Stack for VecStack {
    fn push(&mut self, data: u32, next: Next<()>) -> Goto {
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
