//! Thread friends that end their OS thread without returning from their body (a raw `exit`
//! system call, as C code's `pthread_exit` would): the hakase must notice, stop waiting for
//! them, and say so from `join`, instead of serving forever. Each case runs in a child process
//! with a time limit.

use std::time::Duration;

use offload::prelude::*;

mod common;
use common::{assert_child_passed, is_child};

/// Ends the calling OS thread without unwinding or running any destructor.
fn raw_thread_exit() -> ! {
    // SAFETY: SYS_exit ends only the calling thread; nothing of this thread's stack is used
    // again (what the body holds is leaked with it).
    unsafe { libc::syscall(libc::SYS_exit, 0) };
    unreachable!("SYS_exit returned")
}

fn vanishing_friends(config: FriendConfig) {
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(config.count(3), |id| {
            assert_eq!(offload!(move { id.0 * 2 }), id.0 * 2);
            if id.0 == 1 {
                raw_thread_exit();
            }
            assert_eq!(offload!(move { id.0 + 1 }), id.0 + 1);
        })
        .unwrap();
    let err = friends.join().unwrap_err();
    let text = err.to_string();
    println!("{text}");
    match &err {
        offload::Error::FriendsPanicked(panics) => {
            assert_eq!(panics.len(), 1, "{panics:?}");
            assert_eq!(panics[0].id, FriendId(1));
            assert!(
                panics[0].message.contains("without returning"),
                "{panics:?}"
            );
        }
        other => panic!("expected the vanished friend in FriendsPanicked, got {other:?}"),
    }
    // The hakase serves on: a later friend is served as usual.
    hakase
        .spawn_friends(FriendConfig::cpus("0").unwrap(), |_| {
            assert_eq!(offload!({ 5 }), 5);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_friend_thread_that_exits_without_returning_ends_join_with_an_error() {
    const CASE: &str = "a_friend_thread_that_exits_without_returning_ends_join_with_an_error";
    if !is_child(CASE) {
        return drop(assert_child_passed(CASE, Duration::from_secs(20)));
    }
    vanishing_friends(FriendConfig::cpus("0").unwrap());
}

#[test]
fn a_sandboxed_friend_thread_that_exits_without_returning_ends_join_with_an_error() {
    const CASE: &str =
        "a_sandboxed_friend_thread_that_exits_without_returning_ends_join_with_an_error";
    if !is_child(CASE) {
        return drop(assert_child_passed(CASE, Duration::from_secs(20)));
    }
    vanishing_friends(
        FriendConfig::cpus("0")
            .unwrap()
            .sandbox(Sandbox::NoSyscalls),
    );
}
