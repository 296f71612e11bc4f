use codegear::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotHashable {
    n: u32,
}

#[data_gear]
pub struct Holder {
    inner: NotHashable,
}

#[code_gear]
fn uses(holder: Mut<'_, Holder>, next: Next<()>) -> Goto {
    let _ = &holder.inner;
    goto!(next())
}

fn main() {
    let mut ctx = Context::new();
    let holder = ctx.alloc(Holder { inner: NotHashable { n: 1 } });
    let _ = ctx.run(goto!(uses(holder, Next::exit())));
}
