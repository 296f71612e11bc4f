use offload::process::Wire;

#[derive(Wire)]
enum Handle {
    Raw(*const u8),
    Callback { run: fn(u32) -> u32 },
    Object(Box<dyn Send>),
}

fn crosses<T: Wire>() {}

fn main() {
    crosses::<Handle>();
}
