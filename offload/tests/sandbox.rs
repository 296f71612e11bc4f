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

/// Ordinary std code that does no I/O works in the sandboxed friend itself, each call of it
/// reviewed in the filter: random hash keys, sleeping, clocks, locks, channels, yielding.
#[test]
fn ordinary_no_io_std_code_works_in_a_sandboxed_friend() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    run(sandboxed(), |_| {
        let mut map = std::collections::HashMap::new(); // getrandom for its keys
        map.insert("a", 1);
        let set: std::collections::HashSet<u32> = (0..100).collect();
        let start = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(2)); // clock_nanosleep
        let slept = start.elapsed();
        let _wall = std::time::SystemTime::now();
        std::thread::yield_now(); // sched_yield
        let lock = std::sync::Mutex::new(0);
        *lock.lock().unwrap() += 1;
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(5).unwrap();
        let parallelism = std::thread::available_parallelism().map(|n| n.get());
        let big = vec![1u8; 8 << 20]; // a large allocation: mmap, then munmap
        let grown = {
            let mut v = vec![0u64; 1 << 16];
            v.resize(1 << 20, 1); // mremap
            v.len()
        };
        let pid = std::process::id();
        let results = vec![
            format!("map {:?} set {}", map.get("a"), set.len()),
            format!("slept {}", slept >= std::time::Duration::from_millis(2)),
            format!("lock {} channel {:?}", *lock.lock().unwrap(), rx.recv()),
            format!("parallelism {}", parallelism.is_ok()),
            format!("big {} grown {grown}", big.len()),
            format!("pid {}", pid == offload!({ std::process::id() })),
        ];
        offload!({ RESULTS.lock().unwrap().extend(results) });
    })
    .unwrap();
    let results = std::mem::take(&mut *RESULTS.lock().unwrap());
    assert_eq!(
        results,
        [
            "map Some(1) set 100",
            "slept true",
            "lock 1 channel Ok(5)",
            "parallelism true",
            "big 8388608 grown 1048576",
            "pid true",
        ]
    );
}

/// The thread's CPU time so far (CLOCK_THREAD_CPUTIME_ID).
fn thread_cpu_time() -> std::time::Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
    std::time::Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// An idle hakase parks: serving a friend that sleeps for 300 ms costs the hakase a small part
/// of a core (the bench's `offload.idle_hakase_cpu` measures it; the bound here is loose,
/// since load can only lower it), and the friend's request then wakes it.
#[test]
fn an_idle_hakase_parks_and_a_request_wakes_it() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(sandboxed(), |_| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            assert_eq!(offload!({ 6 * 7 }), 42);
        })
        .unwrap();
    let (cpu, wall) = (thread_cpu_time(), std::time::Instant::now());
    hakase.serve_until(|| friends.finished());
    let (cpu, wall) = (thread_cpu_time() - cpu, wall.elapsed());
    friends.join().unwrap();
    assert!(wall >= std::time::Duration::from_millis(300));
    assert!(
        cpu.as_secs_f64() < 0.2 * wall.as_secs_f64(),
        "the idle hakase used {cpu:?} of CPU in {wall:?}"
    );
}
