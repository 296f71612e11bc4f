//! Process friends against thread friends: the same small exported call (two integers in, one
//! out) from a friend in a process of its own (`remote`, arguments and value copied through
//! its region) and from a thread friend (`offload!(move { exported!(..)(a, b) })`), both pinned
//! to the caller CPU with the hakase on the server CPU; then throughput with 1, 2 and 4
//! friends of each kind sharing the caller CPU.
//!
//! Both kinds time their own loop on CLOCK_MONOTONIC (a process friend's start is an `execve`
//! of this binary, milliseconds that would swamp the calls) and hand start and end to the
//! hakase; throughput is all requests over the span from the first loop's start to the last
//! loop's end. Each single-friend loop also times batches of 200 calls; the fastest batch of
//! each kind over all repetitions is reported beside the medians
//! (`process_call_vs_thread_call_best_batch`): on a loaded machine the medians measure the
//! time-slicing of the two vCPUs as much as the call, the fastest batch the call.

use std::hint::black_box;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use offload::prelude::*;

use super::super::{Effort, report, report_ratio};

mod shared {
    offload::declare_exports! {
        /// The exported call both kinds of friend make.
        pub fn bench_process_add(a: u64, b: u64) -> u64;
        /// How many calls a friend makes.
        pub fn bench_process_trips() -> u32;
        /// A friend's loop: its start and end on CLOCK_MONOTONIC, in ns (one clock for every
        /// process, so loops of friends of either kind can be laid side by side).
        pub fn bench_process_took(start_ns: u64, end_ns: u64);
        /// A friend's median round trip of a call made to a parked hakase, in ns.
        pub fn bench_process_woke(median_ns: u64);
        /// A friend's fastest batch of `BATCH` calls, in ns.
        pub fn bench_process_best_batch(ns: u64);
    }
}

static TRIPS: AtomicU32 = AtomicU32::new(0);
static TOOK: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());
static WOKE: Mutex<Vec<u64>> = Mutex::new(Vec::new());
static BEST_BATCH: Mutex<Vec<u64>> = Mutex::new(Vec::new());

/// The calls of a batch whose time each friend loop also takes, for the fastest batch: on a
/// loaded machine whose vCPUs are time-sliced, most batches of a loop include a preemption of
/// one side or the other, and the fastest of a few hundred is the call itself (medians over
/// whole loops, as the other figures are, then measure the load as much as the call).
const BATCH: u64 = 200;

/// How long a friend waits before each call of the wake-up figures: the hakase, told to park
/// as soon as it finds nothing (`spin_before_parking(0)`), is asleep in the kernel by then.
const ASLEEP_AFTER_NS: u64 = 200_000;

/// CLOCK_MONOTONIC in ns (allowed in the sandbox: a vDSO call).
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0, "CLOCK_MONOTONIC is readable");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Adds (the call measured).
#[offload::export_symbol(declared_in = shared)]
pub fn bench_process_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// The calls per friend of the current run.
#[offload::export_symbol(declared_in = shared)]
pub fn bench_process_trips() -> u32 {
    TRIPS.load(Ordering::Relaxed)
}

/// Records a friend's loop.
#[offload::export_symbol(declared_in = shared)]
pub fn bench_process_took(start_ns: u64, end_ns: u64) {
    TOOK.lock().expect("not poisoned").push((start_ns, end_ns));
}

/// Records a friend's fastest batch.
#[offload::export_symbol(declared_in = shared)]
pub fn bench_process_best_batch(ns: u64) {
    BEST_BATCH.lock().expect("not poisoned").push(ns);
}

/// Records a friend's median wake-up round trip.
#[offload::export_symbol(declared_in = shared)]
pub fn bench_process_woke(median_ns: u64) {
    WOKE.lock().expect("not poisoned").push(median_ns);
}

/// The median of the round trips of `trips` calls, each made once the hakase has parked.
fn woken_calls(trips: u32, call: impl Fn(u64) -> u64) -> u64 {
    let mut times = Vec::with_capacity(trips as usize);
    for i in 0..u64::from(trips) {
        let asleep = monotonic_ns();
        while monotonic_ns() - asleep < ASLEEP_AFTER_NS {
            std::hint::spin_loop();
        }
        let start = monotonic_ns();
        assert_eq!(call(black_box(i)), i + 3);
        times.push(monotonic_ns() - start);
    }
    median(times)
}

