use offload::process::Wire;

#[derive(Wire)]
struct Sample {
    value: u32,
    taken: std::time::Instant,
}

fn crosses<T: Wire>() {}

fn main() {
    crosses::<Sample>();
}
