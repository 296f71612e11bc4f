//! Hostile and crashing friends, each in a child process with a time limit (this test binary
//! re-executes itself with `OFFLOAD_CHILD` naming the case), so that a sandbox hole, a hang or a
//! crash fails its test instead of the suite.
//!
//! Escape attempts: making hakase code writable and executable, anonymous RWX memory, mapping a
//! file executable, `pkey_mprotect`, priority-inheritance and requeue futex operations, madvise
//! advice that is not an allocator's, signals other than an abort. Clean ends: `abort()`, a
//! panic while panicking, an allocation failure and a segmentation fault in a sandboxed friend
//! end the process with their usual signal; `OnDenied::KillProcess` ends it with `SIGSYS` and a
//! diagnostic naming the friend and the call; a dropped hakase, a hakase that does not serve in
//! time, and `join` before serving end with errors, not hangs.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use offload::prelude::*;

mod common;
use common::{assert_child_passed, is_child, run_child};

/// Asserts the child passed (its scenario's own assertions held).
fn assert_passed(case: &str) {
    assert_child_passed(case, Duration::from_secs(20));
}

fn sandboxed() -> FriendConfig {
    FriendConfig::cpus("0")
        .unwrap()
        .sandbox(Sandbox::NoSyscalls)
}

/// What the friend saw, reported through an offloaded block.
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Runs `body` on one sandboxed friend, serves it, and returns what it reported.
fn in_sandbox(
    config: FriendConfig,
    body: impl Fn() -> Vec<String> + Send + Sync + 'static,
) -> Vec<String> {
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(config, move |_| {
            let seen = body();
            offload!({ SEEN.lock().unwrap().extend(seen) });
        })
        .unwrap();
    friends.join().unwrap();
    std::mem::take(&mut *SEEN.lock().unwrap())
}

#[inline(never)]
fn hakase_code() -> u64 {
    std::hint::black_box(42)
}

const EPERM: i32 = libc::EPERM;

#[test]
fn making_hakase_code_writable_and_executable_is_denied() {
    const CASE: &str = "making_hakase_code_writable_and_executable_is_denied";
    if !is_child(CASE) {
        return assert_passed(CASE);
    }
    let seen = in_sandbox(sandboxed(), || {
        let page = (hakase_code as *const () as usize) & !4095;
        let rwx = libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC;
        // SAFETY: a denied call changes nothing; an allowed one would leave the page RWX, which
        // the test then reports.
        let r = unsafe { libc::mprotect(page as *mut libc::c_void, 4096, rwx) };
        let rwx_result = (r, errno());
        // SAFETY: as above, with read-execute (what a patcher restores after writing).
        let r = unsafe {
            libc::mprotect(
                page as *mut libc::c_void,
                4096,
                libc::PROT_READ | libc::PROT_EXEC,
            )
        };
        vec![format!("{rwx_result:?}"), format!("{:?}", (r, errno()))]
    });
    assert_eq!(
        seen,
        [format!("{:?}", (-1, EPERM)), format!("{:?}", (-1, EPERM))]
    );
    assert_eq!(hakase_code(), 42);
}

