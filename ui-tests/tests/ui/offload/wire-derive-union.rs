use offload::process::Wire;

#[derive(Wire)]
union Bits {
    int: u32,
    float: f32,
}

fn crosses<T: Wire>() {}

fn main() {
    crosses::<Bits>();
}
