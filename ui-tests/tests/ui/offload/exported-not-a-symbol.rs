use offload::prelude::*;

/// A type that happens to share the name.
#[allow(non_camel_case_types)]
pub struct hakase_config {}

fn friend() {
    let _ = offload!({ exported!(hakase_config)() });
}

fn main() {
    friend();
}
