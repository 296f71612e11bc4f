// `par_goto!` without the world to add the task to.
use codegear::prelude::*;

#[code_gear]
fn worker(n: u64, next: Next<()>) -> Goto {
    let _ = n;
    goto!(next())
}

fn main() {
    let _task = par_goto!(worker(1, Next::exit()));
}
