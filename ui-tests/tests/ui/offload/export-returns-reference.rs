use offload::prelude::*;

static HAKASE_VARIABLE: i32 = 0;

#[export_symbol]
pub fn hakase_func() -> &'static i32 {
    &HAKASE_VARIABLE
}

#[export_symbol]
pub fn hakase_raw() -> *mut i32 {
    std::ptr::null_mut()
}

#[export_symbol]
pub fn hakase_nested(x: &str) -> Option<(u8, &str)> {
    Some((1, x))
}

fn main() {}
