//! What goes through an offload: small and big closures (inline in the slot or in the friend's
//! frame), small and big values, `move` blocks, values with destructors, each exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use offload::prelude::*;

/// Counts its drops.
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn on_a_friend(body: impl Fn(FriendId) + Send + Sync + 'static) {
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(FriendConfig::cpus("0").unwrap(), body)
        .unwrap();
    hakase.serve_until(|| friends.finished());
    friends.join().unwrap();
}

#[test]
fn small_and_big_closures_and_values_arrive_intact() {
    on_a_friend(|_| {
        let hakase = std::thread::current().id();
        assert_ne!(hakase, offload!({ std::thread::current().id() }));

        // Zero-sized closure and value.
        offload!({});
        // Small closure (one reference), writing a friend local.
        let mut x = 0u64;
        offload!({ x = 7 });
        assert_eq!(x, 7);
        // Big closure (five references, over three words), small value.
        let (a, b, c, d, e) = (1u64, 2u64, 3u64, 4u64, 5u64);
        assert_eq!(offload!({ a + b + c + d + e }), 15);
        // Big value (64 bytes) back through the friend's frame.
        let big: [u64; 8] = offload!({ core::array::from_fn(|i| i as u64 * a) });
        assert_eq!(big, [0, 1, 2, 3, 4, 5, 6, 7]);
        // Big closure and big value together.
        let both: [u64; 6] = offload!({ [a, b, c, d, e, x] });
        assert_eq!(both, [1, 2, 3, 4, 5, 7]);
        // Three words back inline: a `String` made on the hakase.
        let text = offload!({ format!("{a}-{b}") });
        assert_eq!(text, "1-2");
        // `move` copies the friend's values into the request.
        let (p, q) = (40u64, 2u64);
        assert_eq!(offload!(move { p + q }), 42);
        // A big `move` closure: a moved `String` and four integers.
        let owned = String::from("moved");
        let len = offload!(move { owned.len() as u64 + a + b + c + d });
        assert_eq!(len, 15);
    });
}

#[test]
fn moved_and_returned_values_are_dropped_exactly_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let seen = drops.clone();
    on_a_friend(move |_| {
        let moved = Counted(seen.clone());
        // Moved into the block, dropped on the hakase when the block ends.
        offload!(move {
            let _moved = moved;
        });
        assert_eq!(seen.load(Ordering::Relaxed), 1);
        // Made on the hakase, dropped by the friend.
        let back = offload!({ Counted(seen.clone()) });
        assert_eq!(seen.load(Ordering::Relaxed), 1);
        drop(back);
        assert_eq!(seen.load(Ordering::Relaxed), 2);
        // A big value with a destructor inside.
        let many: [Option<Counted>; 4] = offload!({
            [
                Some(Counted(seen.clone())),
                None,
                None,
                Some(Counted(seen.clone())),
            ]
        });
        drop(many);
        assert_eq!(seen.load(Ordering::Relaxed), 4);
        // A block that panics consumes its closure (and what it moved) once.
        let moved = Counted(seen.clone());
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            offload!(move {
                let _moved = moved;
                panic!("after taking it");
            })
        }));
        assert!(caught.is_err());
        assert_eq!(seen.load(Ordering::Relaxed), 5);
    });
    assert_eq!(drops.load(Ordering::Relaxed), 5);
}

#[test]
fn try_receive_returns_at_once_with_nothing_pending_and_serves_each_request_once() {
    use std::sync::atomic::AtomicBool;
    static GO: AtomicBool = AtomicBool::new(false);
    let hakase = Hakase::new().unwrap();
    assert_eq!(hakase.try_receive(), 0, "no friends at all");
    let friends = hakase
        .spawn_friends(FriendConfig::cpus("0").unwrap(), |_| {
            while !GO.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
            assert_eq!(offload!({ 5 }), 5);
        })
        .unwrap();
    // The friend is waiting for GO, not offloading: every look comes back empty-handed.
    for _ in 0..1_000 {
        assert_eq!(hakase.try_receive(), 0);
    }
    GO.store(true, Ordering::Release);
    let mut served = 0;
    while !friends.finished() {
        served += hakase.try_receive();
        std::thread::yield_now();
    }
    served += hakase.try_receive();
    friends.join().unwrap();
    assert_eq!(served, 1);
    assert_eq!(hakase.friend_count(), 1);
}
