mod shared {
    offload::declare_exports! {
        pub fn hakase_len(msg: &str) -> usize;
    }
}

mod elsewhere {}

#[offload::export_symbol(declared_in = elsewhere)]
pub fn hakase_len(msg: &str) -> usize {
    msg.len()
}

fn main() {
    let _ = hakase_len("x");
    let _ = shared::hakase_len {};
}
