// A generic implementation must list its instances; one error, and the interface's uses compile.
use codegear::prelude::*;

#[interface]
pub trait Stack<T> {
    fn push(&mut self, data: T, next: Next<()>) -> Goto;
}

#[data_gear(instances(i64))]
pub struct VecStack<T> {
    items: Vec<T>,
}

#[code_gear]
impl<T: codegear::Value> Stack<T> for VecStack<T> {
    fn push(&mut self, data: T, next: Next<()>) -> Goto {
        self.items.push(data);
        goto!(next())
    }
}

#[code_gear]
fn uses(stack: Gear<dyn Stack<i64>>, next: Next<()>) -> Goto {
    goto!(stack.push(1, next))
}

fn main() {}
