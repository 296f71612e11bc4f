// `#[code_gear]` on a method of a plain impl block: one error at `self` saying where the
// attribute goes, and the method stays as written (its uses compile).
use codegear::prelude::*;

#[data_gear]
#[derive(Default)]
pub struct VecStack {
    items: Vec<i64>,
}

impl VecStack {
    #[code_gear]
    fn push(&mut self, data: i64, next: Next<()>) -> Goto {
        self.items.push(data);
        goto!(next())
    }
}

fn main() {
    let mut stack = VecStack::default();
    let _ = stack.push(1, Next::exit());
}
