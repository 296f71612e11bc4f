//! Panics: a block that panics is caught on the hakase and re-raised in its friend while the
//! hakase goes on serving the others; a friend that dies outside a block disturbs nobody.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};

use offload::CpuList;
use offload::prelude::*;

#[derive(Debug, PartialEq)]
struct BlockFailed(usize);

static COMPLETED: AtomicUsize = AtomicUsize::new(0);
static UNCAUGHT_LINE: AtomicUsize = AtomicUsize::new(0);

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
                    UNCAUGHT_LINE.store(line!() as usize + 1, Ordering::Relaxed);
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
    let line = UNCAUGHT_LINE.load(Ordering::Relaxed);
    assert_eq!(
        error.to_string(),
        format!(
            "friends panicked:\n  friend 0 panicked: friend 0 gives up\n  friend 1: the block \
             it offloaded at {}:{line}:21 panicked on the hakase, and the friend did not catch \
             the panic: uncaught in a block",
            file!()
        )
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
fn offload_outside_a_friend_panics_at_the_users_call_with_a_clear_message() {
    static AT: std::sync::Mutex<Option<(String, u32)>> = std::sync::Mutex::new(None);
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| (l.file().to_owned(), l.line()));
        *AT.lock().unwrap() = at;
    }));
    let line = line!() + 1;
    let result = panic::catch_unwind(|| offload!({ 1 }));
    panic::set_hook(hook);
    let message = result
        .unwrap_err()
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("which is not a friend"), "{message}");
    assert_eq!(*AT.lock().unwrap(), Some((file!().to_owned(), line)));
}

#[test]
fn bad_cpu_lists_are_clear_errors() {
    let error = FriendConfig::cpus("1-0").unwrap_err();
    assert!(
        error.to_string().starts_with("invalid CPU list \"1-0\""),
        "{error}"
    );
    let hakase = Hakase::new().unwrap();
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap();
    let online = online.trim();
    let error = hakase
        .spawn_friends(FriendConfig::cpus("511").unwrap(), |_| unreachable!())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("friend CPUs: this machine has no CPU 511 (its CPUs are {online})")
    );
    // 512 friends on mostly absent CPUs: one short error, not one line per friend.
    let error = hakase
        .spawn_friends(FriendConfig::cpus("0-511").unwrap(), |_| unreachable!())
        .unwrap_err();
    let text = error.to_string();
    assert!(text.len() < 200, "{} bytes: {text}", text.len());
    assert!(
        text.starts_with("friend CPUs: this machine has no CPU "),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("-511 (its CPUs are {online})")),
        "{text}"
    );
    // An empty CpuList fails like an empty string, instead of starting nobody.
    let error = hakase
        .spawn_friends(FriendConfig::on(CpuList::new()), |_| unreachable!())
        .unwrap_err();
    assert!(matches!(error, offload::Error::NoCpus), "{error}");
    assert_eq!(
        FriendConfig::cpus("").unwrap_err().to_string(),
        error.to_string()
    );
    // cpu_of knows how many friends there are.
    let config = FriendConfig::cpus("0").unwrap().count(2);
    assert_eq!(config.cpu_of(FriendId(1)), Some(0));
    assert_eq!(config.cpu_of(FriendId(2)), None);
    assert_eq!(
        hakase.friend_count(),
        0,
        "no failed start left a slot behind"
    );
    // The absent CPUs stay typed, beside the ones that exist.
    let error = hakase
        .spawn_friends(FriendConfig::cpus("0,511").unwrap(), |_| unreachable!())
        .unwrap_err();
    match &error {
        offload::Error::CpusAbsent { absent, existing } => {
            assert_eq!(absent.iter().collect::<Vec<_>>(), [511]);
            assert!(existing.contains(0));
        }
        other => panic!("expected CpusAbsent, got {other:?}"),
    }
}
