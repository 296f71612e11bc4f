// `par_goto!` on something that is not a `World`.
use codegear::prelude::*;

#[code_gear]
fn worker(n: u64, next: Next<()>) -> Goto {
    let _ = n;
    goto!(next())
}

fn main() {
    let mut ctx = Context::new();
    let _task = par_goto!(ctx, worker(1, Next::exit()));
}
