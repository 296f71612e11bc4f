//! `exported!` inside closures that stay inside the offloaded block compiles.
use offload::prelude::*;

#[export_symbol]
pub fn hakase_len(msg: &str) -> usize {
    msg.len()
}

fn friend(words: &[&str]) -> usize {
    offload!({
        let total: usize = words.iter().map(|w| exported!(hakase_len)(w)).sum();
        let twice = |w: &str| exported!(hakase_len)(w) * 2;
        total + twice("ab") + exported!(hakase_len)(&format!("{}", exported!(hakase_len)("xyz")))
    })
}

fn main() {
    if std::env::args().count() > 100 {
        friend(&["a"]);
    }
}
