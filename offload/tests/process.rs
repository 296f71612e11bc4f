//! Process friends: calls that cross, a secret that does not, faults that end one friend and
//! not the others, a hung friend stopped, friends that die with their hakase. Each scenario
//! runs in a child process with a time limit (this test binary re-executes itself with
//! `OFFLOAD_CHILD` naming the case); the friend processes are fresh executions of the same
//! binary, which the crate's constructor turns into friends before the test harness starts.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use offload::prelude::*;
use offload::process::{FriendExit, RemoteError};

mod shared {
    offload::declare_exports! {
        pub fn hakase_add(a: i64, b: i64) -> i64;
        pub fn hakase_greet(name: &str) -> String;
        pub fn hakase_sum(values: &[u32]) -> u64;
        pub fn hakase_shape(flag: bool, small: Option<u8>, words: Vec<String>) -> (usize, Vec<bool>);
        pub fn hakase_report(what: &str);
        pub fn hakase_panics(x: u8) -> u8;
        pub fn hakase_kill_reported();
        pub fn hakase_reports() -> u64;
        /// Own types cross when the declaration says `#[remote]`.
        #[remote]
        pub fn hakase_area(shape: super::Shape, scale: Option<super::Scale>) -> Result<super::Area, String>;
        #[remote]
        pub fn hakase_shapes(sides: &[u8]) -> Vec<super::Shape>;
    }
}

/// A user type that crosses processes.
#[derive(Debug, PartialEq, offload::process::Wire)]
pub enum Shape {
    /// A square.
    Square {
        /// Its side.
        side: u32,
    },
    /// A polygon.
    Polygon(Vec<(i32, i32)>),
    /// Nothing.
    Nothing,
}

/// A user type that crosses processes (not `Clone`: it is moved to the hakase function).
#[derive(Debug, PartialEq, offload::process::Wire)]
pub struct Scale(pub u32);

/// A user type that crosses processes.
#[derive(Debug, PartialEq, offload::process::Wire)]
pub struct Area {
    /// How much.
    pub value: u64,
    /// Of what.
    pub of: String,
}

/// A hakase function taking and returning user types.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_area(shape: Shape, scale: Option<Scale>) -> Result<Area, String> {
    let scale = u64::from(scale.map_or(1, |Scale(s)| s));
    match shape {
        Shape::Square { side } => Ok(Area {
            value: u64::from(side) * u64::from(side) * scale,
            of: "square".into(),
        }),
        Shape::Polygon(points) => Ok(Area {
            value: points.len() as u64 * scale,
            of: format!("{}-gon", points.len()),
        }),
        Shape::Nothing => Err("nothing has no area".into()),
    }
}

/// A hakase function returning user types.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_shapes(sides: &[u8]) -> Vec<Shape> {
    sides
        .iter()
        .map(|&n| match n {
            0 => Shape::Nothing,
            4 => Shape::Square { side: 1 },
            n => Shape::Polygon(vec![(0, 0); usize::from(n)]),
        })
        .collect()
}

static ADDS: AtomicU64 = AtomicU64::new(0);
static REPORTS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Set by the hakase before it starts friends: a friend must not see it.
static SECRET: Mutex<String> = Mutex::new(String::new());

/// A hakase function the friends call.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_add(a: i64, b: i64) -> i64 {
    ADDS.fetch_add(1, Ordering::Relaxed);
    a + b
}

/// A hakase function the friends call.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_greet(name: &str) -> String {
    format!("hello, {name}")
}

/// A hakase function the friends call.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_sum(values: &[u32]) -> u64 {
    values.iter().map(|&v| u64::from(v)).sum()
}

/// A hakase function the friends call.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_shape(flag: bool, small: Option<u8>, words: Vec<String>) -> (usize, Vec<bool>) {
    (
        words.len() + usize::from(small.unwrap_or(0)),
        vec![flag, !flag],
    )
}

/// A hakase function the friends call.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_report(what: &str) {
    REPORTS.lock().unwrap().push(what.to_owned());
}

/// A hakase function the friends call.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_panics(x: u8) -> u8 {
    assert!(x < 10, "x is too big");
    x
}

