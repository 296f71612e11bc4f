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

// The broken code gears are used: their uses add no errors.
#[code_gear]
fn uses(next: Next<()>) -> Goto {
    let k: Next<()> = next!(borrowed("name", next));
    let k2: Next<()> = next!(pointer(std::ptr::null(), k));
    goto!(shared(Rc::new(1), k2))
}

fn main() {
    let _ = goto!(borrowed("x", Next::exit()));
}
