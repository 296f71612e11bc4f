// `Mut<'_, T>` of a type that is not a data gear: one error, at the type, saying to add
// `#[data_gear]`; the code gear and its callers are still usable.
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

// Running it adds no error either: the one above says what to fix.
fn run(ctx: &mut Context, plain: Gear<Plain>) {
    ctx.run(goto!(uses(plain, Next::exit()))).unwrap();
    ctx.run(goto!(bump(plain, Next::exit()))).unwrap();
}

fn main() {
    let _ = run;
}
