//! Suite `offload`: the round trip of an empty `offload!` and of an `exported!` call with two
//! integers, against the physical floor (a raw two-thread ping-pong on one cache line) and a
//! crossbeam bounded(1) channel round trip, all with the caller pinned to one CPU and the server
//! to another, in the same run; then throughput with 2 and 4 friends sharing one CPU, against
//! Toshokan's arbitration (one slot for all friends, one request in flight).
//!
//! Then an idle hakase: the CPU time it spends per second of wall time serving a friend that
//! sleeps (`offload.idle_hakase_cpu`, target ≤ 0.01), and the round trip of a request to a
//! parked hakase beside a futex ping-pong between two threads that each sleep in the kernel
//! until woken (`offload.wake_from_park_vs_futex`, target ≤ 1.5).
//!
//! Each figure is the median over interleaved repetitions (A B C D A B C D ..) of the time of
//! a batch of round trips divided by its length; a repetition starts its threads, pins them,
//! runs the batch and joins (thread start-up is under 0.1% of a batch).

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_utils::CachePadded;
use gears_runtime::cpu_list::CpuList;
use gears_runtime::mailbox::{Backoff, MailboxSlot};
use offload::WaitStrategy;
use offload::prelude::*;

use super::{Effort, interleaved_medians, report, report_ratio};

pub mod iceoryx2;
pub mod process;

/// The exported function of the `exported!` round trip.
#[export_symbol]
pub fn bench_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// Where the two sides run: the server (hakase) on one CPU, callers (friends) on another.
#[derive(Clone, Copy)]
pub(crate) struct Cpus {
    pub(crate) server: usize,
    pub(crate) caller: usize,
}

fn pin(cpu: usize) {
    if let Ok(cpus) = CpuList::single(cpu) {
        // A failure only costs precision; the figures still compare like with like.
        let _ = cpus.pin_current_thread();
    }
}

/// Runs the suite and prints its figures.
pub fn run(effort: Effort) {
    run_with(effort, suite);
}

/// Runs only the process-friend figures of the suite (`bench offload-process`): the same
/// lines as `offload` prints for them, for profiling the process call path alone.
pub fn run_process_only(effort: Effort) {
    run_with(effort, |effort, cpus| {
        let reps = match effort {
            Effort::Full => 11,
            Effort::Quick => 3,
        };
        let hakase = Hakase::new().expect("the export table");
        let friend_cpu = FriendConfig::on(CpuList::single(cpus.caller).expect("a CPU"));
        process::suite(effort, &hakase, &friend_cpu, reps, cpus);
    });
}

fn run_with(effort: Effort, suite: fn(Effort, Cpus)) {
    let allowed: Vec<usize> = CpuList::current_thread_affinity()
        .map(|cpus| cpus.iter().collect())
        .unwrap_or_default();
    let cpus = match allowed[..] {
        [server, caller, ..] => Cpus { server, caller },
        _ => {
            println!(
                "# offload: fewer than 2 CPUs available; the round trips would be time-sliced, skipped"
            );
            return;
        }
    };
    println!(
        "# offload: server (hakase) pinned to CPU {}, caller (friend) to CPU {}",
        cpus.server, cpus.caller
    );
    // The whole suite runs on a thread of its own, so pinning it as the hakase does not pin
    // the bench's main thread for the suites that follow.
    thread::spawn(move || {
        pin(cpus.server);
        suite(effort, cpus);
    })
    .join()
    .expect("the offload suite panicked");
}

