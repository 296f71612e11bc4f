// `goto!(gear.api(..))` / `next!(gear.api(..))` through a handle to the concrete data gear, not
// to the interface: one error each, saying to upcast; the code gears stay usable.
use codegear::prelude::*;

#[interface]
pub trait Counter {
    fn bump(&mut self, by: u64, next: Next<(u64,)>) -> Goto;
}

#[data_gear]
#[derive(Default)]
pub struct Simple {
    total: u64,
}

#[code_gear]
impl Counter for Simple {
    fn bump(&mut self, by: u64, next: Next<(u64,)>) -> Goto {
        self.total += by;
        goto!(next(self.total))
    }
}

#[code_gear]
fn bump_it(simple: Gear<Simple>, next: Next<(u64,)>) -> Goto {
    goto!(simple.bump(1, next))
}

#[code_gear]
fn bump_later(simple: Gear<Simple>, next: Next<(u64,)>) -> Goto {
    goto!(done(next!(simple.bump(2, next))))
}

#[code_gear]
fn done(next: Next<()>) -> Goto {
    goto!(next())
}

fn main() {
    let mut ctx = Context::new();
    let simple = ctx.alloc(Simple::default());
    ctx.run(goto!(bump_it(simple, Next::exit()))).unwrap();
    ctx.run(goto!(bump_later(simple, Next::exit()))).unwrap();
}
