use codegear::prelude::*;

#[interface]
pub trait Phils {
    fn thinking(&mut self, next: Next<()>) -> Goto;
    fn pickup_lfork(&mut self, next: Next<()>) -> Goto;
    fn pickup_rfork(&mut self, next: Next<()>) -> Goto;
    fn eating(&mut self, next: Next<()>) -> Goto;
}

#[data_gear]
pub struct PhilsImpl {
    id: u32,
}

#[code_gear]
impl Phils for PhilsImpl {
    fn thinking(&mut self, next: Next<()>) -> Goto {
        goto!(next())
    }
    fn pickup_lfork(&mut self, next: Next<()>) -> Goto {
        goto!(next())
    }
}

#[code_gear]
fn dine(phil: Gear<dyn Phils>, next: Next<()>) -> Goto {
    goto!(phil.eating(next))
}

fn main() {
    let mut ctx = Context::new();
    let phil = ctx.alloc(PhilsImpl { id: 0 }).upcast::<dyn Phils>();
    let _ = ctx.run(goto!(dine(phil, Next::exit())));
}
