use codegear::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotHashable {
    n: u32,
}

#[data_gear]
pub struct Holder {
    inner: NotHashable,
}

fn main() {}
