// A job handle may not leave the continuation `spawn` gives it to: the job lives in `spawn`'s
// frame, which ends when `spawn` returns.
use gears_runtime::pool::Worker;

fn escape(w: &Worker) {
    let handle = w.spawn(|_| 1, |_, handle| handle);
    let _ = handle;
}

fn main() {}
