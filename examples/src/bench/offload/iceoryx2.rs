//! The iceoryx2 anchor of the process-friend call: a request-response round trip of the
//! `iceoryx2` crate (request `u64`, response `u64`, the `ipc` service: shared memory between
//! processes) between this process and a child process of this very binary, pinned to the same
//! two CPUs as the process-friend call (client on the friend's CPU, server on the hakase's).
//!
//! Both sides poll: the client spins on its pending response, the server on `receive`. That is
//! iceoryx2's fastest mode for a round trip: its event/waitset mode adds a notification (a
//! system call and a wake-up) per message each way, and our own call spins on both sides too.
//!
//! The child is `bench` itself, re-run with [`CHILD_ENV`] set (checked first thing in `main`);
//! it dies with the thread that started it (`PR_SET_PDEATHSIG`), stops when asked by a request
//! carrying `u64::MAX`, is killed if it has not ended within 10 s of that (also when
//! the bench panics: the guard's `Drop`), and the parent removes what a dead node left in shared
//! memory (`try_cleanup_dead_nodes`) and checks that no iceoryx2 file of the run is left in
//! `/dev/shm`.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iceoryx2::prelude::*;

/// Set in the child's environment: `<service name>,<server CPU>,<parent pid>`.
pub const CHILD_ENV: &str = "GEARS_BENCH_ICEORYX2_SERVER";
/// The request that stops the server (it answers it, then ends).
const STOP: u64 = u64::MAX;
/// How long the child may take to end once stopped, and to connect at the start.
const CHILD_GRACE: Duration = Duration::from_secs(10);

/// A node that installs no signal handlers (the bench's Ctrl-C stays the default) and logs
/// only errors.
fn node() -> Node<ipc::Service> {
    set_log_level(LogLevel::Error);
    NodeBuilder::new()
        .signal_handling_mode(SignalHandlingMode::Disabled)
        .create::<ipc::Service>()
        .expect("an iceoryx2 node")
}

/// If this process was started as the iceoryx2 server, serves and exits (never returns);
/// otherwise returns at once. Called first thing in the bench's `main`.
pub fn serve_if_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut fields = spec.split(',');
    let (Some(name), Some(cpu), Some(parent)) = (fields.next(), fields.next(), fields.next())
    else {
        eprintln!("bench: malformed {CHILD_ENV}={spec}");
        std::process::exit(2);
    };
    // SAFETY: prctl with an integer option and a signal number touches no memory of ours.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // The parent may have gone before the death signal was armed.
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() }.to_string() != parent {
        std::process::exit(3);
    }
    if let Ok(cpu) = cpu.parse() {
        super::pin(cpu);
    }
    let node = node();
    let service = node
        .service_builder(&name.try_into().expect("a service name"))
        .request_response::<u64, u64>()
        .open_or_create()
        .expect("the iceoryx2 service");
    let server = service
        .server_builder()
        .create()
        .expect("an iceoryx2 server");
    loop {
        match server.receive().expect("receive a request") {
            Some(request) => {
                let value = *request;
                // The same work as the measured call: add 3.
                request
                    .send_copy(value.wrapping_add(3))
                    .expect("send the response");
                if value == STOP {
                    break;
                }
            }
            None => std::hint::spin_loop(),
        }
    }
    drop(server);
    drop(service);
    drop(node);
    std::process::exit(0);
}

/// The child server; killed and reaped when dropped, if it has not ended by then.
struct Server(Option<Child>);

