use codegear::prelude::*;

#[code_gear]
fn no_return(x: i64) {
    let _ = x;
}

#[code_gear]
fn returns_value(x: i64) -> i64 {
    x + 1
}

fn main() {}
