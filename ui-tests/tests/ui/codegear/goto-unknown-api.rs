use codegear::prelude::*;

#[interface]
pub trait Stack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto;
    fn pop2(&mut self, next: Next<(Option<i64>, Option<i64>)>) -> Goto;
}

#[code_gear]
fn pop3_test(stack: Gear<dyn Stack>, next: Next<(Option<i64>, Option<i64>)>) -> Goto {
    goto!(stack.pop3(next))
}

#[code_gear]
fn pop4_test(stack: Gear<dyn Stack>, next: Next<()>) -> Goto {
    goto!(stack.push(1, next!(stack.pop4())))
}

#[code_gear]
fn uses(stack: Gear<dyn Stack>, next: Next<(Option<i64>, Option<i64>)>) -> Goto {
    goto!(pop3_test(stack, next))
}

fn main() {}
