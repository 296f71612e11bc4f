use offload::prelude::*;

#[export_symbol]
pub fn hakase_print(msg: &str) -> usize {
    println!("{msg}");
    msg.len()
}

fn friend() -> usize {
    offload!({
        // A function item could be returned and called on the friend.
        fn print_twice(msg: &str) -> usize {
            exported!(hakase_print)(msg) + exported!(hakase_print)(msg)
        }
        print_twice("x")
    })
}

fn main() {
    friend();
}
