// A job and its continuation may run at the same time: they cannot both borrow `total` mutably.
use gears_runtime::pool::Worker;

fn race(w: &Worker) -> u64 {
    let mut total = 0;
    w.spawn(
        |_| total += 1,
        |_, handle| {
            total += 1;
            handle.sync()
        },
    );
    total
}

fn main() {}
