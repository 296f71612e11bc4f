use offload::prelude::*;

#[export_symbol]
pub fn hakase_max<T: Ord>(a: T, b: T) -> T {
    a.max(b)
}

#[export_symbol]
pub fn hakase_len(x: impl AsRef<str>) -> usize {
    x.as_ref().len()
}

#[export_symbol]
pub async fn hakase_fetch() -> u32 {
    1
}

fn main() {
    // The functions are still there (only the export errors show).
    assert_eq!(hakase_max(1, 2), 2);
    assert_eq!(hakase_len("ab"), 2);
    let _ = hakase_fetch();
}
