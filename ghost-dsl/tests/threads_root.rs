//! What needs root (or `CAP_SYS_NICE`): agents at `SCHED_FIFO` priority. Ignored by default;
//! `.ci/run` runs it explicitly (CI is root). Without the permission it fails, saying so.

mod threads_support;

use std::time::Duration;

use gears_examples::ghost::fifo::Fifo;
use ghost_dsl::threads::{self, ThreadConfig, ThreadEnclave};
use ghost_dsl::{AgentConfig, parse_cpu_str};
use threads_support::in_child;

#[test]
#[ignore = "needs root or CAP_SYS_NICE (SCHED_FIFO agents); run by .ci/run with --ignored"]
fn agents_run_at_realtime_priority() {
    in_child(
        "agents_run_at_realtime_priority",
        Duration::from_secs(30),
        || {
            let enclave = ThreadEnclave::new(ThreadConfig::new()).unwrap();
            let handle = enclave.handle();
            enclave
                .spawn("t", || threads::sleep(Duration::from_millis(1)))
                .unwrap();
            Fifo::default()
                .run(enclave, AgentConfig::new(parse_cpu_str("0-1").unwrap()))
                .unwrap();
            assert!(
                handle.thread_report().realtime_agents,
                "the agents did not get SCHED_FIFO: run this test as root (or with \
                 CAP_SYS_NICE); without it agents run in the normal class"
            );
        },
    );
}

#[test]
#[ignore = "needs root (perf_event_open on sched:sched_switch, tracefs); run by .ci/run with --ignored"]
fn kernel_blocks_are_seen_through_scheduler_tracepoints() {
    in_child(
        "kernel_blocks_are_seen_through_scheduler_tracepoints",
        Duration::from_secs(30),
        || {
            use std::sync::{Arc, Mutex};
            let enclave = ThreadEnclave::new(ThreadConfig::new()).unwrap();
            let handle = enclave.handle();
            let lock = Arc::new(Mutex::new(0u32));
            let (l1, l2) = (lock.clone(), lock.clone());
            enclave
                .spawn("holder", move || {
                    let mut guard = l1.lock().unwrap();
                    threads::yield_now();
                    *guard += 1;
                })
                .unwrap();
            enclave
                .spawn("waiter", move || *l2.lock().unwrap() += 1)
                .unwrap();
            Fifo::default()
                .run(enclave, AgentConfig::new(parse_cpu_str("0").unwrap()))
                .unwrap();
            let details = handle.thread_report();
            assert_eq!(
                details.block_detection,
                threads::BlockDetection::Tracepoints,
                "tracepoints unavailable: {:?} (run as root)",
                details.block_detection_note
            );
            assert!(details.kernel_blocks >= 1, "{details}");
            assert!(
                details.switch_records > 0,
                "no sched_switch record was read"
            );
            assert_eq!(*lock.lock().unwrap(), 2);
        },
    );
}
