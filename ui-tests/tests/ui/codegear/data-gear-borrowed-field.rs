// A data gear with a borrowed field and the lifetime it needs: one error, at the field (with
// the fix), not also at `<'a>` nor rustc's lifetime errors from the generated impls; a
// `&'static str` field is fine. The data gear is used.
use codegear::prelude::*;

#[data_gear]
pub struct Named<'a> {
    label: &'static str,
    name: &'a str,
    visits: u64,
}

#[code_gear]
fn visit(mut named: Mut<'_, Named<'static>>, next: Next<(u64,)>) -> Goto {
    named.visits += 1;
    let visits = named.visits;
    goto!(next(visits))
}

fn main() {
    let mut ctx = Context::new();
    let named = ctx.alloc(Named { label: "l", name: "n", visits: 0 });
    let _ = ctx.run(goto!(visit(named, Next::exit())));
}
