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
