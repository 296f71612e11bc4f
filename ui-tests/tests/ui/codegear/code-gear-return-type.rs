use codegear::prelude::*;

#[code_gear]
fn no_return(x: i64) {
    let _ = x;
}

#[code_gear]
fn returns_value(x: i64) -> i64 {
    x + 1
}

#[code_gear]
fn uses(next: Next<()>) -> Goto {
    let _ = next;
    goto!(no_return(returns_value_input()))
}

fn returns_value_input() -> i64 {
    let _ = goto!(returns_value(1));
    1
}

fn main() {}
