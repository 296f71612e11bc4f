//! Suite `ghost-threads`: the thread enclave against the operating system's own mechanism, in
//! the same run.
//!
//! - `switch_vs_os`: two managed threads on one enclave CPU hand the CPU to each other through
//!   the enclave ([`ThreadHandle::handoff`]: the waking thread blocks, the agent is woken, drains
//!   `MSG_TASK_WAKEUP` + `MSG_TASK_BLOCKED`, commits the other, which runs), per switch, against
//!   two plain threads pinned to that CPU handing off with futex park/unpark
//!   (`std::thread::park`). The thread that leaves the CPU runs the agent's iteration itself
//!   ([`ThreadConfig::with_inline_agent`], the default: one context switch per handoff, as for
//!   the OS); `switch_agent_thread` is the same with the agent thread woken instead (ghOSt's
//!   path: the waking thread, the agent, then the other thread), and `switch_two_calls` the
//!   handoff written as `unpark` then `park` (the unpark wakes the agent thread).
//! - `wake_vs_os`: a plain thread on another CPU unparks a parked managed thread; the time from
//!   the unpark to the woken thread running (unpark → `MSG_TASK_WAKEUP` → agent → commit → run),
//!   median over rounds, against the same with a plain parked thread.
//!
//! The enclave uses the generated per-CPU [`Fifo`] on CPU 1 (the agent shares the CPU with the
//! threads, at real-time priority when permitted, as a ghOSt agent does); the waker and the
//! measuring thread run on CPU 0.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ghost_dsl::threads::{self, ThreadConfig, ThreadEnclave, ThreadHandle};
use ghost_dsl::{AgentConfig, CpuList};

use super::{Effort, report, report_ratio};
use crate::ghost::fifo::Fifo;

const THREAD_CPU: usize = 1;
const WAKER_CPU: usize = 0;

fn pin(cpu: usize) {
    if let Ok(list) = CpuList::single(cpu) {
        let _ = list.pin_current_thread();
    }
}

fn enclave_cpus() -> AgentConfig {
    AgentConfig::new(CpuList::single(THREAD_CPU).expect("CPU 1 exists on the bench machine"))
}

/// Per switch, two plain threads pinned to one CPU, futex park/unpark.
fn os_switch(rounds: u64) -> Duration {
    let turn = Arc::new(AtomicU32::new(0));
    let handles: Arc<OnceLock<[std::thread::Thread; 2]>> = Arc::new(OnceLock::new());
    let start_gate = Arc::new(AtomicU32::new(0));
    let spawn = |me: u32| {
        let (turn, handles, start_gate) = (turn.clone(), handles.clone(), start_gate.clone());
        std::thread::spawn(move || {
            pin(THREAD_CPU);
            start_gate.fetch_add(1, Ordering::AcqRel);
            while handles.get().is_none() {
                std::thread::yield_now();
            }
            let other = &handles.get().expect("set")[1 - me as usize];
            for _ in 0..rounds {
                while turn.load(Ordering::Acquire) != me {
                    std::thread::park();
                }
                turn.store(1 - me, Ordering::Release);
                other.unpark();
            }
        })
    };
    let (a, b) = (spawn(0), spawn(1));
    while start_gate.load(Ordering::Acquire) < 2 {
        std::thread::yield_now();
    }
    let start = Instant::now();
    let _ = handles.set([a.thread().clone(), b.thread().clone()]);
    a.join().expect("no panic");
    b.join().expect("no panic");
    start.elapsed() / (2 * rounds as u32)
}

/// Per switch, two managed threads handing the enclave CPU to each other.
fn enclave_switch(rounds: u64, one_call: bool, inline: bool) -> Duration {
    let enclave = ThreadEnclave::new(ThreadConfig::new().with_inline_agent(inline))
        .expect("a thread enclave");
    let turn = Arc::new(AtomicU32::new(0));
    let handles: Arc<OnceLock<[ThreadHandle; 2]>> = Arc::new(OnceLock::new());
    let times = Arc::new(OnceLock::<Instant>::new());
    let mut spawned = Vec::new();
    for me in 0..2u32 {
        let (turn, handles, times) = (turn.clone(), handles.clone(), times.clone());
        spawned.push(
            enclave
                .spawn(format!("switch{me}"), move || {
                    let _ = times.set(Instant::now());
                    let other = &handles.get().expect("set before the run")[1 - me as usize];
                    for _ in 0..rounds {
                        while turn.load(Ordering::Acquire) != me {
                            threads::park();
                        }
                        turn.store(1 - me, Ordering::Release);
                        if one_call {
                            other.handoff();
                        } else {
                            other.unpark();
                        }
                    }
                    // The other one waits for a last wakeup.
                    other.unpark();
                })
                .expect("spawn"),
        );
    }
    let _ = handles.set([spawned[0].clone(), spawned[1].clone()]);
    let report = Fifo::default()
        .run(enclave, enclave_cpus())
        .expect("the switch run finishes");
    let start = *times.get().expect("a thread ran");
    let end = report
        .tasks
        .iter()
        .filter_map(|t| t.end_ns)
        .max()
        .expect("threads ended");
    let first = report
        .tasks
        .iter()
        .filter_map(|t| t.start_ns)
        .min()
        .expect("threads started");
    let _ = start;
    Duration::from_nanos(end - first) / (2 * rounds as u32)
}

/// What a parked thread and its waker share.
struct WakeProbe {
    /// The parked thread's kernel tid (from `/proc/thread-self`).
    tid: AtomicU64,
    /// Bumped by the thread each time it is about to park.
    parked: AtomicU64,
    /// When the thread ran after its last wakeup (ns since `epoch`).
    woke_ns: AtomicU64,
    done: AtomicBool,
    epoch: Instant,
}

