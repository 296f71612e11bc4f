// Disjoint mutable borrows go to the job and the continuation; the job borrows the caller's data.
use gears_runtime::pool::{Pool, Worker};

fn double(w: &Worker, data: &mut [u64]) {
    if data.len() < 2 {
        data.iter_mut().for_each(|x| *x *= 2);
        return;
    }
    let (left, right) = data.split_at_mut(data.len() / 2);
    w.spawn(|w| double(w, left), |w, handle| {
        double(w, right);
        handle.sync();
    });
}

fn main() {
    let pool = Pool::new(2).unwrap();
    let mut data: Vec<u64> = (0..100).collect();
    pool.install(|w| double(w, &mut data));
    assert!(data.iter().enumerate().all(|(i, &x)| x == 2 * i as u64));
}
