// A `&Worker` belongs to the thread of that worker: it cannot be moved to another thread.
use gears_runtime::pool::Worker;

fn leak(w: &Worker) {
    std::thread::scope(|s| {
        s.spawn(|| w.index());
    });
}

fn main() {}
