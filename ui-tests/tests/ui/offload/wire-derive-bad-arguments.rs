use offload::process::Wire;

#[derive(Wire)]
#[wire(crates = offload)]
struct Point {
    x: i32,
}

fn crosses<T: Wire>() {}

fn main() {
    crosses::<Point>();
}
