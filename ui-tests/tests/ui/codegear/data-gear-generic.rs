use codegear::prelude::*;

#[data_gear]
pub struct Slot<T> {
    value: T,
}

fn main() {}
