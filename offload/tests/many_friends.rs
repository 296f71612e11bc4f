//! Several friends contending: every request of every friend is served exactly once, on the
//! hakase, with its own answer.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use offload::prelude::*;

const FRIENDS: usize = 8;
/// Per friend (800,000 in all: about a second in a debug build on the 2-core dev machine).
const REQUESTS: usize = 100_000;

thread_local! {
    /// Lives on the hakase thread (offloaded blocks run there): times each request was served.
    static SERVED: RefCell<Vec<u8>> = RefCell::new(vec![0; FRIENDS * REQUESTS]);
}

static FRIEND_CHECKS: AtomicUsize = AtomicUsize::new(0);

#[test]
fn eight_friends_every_request_served_exactly_once() {
    let hakase_thread = std::thread::current().id();
    let hakase = Hakase::new().unwrap();
    let start = Instant::now();
    let friends = hakase
        .spawn_friends(
            FriendConfig::cpus("0-1").unwrap().count(FRIENDS),
            move |id| {
                let mut checked = 0;
                for seq in 0..REQUESTS {
                    let request = id.0 * REQUESTS + seq;
                    let mut seen_by_friend = 0u8;
                    let (answer, ran_on) = offload!({
                        let times = SERVED.with_borrow_mut(|served| {
                            served[request] += 1;
                            served[request]
                        });
                        seen_by_friend = times; // a friend local, written on the hakase
                        (request * 3 + 1, std::thread::current().id())
                    });
                    assert_eq!(
                        (answer, ran_on, seen_by_friend),
                        (request * 3 + 1, hakase_thread, 1)
                    );
                    checked += 1;
                }
                FRIEND_CHECKS.fetch_add(checked, Ordering::Relaxed);
            },
        )
        .unwrap();
    hakase.serve_until(|| friends.finished());
    friends.join().unwrap();
    let elapsed = start.elapsed();
    assert_eq!(FRIEND_CHECKS.load(Ordering::Relaxed), FRIENDS * REQUESTS);
    SERVED.with_borrow(|served| {
        let wrong: Vec<(usize, u8)> = served
            .iter()
            .copied()
            .enumerate()
            .filter(|&(_, n)| n != 1)
            .take(10)
            .collect();
        assert!(
            wrong.is_empty(),
            "(request, times served) not once: {wrong:?}"
        );
    });
    eprintln!(
        "{} requests from {FRIENDS} friends in {elapsed:?}",
        FRIENDS * REQUESTS
    );
}