#[test]
fn executable_memory_cannot_be_mapped_but_plain_memory_can() {
    const CASE: &str = "executable_memory_cannot_be_mapped_but_plain_memory_can";
    if !is_child(CASE) {
        return assert_passed(CASE);
    }
    let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
    let seen = in_sandbox(sandboxed(), move || {
        let map = |prot: i32, flags: i32, fd: i32| {
            // SAFETY: a fresh mapping at an address the kernel chooses; unmapped right away.
            let p = unsafe { libc::mmap(core::ptr::null_mut(), 4096, prot, flags, fd, 0) };
            if p == libc::MAP_FAILED {
                format!("failed {}", errno())
            } else {
                // SAFETY: the mapping just made.
                unsafe { libc::munmap(p, 4096) };
                "mapped".to_owned()
            }
        };
        let anon = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        let mut seen = vec![
            map(rw | libc::PROT_EXEC, anon, -1),
            map(libc::PROT_READ | libc::PROT_EXEC, anon, -1),
            map(rw, anon, -1),
            map(libc::PROT_READ | libc::PROT_EXEC, libc::MAP_PRIVATE, fd),
            map(libc::PROT_READ, libc::MAP_PRIVATE, fd),
        ];
        // A plain page cannot be turned executable either.
        // SAFETY: as above.
        let p = unsafe { libc::mmap(core::ptr::null_mut(), 4096, rw, anon, -1, 0) };
        assert_ne!(p, libc::MAP_FAILED);
        // SAFETY: the mapping just made.
        let r = unsafe { libc::mprotect(p, 4096, libc::PROT_READ | libc::PROT_EXEC) };
        seen.push(format!("mprotect exec {r} {}", errno()));
        // SAFETY: as above; pkey 0 is the default key.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pkey_mprotect,
                p,
                4096,
                libc::PROT_READ | libc::PROT_EXEC,
                0,
            )
        };
        seen.push(format!("pkey_mprotect exec {r} {}", errno()));
        // SAFETY: the mapping just made.
        unsafe { libc::munmap(p, 4096) };
        seen
    });
    drop(file);
    let denied = format!("failed {EPERM}");
    assert_eq!(
        seen,
        [
            denied.clone(),
            denied.clone(),
            "mapped".to_owned(),
            denied.clone(),
            denied,
            format!("mprotect exec -1 {EPERM}"),
            format!("pkey_mprotect exec -1 {EPERM}"),
        ]
    );
}

#[test]
fn only_futex_waits_and_wakes_and_allocator_advice_are_allowed() {
    const CASE: &str = "only_futex_waits_and_wakes_and_allocator_advice_are_allowed";
    if !is_child(CASE) {
        return assert_passed(CASE);
    }
    let seen = in_sandbox(sandboxed(), || {
        let word = std::sync::atomic::AtomicU32::new(0);
        let futex = |op: i32| {
            // SAFETY: futex on a live aligned word; wake and the denied ops do not block, and
            // every other argument is unused by them or null.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    word.as_ptr(),
                    op,
                    1,
                    core::ptr::null::<u8>(),
                    word.as_ptr(),
                    0,
                )
            };
            format!("{r} {}", if r < 0 { errno() } else { 0 })
        };
        let private = libc::FUTEX_PRIVATE_FLAG;
        let mut seen = vec![
            futex(libc::FUTEX_WAKE | private),
            futex(libc::FUTEX_WAKE),
            futex(libc::FUTEX_LOCK_PI | private),
            futex(libc::FUTEX_TRYLOCK_PI),
            futex(libc::FUTEX_UNLOCK_PI | private),
            futex(libc::FUTEX_CMP_REQUEUE | private),
            futex(libc::FUTEX_REQUEUE),
            futex(libc::FUTEX_WAKE_OP | private),
            futex(libc::FUTEX_CMP_REQUEUE_PI | private),
        ];
        let rw = libc::PROT_READ | libc::PROT_WRITE;
        // SAFETY: a fresh private mapping, advised and unmapped.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                4096,
                rw,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        for advice in [
            libc::MADV_DONTNEED,
            libc::MADV_REMOVE,
            libc::MADV_MERGEABLE,
            libc::MADV_PAGEOUT,
        ] {
            // SAFETY: advice on our own mapping.
            let r = unsafe { libc::madvise(p, 4096, advice) };
            seen.push(format!("madvise {r} {}", if r < 0 { errno() } else { 0 }));
        }
        // A signal other than SIGABRT, even to ourselves: denied.
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        // SAFETY: if the filter let it through it would end this child, and the test would then
        // fail on the child's exit; denied, it does nothing.
        let r = unsafe { libc::syscall(libc::SYS_tgkill, std::process::id(), tid, libc::SIGKILL) };
        seen.push(format!("tgkill SIGKILL {r} {}", errno()));
        seen
    });
    let denied = format!("-1 {EPERM}");
    let mut expected = vec!["0 0".to_owned(), "0 0".to_owned()];
    expected.extend(std::iter::repeat_n(denied.clone(), 7));
    expected.push("madvise 0 0".to_owned());
    expected.extend(std::iter::repeat_n(format!("madvise {denied}"), 3));
    expected.push(format!("tgkill SIGKILL {denied}"));
    assert_eq!(seen, expected);
}

