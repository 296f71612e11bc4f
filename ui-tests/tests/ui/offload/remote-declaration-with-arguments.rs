mod shared {
    offload::declare_exports! {
        #[remote(always)]
        pub fn hakase_add(a: u32, b: u32) -> u32;
    }
}

fn main() {
    let _ = shared::hakase_add::remote(1, 2);
}
