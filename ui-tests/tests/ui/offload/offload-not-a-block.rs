use offload::prelude::*;

fn main() {
    let mut x = 0;
    offload!(x = 1);
    offload!({ x = 2 } { x = 3 });
    let _ = x;
}
