use offload::prelude::*;

mod shared {
    offload::declare_exports! {
        pub fn hakase_print(msg: &str) -> usize;
    }
}

#[export_symbol(declared_in = shared)]
pub fn hakase_print(msg: &str) -> u32 {
    println!("{msg}");
    msg.len() as u32
}

fn main() {}
