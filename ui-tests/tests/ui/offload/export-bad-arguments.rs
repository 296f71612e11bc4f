use offload::prelude::*;

#[export_symbol(declared = shared)]
pub fn hakase_a() {}

#[export_symbol("shared")]
pub fn hakase_b() {}

fn main() {
    hakase_a();
    hakase_b();
}
