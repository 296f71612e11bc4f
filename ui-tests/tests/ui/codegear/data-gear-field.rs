use std::cell::Cell;

use codegear::prelude::*;

#[data_gear]
pub struct Sensor {
    reading: f64,
    cached: Cell<u32>,
    id: u32,
}

fn main() {}
