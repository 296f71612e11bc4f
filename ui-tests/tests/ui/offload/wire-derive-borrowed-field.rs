use offload::process::Wire;

#[derive(Wire)]
struct Name<'a> {
    text: &'a str,
    parts: Vec<&'a [u8]>,
}

fn crosses<T: Wire>() {}

fn main() {
    crosses::<Name<'static>>();
}