fn suite(effort: Effort, cpus: Cpus) {
    let (trips, channel_trips, reps) = match effort {
        Effort::Full => (400_000u32, 40_000u32, 11),
        Effort::Quick => (20_000, 2_000, 3),
    };
    let hakase = Hakase::new().expect("the export table");
    let friend_cpu = FriendConfig::on(CpuList::single(cpus.caller).expect("a CPU"));

    let medians = interleaved_medians(
        reps,
        &mut [
            &mut || raw_ping_pong(cpus, trips),
            &mut || empty_offloads(&hakase, &friend_cpu, trips),
            &mut || exported_calls(&hakase, &friend_cpu, trips, true),
            &mut || exported_calls(&hakase, &friend_cpu, trips, false),
            &mut || channel_round_trips(cpus, channel_trips),
        ],
    );
    let per_trip = |d: Duration, n: u32| d.as_secs_f64() * 1e9 / f64::from(n);
    let raw = per_trip(medians[0], trips);
    let empty = per_trip(medians[1], trips);
    let exported = per_trip(medians[2], trips);
    let exported_by_ref = per_trip(medians[3], trips);
    let channel = per_trip(medians[4], channel_trips);
    report("offload.raw_ping_pong_round_trip", raw, "ns");
    report("offload.empty_offload_round_trip", empty, "ns");
    report("offload.exported_add_move_round_trip", exported, "ns");
    report(
        "offload.exported_add_by_ref_round_trip",
        exported_by_ref,
        "ns",
    );
    report("offload.crossbeam_bounded1_round_trip", channel, "ns");
    report_ratio("offload.empty_offload_vs_raw_ping_pong", empty, raw);
    report_ratio("offload.exported_add_move_vs_raw_ping_pong", exported, raw);
    report_ratio(
        "offload.exported_add_by_ref_vs_raw_ping_pong",
        exported_by_ref,
        raw,
    );
    report_ratio("offload.empty_offload_vs_crossbeam", empty, channel);
    report_ratio("offload.exported_add_move_vs_crossbeam", exported, channel);
    // The floor itself against the channel: no handoff can beat this ratio.
    report_ratio("offload.raw_ping_pong_vs_crossbeam", raw, channel);

    println!(
        "# offload throughput: the hakase on CPU {}, all friends on CPU {} (they share that \
         core, waiting by spin-then-yield)",
        cpus.server, cpus.caller
    );
    let one = per_trip(
        interleaved_medians(
            reps,
            &mut [&mut || friends_throughput(&hakase, &friend_cpu, 1, trips)],
        )[0],
        trips,
    );
    for friends in [2, 4] {
        let per_friend = trips / friends;
        let total = per_friend * friends;
        let medians = interleaved_medians(
            reps,
            &mut [
                &mut || friends_throughput(&hakase, &friend_cpu, friends, per_friend),
                &mut || one_shared_slot_throughput(cpus, friends, per_friend),
            ],
        );
        let ns = per_trip(medians[0], total);
        let shared_ns = per_trip(medians[1], total);
        report(
            &format!("offload.throughput_{friends}_friends"),
            1e3 / ns,
            "Mreq/s",
        );
        report(
            &format!("offload.throughput_{friends}_friends_one_shared_slot"),
            1e3 / shared_ns,
            "Mreq/s",
        );
        report_ratio(
            &format!("offload.request_time_{friends}_friends_vs_1"),
            ns,
            one,
        );
        report_ratio(
            &format!("offload.request_time_{friends}_friends_vs_one_shared_slot"),
            ns,
            shared_ns,
        );
    }

    let idle_wall = match effort {
        Effort::Full => Duration::from_secs(1),
        Effort::Quick => Duration::from_millis(200),
    };
    let (cpu, wall) = idle_hakase(&hakase, &friend_cpu, idle_wall);
    report(
        "offload.idle_hakase_cpu_time",
        cpu.as_secs_f64() * 1e3,
        "ms",
    );
    report(
        "offload.idle_hakase_wall_time",
        wall.as_secs_f64() * 1e3,
        "ms",
    );
    report_ratio(
        "offload.idle_hakase_cpu",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
    );

    let wakes = match effort {
        Effort::Full => 2_000,
        Effort::Quick => 100,
    };
    let wake = wake_from_park(&hakase, &friend_cpu, wakes);
    let futex = futex_ping_pong(cpus, wakes);
    report("offload.wake_from_park_ns", wake, "ns");
    report("offload.futex_ping_pong_round_trip_ns", futex, "ns");
    report_ratio("offload.wake_from_park_vs_futex", wake, futex);

    process::suite(effort, &hakase, &friend_cpu, reps, cpus);
}

/// The calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID).
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &raw mut now) };
    Duration::new(
        u64::try_from(now.tv_sec).unwrap_or(0),
        u32::try_from(now.tv_nsec).unwrap_or(0),
    )
}

