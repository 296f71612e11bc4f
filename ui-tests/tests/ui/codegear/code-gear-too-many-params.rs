// More parameters than `goto!`/`next!` support: said at the definition, once; uses add nothing.
use codegear::prelude::*;

#[code_gear]
#[allow(clippy::too_many_arguments)]
fn wide(
    a: u8,
    b: u8,
    c: u8,
    d: u8,
    e: u8,
    f: u8,
    g: u8,
    h: u8,
    i: u8,
    j: u8,
    k: u8,
) -> Goto {
    let _ = (a, b, c, d, e, f, g, h, i, j, k);
    Goto::exit(())
}

#[code_gear]
fn uses(next: Next<()>) -> Goto {
    let _ = next;
    goto!(wide(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11))
}

fn main() {}
