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

fn main() {}
