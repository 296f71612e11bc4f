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

fn main() {}