/// Kills the friend whose pid was reported, while its next request waits (the hakase is busy
/// here): that request must not be served, and its exit says so.
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_kill_reported() {
    let pid: i32 = REPORTS.lock().unwrap()[0].parse().unwrap();
    // Time for the victim to make its next request, which waits while the hakase is here
    // (generous: the machine may be loaded).
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: sends a signal to a child of this process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    // Time for the watcher to see it end, before the hakase looks at its request.
    std::thread::sleep(Duration::from_millis(300));
}

mod common;
use common::{assert_child_passed, is_child};

fn assert_passed(case: &str) -> String {
    assert_child_passed(case, Duration::from_secs(30))
}

fn one_friend() -> FriendConfig {
    FriendConfig::cpus("0").unwrap().process()
}

fn calling_friend(_: FriendId) {
    assert_eq!(shared::hakase_add::remote(40, 2), Ok(42));
    assert_eq!(
        shared::hakase_greet::remote("friend").as_deref(),
        Ok("hello, friend")
    );
    assert_eq!(
        shared::hakase_sum::remote(&[1, 2, 3, u32::MAX]),
        Ok(6 + u64::from(u32::MAX))
    );
    assert_eq!(
        shared::hakase_shape::remote(true, Some(3), vec!["a".into(), "é".into()]),
        Ok((5, vec![true, false]))
    );
    // A panic in the hakase function is an error reply; the hakase goes on.
    let refused = shared::hakase_panics::remote(200).unwrap_err();
    assert!(
        matches!(&refused, RemoteError::Refused(why) if why.contains("x is too big")),
        "{refused}"
    );
    assert_eq!(shared::hakase_panics::remote(7), Ok(7));
    // Too big for the region: refused on the friend's side, nothing sent.
    let big = vec![0u32; 20_000];
    assert!(matches!(
        shared::hakase_sum::remote(&big),
        Err(RemoteError::TooLarge { .. })
    ));
    // Own types, derived.
    assert_eq!(
        shared::hakase_area::remote(Shape::Square { side: 3 }, Some(Scale(2))),
        Ok(Ok(Area {
            value: 18,
            of: "square".into()
        }))
    );
    assert_eq!(
        shared::hakase_area::remote(Shape::Polygon(vec![(1, 1); 5]), None),
        Ok(Ok(Area {
            value: 5,
            of: "5-gon".into()
        }))
    );
    assert_eq!(
        shared::hakase_area::remote(Shape::Nothing, None),
        Ok(Err("nothing has no area".to_owned()))
    );
    assert_eq!(
        shared::hakase_shapes::remote(&[0, 4, 3]),
        Ok(vec![
            Shape::Nothing,
            Shape::Square { side: 1 },
            Shape::Polygon(vec![(0, 0); 3])
        ])
    );
    // The hakase's secret is not in this process: its memory is the binary's first image.
    let secret = SECRET.lock().unwrap().clone();
    shared::hakase_report::remote(&format!("secret seen: {secret:?}")).unwrap();
    // And the kernel will not give it: no file, no other process's memory.
    let mem = std::fs::read("/proc/self/status")
        .map(|_| ())
        .map_err(|e| e.raw_os_error());
    shared::hakase_report::remote(&format!("read a file: {mem:?}")).unwrap();
    let ppid = std::os::unix::process::parent_id();
    let vm = std::fs::File::open(format!("/proc/{ppid}/mem"))
        .map(|_| ())
        .map_err(|e| e.raw_os_error());
    shared::hakase_report::remote(&format!("open hakase memory: {vm:?}")).unwrap();
}

#[test]
fn calls_cross_with_their_values_and_the_secret_does_not() {
    const CASE: &str = "calls_cross_with_their_values_and_the_secret_does_not";
    if !is_child(CASE) {
        assert_passed(CASE);
        return;
    }
    *SECRET.lock().unwrap() = "hunter2".to_owned();
    let hakase = Hakase::new().unwrap();
    let friends = hakase.spawn_friends(one_friend(), calling_friend).unwrap();
    assert_eq!(friends.len(), 1);
    friends.join().unwrap();
    assert_eq!(
        *REPORTS.lock().unwrap(),
        [
            "secret seen: \"\"".to_owned(),
            format!("read a file: Err(Some({}))", libc::EPERM),
            format!("open hakase memory: Err(Some({}))", libc::EPERM),
        ]
    );
    assert_eq!(ADDS.load(Ordering::Relaxed), 1);
}

