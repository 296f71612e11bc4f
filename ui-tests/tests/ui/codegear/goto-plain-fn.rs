// `goto!` of a plain `fn` that lacks `#[code_gear]`.
use codegear::prelude::*;

fn plain(n: u64, next: Next<()>) -> Goto {
    let _ = n;
    goto!(next())
}

#[code_gear]
fn caller(n: u64, next: Next<()>) -> Goto {
    goto!(plain(n, next))
}

#[code_gear]
fn caller_of_caller(next: Next<()>) -> Goto {
    goto!(caller(1, next))
}

#[code_gear]
fn binds(next: Next<()>) -> Goto {
    goto!(caller(2, next!(plain(3))))
}

fn main() {}
