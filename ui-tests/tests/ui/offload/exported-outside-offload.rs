use offload::prelude::*;

#[export_symbol]
pub fn hakase_print(msg: &str) -> usize {
    println!("{msg}");
    msg.len()
}

fn main() {
    // Friend code calling a hakase function directly, outside an offloaded block.
    let n = exported!(hakase_print)("Hello World!");
    let _ = n;
}