#[test]
fn a_body_that_captures_is_refused_before_anything_starts() {
    let hakase = Hakase::new().unwrap();
    let name = String::from("captured");
    let error = hakase
        .spawn_friends(one_friend(), move |_| {
            let _ = name.len();
        })
        .unwrap_err();
    assert!(matches!(error, offload::Error::ProcessBody(_)), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("must be a fn item or a closure that captures nothing"),
        "{error}"
    );
    assert_eq!(hakase.friend_count(), 0);
}

fn offloading_friend(_: FriendId) {
    let x = 1;
    let _ = offload!({ x + 1 });
}

/// Not a friend body itself: a function one calls.
fn helper_that_offloads() -> i32 {
    let x = 1;
    offload!({ x + 1 })
}

fn friend_calling_an_offloading_helper(_: FriendId) {
    let _ = helper_that_offloads();
}

#[test]
fn offload_in_a_process_friend_body_is_refused_before_it_starts() {
    const CASE: &str = "offload_in_a_process_friend_body_is_refused_before_it_starts";
    if !is_child(CASE) {
        assert_passed(CASE);
        return;
    }
    let hakase = Hakase::new().unwrap();
    let error = hakase
        .spawn_friends(one_friend(), offloading_friend)
        .unwrap_err();
    let offload::Error::OffloadInProcess { body, site } = &error else {
        panic!("{error:?}");
    };
    assert!(body.ends_with("offloading_friend"), "{body}");
    assert!(site.starts_with("offload/tests/process.rs:"), "{site}");
    let text = error.to_string();
    assert!(text.contains("cannot cross processes"), "{text}");
    assert!(text.contains("declare_exports!"), "{text}");
    assert!(text.contains("remote("), "{text}");
    // Nothing started, and the same body runs as a thread friend.
    let friends = hakase
        .spawn_friends(FriendConfig::cpus("0").unwrap(), offloading_friend)
        .unwrap();
    friends.join().unwrap();
}

#[test]
fn offload_reached_through_a_call_in_a_process_friend_says_what_to_write_instead() {
    const CASE: &str =
        "offload_reached_through_a_call_in_a_process_friend_says_what_to_write_instead";
    if !is_child(CASE) {
        assert_passed(CASE);
        return;
    }
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(one_friend(), friend_calling_an_offloading_helper)
        .unwrap();
    let error = friends.join().unwrap_err();
    let offload::Error::FriendsFailed(exits) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(exits.len(), 1);
    let (id, FriendExit::Panicked { message }) = &exits[0] else {
        panic!("{exits:?}");
    };
    assert_eq!(*id, FriendId(0));
    assert!(
        message.contains("offload! cannot cross processes"),
        "{message}"
    );
    assert!(message.contains("remote("), "{message}");
    // Outside a process friend, `remote` says what it is for.
    assert_eq!(
        shared::hakase_add::remote(1, 2),
        Err(RemoteError::NotProcessFriend)
    );
}

fn faulty_friend(id: FriendId) {
    match id.0 {
        1 => std::process::abort(),
        // SAFETY: not safe at all: this friend crashes on purpose.
        2 => unsafe { core::ptr::null_mut::<u64>().write_volatile(1) },
        3 => panic!("friend 3 gives up"),
        _ => {
            for i in 0..500 {
                assert_eq!(shared::hakase_add::remote(i, 1), Ok(i + 1));
            }
        }
    }
}

