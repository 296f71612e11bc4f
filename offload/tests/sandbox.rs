//! `Sandbox::NoSyscalls`: the friend itself cannot do I/O (every attempt fails with EPERM), while
//! the same code inside `offload!` runs on the hakase and works; waiting, panicking and exiting in
//! the sandbox work too.

use std::io::{ErrorKind, Write};
use std::sync::Mutex;

use offload::prelude::*;

/// Friends of this binary run one at a time, so their results can go through one place.
static RESULTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn sandboxed() -> FriendConfig {
    FriendConfig::cpus("0")
        .unwrap()
        .sandbox(Sandbox::NoSyscalls)
}

fn run(
    config: FriendConfig,
    body: impl Fn(FriendId) + Send + Sync + 'static,
) -> Result<(), offload::Error> {
    let hakase = Hakase::new()?;
    let friends = hakase.spawn_friends(config, body)?;
    hakase.serve_until(|| friends.finished());
    friends.join()
}

#[test]
fn a_sandboxed_friend_cannot_do_io_but_its_offloaded_blocks_can() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    run(sandboxed(), |_| {
        // The friend's own attempts: EPERM from the filter.
        let open = std::fs::File::open("Cargo.toml").map(drop);
        let write = writeln!(std::io::stdout(), "the friend writes");
        let spawn = std::thread::Builder::new().spawn(|| ()).map(drop);
        // The same, offloaded: the hakase runs it.
        let (open_there, write_there) = offload!({
            (
                std::fs::File::open("Cargo.toml").map(drop),
                writeln!(std::io::stdout(), "an offloaded block writes"),
            )
        });
        let mut results = Vec::new();
        for (what, result) in [("open", open), ("write", write), ("spawn", spawn)] {
            let error = result.expect_err(what);
            results.push(format!(
                "{what}: {:?} {:?}",
                error.kind(),
                error.raw_os_error()
            ));
        }
        results.push(format!(
            "offloaded: {} {}",
            open_there.is_ok(),
            write_there.is_ok()
        ));
        offload!({ RESULTS.lock().unwrap().extend(results) });
    })
    .unwrap();
    let results = std::mem::take(&mut *RESULTS.lock().unwrap());
    let eperm = format!("{:?} {:?}", ErrorKind::PermissionDenied, Some(libc_eperm()));
    assert_eq!(
        results,
        [
            format!("open: {eperm}"),
            format!("write: {eperm}"),
            format!("spawn: {eperm}"),
            "offloaded: true true".to_owned(),
        ]
    );
}

/// Linux's EPERM (1 on every architecture Linux runs Rust on).
fn libc_eperm() -> i32 {
    1
}

/// Friends here are pinned to CPU 0; the tests of this binary run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

#[test]
fn unsandboxed_friends_can_do_io_themselves() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    run(FriendConfig::cpus("0").unwrap(), |_| {
        let open = std::fs::File::open("Cargo.toml").map(drop);
        assert!(open.is_ok(), "{open:?}");
    })
    .unwrap();
}

#[test]
fn a_panic_in_an_offloaded_block_unwinds_into_the_sandboxed_friend() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    run(sandboxed(), |_| {
        let caught = std::panic::catch_unwind(|| offload!({ panic!("hakase-side failure") }));
        let message = caught
            .unwrap_err()
            .downcast_ref::<&str>()
            .map(|s| s.to_string());
        // The friend goes on offloading after the panic.
        offload!({ RESULTS.lock().unwrap().push(format!("{message:?}")) });
    })
    .unwrap();
    let results = std::mem::take(&mut *RESULTS.lock().unwrap());
    assert_eq!(results, ["Some(\"hakase-side failure\")"]);
}

#[test]
fn a_sandboxed_friend_that_panics_ends_and_is_reported_by_join() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let error = run(sandboxed(), |_| {
        let v: Vec<u64> = (0..1000).collect(); // allocation works in the sandbox
        panic!("friend failed after summing to {}", v.iter().sum::<u64>());
    })
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "friends panicked:\n  friend 0 panicked: friend failed after summing to 499500"
    );
}

#[test]
fn a_sandboxed_friend_may_wait_by_yielding() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    run(
        sandboxed().wait(offload::WaitStrategy::SPIN_THEN_YIELD),
        |_| {
            std::thread::yield_now();
            let n = offload!({ 41 + 1 });
            assert_eq!(n, 42);
        },
    )
    .unwrap();
}
