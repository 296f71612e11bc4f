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

fn main() {}