#[test]
fn a_crash_ends_one_friend_and_the_others_are_served() {
    const CASE: &str = "a_crash_ends_one_friend_and_the_others_are_served";
    if !is_child(CASE) {
        assert_passed(CASE);
        return;
    }
    let hakase = Hakase::new().unwrap();
    let config = FriendConfig::cpus("0-1").unwrap().count(4).process();
    let friends = hakase.spawn_friends(config, faulty_friend).unwrap();
    let error = friends.join().unwrap_err();
    let offload::Error::FriendsFailed(exits) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        exits[..2],
        [
            (
                FriendId(1),
                FriendExit::Killed {
                    signal: libc::SIGABRT,
                    in_flight: None,
                }
            ),
            (
                FriendId(2),
                FriendExit::Killed {
                    signal: libc::SIGSEGV,
                    in_flight: None,
                }
            ),
        ]
    );
    assert!(
        matches!(&exits[2], (FriendId(3), FriendExit::Panicked { message }) if message.starts_with("friend 3 gives up (at ")),
        "{exits:?}"
    );
    assert_eq!(exits.len(), 3, "friend 0 returned: {exits:?}");
    assert_eq!(ADDS.load(Ordering::Relaxed), 500);
    assert!(
        error
            .to_string()
            .contains("friend 2 was killed by signal 11 (SIGSEGV)"),
        "{error}"
    );
}

fn hung_friend(_: FriendId) {
    shared::hakase_report::remote("about to hang").unwrap();
    loop {
        std::hint::spin_loop();
    }
}

#[test]
fn a_hung_friend_can_be_stopped() {
    const CASE: &str = "a_hung_friend_can_be_stopped";
    if !is_child(CASE) {
        assert_passed(CASE);
        return;
    }
    let hakase = Hakase::new().unwrap();
    let friends = hakase.spawn_friends(one_friend(), hung_friend).unwrap();
    let start = Instant::now();
    hakase.serve_until(|| start.elapsed() > Duration::from_millis(300));
    assert!(!friends.finished());
    assert!(friends.stop(FriendId(0)));
    let error = friends.join().unwrap_err();
    let offload::Error::FriendsFailed(exits) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        exits,
        &[(FriendId(0), FriendExit::Stopped { in_flight: None })]
    );
    assert_eq!(*REPORTS.lock().unwrap(), ["about to hang"]);
}

fn pid_then_hang(_: FriendId) {
    shared::hakase_report::remote(&std::process::id().to_string()).unwrap();
    loop {
        std::hint::spin_loop();
    }
}

#[test]
fn friends_die_with_their_hakase() {
    const CASE: &str = "friends_die_with_their_hakase";
    if !is_child(CASE) {
        let output = assert_passed(CASE);
        let pid = friend_pid_in(&output);
        assert_gone_within_5s(pid);
        return;
    }
    let hakase = Hakase::new().unwrap();
    let friends = hakase.spawn_friends(one_friend(), pid_then_hang).unwrap();
    hakase.serve_until(|| !REPORTS.lock().unwrap().is_empty());
    println!("friend pid {}", REPORTS.lock().unwrap()[0]);
    // The hakase ends without joining or dropping anything: the kernel kills the friend.
    std::mem::forget(friends);
    std::process::exit(0);
}

#[test]
fn start_up_failures_start_nobody() {
    let hakase = Hakase::new().unwrap();
    let error = hakase
        .spawn_friends(FriendConfig::cpus("200").unwrap().process(), calling_friend)
        .unwrap_err();
    assert!(
        matches!(error, offload::Error::CpusAbsent { .. }),
        "{error:?}"
    );
}

fn killer_or_victim(id: FriendId) {
    if id.0 == 1 {
        shared::hakase_report::remote(&std::process::id().to_string()).unwrap();
        loop {
            let _ = shared::hakase_add::remote(1, 1);
        }
    }
    // Friend 0: once the victim has said who it is, has the hakase kill it mid-request.
    while REPORTS_SEEN.load(Ordering::Relaxed) == 0 {
        let seen = shared::hakase_reports::remote().unwrap();
        REPORTS_SEEN.store(seen, Ordering::Relaxed);
    }
    shared::hakase_kill_reported::remote().unwrap();
    // The hakase goes on serving the survivor.
    assert_eq!(shared::hakase_add::remote(2, 3), Ok(5));
}

static REPORTS_SEEN: AtomicU64 = AtomicU64::new(0);

/// How many reports the hakase has (friend processes ask before they go on).
#[offload::export_symbol(declared_in = shared)]
pub fn hakase_reports() -> u64 {
    REPORTS.lock().unwrap().len() as u64
}

