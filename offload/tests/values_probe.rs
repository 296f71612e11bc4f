//! Values at their edges: zero-sized arguments and results, vectors of zero-sized elements,
//! empty strings and slices, large blocks and results through a thread friend's slot, and
//! calls made where they cannot be (an `offload!` inside an offloaded block, `remote` on the
//! hakase). Each scenario runs in a child process with a time limit.

use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use offload::prelude::*;
use offload::process::{RemoteError, Wire};

mod common;
use common::{assert_child_passed, is_child};

/// A zero-sized user type.
#[derive(Debug, Clone, Copy, PartialEq, Wire)]
pub struct Marker;

mod shared {
    offload::declare_exports! {
        pub fn hakase_count_units(units: Vec<()>) -> usize;
        pub fn hakase_lengths(text: &str, values: &[u32], empty: Vec<String>) -> (usize, usize, usize);
        #[remote]
        pub fn hakase_count_markers(markers: Vec<super::Marker>) -> usize;
        pub fn hakase_nested_remote() -> String;
    }
}

/// How many units arrived.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_count_units(units: Vec<()>) -> usize {
    units.len()
}

/// How long each argument is.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_lengths(text: &str, values: &[u32], empty: Vec<String>) -> (usize, usize, usize) {
    (text.len(), values.len(), empty.len())
}

/// How many markers arrived.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_count_markers(markers: Vec<Marker>) -> usize {
    markers.len()
}

/// A hakase function that tries a remote call itself (it runs on the hakase, not a friend).
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_nested_remote() -> String {
    match shared::hakase_count_units::remote(Vec::new()) {
        Ok(n) => format!("nested remote answered {n}"),
        Err(e) => format!("nested remote refused: {e}"),
    }
}

fn zero_sized_friend(_: FriendId) {
    assert_eq!(shared::hakase_count_units::remote(Vec::new()), Ok(0));
    assert_eq!(shared::hakase_count_units::remote(vec![(); 10]), Ok(10));
    assert_eq!(
        shared::hakase_count_markers::remote(vec![Marker; 1000]),
        Ok(1000)
    );
    assert_eq!(
        shared::hakase_lengths::remote("", &[], Vec::new()),
        Ok((0, 0, 0))
    );
    let nested = shared::hakase_nested_remote::remote().unwrap();
    assert!(
        nested.contains("refused") && nested.contains("process friends"),
        "{nested}"
    );
}

#[test]
fn zero_sized_and_empty_values_cross_to_a_process_friend() {
    const CASE: &str = "zero_sized_and_empty_values_cross_to_a_process_friend";
    if !is_child(CASE) {
        return drop(assert_child_passed(CASE, Duration::from_secs(30)));
    }
    let hakase = Hakase::new().unwrap();
    let config = FriendConfig::cpus("0").unwrap().process();
    hakase
        .spawn_friends(config, zero_sized_friend)
        .unwrap()
        .join()
        .unwrap();
    // On the hakase itself, `remote` is refused with the error that says where it belongs.
    assert_eq!(
        shared::hakase_count_units::remote(Vec::new()),
        Err(RemoteError::NotProcessFriend)
    );
}

#[test]
fn thread_friends_pass_zero_sized_and_large_values_and_nested_offloads_fail_cleanly() {
    const CASE: &str =
        "thread_friends_pass_zero_sized_and_large_values_and_nested_offloads_fail_cleanly";
    if !is_child(CASE) {
        return drop(assert_child_passed(CASE, Duration::from_secs(30)));
    }
    let hakase = Hakase::new().unwrap();
    let config = FriendConfig::cpus("0")
        .unwrap()
        .sandbox(Sandbox::NoSyscalls);
    let friends = hakase
        .spawn_friends(config, |_| {
            // Zero-sized block and value.
            let unit: () = offload!(move {});
            let marker = offload!(move { Marker });
            assert_eq!((unit, marker), ((), Marker));
            // A block that captures 64 KiB by value and returns 32 KiB.
            let big = Box::new([7u8; 64 * 1024]);
            let sum: u64 = offload!(move { big.iter().map(|&b| u64::from(b)).sum() });
            assert_eq!(sum, 7 * 64 * 1024);
            let table: [u64; 4096] = offload!(move { std::array::from_fn(|i| i as u64 * 3) });
            assert_eq!(table[4095], 4095 * 3);
            // An offload inside an offloaded block runs on the hakase, which is no friend: it
            // panics there, and the panic comes back to this friend.
            let nested = panic::catch_unwind(AssertUnwindSafe(|| offload!({ offload!({ 1 }) })));
            let payload = nested.expect_err("a nested offload! panics");
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            assert!(message.contains("not a friend"), "{message}");
            // And the friend goes on offloading.
            assert_eq!(offload!(move { 40 + 2 }), 42);
        })
        .unwrap();
    friends.join().unwrap();
}

/// The threads of this process, from `/proc/self/status`.
fn process_threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn absurd_friend_counts_are_refused_before_any_friend_starts() {
    const CASE: &str = "absurd_friend_counts_are_refused_before_any_friend_starts";
    if !is_child(CASE) {
        return drop(assert_child_passed(CASE, Duration::from_secs(30)));
    }
    let hakase = Hakase::new().unwrap();
    let before = process_threads();
    for requested in [offload::MAX_FRIENDS + 1, 100_000, usize::MAX] {
        for config in [
            FriendConfig::cpus("0").unwrap().count(requested),
            FriendConfig::cpus("0").unwrap().count(requested).process(),
        ] {
            let err = hakase.spawn_friends(config, zero_sized_friend).unwrap_err();
            assert!(
                matches!(err, offload::Error::TooManyFriends { requested: r, max }
                    if r == requested && max == offload::MAX_FRIENDS),
                "{err:?}"
            );
            assert!(err.to_string().contains(&requested.to_string()), "{err}");
        }
    }
    assert_eq!(process_threads(), before, "no friend thread was started");
    assert_eq!(hakase.friend_count(), 0);
    // count(0) is fine: nothing to start, nothing to join.
    hakase
        .spawn_friends(FriendConfig::cpus("0").unwrap().count(0), zero_sized_friend)
        .unwrap()
        .join()
        .unwrap();
}
