use codegear::prelude::*;

#[interface]
pub trait Queue {
    fn put(self, data: i64, next: Next<()>) -> Goto;
    fn take(next: Next<(i64,)>) -> Goto;
    fn len(&self) -> usize;
    fn clear(&mut self, next: Next<()>) -> Goto {
        goto!(next())
    }
}

#[data_gear]
pub struct VecQueue {
    items: Vec<i64>,
}

#[code_gear]
impl Queue for VecQueue {
    fn put(self, data: i64, next: Next<()>) -> Goto {
        let _ = data;
        goto!(next())
    }
    fn take(next: Next<(i64,)>) -> Goto {
        goto!(next(0))
    }
    fn len(&self) -> usize {
        self.items.len()
    }
    fn clear(&mut self, next: Next<()>) -> Goto {
        self.items.clear();
        goto!(next())
    }
}

#[code_gear]
fn uses(queue: Gear<dyn Queue>, next: Next<()>) -> Goto {
    goto!(queue.clear(next))
}

fn main() {}
