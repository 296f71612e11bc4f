use codegear::prelude::*;

#[code_gear]
fn generic<T: Clone>(x: T, next: Next<()>) -> Goto {
    let _ = x;
    goto!(next())
}

#[code_gear]
async fn later(next: Next<()>) -> Goto {
    goto!(next())
}

#[code_gear]
fn uses(next: Next<()>) -> Goto {
    let then: Next<()> = next!(later(next));
    goto!(generic(1u8, then))
}

fn main() {}
