use std::rc::Rc;

use offload::prelude::*;

fn main() {
    let shared = Rc::new(5);
    // The block runs on the hakase thread: it may not touch a friend's `Rc`.
    let n = offload!({ *shared + 1 });
    let _ = n;
}
