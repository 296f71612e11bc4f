// An interface implemented without `#[code_gear]`: the handle conversion says what is missing.
use codegear::prelude::*;

#[interface]
pub trait Queue {
    fn put(&mut self, value: u64, next: Next<()>) -> Goto;
}

#[data_gear]
#[derive(Default)]
pub struct VecQueue {
    items: Vec<u64>,
}

impl Queue for VecQueue {
    fn put(&mut self, value: u64, next: Next<()>) -> Goto {
        self.items.push(value);
        goto!(next())
    }
}

fn main() {
    let mut ctx = Context::new();
    let _queue: Gear<dyn Queue> = ctx.alloc(VecQueue::default()).upcast();
}
