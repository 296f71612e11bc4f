//! Many threads doing everything at once (spin, sleep, yield, a shared `std::sync::Mutex`,
//! `blocking`, unparking each other) under each tutorial policy: every thread finishes, no rule
//! breaks, and no CPU ever has two threads committed at once. In a child process with a limit.

mod threads_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use gears_examples::ghost::round_robin::RoundRobin;
use gears_examples::ghost::smp::SmpFifo;
use ghost_dsl::sim::TraceEvent;
use ghost_dsl::threads::{self, ThreadEnclave, ThreadHandle};
use ghost_dsl::{AgentConfig, CpuTickConfig, MessageKind, Report, parse_cpu_str};
use threads_support::{in_child, patient, spin};

const THREADS: usize = 24;
const STEPS: u64 = 60;

fn workload(enclave: &ThreadEnclave) -> Arc<AtomicU64> {
    let done = Arc::new(AtomicU64::new(0));
    let shared = Arc::new(Mutex::new(0u64));
    let handles: Arc<OnceLock<Vec<ThreadHandle>>> = Arc::default();
    let mut spawned = Vec::new();
    for i in 0..THREADS {
        let (done, shared, handles) = (done.clone(), shared.clone(), handles.clone());
        spawned.push(
            enclave
                .spawn(format!("s{i}"), move || {
                    // A small deterministic generator per thread.
                    let mut x = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    for _ in 0..STEPS {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        match x % 6 {
                            0 => {
                                spin(20_000);
                            }
                            1 => threads::sleep(Duration::from_micros(200)),
                            2 => threads::yield_now(),
                            3 => {
                                let mut g = shared.lock().unwrap();
                                *g += 1;
                                spin(2_000);
                            }
                            4 => {
                                threads::blocking(|| std::thread::sleep(Duration::from_micros(100)))
                            }
                            _ => {
                                let all = handles.get().unwrap();
                                all[(x as usize / 7) % all.len()].unpark();
                            }
                        }
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap(),
        );
    }
    let _ = handles.set(spawned);
    done
}

fn assert_one_thread_per_cpu(report: &Report) {
    let trace = report.trace.as_ref().unwrap();
    let mut slices: Vec<(usize, u64, u64)> = trace
        .events()
        .iter()
        .filter_map(|e| match *e {
            TraceEvent::Task {
                cpu,
                start_ns,
                end_ns,
                ..
            } => Some((cpu, start_ns, end_ns)),
            _ => None,
        })
        .collect();
    slices.sort();
    for w in slices.windows(2) {
        if w[0].0 == w[1].0 {
            assert!(
                w[1].1 >= w[0].2,
                "overlap on cpu {}: {:?} {:?}",
                w[0].0,
                w[0],
                w[1]
            );
        }
    }
}

#[test]
fn everything_at_once_under_smp() {
    in_child(
        "everything_at_once_under_smp",
        Duration::from_secs(60),
        || {
            let enclave = ThreadEnclave::new(patient().with_trace(true)).unwrap();
            let done = workload(&enclave);
            let report = SmpFifo::default()
                .run(enclave, AgentConfig::new(parse_cpu_str("0-1").unwrap()))
                .unwrap();
            println!("{report}");
            assert_eq!(done.load(Ordering::SeqCst), THREADS as u64);
            assert_eq!(report.messages_of(MessageKind::TaskDead), THREADS as u64);
            assert_one_thread_per_cpu(&report);
        },
    );
}

#[test]
fn everything_at_once_under_round_robin() {
    in_child(
        "everything_at_once_under_round_robin",
        Duration::from_secs(60),
        || {
            let enclave = ThreadEnclave::new(patient().with_trace(true)).unwrap();
            let done = workload(&enclave);
            let report = RoundRobin::default()
                .run(
                    enclave,
                    AgentConfig::new(parse_cpu_str("0").unwrap())
                        .with_ticks(CpuTickConfig::AllTicks),
                )
                .unwrap();
            println!("{report}");
            assert_eq!(done.load(Ordering::SeqCst), THREADS as u64);
            assert_one_thread_per_cpu(&report);
        },
    );
}
