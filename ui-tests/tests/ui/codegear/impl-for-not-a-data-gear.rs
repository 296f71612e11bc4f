// An interface implemented for a type that is not a data gear.
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

fn main() {}
