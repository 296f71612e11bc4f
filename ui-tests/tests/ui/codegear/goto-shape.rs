use codegear::prelude::*;

#[code_gear]
fn done(next: Next<()>) -> Goto {
    goto!(next)
}

#[code_gear]
fn arithmetic(x: i64, next: Next<()>) -> Goto {
    let _ = x;
    goto!(x + 1)
}

fn main() {}