impl WakeProbe {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            tid: AtomicU64::new(0),
            parked: AtomicU64::new(0),
            woke_ns: AtomicU64::new(0),
            done: AtomicBool::new(false),
            epoch: Instant::now(),
        })
    }

    fn record_tid(&self) {
        let tid = std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|p| p.file_name()?.to_str()?.parse().ok())
            .unwrap_or(0);
        self.tid.store(tid, Ordering::Release);
    }

    /// The parked side: park until done, stamping each wakeup.
    fn sleeper(&self, park: impl Fn()) {
        self.record_tid();
        let mut round = 0;
        while !self.done.load(Ordering::Acquire) {
            round += 1;
            self.parked.store(round, Ordering::Release);
            park();
            self.woke_ns
                .store(self.epoch.elapsed().as_nanos() as u64, Ordering::Release);
        }
    }

    /// Whether the sleeper is asleep in the kernel (`S` in `/proc/self/task/<tid>/stat`).
    fn asleep(&self) -> bool {
        let tid = self.tid.load(Ordering::Acquire);
        std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))
            .ok()
            .and_then(|s| {
                let close = s.rfind(')')?;
                s[close + 2..].chars().next()
            })
            == Some('S')
    }

    /// The waker side (on its own CPU): `rounds` wakeups, each once the sleeper sleeps; the
    /// median latency from unpark to running.
    fn waker(&self, rounds: usize, unpark: impl Fn()) -> Duration {
        pin(WAKER_CPU);
        let mut samples = Vec::with_capacity(rounds);
        for round in 1..=rounds as u64 {
            let deadline = Instant::now() + Duration::from_secs(5);
            while (self.parked.load(Ordering::Acquire) < round || !self.asleep())
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_micros(50));
            }
            if round == rounds as u64 {
                self.done.store(true, Ordering::Release);
            }
            let before = self.woke_ns.load(Ordering::Acquire);
            let t0 = self.epoch.elapsed().as_nanos() as u64;
            unpark();
            while self.woke_ns.load(Ordering::Acquire) == before {
                std::hint::spin_loop();
            }
            samples.push(self.woke_ns.load(Ordering::Acquire).saturating_sub(t0));
        }
        samples.sort_unstable();
        Duration::from_nanos(samples[samples.len() / 2])
    }
}

fn os_wake(rounds: usize) -> Duration {
    let probe = WakeProbe::new();
    let p = probe.clone();
    let sleeper = std::thread::spawn(move || {
        pin(THREAD_CPU);
        p.sleeper(std::thread::park);
    });
    let t = sleeper.thread().clone();
    let waker_probe = probe.clone();
    let waker = std::thread::spawn(move || waker_probe.waker(rounds, || t.unpark()));
    let median = waker.join().expect("no panic");
    sleeper.join().expect("no panic");
    median
}

fn enclave_wake(rounds: usize) -> Duration {
    let enclave = ThreadEnclave::new(ThreadConfig::new()).expect("a thread enclave");
    let probe = WakeProbe::new();
    let p = probe.clone();
    let handle = enclave
        .spawn("sleeper", move || p.sleeper(threads::park))
        .expect("spawn");
    let waker_probe = probe.clone();
    let waker = std::thread::spawn(move || waker_probe.waker(rounds, || handle.unpark()));
    Fifo::default()
        .run(enclave, enclave_cpus())
        .expect("the wake run finishes");
    waker.join().expect("no panic")
}

/// Runs the suite and prints its figures.
pub fn run(effort: Effort) {
    let (switch_rounds, wake_rounds, reps) = match effort {
        Effort::Full => (20_000, 400, 5),
        Effort::Quick => (2_000, 40, 1),
    };
    let mut os = Vec::new();
    let mut ours = Vec::new();
    let mut two_calls = Vec::new();
    let mut agent_thread = Vec::new();
    for _ in 0..reps {
        os.push(os_switch(switch_rounds));
        ours.push(enclave_switch(switch_rounds, true, true));
        two_calls.push(enclave_switch(switch_rounds, false, true));
        agent_thread.push(enclave_switch(switch_rounds, true, false));
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let ns = |d: Duration| d.as_nanos() as f64;
    let (os, ours, two_calls, agent_thread) = (
        median(&mut os),
        median(&mut ours),
        median(&mut two_calls),
        median(&mut agent_thread),
    );
    report("ghost_threads.switch_os", ns(os), "ns");
    report("ghost_threads.switch_enclave", ns(ours), "ns");
    report("ghost_threads.switch_two_calls", ns(two_calls), "ns");
    report("ghost_threads.switch_agent_thread", ns(agent_thread), "ns");
    report_ratio("ghost_threads.switch_vs_os", ns(ours), ns(os));
    report_ratio(
        "ghost_threads.switch_two_calls_vs_os",
        ns(two_calls),
        ns(os),
    );
    report_ratio(
        "ghost_threads.switch_agent_thread_vs_os",
        ns(agent_thread),
        ns(os),
    );
    let mut os = Vec::new();
    let mut ours = Vec::new();
    for _ in 0..reps {
        os.push(os_wake(wake_rounds));
        ours.push(enclave_wake(wake_rounds));
    }
    let (os, ours) = (median(&mut os), median(&mut ours));
    report("ghost_threads.wake_os", ns(os), "ns");
    report("ghost_threads.wake_enclave", ns(ours), "ns");
    report_ratio("ghost_threads.wake_vs_os", ns(ours), ns(os));
}