#[test]
fn a_friend_killed_mid_request_is_not_served_and_says_so() {
    const CASE: &str = "a_friend_killed_mid_request_is_not_served_and_says_so";
    if !is_child(CASE) {
        assert_passed(CASE);
        return;
    }
    let hakase = Hakase::new().unwrap();
    let config = FriendConfig::cpus("0-1").unwrap().count(2).process();
    let friends = hakase.spawn_friends(config, killer_or_victim).unwrap();
    let start = Instant::now();
    let error = friends.join().unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(10));
    let offload::Error::FriendsFailed(exits) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        exits,
        &[(
            FriendId(1),
            FriendExit::Killed {
                signal: libc::SIGKILL,
                in_flight: Some("hakase_add"),
            }
        )],
        "{error}"
    );
    assert!(
        error.to_string().contains(
            "friend 1 was killed by signal 9 (SIGKILL); its call of hakase_add was not made"
        ),
        "{error}"
    );
}

/// The pid a child test printed as `friend pid <pid>`.
fn friend_pid_in(output: &str) -> i32 {
    output
        .lines()
        .find_map(|line| line.split_once("friend pid ").map(|(_, pid)| pid))
        .unwrap_or_else(|| panic!("no friend pid in:\n{output}"))
        .trim()
        .parse()
        .unwrap()
}

