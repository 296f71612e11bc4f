// A data gear taken as `Mut` passed on where the next code gear takes its handle: rustc's one
// error at the argument, in the user's types (`expected Gear<Counter>, found Mut<'_, Counter>`;
// the fix is `counter.gear()`), and the same through `next!`, where no list of the runtime's
// `Bind` impls follows.
use codegear::prelude::*;

#[data_gear]
#[derive(Default)]
pub struct Counter {
    n: u64,
}

#[code_gear]
fn bump(mut counter: Mut<'_, Counter>, next: Next<()>) -> Goto {
    counter.n += 1;
    goto!(next())
}

#[code_gear]
fn bump_then(counter: Mut<'_, Counter>, next: Next<()>) -> Goto {
    goto!(bump(counter, next))
}

#[code_gear]
fn bump_twice(counter: Mut<'_, Counter>, next: Next<()>) -> Goto {
    goto!(bump(counter.gear(), next!(bump(counter, next))))
}

fn main() {
    let mut ctx = Context::new();
    let counter = ctx.alloc(Counter::default());
    let _ = ctx.run(goto!(bump_then(counter, Next::exit())));
    let _ = ctx.run(goto!(bump_twice(counter, Next::exit())));
}
