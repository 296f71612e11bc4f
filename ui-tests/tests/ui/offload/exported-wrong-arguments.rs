use offload::prelude::*;

#[export_symbol]
pub fn hakase_print(msg: &str) -> usize {
    msg.len()
}

fn friend() -> usize {
    offload!({ exported!(hakase_print)("x", 2) + exported!(hakase_print)(7) })
}

fn main() {
    friend();
    too_few();
}

fn too_few() -> usize {
    offload!({ exported!(hakase_print)() })
}
