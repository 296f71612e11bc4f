use offload::prelude::*;

#[export_symbol]
pub fn hakase_print(msg: &str) -> usize {
    println!("{msg}");
    msg.len()
}

fn friend() -> usize {
    // A hakase function as the block's value would be called later, on the friend.
    let f = offload!({ exported!(hakase_print) });
    f("x")
}

fn main() {
    friend();
}
