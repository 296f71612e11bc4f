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

fn main() {}