/// Ends the child's test in the way `how` does, from a sandboxed friend, while the hakase
/// serves.
fn crash_in_sandbox(how: fn()) {
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(sandboxed(), move |_| {
            offload!({});
            how();
        })
        .unwrap();
    let _ = friends.join();
    unreachable!("the friend's crash ends the process");
}

fn assert_killed_by(case: &str, signal: i32) -> String {
    let ended = run_child(case, Duration::from_secs(20));
    assert_eq!(
        (ended.code, ended.signal),
        (None, Some(signal)),
        "child {case}:\n{}",
        ended.output
    );
    ended.output
}

#[test]
fn abort_in_a_sandboxed_friend_ends_the_process_with_sigabrt() {
    const CASE: &str = "abort_in_a_sandboxed_friend_ends_the_process_with_sigabrt";
    if is_child(CASE) {
        crash_in_sandbox(|| std::process::abort());
    }
    assert_killed_by(CASE, libc::SIGABRT);
}

#[test]
fn a_panic_while_panicking_in_a_sandboxed_friend_aborts() {
    const CASE: &str = "a_panic_while_panicking_in_a_sandboxed_friend_aborts";
    if is_child(CASE) {
        crash_in_sandbox(|| {
            struct PanicsOnDrop;
            impl Drop for PanicsOnDrop {
                fn drop(&mut self) {
                    panic!("second panic, while unwinding");
                }
            }
            let _bomb = PanicsOnDrop;
            panic!("first panic");
        });
    }
    assert_killed_by(CASE, libc::SIGABRT);
}

#[test]
fn an_allocation_failure_in_a_sandboxed_friend_aborts() {
    const CASE: &str = "an_allocation_failure_in_a_sandboxed_friend_aborts";
    if is_child(CASE) {
        crash_in_sandbox(|| {
            std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u8; 4096]>());
        });
    }
    assert_killed_by(CASE, libc::SIGABRT);
}

#[test]
fn a_segfault_in_a_sandboxed_friend_ends_the_process_with_sigsegv() {
    const CASE: &str = "a_segfault_in_a_sandboxed_friend_ends_the_process_with_sigsegv";
    if is_child(CASE) {
        crash_in_sandbox(|| {
            // SAFETY: not safe at all: the fault is the point (std's handler must be able to
            // restore the default action so that the fault ends the process).
            unsafe { core::ptr::write_volatile(std::hint::black_box(8usize) as *mut u64, 1) };
        });
    }
    assert_killed_by(CASE, libc::SIGSEGV);
}

#[test]
fn kill_on_denied_ends_the_process_naming_the_friend_and_the_call() {
    const CASE: &str = "kill_on_denied_ends_the_process_naming_the_friend_and_the_call";
    if is_child(CASE) {
        let hakase = Hakase::new().unwrap();
        let friends = hakase
            .spawn_friends(
                FriendConfig::cpus("0")
                    .unwrap()
                    .count(2)
                    .sandbox(Sandbox::NoSyscalls)
                    .on_denied(OnDenied::KillProcess),
                |id| {
                    // Ordinary no-I/O std code is fine under KillProcess too.
                    let map: std::collections::HashMap<u32, u32> =
                        (0..10).map(|i| (i, i)).collect();
                    assert_eq!(offload!({ map.len() }), 10);
                    if id.0 == 1 {
                        let _ = std::fs::File::open("/etc/hostname");
                    }
                },
            )
            .unwrap();
        let _ = friends.join();
        unreachable!("the denied call ends the process");
    }
    let output = assert_killed_by(CASE, libc::SIGSYS);
    assert!(
        output.contains(&format!(
            "offload: friend 1 made the system call openat ({}), which its sandbox denies \
             (OnDenied::KillProcess); ending the process",
            libc::SYS_openat
        )),
        "{output}"
    );
}

