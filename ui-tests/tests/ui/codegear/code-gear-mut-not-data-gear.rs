use codegear::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Plain {
    n: u64,
}

#[code_gear]
fn bump(plain: Mut<'_, Plain>, next: Next<()>) -> Goto {
    let _ = plain;
    goto!(next())
}

#[code_gear]
fn uses(plain: Gear<Plain>, next: Next<()>) -> Goto {
    goto!(bump(plain, next))
}

fn main() {}