/// Waits (up to 5 s) for friend `pid` to end once its hakase's process has.
fn assert_gone_within_5s(pid: i32) {
    let start = Instant::now();
    while running(pid) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "friend {pid} still runs after its hakase ended"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` is running (not gone, not a zombie).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit(')').next().map(|rest| rest.trim().to_owned()))
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

fn reported_pid() -> i32 {
    REPORTS.lock().unwrap()[0].parse().unwrap()
}

#[test]
fn a_friend_started_from_a_short_lived_thread_lives_while_its_hakase_does() {
    const CASE: &str = "a_friend_started_from_a_short_lived_thread_lives_while_its_hakase_does";
    if !is_child(CASE) {
        let output = assert_passed(CASE);
        let pid = friend_pid_in(&output);
        // The hakase's process has ended: now the friend dies too.
        assert_gone_within_5s(pid);
        return;
    }
    // The hakase and its friend are made on a thread that then ends (leaking both, so that
    // nothing kills the friend but the death of its parent).
    std::thread::spawn(|| {
        let hakase = Box::leak(Box::new(Hakase::new().unwrap()));
        let friends = hakase.spawn_friends(one_friend(), pid_then_hang).unwrap();
        hakase.serve_until(|| !REPORTS.lock().unwrap().is_empty());
        std::mem::forget(friends);
    })
    .join()
    .unwrap();
    let pid = reported_pid();
    println!("friend pid {pid}");
    // Its starting thread is gone; the friend lives on with this process.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        running(pid),
        "friend {pid} died with the thread that started it"
    );
    std::process::exit(0);
}

#[test]
fn dropping_friends_stops_and_reaps_them() {
    const CASE: &str = "dropping_friends_stops_and_reaps_them";
    if !is_child(CASE) {
        assert_passed(CASE);
        return;
    }
    let hakase = Hakase::new().unwrap();
    let friends = hakase.spawn_friends(one_friend(), pid_then_hang).unwrap();
    hakase.serve_until(|| !REPORTS.lock().unwrap().is_empty());
    let pid = reported_pid();
    assert!(running(pid));
    drop(friends);
    // Killed and reaped before the drop returned: not even a zombie is left.
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "friend {pid} is still there after its Friends were dropped"
    );
    // The hakase serves new friends as before.
    ADDS.store(0, Ordering::Relaxed);
    let friends = hakase
        .spawn_friends(FriendConfig::cpus("0").unwrap().count(2).process(), |_| {
            for i in 0..100 {
                assert_eq!(shared::hakase_add::remote(i, 1), Ok(i + 1));
            }
        })
        .unwrap();
    friends.join().unwrap();
    assert_eq!(ADDS.load(Ordering::Relaxed), 200);
}

fn stopped_mid_call_friend(_: FriendId) {
    shared::hakase_report::remote("calling").unwrap();
    loop {
        let _ = shared::hakase_add::remote(1, 1);
    }
}

#[test]
fn a_friend_stopped_while_its_call_waits_says_which_call_was_not_made() {
    const CASE: &str = "a_friend_stopped_while_its_call_waits_says_which_call_was_not_made";
    if !is_child(CASE) {
        assert_passed(CASE);
        return;
    }
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(one_friend(), stopped_mid_call_friend)
        .unwrap();
    hakase.serve_until(|| !REPORTS.lock().unwrap().is_empty());
    // The hakase serves no more: the friend's next call waits in its region (it is made a few
    // µs after the last reply; generous, the machine may be loaded).
    std::thread::sleep(Duration::from_millis(500));
    assert!(friends.stop(FriendId(0)));
    let error = friends.join().unwrap_err();
    let offload::Error::FriendsFailed(exits) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        exits,
        &[(
            FriendId(0),
            FriendExit::Stopped {
                in_flight: Some("hakase_add")
            }
        )]
    );
    assert!(
        error
            .to_string()
            .contains("friend 0 was stopped by the hakase; its call of hakase_add was not made"),
        "{error}"
    );
}

/// In a region of 256 bytes: `&[u32]` takes 4 bytes of length and 4 per value.
fn small_region_friend(_: FriendId) {
    assert_eq!(shared::hakase_sum::remote(&[1; 63]), Ok(63));
    let error = shared::hakase_sum::remote(&[1; 64]).unwrap_err();
    assert_eq!(
        error,
        RemoteError::TooLarge {
            symbol: "hakase_sum",
            bytes: 260,
            capacity: 256
        }
    );
    assert_eq!(
        error.to_string(),
        "the arguments of hakase_sum take 260 bytes encoded; this friend's region holds 256 \
         (make it larger with FriendConfig::region_bytes)"
    );
    // Arguments that fit and a value that does not: the hakase refuses it, saying so.
    let name = "x".repeat(250);
    let refused = shared::hakase_greet::remote(&name).unwrap_err();
    assert!(
        matches!(&refused, RemoteError::Refused(why)
            if why.contains("hakase_greet: its value takes 261 bytes")
                && why.contains("FriendConfig::region_bytes")),
        "{refused}"
    );
    // And the friend goes on calling.
    assert_eq!(shared::hakase_add::remote(1, 2), Ok(3));
}

/// In a region of 1 MiB, a call over 12 times the default region's size.
fn large_region_friend(_: FriendId) {
    let values = vec![3u32; 200 * 1024];
    assert_eq!(shared::hakase_sum::remote(&values), Ok(3 * 200 * 1024));
    let values = vec![3u32; 300 * 1024];
    assert!(matches!(
        shared::hakase_sum::remote(&values),
        Err(RemoteError::TooLarge {
            capacity: 1_048_576,
            ..
        })
    ));
}

#[test]
fn the_region_size_is_configured_and_calls_that_do_not_fit_say_so() {
    const CASE: &str = "the_region_size_is_configured_and_calls_that_do_not_fit_say_so";
    if !is_child(CASE) {
        assert_passed(CASE);
        return;
    }
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(one_friend().region_bytes(256), small_region_friend)
        .unwrap();
    // Process friends count as friends the hakase serves, until joined.
    assert_eq!(hakase.friend_count(), 1);
    friends.join().unwrap();
    assert_eq!(hakase.friend_count(), 0);
    hakase
        .spawn_friends(one_friend().region_bytes(1 << 20), large_region_friend)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_region_size_out_of_range_is_refused_before_anything_starts() {
    let hakase = Hakase::new().unwrap();
    for bytes in [0, 47, (1 << 30) + 1] {
        let error = hakase
            .spawn_friends(one_friend().region_bytes(bytes), calling_friend)
            .unwrap_err();
        assert!(
            matches!(error, offload::Error::RegionSize { bytes: b, min: 48, max: 1_073_741_824 } if b == bytes),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            format!(
                "FriendConfig::region_bytes({bytes}): a process friend's region buffer holds \
                 from 48 bytes to 1073741824 bytes"
            )
        );
        assert_eq!(hakase.friend_count(), 0);
    }
}