impl Server {
    fn spawn(name: &str, cpu: usize) -> Self {
        let child = Command::new(std::env::current_exe().expect("the bench binary"))
            .env(CHILD_ENV, format!("{name},{cpu},{}", std::process::id()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start the iceoryx2 server process");
        Self(Some(child))
    }

    /// Waits up to [`CHILD_GRACE`] for it to end by itself, then kills it; whether it ended by
    /// itself with success.
    fn finish(&mut self) -> bool {
        let Some(mut child) = self.0.take() else {
            return false;
        };
        let deadline = Instant::now() + CHILD_GRACE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The iceoryx2 files in `/dev/shm`.
fn shm_files() -> BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .filter(|name| name.starts_with("iox2"))
                .collect()
        })
        .unwrap_or_default()
}

/// iceoryx2 keeps machine-wide state beside its services: a `*.global_mgmt` file in `/dev/shm`
/// and directories under `/tmp/iceoryx2`, made by the first node on the machine and left for
/// the next. If this run made them and no iceoryx2 node is left anywhere, they go too (empty
/// directories only: anything another user keeps there stays).
fn remove_machine_state_if_unused(before: &BTreeSet<String>) {
    let mut nodes = 0;
    let listed = Node::<ipc::Service>::list(Config::global_config(), |_| {
        nodes += 1;
        CallbackProgression::Continue
    });
    if listed.is_err() || nodes > 0 {
        return;
    }
    for file in shm_files().difference(before) {
        if file.ends_with(".global_mgmt") {
            let _ = std::fs::remove_file(format!("/dev/shm/{file}"));
        }
    }
    for dir in [
        "/tmp/iceoryx2/nodes",
        "/tmp/iceoryx2/services",
        "/tmp/iceoryx2",
    ] {
        let _ = std::fs::remove_dir(dir);
    }
}

/// The medians over `reps` runs of `trips` round trips, in ns per round trip, measured on a
/// thread pinned to `caller` against a server process pinned to `server`.
pub fn round_trip_ns(server: usize, caller: usize, trips: u32, reps: usize) -> f64 {
    let before = shm_files();
    let name = format!("gears/bench/iceoryx2/{}", std::process::id());
    let mut child = Server::spawn(&name, server);
    let samples = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                super::pin(caller);
                client(&name, trips, reps)
            })
            .join()
    });
    let ended_cleanly = child.finish();
    drop(child);
    let mut samples = match samples {
        Ok(samples) => samples,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    // Whatever the server's node left behind if it did not end cleanly.
    let cleanup = {
        let node = node();
        node.try_cleanup_dead_nodes()
    };
    remove_machine_state_if_unused(&before);
    // The machine-wide file stays while another iceoryx2 process (another bench run) has a
    // node; it is not the run's.
    let left: Vec<String> = shm_files()
        .difference(&before)
        .filter(|file| !file.ends_with(".global_mgmt"))
        .cloned()
        .collect();
    assert!(
        ended_cleanly && left.is_empty(),
        "the iceoryx2 server ended cleanly: {ended_cleanly}; files it left in /dev/shm: \
         {left:?} (after cleanup: {cleanup:?})"
    );
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn client(name: &str, trips: u32, reps: usize) -> Vec<f64> {
    let node = node();
    let service = node
        .service_builder(&name.try_into().expect("a service name"))
        .request_response::<u64, u64>()
        .open_or_create()
        .expect("the iceoryx2 service");
    let client = service
        .client_builder()
        .create()
        .expect("an iceoryx2 client");
    let connected = Instant::now();
    while service.dynamic_config().number_of_servers() == 0 {
        assert!(
            connected.elapsed() < CHILD_GRACE,
            "the iceoryx2 server did not connect within {CHILD_GRACE:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let call = |value: u64| -> u64 {
        let pending = client.send_copy(value).expect("send a request");
        loop {
            if let Some(response) = pending.receive().expect("receive the response") {
                return *response;
            }
            std::hint::spin_loop();
        }
    };
    // Warm up: the first requests also connect the server's response channel.
    for i in 0..1000 {
        assert_eq!(call(i), i + 3);
    }
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        let mut sum = 0u64;
        for i in 0..u64::from(trips) {
            sum = sum.wrapping_add(call(black_box(i)));
        }
        let took = start.elapsed();
        let n = u64::from(trips);
        assert_eq!(sum, n * (n - 1) / 2 + 3 * n);
        samples.push(took.as_secs_f64() * 1e9 / f64::from(trips));
    }
    assert_eq!(call(STOP), STOP.wrapping_add(3));
    samples
}
