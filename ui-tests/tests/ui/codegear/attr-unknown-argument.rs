use codegear::prelude::*;

#[data_gear(krate = codegear)]
pub struct Counter {
    n: u64,
}

fn main() {}
