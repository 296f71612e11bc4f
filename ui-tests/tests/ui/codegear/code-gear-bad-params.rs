use std::rc::Rc;

use codegear::prelude::*;

#[code_gear]
fn borrowed(name: &str, next: Next<()>) -> Goto {
    let _ = name;
    goto!(next())
}

#[code_gear]
fn shared(counter: Rc<u64>, next: Next<()>) -> Goto {
    let _ = counter;
    goto!(next())
}

#[code_gear]
fn pointer(raw: *const u8, next: Next<()>) -> Goto {
    let _ = raw;
    goto!(next())
}

fn main() {}
