// A typo in an attribute argument: one error per typo, naming the attribute; the items still
// expand, so their uses compile.
use codegear::prelude::*;

#[data_gear(krate = codegear)]
pub struct Counter {
    n: u64,
}

#[interface(crate = ::codegear, bogus = 1)]
pub trait Bump {
    fn bump(&mut self, next: Next<()>) -> Goto;
}

#[code_gear(instnces(u8))]
fn count(counter: Mut<'_, Counter>, next: Next<()>) -> Goto {
    let mut counter = counter;
    counter.n += 1;
    goto!(next())
}

#[code_gear]
impl Bump for Counter {
    fn bump(&mut self, next: Next<()>) -> Goto {
        self.n += 1;
        goto!(next())
    }
}

fn main() {
    let mut ctx = Context::new();
    let counter = ctx.alloc(Counter { n: 0 });
    let _ = ctx.run(goto!(count(counter, Next::exit())));
    let _bump: Gear<dyn Bump> = counter.upcast();
}
