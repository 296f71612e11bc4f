// `par_goto!` checks the first transition's arguments like `goto!`, at the user's tokens.
use codegear::prelude::*;

#[code_gear]
fn worker(n: u64, next: Next<()>) -> Goto {
    let _ = n;
    goto!(next())
}

fn main() {
    let mut world = World::new();
    let _a = par_goto!(world, worker("one", Next::exit()));
    let _b = par_goto!(world, worker(1));
}
