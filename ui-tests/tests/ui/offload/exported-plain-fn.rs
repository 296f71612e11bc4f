use offload::prelude::*;

/// A hakase function that was never exported.
pub fn hakase_print(msg: &str) -> usize {
    msg.len()
}

fn friend() -> usize {
    offload!({ exported!(hakase_print)("x") })
}

fn main() {
    friend();
}
