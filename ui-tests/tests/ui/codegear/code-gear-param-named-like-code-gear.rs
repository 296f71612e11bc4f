// `#[code_gear] fn total` defines a static `total`; a parameter of another code gear named
// `total` is reported once, at the parameter.
use codegear::prelude::*;

#[code_gear]
fn total(n: u64, next: Next<(u64,)>) -> Goto {
    goto!(next(n))
}

#[code_gear]
fn add(total: u64, n: u64, next: Next<(u64,)>) -> Goto {
    goto!(next(total + n))
}

fn main() {
    let _ = goto!(add(1, 2, Next::exit()));
}
