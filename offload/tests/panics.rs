//! Panics: a block that panics is caught on the hakase and re-raised in its friend while the
//! hakase goes on serving the others; a friend that dies outside a block disturbs nobody.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use offload::prelude::*;

#[derive(Debug, PartialEq)]
struct BlockFailed(usize);

static COMPLETED: AtomicUsize = AtomicUsize::new(0);

#[test]
fn panics_reach_their_friend_and_everyone_else_goes_on() {
    const CALLS: usize = 200;
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(FriendConfig::cpus("0-1").unwrap().count(4), |id| {
            match id.0 {
                // Friend 0 dies outside any block, right away.
                0 => panic!("friend 0 gives up"),
                // Friend 1: every 10th block panics on the hakase; the panic comes back here.
                1 => {
                    for i in 0..CALLS {
                        let result = panic::catch_unwind(AssertUnwindSafe(|| {
                            offload!({
                                if i % 10 == 0 {
                                    panic::panic_any(BlockFailed(i));
                                }
                                i + 1
                            })
                        }));
                        match result {
                            Ok(value) => assert_eq!(value, i + 1),
                            Err(payload) => {
                                assert_eq!(i % 10, 0);
                                assert_eq!(payload.downcast_ref(), Some(&BlockFailed(i)));
                            }
                        }
                    }
                    // A panic it does not catch ends it, like friend 0.
                    offload!({ panic!("uncaught in a block") });
                }
                // The others just offload.
                _ => {
                    for i in 0..CALLS {
                        assert_eq!(offload!({ i * 2 }), i * 2);
                    }
                    COMPLETED.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .unwrap();
    // Keep the expected panics' messages out of the test output.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    hakase.serve_until(|| friends.finished());
    let error = friends.join().unwrap_err();
    panic::set_hook(hook);
    assert_eq!(COMPLETED.load(Ordering::Relaxed), 2);
    assert_eq!(
        error.to_string(),
        "friends panicked outside an offloaded block:\n  friend 0 panicked: friend 0 gives up\n  \
         friend 1 panicked: uncaught in a block"
    );
    // The hakase still serves new friends.
    let friends = hakase
        .spawn_friends(FriendConfig::cpus("0").unwrap(), |_| {
            assert_eq!(offload!({ 7 }), 7)
        })
        .unwrap();
    hakase.serve_until(|| friends.finished());
    friends.join().unwrap();
}

#[test]
#[should_panic(expected = "which is not a friend")]
fn offload_outside_a_friend_panics_with_a_clear_message() {
    offload!({ 1 });
}

#[test]
fn bad_cpu_lists_are_clear_errors() {
    let error = FriendConfig::cpus("1-0").unwrap_err();
    assert!(
        error.to_string().starts_with("invalid CPU list \"1-0\""),
        "{error}"
    );
    let hakase = Hakase::new().unwrap();
    let error = hakase
        .spawn_friends(FriendConfig::cpus("511").unwrap(), |_| unreachable!())
        .unwrap_err();
    assert!(
        error.to_string().starts_with(
            "could not start the friends (none ran):\n  friend 0: could not pin to CPU 511"
        ),
        "{error}"
    );
    // The cause stays typed: the friend, the CPU and the affinity error.
    match &error {
        offload::Error::FriendStart(failures) => match failures.as_slice() {
            [
                offload::FriendStartError::Pin {
                    id: FriendId(0),
                    cpu: 511,
                    source: gears_runtime::cpu_list::AffinityError::SetAffinity { .. },
                },
            ] => {}
            other => panic!("expected one pin failure of friend 0, got {other:?}"),
        },
        other => panic!("expected FriendStart, got {other:?}"),
    }
}
