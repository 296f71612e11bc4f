use codegear::prelude::*;

pub struct Opaque;

#[code_gear]
fn takes_float(x: f64, next: Next<()>) -> Goto {
    let _ = x;
    goto!(next())
}

#[code_gear]
fn takes_opaque(x: Opaque, next: Next<()>) -> Goto {
    let _ = x;
    goto!(next())
}

#[code_gear]
fn uses(next: Next<()>) -> Goto {
    goto!(takes_float(1.5, next!(takes_opaque(Opaque))))
}

#[code_gear]
fn jumps(next: Next<()>) -> Goto {
    goto!(takes_opaque(Opaque, next))
}

fn main() {}
