offload::declare_exports! {
    pub fn ok(x: u32) -> u32;
    pub fn takes_self(&self) -> u32;
    pub fn leaks() -> &'static str;
}

fn main() {
    let _: Option<ok> = None;
}
