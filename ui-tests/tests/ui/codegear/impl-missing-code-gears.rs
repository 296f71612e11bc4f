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

fn main() {}
