// `codegear` is the renamed dependency `cg` here: an attribute without `crate = cg` says to add
// it, once, and the items it defines are still usable.
use cg::{Goto, Mut, Next};

#[cg::data_gear]
pub struct Counter {
    value: u64,
}

#[cg::code_gear]
fn bump(counter: Mut<'_, Counter>, next: Next<()>) -> Goto {
    let _ = counter.value;
    cg::goto!(next())
}

#[cg::code_gear(crate = cg)]
fn uses(counter: cg::Gear<Counter>, next: Next<()>) -> Goto {
    cg::goto!(bump(counter, next))
}

fn main() {}
