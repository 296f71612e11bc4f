use offload::prelude::*;

#[export_symbol]
pub fn hakase_print(msg: &str) -> usize {
    println!("{msg}");
    msg.len()
}

fn friend() -> usize {
    // A closure that calls a hakase function, as the block's value: the call would run later,
    // on the friend.
    let g = offload!({ move |msg: &str| exported!(hakase_print)(msg) });
    g("x")
}

fn main() {
    friend();
}
