//! The handoff slot's ends are exclusive: sharing one end between threads would let two
//! clients (or servers) race on the payload, so neither is `Sync`.

use gears_runtime::handoff;

fn main() {
    let (client, server) = handoff::slot::<u64, u64>();
    std::thread::scope(|s| {
        s.spawn(|| client.call(1, &handoff::WaitStrategy::SPIN_ONLY));
        s.spawn(|| client.call(2, &handoff::WaitStrategy::SPIN_ONLY));
        s.spawn(|| server.try_serve(|x| x));
    });
}
