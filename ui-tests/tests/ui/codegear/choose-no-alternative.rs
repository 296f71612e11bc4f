// `choose!` with no alternative to continue with.
use codegear::prelude::*;

#[code_gear]
fn worker(n: u64, next: Next<()>) -> Goto {
    let _ = n;
    choose!()
}

fn main() {
    let mut world = World::new();
    par_goto!(world, worker(1, Next::exit()));
}
