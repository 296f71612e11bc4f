// A job may run on another worker thread, so what it captures must be `Send`.
use std::rc::Rc;

use gears_runtime::pool::Worker;

fn not_send(w: &Worker) {
    let shared = Rc::new(5);
    w.spawn(move |_| *shared + 1, |_, handle| handle.sync());
}

fn main() {}