fn process_wake_friend(_: FriendId) {
    let trips = shared::bench_process_trips::remote().expect("the hakase answers");
    let median = woken_calls(trips, |i| {
        shared::bench_process_add::remote(i, 3).expect("a value")
    });
    shared::bench_process_woke::remote(median).expect("the hakase answers");
}

fn thread_wake_friend(_: FriendId) {
    let trips = TRIPS.load(Ordering::Relaxed);
    let median = woken_calls(
        trips,
        |i| offload!(move { exported!(shared::bench_process_add)(i, 3) }),
    );
    offload!(move { exported!(shared::bench_process_woke)(median) });
}

/// The median round trip of a call that wakes a parked hakase, from one friend of either kind.
fn wake(hakase: &Hakase, config: &FriendConfig, trips: u32, process: bool) -> u64 {
    TRIPS.store(trips, Ordering::Relaxed);
    WOKE.lock().expect("not poisoned").clear();
    let config = config
        .clone()
        .count(1)
        .wait(offload::WaitStrategy::SPIN_ONLY);
    let started = if process {
        hakase.spawn_friends(config.process(), process_wake_friend)
    } else {
        hakase.spawn_friends(config, thread_wake_friend)
    };
    started
        .expect("start the friend")
        .join()
        .expect("the friend");
    let woke = WOKE.lock().expect("not poisoned");
    assert_eq!(woke.len(), 1);
    woke[0]
}

/// A friend's loop of `trips` calls: its start and end, and its fastest batch of [`BATCH`]
/// calls (one clock read per batch).
fn call_loop(trips: u32, call: impl Fn(u64, u64) -> u64) -> (u64, u64, u64) {
    let start = monotonic_ns();
    let (mut sum, mut best, mut batch_start) = (0u64, u64::MAX, start);
    for i in 0..u64::from(trips) {
        let (a, b) = (black_box(i), black_box(3));
        sum = sum.wrapping_add(call(a, b));
        if (i + 1) % BATCH == 0 {
            let now = monotonic_ns();
            best = best.min(now - batch_start);
            batch_start = now;
        }
    }
    let end = monotonic_ns();
    let n = u64::from(trips);
    assert_eq!(sum, n * (n - 1) / 2 + 3 * n);
    (start, end, best)
}

fn process_friend(_: FriendId) {
    let trips = shared::bench_process_trips::remote().expect("the hakase answers");
    let (start, end, best) = call_loop(trips, |a, b| {
        shared::bench_process_add::remote(a, b).expect("a value")
    });
    shared::bench_process_took::remote(start, end).expect("the hakase answers");
    shared::bench_process_best_batch::remote(best).expect("the hakase answers");
}

fn thread_friend(_: FriendId) {
    let trips = TRIPS.load(Ordering::Relaxed);
    let (start, end, best) = call_loop(
        trips,
        |a, b| offload!(move { exported!(shared::bench_process_add)(a, b) }),
    );
    offload!(move { exported!(shared::bench_process_took)(start, end) });
    offload!(move { exported!(shared::bench_process_best_batch)(best) });
}

/// Runs `friends` friends of one kind making `trips` calls each; returns the ns from the first
/// friend's loop start to the last one's end (friends sharing a CPU may run one after another,
/// so the longest single loop would undercount).
fn run(hakase: &Hakase, config: &FriendConfig, friends: usize, trips: u32, process: bool) -> u64 {
    TRIPS.store(trips, Ordering::Relaxed);
    TOOK.lock().expect("not poisoned").clear();
    BEST_BATCH.lock().expect("not poisoned").clear();
    // Both kinds wait by spinning only (the process kind's default).
    let config = config
        .clone()
        .count(friends)
        .wait(offload::WaitStrategy::SPIN_ONLY);
    let started = if process {
        hakase.spawn_friends(config.process(), process_friend)
    } else {
        hakase.spawn_friends(config, thread_friend)
    };
    started
        .expect("start the friends")
        .join()
        .expect("the friends");
    let took = TOOK.lock().expect("not poisoned");
    assert_eq!(took.len(), friends);
    let first = took.iter().map(|&(s, _)| s).min().expect("a friend");
    let last = took.iter().map(|&(_, e)| e).max().expect("a friend");
    last - first
}

