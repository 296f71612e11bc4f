// `Mut<'_, dyn Interface>`: one error saying to take the interface's handle (rustc's unsized
// errors, pointing into codegear, no longer follow), in a free code gear and in an interface
// (its implementation and callers add nothing); both are used.
use codegear::prelude::*;

#[interface]
pub trait Stack {
    fn push(&mut self, data: i64, next: Next<()>) -> Goto;
}

#[code_gear]
fn push_one(mut stack: Mut<'_, dyn Stack>, next: Next<()>) -> Goto {
    stack.push(1, next)
}

#[code_gear]
fn uses(stack: Gear<dyn Stack>, next: Next<()>) -> Goto {
    goto!(push_one(stack, next))
}

#[interface]
pub trait Merge {
    fn merge(&mut self, other: Mut<'_, dyn Stack>, next: Next<()>) -> Goto;
}

#[data_gear]
#[derive(Default)]
pub struct Pile {
    items: Vec<i64>,
}

#[code_gear]
impl Merge for Pile {
    fn merge(&mut self, other: Mut<'_, dyn Stack>, next: Next<()>) -> Goto {
        let _ = other;
        goto!(next())
    }
}

#[code_gear]
fn merges(pile: Gear<dyn Merge>, stack: Gear<dyn Stack>, next: Next<()>) -> Goto {
    goto!(pile.merge(stack, next))
}

fn main() {}
