use codegear::prelude::*;

#[code_gear]
fn add(a: i64, b: i64, next: Next<(i64,)>) -> Goto {
    goto!(next(a + b))
}

#[code_gear]
fn too_few(next: Next<(i64,)>) -> Goto {
    goto!(add(1, next))
}

#[code_gear]
fn wrong_type(next: Next<(i64,)>) -> Goto {
    goto!(add(1, "two", next))
}

#[code_gear]
fn continuation_wrong_type(next: Next<(i64,)>) -> Goto {
    goto!(next("three"))
}

fn main() {}