fn median(mut samples: Vec<u64>) -> u64 {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Prints the process-friend figures.
pub(crate) fn suite(
    effort: Effort,
    hakase: &Hakase,
    config: &FriendConfig,
    reps: usize,
    cpus: super::Cpus,
) {
    // The wake-up figures before leave the hakase parking at once; these are round trips.
    hakase.spin_before_parking(offload::DEFAULT_SPIN_BEFORE_PARKING);
    let trips = match effort {
        Effort::Full => 50_000u32,
        Effort::Quick => 2_000,
    };
    let (mut process, mut thread) = (Vec::new(), Vec::new());
    let (mut process_best, mut thread_best) = (u64::MAX, u64::MAX);
    let best_batch = || {
        let mut best = BEST_BATCH.lock().expect("not poisoned");
        let fastest = best.iter().copied().min().expect("a friend's batches");
        best.clear();
        fastest
    };
    for _ in 0..reps {
        process.push(run(hakase, config, 1, trips, true));
        process_best = process_best.min(best_batch());
        thread.push(run(hakase, config, 1, trips, false));
        thread_best = thread_best.min(best_batch());
    }
    let per_trip = |ns: u64, n: u32| ns as f64 / f64::from(n);
    let process_ns = per_trip(median(process), trips);
    let thread_ns = per_trip(median(thread), trips);
    report("offload.process_call_round_trip", process_ns, "ns");
    report("offload.thread_call_move_round_trip", thread_ns, "ns");
    report_ratio("offload.process_call_vs_thread_call", process_ns, thread_ns);
    // The fastest batch of each kind over every repetition: the figure that holds still on a
    // loaded machine.
    let per_call = |ns: u64| ns as f64 / BATCH as f64;
    let (process_best, thread_best) = (per_call(process_best), per_call(thread_best));
    report(
        "offload.process_call_best_batch_round_trip",
        process_best,
        "ns",
    );
    report(
        "offload.thread_call_best_batch_round_trip",
        thread_best,
        "ns",
    );
    report_ratio(
        "offload.process_call_vs_thread_call_best_batch",
        process_best,
        thread_best,
    );
    // The same round trip through iceoryx2, between two processes on the same two CPUs.
    let iceoryx2_ns = super::iceoryx2::round_trip_ns(cpus.server, cpus.caller, trips, reps);
    report(
        "offload.iceoryx2_request_response_round_trip",
        iceoryx2_ns,
        "ns",
    );
    report_ratio("offload.process_call_vs_iceoryx2", process_ns, iceoryx2_ns);

    // Waking a parked hakase: a process friend rings the shared word in its region, a thread
    // friend the hakase's bell; both calls wait for the futex wake-up.
    hakase.spin_before_parking(std::time::Duration::ZERO);
    let wakes = match effort {
        Effort::Full => 1_000,
        Effort::Quick => 50,
    };
    let (mut process, mut thread) = (Vec::new(), Vec::new());
    for _ in 0..reps.min(5) {
        process.push(wake(hakase, config, wakes, true));
        thread.push(wake(hakase, config, wakes, false));
    }
    hakase.spin_before_parking(offload::DEFAULT_SPIN_BEFORE_PARKING);
    let (process_wake, thread_wake) = (median(process) as f64, median(thread) as f64);
    report("offload.process_wake_from_park_ns", process_wake, "ns");
    report(
        "offload.thread_wake_from_park_same_call_ns",
        thread_wake,
        "ns",
    );
    report_ratio(
        "offload.process_wake_vs_thread_wake",
        process_wake,
        thread_wake,
    );

    for friends in [1usize, 2, 4] {
        let per_friend = trips / friends as u32;
        let total = per_friend * friends as u32;
        let (mut process, mut thread) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            process.push(run(hakase, config, friends, per_friend, true));
            thread.push(run(hakase, config, friends, per_friend, false));
        }
        let process_rate = f64::from(total) / median(process) as f64 * 1e3;
        let thread_rate = f64::from(total) / median(thread) as f64 * 1e3;
        report(
            &format!("offload.process_throughput_{friends}"),
            process_rate,
            "Mreq/s",
        );
        report(
            &format!("offload.thread_throughput_{friends}_same_call"),
            thread_rate,
            "Mreq/s",
        );
        report_ratio(
            &format!("offload.process_throughput_{friends}_vs_thread_friends"),
            process_rate,
            thread_rate,
        );
    }
}
