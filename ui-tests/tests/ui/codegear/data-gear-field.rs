use std::cell::Cell;

use codegear::prelude::*;

#[data_gear]
pub struct Sensor {
    reading: f64,
    cached: Cell<u32>,
    history: Vec<f64>,
    id: u32,
}

// The broken data gear is used: its uses add no errors.
#[code_gear]
fn read(sensor: Mut<'_, Sensor>, next: Next<(u32,)>) -> Goto {
    let id = sensor.id;
    goto!(next(id))
}

fn main() {
    let mut ctx = Context::new();
    let sensor = ctx.alloc(Sensor { reading: 1.0, cached: Cell::new(0), history: Vec::new(), id: 7 });
    let _ = ctx.run(goto!(read(sensor, Next::exit())));
}