/// The hakase's CPU and wall time serving one friend that sleeps for `sleep` and then ends.
fn idle_hakase(hakase: &Hakase, config: &FriendConfig, sleep: Duration) -> (Duration, Duration) {
    let friends = hakase
        .spawn_friends(config.clone(), move |_| thread::sleep(sleep))
        .expect("start the friend");
    let (cpu, wall) = (thread_cpu_time(), std::time::Instant::now());
    hakase.serve_until(|| friends.finished());
    let measured = (thread_cpu_time() - cpu, wall.elapsed());
    friends.join().expect("the friend");
    measured
}

/// The median round trip of an empty `offload!` made while the hakase is parked in the kernel
/// (the friend waits until it has parked, and 50 µs more so that it is asleep).
fn wake_from_park(hakase: &Hakase, config: &FriendConfig, trips: usize) -> f64 {
    let probe = hakase.parked_probe();
    let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::with_capacity(trips)));
    let sink = times.clone();
    hakase.spin_before_parking(Duration::ZERO);
    let friends = hakase
        .spawn_friends(spin_only(config), move |_| {
            let mut own = Vec::with_capacity(trips);
            for _ in 0..trips {
                while !probe.is_parked() {
                    std::hint::spin_loop();
                }
                let asleep = std::time::Instant::now();
                while asleep.elapsed() < Duration::from_micros(50) {
                    std::hint::spin_loop();
                }
                let start = std::time::Instant::now();
                offload!({});
                own.push(start.elapsed());
            }
            *sink.lock().expect("the friend's results") = own;
        })
        .expect("start the friend");
    hakase.serve_until(|| friends.finished());
    friends.join().expect("the friend");
    hakase.spin_before_parking(offload::DEFAULT_SPIN_BEFORE_PARKING);
    median_ns(&mut times.lock().expect("the results"))
}

fn median_ns(times: &mut [Duration]) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1e9
}

fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: a futex wait on a live, aligned u32; spurious returns are handled by the caller's
    // loop.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