#[test]
fn a_dropped_hakase_fails_the_offloading_friend_instead_of_hanging() {
    const CASE: &str = "a_dropped_hakase_fails_the_offloading_friend_instead_of_hanging";
    if !is_child(CASE) {
        return assert_passed(CASE);
    }
    static MESSAGE: Mutex<Option<String>> = Mutex::new(None);
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(FriendConfig::cpus("0").unwrap(), |_| {
            std::thread::sleep(Duration::from_millis(50));
            let caught = std::panic::catch_unwind(|| offload!({ 1 }));
            let payload = caught.unwrap_err();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "<not a string>".to_owned());
            *MESSAGE.lock().unwrap() = Some(message);
        })
        .unwrap();
    // Only a leak lets the hakase go while its friends may offload (Friends borrows it).
    std::mem::forget(friends);
    drop(hakase);
    let start = Instant::now();
    while MESSAGE.lock().unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the friend still waits"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let message = MESSAGE.lock().unwrap().clone().unwrap();
    assert!(
        message.contains("the hakase is gone") && message.contains("the block did not run"),
        "{message}"
    );
}

#[test]
fn join_before_serving_serves_instead_of_deadlocking() {
    const CASE: &str = "join_before_serving_serves_instead_of_deadlocking";
    if !is_child(CASE) {
        return assert_passed(CASE);
    }
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(FriendConfig::cpus("0-1").unwrap().count(3), |id| {
            for i in 0..1000 {
                assert_eq!(offload!({ i + id.0 }), i + id.0);
            }
        })
        .unwrap();
    friends.join().unwrap();
}

#[test]
fn a_friend_whose_request_the_hakase_does_not_take_in_time_fails_clearly() {
    const CASE: &str = "a_friend_whose_request_the_hakase_does_not_take_in_time_fails_clearly";
    if !is_child(CASE) {
        return assert_passed(CASE);
    }
    static RAN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(sandboxed().wait_timeout(Duration::from_millis(50)), |_| {
            // Served in time: fine (and cheap).
            offload!({});
            offload!({ RAN.store(true, std::sync::atomic::Ordering::Relaxed) });
        })
        .unwrap();
    // Serve the first request, then stop serving until the friend has given up (it ends), for
    // at most 10 s. On a starved machine this thread may not get a CPU within the friend's
    // 50 ms even for the first request: then that is the one given up on (and the friend ends
    // with the same error), so stop waiting for it once the friend has ended (waiting for a
    // request that will never come hung this test once, at nice 19 under load).
    while hakase.try_receive() == 0 && !friends.finished() {}
    let start = Instant::now();
    while !friends.finished() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the friend never gave up"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let error = friends.join().unwrap_err().to_string();
    assert!(
        error.contains(
            "friend 0 panicked: offload!: the hakase did not take this request within 50ms"
        ),
        "{error}"
    );
    assert!(
        !RAN.load(std::sync::atomic::Ordering::Relaxed),
        "the retracted block ran"
    );
}

#[test]
fn the_hakase_panic_report_names_the_friend_and_its_offload_site() {
    const CASE: &str = "the_hakase_panic_report_names_the_friend_and_its_offload_site";
    if is_child(CASE) {
        let hakase = Hakase::new().unwrap();
        let friends = hakase
            .spawn_friends(FriendConfig::cpus("0").unwrap().count(2), |id| {
                if id.0 == 1 {
                    let _ = std::panic::catch_unwind(|| offload!({ panic!("block fails") }));
                }
            })
            .unwrap();
        friends.join().unwrap();
        return;
    }
    let ended = run_child(CASE, Duration::from_secs(20));
    assert_eq!(ended.code, Some(0), "{}", ended.output);
    assert!(ended.output.contains("block fails"), "{}", ended.output);
    let offload_line = include_str!("hostile.rs")
        .lines()
        .position(|line| line.contains("offload!({ panic!(\"block fails\") })"))
        .unwrap()
        + 1;
    let note = format!(
        "note: the panicking block was offloaded by friend 1 at {}:{offload_line}:",
        file!()
    );
    assert!(
        ended.output.contains(&note),
        "{note}\nnot in:\n{}",
        ended.output
    );
}
