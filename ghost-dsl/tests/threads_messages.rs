//! Every message kind the thread enclave posts comes from a real event of a real thread, and a
//! preempted thread really stops. Each test runs in a child process with a time limit.

mod threads_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gears_examples::ghost::fifo::Fifo;
use gears_examples::ghost::round_robin::RoundRobin;
use ghost_dsl::sim::TraceEvent;
use ghost_dsl::threads::{self, ThreadEnclave};
use ghost_dsl::{CpuTickConfig, MessageKind};
use threads_support::{calibrate, in_child, on, patient, spin};

const LIMIT: Duration = Duration::from_secs(30);

/// A thread's name and the times (ns) it made progress.
type Samples = (String, Vec<u64>);

#[test]
fn every_message_kind_comes_from_a_real_event() {
    in_child("every_message_kind_comes_from_a_real_event", LIMIT, || {
        let enclave = ThreadEnclave::new(patient()).unwrap();
        let steps = Arc::new(AtomicU64::new(0));
        let s = steps.clone();
        let sleeper = enclave
            .spawn("sleeper", move || {
                threads::sleep(Duration::from_millis(5)); // BLOCKED, then WAKEUP
                s.fetch_add(1, Ordering::SeqCst);
                threads::yield_now(); // YIELD
                s.fetch_add(1, Ordering::SeqCst);
                threads::park(); // BLOCKED, then WAKEUP from the unpark
                s.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        let iters = calibrate(Duration::from_millis(30));
        enclave
            .spawn("spinner", move || {
                spin(iters); // CPU_TICKs while it runs; PREEMPTs when the agent wakes
                threads::sleep(Duration::from_millis(20));
                sleeper.unpark();
            })
            .unwrap();
        let report = RoundRobin::default()
            .run(enclave, on("0").with_ticks(CpuTickConfig::AllTicks))
            .unwrap();
        println!("{report}");
        assert_eq!(steps.load(Ordering::SeqCst), 3, "the sleeper finished");
        let n = |k| report.messages_of(k);
        assert_eq!(n(MessageKind::TaskNew), 2);
        assert_eq!(n(MessageKind::TaskDead), 2);
        assert_eq!(n(MessageKind::TaskYield), 1);
        // sleep, park (sleeper), sleep (spinner), and each exit from a CPU.
        assert!(
            n(MessageKind::TaskBlocked) >= 5,
            "{}",
            n(MessageKind::TaskBlocked)
        );
        assert!(
            n(MessageKind::TaskWakeup) >= 3,
            "{}",
            n(MessageKind::TaskWakeup)
        );
        assert!(n(MessageKind::CpuTick) >= 5, "{}", n(MessageKind::CpuTick));
        assert!(
            n(MessageKind::TaskPreempt) >= 1,
            "{}",
            n(MessageKind::TaskPreempt)
        );
    });
}

#[test]
fn a_panicking_thread_is_reported_and_dies_like_any_other() {
    in_child(
        "a_panicking_thread_is_reported_and_dies_like_any_other",
        LIMIT,
        || {
            let enclave = ThreadEnclave::new(patient()).unwrap();
            let handle = enclave.handle();
            enclave
                .spawn("doomed", || panic!("the closure failed"))
                .unwrap();
            enclave.spawn("fine", || {}).unwrap();
            let report = Fifo::default().run(enclave, on("0")).unwrap();
            assert_eq!(report.messages_of(MessageKind::TaskDead), 2);
            assert!(report.task("doomed").unwrap().end_ns.is_some());
            let details = handle.thread_report();
            assert_eq!(details.panics.len(), 1);
            assert_eq!(details.panics[0].name, "doomed");
            assert_eq!(details.panics[0].message, "the closure failed");
            assert!(!details.fell_back);
        },
    );
}

#[test]
fn ticks_come_only_while_a_thread_runs() {
    in_child("ticks_come_only_while_a_thread_runs", LIMIT, || {
        let enclave = ThreadEnclave::new(patient().with_tick(Duration::from_millis(1))).unwrap();
        let iters = calibrate(Duration::from_millis(20));
        enclave
            .spawn("napper", move || {
                threads::sleep(Duration::from_millis(200));
                spin(iters);
            })
            .unwrap();
        let report = RoundRobin::default()
            .run(enclave, on("0").with_ticks(CpuTickConfig::AllTicks))
            .unwrap();
        let ticks = report.messages_of(MessageKind::CpuTick);
        let ran_ms = report.task("napper").unwrap().runtime_ns / 1_000_000;
        println!("{ticks} ticks over {ran_ms} ms of runtime");
        // One per ms of running, none during the 200 ms sleep (tolerance: 5 ticks).
        assert!(
            ticks >= 1 && ticks <= ran_ms + 5,
            "{ticks} ticks, {ran_ms} ms run"
        );
    });
}

#[test]
fn a_preempted_thread_stops_until_it_is_committed_again() {
    in_child(
        "a_preempted_thread_stops_until_it_is_committed_again",
        LIMIT,
        || {
            let enclave = ThreadEnclave::new(patient().with_trace(true)).unwrap();
            let handle = enclave.handle();
            let iters = calibrate(Duration::from_millis(60));
            let samples: Arc<Mutex<Vec<Samples>>> = Arc::default();
            for name in ["a", "b"] {
                let samples = samples.clone();
                enclave
                    .spawn(name, move || {
                        let chunk = (iters / 2000).max(1);
                        let mut mine = Vec::with_capacity(2100);
                        let mut done = 0;
                        while done < iters {
                            spin(chunk);
                            done += chunk;
                            mine.push(threads::now_ns().expect("a managed thread"));
                        }
                        samples.lock().unwrap().push((name.to_owned(), mine));
                    })
                    .unwrap();
            }
            let report = RoundRobin::default()
                .run(enclave, on("0").with_ticks(CpuTickConfig::AllTicks))
                .unwrap();
            let trace = report.trace.as_ref().unwrap();
            assert!(report.messages_of(MessageKind::TaskPreempt) >= 10);
            // A thread's progress samples all fall inside its own committed slices: it does not
            // run between its preemption and its next commit. With real-time agents the agent
            // holds the CPU from the preemption until the thread is signalled, so nothing runs
            // in between (tolerance 2 ms); without, the OS may run the thread for up to a
            // normal time slice before the agent gets to signal it (tolerance 30 ms).
            let tolerance: u64 = if handle.thread_report().realtime_agents {
                2_000_000
            } else {
                30_000_000
            };
            for (name, mine) in samples.lock().unwrap().iter() {
                let gtid = report.task(name).unwrap().gtid;
                let slices: Vec<(u64, u64)> = trace
                    .events()
                    .iter()
                    .filter_map(|e| match *e {
                        TraceEvent::Task {
                            gtid: g,
                            start_ns,
                            end_ns,
                            ..
                        } if g == gtid => Some((start_ns, end_ns)),
                        _ => None,
                    })
                    .collect();
                assert!(slices.len() >= 5, "{name} ran in {} slices", slices.len());
                let outside = mine
                    .iter()
                    .filter(|&&t| {
                        !slices
                            .iter()
                            .any(|&(s, e)| t + tolerance >= s && t <= e + tolerance)
                    })
                    .count();
                assert_eq!(
                    outside,
                    0,
                    "{name} made progress outside its slices ({outside} of {} samples)",
                    mine.len()
                );
            }
        },
    );
}
