// `par_goto!` with the world but no first transition, or a code gear without arguments.
use codegear::prelude::*;

#[code_gear]
fn worker(n: u64, next: Next<()>) -> Goto {
    let _ = n;
    goto!(next())
}

fn main() {
    let mut world = World::new();
    let _a = par_goto!(world);
    let _b = par_goto!(world,);
    let _c = par_goto!(world, worker);
}