fn futex_wake(word: &AtomicU32) {
    // SAFETY: a futex wake on a live, aligned u32.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

/// The anchor: two pinned threads passing a turn through one futex word, each sleeping in the
/// kernel until the other wakes it (the round trip is two wake-ups); the median of `trips`
/// round trips timed one by one, the caller waiting 50 µs before each so that the server is
/// asleep.
fn futex_ping_pong(cpus: Cpus, trips: usize) -> f64 {
    let word = CachePadded::new(AtomicU32::new(0));
    let mut times = Vec::new();
    thread::scope(|s| {
        s.spawn(|| {
            // The server: waits for each odd turn, answers with the next even one.
            for i in 0..trips {
                let ping = 2 * i as u32 + 1;
                loop {
                    let now = word.load(Ordering::Acquire);
                    if now == ping {
                        break;
                    }
                    futex_wait(&word, now);
                }
                word.store(ping + 1, Ordering::Release);
                futex_wake(&word);
            }
        });
        // The caller runs on a thread of its own: pinning this (the hakase's) thread to the
        // caller CPU would leave the hakase sharing the friends' CPU in the figures after this.
        let caller = s.spawn(|| {
            pin(cpus.caller);
            let mut times = Vec::with_capacity(trips);
            for i in 0..trips {
                let ping = 2 * i as u32 + 1;
                let asleep = std::time::Instant::now();
                while asleep.elapsed() < Duration::from_micros(50) {
                    std::hint::spin_loop();
                }
                let start = std::time::Instant::now();
                word.store(ping, Ordering::Release);
                futex_wake(&word);
                loop {
                    let now = word.load(Ordering::Acquire);
                    if now == ping + 1 {
                        break;
                    }
                    futex_wait(&word, now);
                }
                times.push(start.elapsed());
            }
            times
        });
        times = caller.join().expect("the futex caller");
    });
    median_ns(&mut times)
}

/// The floor: one atomic in its own cache line, flipped by two pinned threads.
fn raw_ping_pong(cpus: Cpus, trips: u32) {
    let turn = CachePadded::new(AtomicU32::new(0));
    thread::scope(|s| {
        s.spawn(|| {
            pin(cpus.caller);
            for i in 0..trips {
                let ping = 2 * i + 1;
                turn.store(ping, Ordering::Release);
                while turn.load(Ordering::Acquire) != ping + 1 {
                    std::hint::spin_loop();
                }
            }
        });
        // This (server) thread is already pinned.
        for i in 0..trips {
            let ping = 2 * i + 1;
            while turn.load(Ordering::Acquire) != ping {
                std::hint::spin_loop();
            }
            turn.store(ping + 1, Ordering::Release);
        }
    });
}

fn spin_only(config: &FriendConfig) -> FriendConfig {
    config.clone().wait(WaitStrategy::SPIN_ONLY)
}

fn empty_offloads(hakase: &Hakase, config: &FriendConfig, trips: u32) {
    let friends = hakase
        .spawn_friends(spin_only(config), move |_| {
            for _ in 0..trips {
                offload!({});
            }
        })
        .expect("start the friend");
    hakase.serve_until(|| friends.finished());
    friends.join().expect("the friend");
}

/// `exported!(bench_add)(a, b)` on two friend locals; `by_copy` uses a `move` block, which
/// copies them into the request, otherwise the hakase reads them from the friend's stack.
fn exported_calls(hakase: &Hakase, config: &FriendConfig, trips: u32, by_copy: bool) {
    let friends = hakase
        .spawn_friends(spin_only(config), move |_| {
            let mut sum = 0u64;
            for i in 0..u64::from(trips) {
                let (a, b) = (black_box(i), black_box(3));
                let c = if by_copy {
                    offload!(move { exported!(bench_add)(a, b) })
                } else {
                    offload!({ exported!(bench_add)(a, b) })
                };
                sum = sum.wrapping_add(c);
            }
            let n = u64::from(trips);
            assert_eq!(sum, n * (n - 1) / 2 + 3 * n);
        })
        .expect("start the friend");
    hakase.serve_until(|| friends.finished());
    friends.join().expect("the friend");
}

/// A request and a response channel, both bounded(1), used the ordinary (blocking) way.
fn channel_round_trips(cpus: Cpus, trips: u32) {
    let (request_tx, request_rx) = crossbeam_channel::bounded::<u64>(1);
    let (response_tx, response_rx) = crossbeam_channel::bounded::<u64>(1);
    thread::scope(|s| {
        s.spawn(move || {
            pin(cpus.caller);
            for i in 0..u64::from(trips) {
                request_tx.send(i).expect("the server is there");
                assert_eq!(response_rx.recv().expect("a response"), i + 1);
            }
        });
        while let Ok(request) = request_rx.recv() {
            response_tx.send(request + 1).expect("the caller waits");
        }
    });
}

fn friends_throughput(hakase: &Hakase, config: &FriendConfig, friends: u32, per_friend: u32) {
    let friends = hakase
        .spawn_friends(config.clone().count(friends as usize), move |_| {
            for i in 0..per_friend {
                black_box(offload!(move { black_box(i) }));
            }
        })
        .expect("start the friends");
    hakase.serve_until(|| friends.finished());
    friends.join().expect("the friends");
}

/// Toshokan's arbitration, as the anchor for several friends: one slot for all, claimed by
/// whichever friend's post gets it first (the others retry until it is free again), served by
/// one poller. The role-agnostic `MailboxSlot` is exactly that: its post claims the slot with a
/// compare-and-swap and fails while another request is in flight.
fn one_shared_slot_throughput(cpus: Cpus, friends: u32, per_friend: u32) {
    let slot = MailboxSlot::<u32, u32>::new();
    let left = AtomicU32::new(friends);
    thread::scope(|s| {
        for _ in 0..friends {
            s.spawn(|| {
                pin(cpus.caller);
                for i in 0..per_friend {
                    let mut request = i;
                    let mut idle = Backoff::new(WaitStrategy::SPIN_THEN_YIELD);
                    while let Err(back) = slot.post(request) {
                        request = back;
                        idle.snooze();
                    }
                    let mut wait = Backoff::new(WaitStrategy::SPIN_THEN_YIELD);
                    let response = loop {
                        match slot.try_take_response() {
                            Some(outcome) => break outcome.expect("the handler does not panic"),
                            None => wait.snooze(),
                        }
                    };
                    black_box(response);
                }
                left.fetch_sub(1, Ordering::Release);
            });
        }
        let mut idle = Backoff::new(WaitStrategy::SPIN_THEN_YIELD);
        loop {
            let done = left.load(Ordering::Acquire) == 0;
            if slot.try_serve(black_box) {
                idle.reset();
            } else if done {
                break;
            } else {
                idle.snooze();
            }
        }
    });
}
