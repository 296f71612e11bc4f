use codegear::prelude::*;

#[code_gear]
fn show(label: String, next: Next<()>, value: i64) -> Goto {
    println!("{label}: {value}");
    goto!(next())
}

#[code_gear]
fn bind_wrong(next: Next<()>) -> Goto {
    let k: Next<(i64,)> = next!(show(42, next));
    goto!(k(1))
}

fn main() {}
