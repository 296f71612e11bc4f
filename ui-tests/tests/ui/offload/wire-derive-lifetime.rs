use std::borrow::Cow;

use offload::process::Wire;

#[derive(Wire)]
struct Note<'a> {
    text: Cow<'a, str>,
}

fn crosses<T: Wire>() {}

fn main() {
    crosses::<Note<'static>>();
}
