use offload::prelude::*;

#[export_symbol]
pub fn hakase_func() -> u32 {
    0
}

/// A hakase function nobody exported.
pub fn not_exported() -> u32 {
    1
}

fn friend() {
    let (a, b) = offload!({ (exported!(hakase_fnuc)(), exported!(not_exported)()) });
    let _ = (a, b);
}

fn main() {
    friend();
}
