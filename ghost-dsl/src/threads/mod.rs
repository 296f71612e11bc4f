//! [`ThreadEnclave`]: a ghOSt enclave in user space over ordinary Linux threads, the second
//! backend of the ABI the simulator implements. One policy source, two enclaves, the same
//! messages and rules.
//!
//! This machine's kernel has neither ghOSt nor sched_ext, so the enclave schedules *managed
//! threads* itself: each waits on a per-thread futex (its gate) until the agent commits it to a
//! CPU, runs pinned to that CPU, and is stopped again by a real-time signal when the agent
//! preempts it. Real events become ghOSt's messages:
//!
//! | event | message |
//! |---|---|
//! | [`ThreadEnclave::spawn`] / [`spawn`] (the seed's `GhostThread(kGhost, fn)`) | `MSG_TASK_NEW` |
//! | [`sleep`], [`park`], [`blocking`] (and a kernel block the monitor sees) | `MSG_TASK_BLOCKED` |
//! | the sleep's deadline, [`ThreadHandle::unpark`], the end of [`blocking`] | `MSG_TASK_WAKEUP` |
//! | [`yield_now`] | `MSG_TASK_YIELD` |
//! | an agent taking its CPU (per-CPU model), a commit to a busy CPU | `MSG_TASK_PREEMPT` |
//! | the closure returns or panics (the panic is in the report) | `MSG_TASK_BLOCKED`, `MSG_TASK_DEAD` |
//! | the tick timer while a thread runs, with ticks on | `MSG_CPU_TICK` |
//!
//! # Agents
//!
//! Per-CPU model: one agent thread per enclave CPU; centralized: one global agent thread on the
//! first enclave CPU, which then runs no managed thread. Agent threads are pinned to their CPU
//! and made `SCHED_FIFO` (priority 10 by default, [`ThreadConfig::with_rt_priority`]) so that,
//! as in ghOSt, a woken agent preempts the managed thread on its CPU at once. Without the
//! permission (not root, no `CAP_SYS_NICE`), they stay in the normal class and the run still
//! works: a woken agent then waits for the OS scheduler to give it the CPU (usually well under a
//! millisecond), and a thread the agent preempted may run on until then;
//! [`ThreadReport::realtime_agents`] says which it was. Agents sleep on a futex when they have
//! nothing to do (no core is burnt) unless [`ThreadConfig::with_spin`] asks them to spin. The
//! policy is one `&mut` value, so iterations of different agents are serialised by a lock.
//!
//! Tick messages come from the agents' own timed waits: while a thread runs on a CPU with ticks
//! on, its agent wakes every [`ThreadConfig::with_tick`] (1 ms by default) and posts
//! `MSG_CPU_TICK` first in its iteration.
//!
//! In the per-CPU model without ticks, a managed thread that leaves its CPU (blocks, yields,
//! exits) runs that CPU's agent iteration itself, as a kernel's `schedule()` runs in the context
//! of the task that blocks, instead of waking the agent thread: the same policy code, messages
//! and rules, one context switch per handoff instead of three
//! ([`ThreadConfig::with_inline_agent`]).
//!
//! # Faults
//!
//! A panic of the policy or a broken rule (the agent asks to stop) releases every managed thread
//! to the OS scheduler (gates open for good, affinity back to the whole machine, as ghOSt falls
//! back to CFS when its agent dies); they run to completion, their enclave calls become the
//! plain OS calls, and the run returns the error; the report so far stays readable. A watchdog
//! ([`ThreadConfig::with_watchdog`], 5 s by default) does the same when a runnable thread has
//! not been scheduled for that long, naming the threads (sched_ext's "runnable task stall"),
//! and when an agent iteration holds the enclave that long ([`ThreadError::AgentStalled`]): the
//! agent lives in the threads' process (ghOSt puts it in a process of its own), so a policy that
//! waits for something a stopped thread holds (a lock of its own; in principle an allocator
//! lock) would otherwise wait forever; the watchdog then opens every gate without the enclave's
//! lock, the stopped thread lets go, and the run ends with the error. The enclave's own lock is
//! never held by a stopped thread: every enclave call masks the preemption signal's stop.
//! Dropping an enclave that never ran releases and joins its threads; the run joins every agent
//! and managed thread before it returns, so no thread outlives it (but see the limit below).
//! `SIGINT` and `SIGTERM` keep their default action: the process ends, and with it every thread
//! (managed threads are threads of this process; there is no agent process to leave behind).
//!
//! # Runs that cannot end by themselves
//!
//! Only a [`ThreadHandle`] can wake a parked thread, so the enclave counts the live handles of
//! every thread (clones included, wherever they are). When every live managed thread is parked
//! in [`park`] (or a `handoff`) with no deadline, no [`blocking`] call in progress, no unpark
//! token pending and no handle of any of them left, nothing can ever wake them: the monitor
//! notices within a poll and ends the run with [`ThreadError::Deadlock`], naming each parked
//! thread and the `file:line:column` of its `park`. While some handle exists the run waits, as
//! the handle may yet be used, from another thread or a managed thread; a handle that never
//! will be (kept on the thread blocked in `run`, or in the closure of a thread that is itself
//! parked) keeps it waiting, so bound such runs with [`ThreadConfig::with_time_limit`], which
//! ends the run with [`ThreadError::TimeLimit`].
//!
//! Either way every managed thread is released to the OS scheduler: parked threads return from
//! `park` (a spurious wakeup, which `std::thread::park` documents too; call `park` in a loop
//! that checks its condition) and every later `park` of theirs returns at once. The run then
//! waits up to [`ThreadConfig::with_grace`] (1 s) for the released threads to end and joins
//! them. **The limit:** a thread stuck in user code that never returns (a loop whose condition
//! never turns, a wait on something outside the enclave) cannot be stopped; after the grace
//! period the run leaves it running, detached, under the OS scheduler, returns the error with
//! the thread named in `left_running`, and the thread ends with the process.
//!
//! A managed thread whose OS thread ends without returning from its closure (a raw `exit`
//! system call, `pthread_exit` from C) cannot post its own end. The monitor's poll of
//! `/proc/self/task` (while kernel-block detection is on, the default) notices that it is gone,
//! posts `MSG_TASK_BLOCKED` and `MSG_TASK_DEAD` for it so its CPU goes to another thread, and
//! records it in [`ThreadReport::panics`] ("the thread ended without returning ..."); it is
//! not joined (there is nothing left to join). With detection off, the watchdog ends such a run.
//!
//! Durations saturate: `Duration::MAX` as a time limit, watchdog, grace, tick or [`sleep`]
//! means "never", as it does for `std::thread::sleep`.
//!
//! # Blocking outside the enclave's calls
//!
//! See [`monitor`]: a thread asleep in the kernel (a `std::sync::Mutex`, I/O) is noticed within
//! a millisecond poll through the `sched:sched_switch` tracepoint (root), or within two polls of
//! `/proc/self/task/<tid>/stat` without it, and gives its CPU up; wrap known blocking calls in
//! [`blocking`] to make that immediate.
//!
//! # Example
//!
//! The tutorial's FIFO, unchanged from the simulator, scheduling a real thread that sleeps,
//! yields and computes on CPU 0:
//!
//! ```
//! use std::collections::VecDeque;
//! use std::time::Duration;
//!
//! use ghost_dsl::prelude::*;
//! use ghost_dsl::threads::{self, ThreadConfig, ThreadEnclave};
//! use ghost_dsl::{MessageKind, parse_cpu_str};
//!
//! #[derive(Default)]
//! struct Fifo { rq: VecDeque<Gtid> }
//!
//! #[ghost_scheduler(model = per_cpu, task = ())]
//! impl Fifo {
//!     fn task_new(&mut self, task: &mut Task<()>, msg: &TaskNew, _cx: &mut Cx<'_>) {
//!         if msg.runnable { self.rq.push_back(task.gtid()); }
//!     }
//!     fn task_runnable(&mut self, task: &mut Task<()>, _: &TaskWakeup, _cx: &mut Cx<'_>) {
//!         self.rq.push_back(task.gtid());
//!     }
//!     fn task_blocked(&mut self, _: &mut Task<()>, _: &TaskBlocked, _cx: &mut Cx<'_>) {}
//!     fn task_yield(&mut self, task: &mut Task<()>, _: &TaskYield, _cx: &mut Cx<'_>) {
//!         self.rq.push_back(task.gtid());
//!     }
//!     fn task_preempted(&mut self, task: &mut Task<()>, _: &TaskPreempt, _cx: &mut Cx<'_>) {
//!         self.rq.push_front(task.gtid());
//!     }
//!     fn task_departed(&mut self, _: &mut Task<()>, _: &TaskDeparted, _cx: &mut Cx<'_>) {}
//!     fn task_dead(&mut self, _: &mut Task<()>, _: &TaskDead, _cx: &mut Cx<'_>) {}
//!     fn pick_next(&mut self, _cpu: Cpu, _cx: &mut Cx<'_>) -> Option<Gtid> {
//!         self.rq.pop_front()
//!     }
//! }
//!
//! let enclave = ThreadEnclave::new(ThreadConfig::new())?;
//! enclave.spawn("worker", || {
//!     threads::sleep(Duration::from_millis(2)); // MSG_TASK_BLOCKED, MSG_TASK_WAKEUP
//!     threads::yield_now();                     // MSG_TASK_YIELD
//!     let _sum: u64 = (0..1_000_000u64).map(std::hint::black_box).sum();
//! })?;                                          // MSG_TASK_NEW now, MSG_TASK_DEAD at the end
//! let report = Fifo::default().run(enclave, AgentConfig::new(parse_cpu_str("0")?))?;
//! assert_eq!(report.messages_of(MessageKind::TaskYield), 1);
//! assert!(report.task("worker").unwrap().end_ns.is_some());
//! println!("{report}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod agents;
mod config;
mod error;
mod gate;
mod kernel;
mod managed;
pub mod monitor;
mod ops;
mod report;
mod sys;
mod tracepoints;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32};
use std::sync::{Arc, Mutex, Once};

pub use config::ThreadConfig;
pub use error::ThreadError;
pub use managed::{blocking, current_gtid, now_ns, park, sleep, yield_now};
pub use report::{BlockDetection, ThreadPanic, ThreadReport};
pub use sys::process_threads;

use agents::{AgentOptions, AgentSetup, AgentShared, Fault};
use gate::ThreadCell;
use kernel::State;
use managed::Shared;
use monitor::MonitorOptions;

use crate::abi::{EnclaveBackend, Report, RunEnd};
use crate::{
    Agent, AgentConfig, AgentEnclave, AgentModel, AgentRpcArgs, AgentRpcResponse, CpuList, Gtid,
    TaskAttrs, Topology,
};

/// A managed thread: its gtid, and a way to unpark it.
///
/// Handles are what can wake a parked thread, so the enclave counts them: a run in which every
/// live managed thread is parked and no handle of any of them exists can never go on, and ends
/// with [`ThreadError::Deadlock`]. A handle kept alive anywhere (on the thread that called
/// `run`, in another parked thread's closure) counts as a possible waker, and the run waits for
/// it; bound such runs with [`ThreadConfig::with_time_limit`].
pub struct ThreadHandle {
    shared: Arc<Shared>,
    gtid: Gtid,
    cell: Arc<ThreadCell>,
}

impl Clone for ThreadHandle {
    fn clone(&self) -> Self {
        self.cell
            .handles
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        Self {
            shared: self.shared.clone(),
            gtid: self.gtid,
            cell: self.cell.clone(),
        }
    }
}

impl Drop for ThreadHandle {
    fn drop(&mut self) {
        // Release: an unpark through this handle (under the enclave lock) happens before the
        // monitor can see the count drop.
        self.cell
            .handles
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl fmt::Debug for ThreadHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadHandle")
            .field("gtid", &self.gtid)
            .finish_non_exhaustive()
    }
}

impl ThreadHandle {
    /// The handle a spawn returns: the cell was made with a count of one for it, before the
    /// thread could park (so the monitor never sees a fresh thread without its handle).
    fn new(shared: Arc<Shared>, gtid: Gtid, cell: Arc<ThreadCell>) -> Self {
        Self { shared, gtid, cell }
    }

    /// The thread's gtid in its enclave.
    pub fn gtid(&self) -> Gtid {
        self.gtid
    }

    /// Wakes the thread from [`park`] (`MSG_TASK_WAKEUP`), or makes its next `park` return at
    /// once. Callable from any thread.
    pub fn unpark(&self) {
        managed::shielded(|| {
            managed::unpark(&self.shared, self.gtid.tid() as usize - 1, &self.cell);
        });
    }

    /// Wakes this thread and [`park`]s the calling managed thread, as one event: the agent is
    /// woken once, with this thread's `MSG_TASK_WAKEUP` and the caller's `MSG_TASK_BLOCKED`,
    /// and can hand the caller's CPU straight to this thread. From any other thread: `unpark`,
    /// then `park`.
    #[track_caller]
    pub fn handoff(&self) {
        managed::handoff(&self.shared, self.gtid.tid() as usize - 1, &self.cell);
    }
}

/// `name`, if an OS thread may carry it (std's thread builder panics on a NUL byte, after the
/// enclave would have counted the thread).
fn checked_name(name: String) -> Result<String, ThreadError> {
    if name.contains('\0') {
        return Err(ThreadError::ThreadName { name });
    }
    Ok(name)
}

/// Spawns a managed thread into the enclave of the calling managed thread (`MSG_TASK_NEW`).
///
/// # Errors
///
/// [`ThreadError::Attach`] when the caller is not a managed thread,
/// [`ThreadError::ThreadName`] for a name with a NUL byte, [`ThreadError::Os`] when the thread
/// cannot be created.
pub fn spawn(
    name: impl Into<String>,
    f: impl FnOnce() + Send + 'static,
) -> Result<ThreadHandle, ThreadError> {
    let name = checked_name(name.into())?;
    match managed::shielded(|| managed::spawn_here(name, TaskAttrs::new(), Box::new(f))) {
        None => Err(ThreadError::Attach(
            "ghost_dsl::threads::spawn was called outside a managed thread: it spawns into the \
             caller's own enclave; from other threads use ThreadEnclave::spawn or \
             EnclaveHandle::spawn",
        )),
        Some(Err(e)) => Err(ThreadError::Os(e)),
        Some(Ok((shared, gtid, cell))) => Ok(ThreadHandle::new(shared, gtid, cell)),
    }
}

/// [`spawn`] with per-task attributes the policy reads (`Cx::task_attrs`).
///
/// # Errors
///
/// As [`spawn`].
pub fn spawn_with(
    name: impl Into<String>,
    attrs: TaskAttrs,
    f: impl FnOnce() + Send + 'static,
) -> Result<ThreadHandle, ThreadError> {
    let name = checked_name(name.into())?;
    match managed::shielded(|| managed::spawn_here(name, attrs, Box::new(f))) {
        None => Err(ThreadError::Attach(
            "ghost_dsl::threads::spawn_with was called outside a managed thread: it spawns into \
             the caller's own enclave; from other threads use ThreadEnclave::spawn_with or \
             EnclaveHandle::spawn_with",
        )),
        Some(Err(e)) => Err(ThreadError::Os(e)),
        Some(Ok((shared, gtid, cell))) => Ok(ThreadHandle::new(shared, gtid, cell)),
    }
}

/// A user-space ghOSt enclave over real threads (see the [module documentation](self)).
pub struct ThreadEnclave {
    shared: Arc<Shared>,
    config: ThreadConfig,
    ran: bool,
}

impl fmt::Debug for ThreadEnclave {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.lock();
        f.debug_struct("ThreadEnclave")
            .field("cpus", &st.enclave)
            .field("threads", &st.threads.len())
            .field("live", &st.live)
            .finish_non_exhaustive()
    }
}

static HANDLER: Once = Once::new();

/// Publishes the running policy for inline iterations ([`managed::InlineAgent`]) and
/// withdraws it when dropped, before the policy's [`AgentShared`] goes away.
struct InlineSlot<'s> {
    shared: &'s Shared,
}

impl<'s> InlineSlot<'s> {
    fn set<A: Agent + Send>(shared: &'s Shared, ags: &AgentShared<'_, A>) -> Self {
        let ptr: *const (dyn agents::Inline + '_) = ags;
        // SAFETY: only the lifetime is erased; the slot is cleared by `drop` below, which the
        // run calls before `ags` goes out of scope, and readers dereference it only under the
        // read lock that `drop`'s write lock waits for.
        let ptr: *const (dyn agents::Inline + 'static) = unsafe { std::mem::transmute(ptr) };
        *shared.inline.write().unwrap_or_else(|e| e.into_inner()) = Some(managed::InlineAgent(ptr));
        Self { shared }
    }
}

impl Drop for InlineSlot<'_> {
    fn drop(&mut self) {
        *self
            .shared
            .inline
            .write()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }
}

impl ThreadEnclave {
    /// An enclave on this machine, with no agent and no thread yet.
    ///
    /// # Errors
    ///
    /// [`ThreadError::Topology`] when `/sys` cannot be read; [`ThreadError::Os`] when the
    /// preemption signal's handler cannot be installed.
    pub fn new(config: ThreadConfig) -> Result<Self, ThreadError> {
        let topology = match &config.topology {
            Some(t) => t.clone(),
            None => Topology::from_sysfs().map_err(ThreadError::Topology)?,
        };
        let mut installed = Ok(());
        HANDLER.call_once(|| installed = sys::install_handler(gate::on_preempt_signal));
        installed.map_err(ThreadError::Os)?;
        let machine = CpuList::current_thread_affinity()
            .map(|l| l.iter().collect())
            .unwrap_or_else(|_| (0..topology.num_cpus()).collect());
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(topology, config.trace)),
            machine,
            done: AtomicU32::new(0),
            epoch: std::sync::OnceLock::new(),
            inline: std::sync::RwLock::new(None),
            cells: Mutex::new(Vec::new()),
            realtime: AtomicBool::new(false),
            joins: Mutex::new(Vec::new()),
        });
        Ok(Self {
            shared,
            config,
            ran: false,
        })
    }

    /// Spawns `f` as a managed thread named `name` (the seed's `GhostThread(kGhost, f)`). Before
    /// the run it waits; the run posts its `MSG_TASK_NEW`. During a run use [`spawn`] from a
    /// managed thread.
    ///
    /// # Errors
    ///
    /// [`ThreadError::ThreadName`] for a name with a NUL byte; [`ThreadError::Os`] when the
    /// thread cannot be created.
    pub fn spawn(
        &self,
        name: impl Into<String>,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<ThreadHandle, ThreadError> {
        self.spawn_with(name, TaskAttrs::new(), f)
    }

    /// [`spawn`](Self::spawn) with per-task attributes (priority, weight, deadline, a user
    /// value) that the policy reads in its handlers.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    pub fn spawn_with(
        &self,
        name: impl Into<String>,
        attrs: TaskAttrs,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<ThreadHandle, ThreadError> {
        self.handle().spawn_with(name, attrs, f)
    }

    /// A handle on this enclave that outlives it being moved into a run: spawn threads into it
    /// from any thread (also during the run), read its [`ThreadReport`] afterwards.
    pub fn handle(&self) -> EnclaveHandle {
        EnclaveHandle {
            shared: self.shared.clone(),
        }
    }

    /// What the enclave measured so far, with what only real threads have.
    pub fn thread_report(&self) -> ThreadReport {
        self.handle().thread_report()
    }

    /// Nanoseconds since the run started (since the enclave was made, before it).
    pub fn now_ns(&self) -> u64 {
        self.shared.lock().now_ns()
    }

    /// Checks `config` against the machine and builds CPUs and channels for `model`.
    fn attach_cpus(&mut self, model: AgentModel, config: &AgentConfig) -> Result<(), ThreadError> {
        let mut st = self.shared.lock();
        if st.attached {
            return Err(ThreadError::Attach(
                "this thread enclave has an agent already",
            ));
        }
        let allowed = CpuList::try_from_cpus(self.shared.machine.iter().copied())
            .unwrap_or_else(|_| CpuList::new());
        let asked = config.cpus;
        if asked.is_empty() {
            return Err(ThreadError::NoCpus);
        }
        if !asked.is_subset(&allowed) || asked.iter().any(|id| st.topology.cpu(id).is_none()) {
            return Err(ThreadError::Cpus {
                asked: asked.to_string(),
                allowed: allowed.to_string(),
            });
        }
        if model == AgentModel::Centralized && asked.len() < 2 {
            return Err(ThreadError::CentralizedNeedsTwoCpus);
        }
        let ticks = config.tick_config == crate::CpuTickConfig::AllTicks;
        st.attach(
            model,
            &asked,
            ticks,
            config::saturating_nanos(self.config.tick),
        );
        Ok(())
    }

    /// Calls into `agent` with the enclave as seen from the first enclave CPU, under the lock.
    fn with_first_cpu<A: Agent, R>(
        &self,
        agent: &mut A,
        f: impl FnOnce(&mut A, &mut AgentEnclave<'_>) -> R,
    ) -> R {
        let mut st = self.shared.lock();
        let cpu = st.cpus[0].cpu;
        let r = {
            let mut k = ops::Kernel { st: &mut st };
            f(agent, &mut AgentEnclave::new(&mut k, cpu))
        };
        let mut wakes = std::mem::take(&mut st.wakes);
        drop(st);
        kernel::flush(&mut wakes);
        r
    }

    /// Runs the attached enclave with `agent` until every managed thread has ended. Returns
    /// whether the agent asked to stop.
    fn run_agent<A: Agent + Send>(&mut self, agent: &mut A) -> Result<bool, ThreadError> {
        if !self.shared.lock().attached {
            return Err(ThreadError::Attach(
                "attach an agent to the thread enclave before running it",
            ));
        }
        if self.ran {
            return Err(ThreadError::Attach("this thread enclave has run already"));
        }
        self.ran = true;
        let ags = AgentShared {
            shared: &self.shared,
            agent: Mutex::new(agent),
            stop: AtomicBool::new(false),
            fault: Mutex::new(None),
            options: AgentOptions {
                rt_priority: self.config.rt_priority,
                spin: self.config.spin,
            },
        };
        let agent_cpus: Vec<usize> = {
            let st = self.shared.lock();
            (0..st.cpus.len())
                .filter(|&a| st.cpus[a].has_agent)
                .collect()
        };
        let monitor = MonitorOptions {
            poll: self.config.poll,
            watchdog: self.config.watchdog,
            kernel_blocks: self.config.kernel_blocks,
            time_limit: self.config.time_limit,
            grace: self.config.grace,
        };
        // Before any thread runs: once agents iterate, a stuck one may hold the lock, and the
        // monitor must never wait for it outside its stall-breaking try-lock.
        let tracepoints = (monitor.kernel_blocks && self.config.tracepoints)
            .then(|| {
                let cpus: Vec<usize> = self.shared.lock().enclave.iter().collect();
                tracepoints::Tracepoints::open(&cpus)
            })
            .and_then(|opened| match opened {
                Ok(tp) => Some(tp),
                Err(e) => {
                    self.shared.lock().block_detection_note = Some(e.to_string());
                    None
                }
            });
        self.shared.lock().block_detection = if !monitor.kernel_blocks {
            BlockDetection::Off
        } else if tracepoints.is_some() {
            BlockDetection::Tracepoints
        } else {
            BlockDetection::Polling
        };
        let mut os_error = None;
        let agent_tids: Vec<std::sync::atomic::AtomicI32> = agent_cpus
            .iter()
            .map(|_| std::sync::atomic::AtomicI32::new(0))
            .collect();
        let (realtime, abandoned) = std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::channel::<AgentSetup>();
            let mut agents = Vec::new();
            for (&a, tid) in agent_cpus.iter().zip(&agent_tids) {
                let tx = tx.clone();
                let ags = &ags;
                let spawned = std::thread::Builder::new()
                    .name(format!("ghost-agent-{a}"))
                    .spawn_scoped(scope, move || {
                        tid.store(sys::gettid(), std::sync::atomic::Ordering::Release);
                        agents::agent_main(ags, a, tx);
                    });
                match spawned {
                    Ok(h) => agents.push(h),
                    Err(e) => {
                        os_error = Some(e);
                        break;
                    }
                }
            }
            drop(tx);
            let setups: Vec<AgentSetup> = rx.iter().collect();
            let _inline = self
                .config
                .inline
                .then(|| InlineSlot::set(&self.shared, &ags));
            let realtime = !setups.is_empty() && setups.iter().all(|s| s.realtime);
            {
                let mut st = self.shared.lock();
                if os_error.is_some() {
                    let machine = self.shared.machine.clone();
                    st.fall_back(&machine);
                } else {
                    // The run's clock starts now; threads spawned before it arrive now.
                    st.start = std::time::Instant::now();
                    let _ = self.shared.epoch.set(st.start);
                    for i in 0..st.threads.len() {
                        if st.threads[i].state == kernel::TState::Starting {
                            st.arrive(i);
                        }
                    }
                }
                let mut wakes = std::mem::take(&mut st.wakes);
                drop(st);
                kernel::flush(&mut wakes);
            }
            let abandoned = monitor::watch(&ags, monitor, tracepoints);
            self.shared.lock().ended = true;
            drop(_inline);
            ags.stop.store(true, std::sync::atomic::Ordering::Release);
            {
                let st = self.shared.lock();
                for c in &st.cpus {
                    c.word.fetch_add(1, std::sync::atomic::Ordering::Release);
                    sys::futex_wake_all(&c.word);
                }
            }
            for h in agents {
                let _ = h.join();
            }
            (realtime, abandoned)
        });
        let fault = ags.fault.into_inner().unwrap_or_else(|e| e.into_inner());
        let left_running = if abandoned {
            self.join_ended_threads()
        } else {
            self.join_threads();
            Vec::new()
        };
        let agent_tids: Vec<i32> = agent_tids
            .iter()
            .map(|t| t.load(std::sync::atomic::Ordering::Acquire))
            .collect();
        sys::await_reaped(&agent_tids);
        if let Some(e) = os_error {
            return Err(ThreadError::Os(e));
        }
        self.shared
            .realtime
            .store(realtime, std::sync::atomic::Ordering::Release);
        match fault {
            None => Ok(false),
            Some(Fault::Stopped) => Ok(true),
            Some(Fault::Panic { cpu, message }) => Err(ThreadError::AgentPanicked { cpu, message }),
            Some(Fault::Watchdog { limit, threads }) => {
                Err(ThreadError::Watchdog { limit, threads })
            }
            Some(Fault::Stalled { limit }) => Err(ThreadError::AgentStalled { limit }),
            Some(Fault::Deadlock { threads }) => Err(ThreadError::Deadlock {
                threads,
                left_running,
            }),
            Some(Fault::TimeLimit { limit }) => Err(ThreadError::TimeLimit {
                limit,
                left_running,
            }),
        }
    }

    /// Whether the run ended by releasing the threads (a fault, or the agent stopped).
    pub fn fell_back(&self) -> bool {
        self.shared.lock().fallen_back
    }

    fn join_threads(&self) {
        let joins =
            std::mem::take(&mut *self.shared.joins.lock().unwrap_or_else(|e| e.into_inner()));
        let tids = self.tids(joins.iter().map(|(i, _)| *i));
        for ((_, j), &tid) in joins.into_iter().zip(&tids) {
            sys::join_unless_vanished(j, tid);
        }
        sys::await_reaped(&tids);
    }

    /// The kernel tids of managed threads `indices` (0 for one that never started).
    fn tids(&self, indices: impl Iterator<Item = usize>) -> Vec<i32> {
        let cells = self.shared.cells.lock().unwrap_or_else(|e| e.into_inner());
        indices
            .map(|i| {
                cells
                    .get(i)
                    .map_or(0, |c| c.tid.load(std::sync::atomic::Ordering::Acquire))
            })
            .collect()
    }

    /// After the grace period of a deadlock or time limit: joins the threads that have ended
    /// (they are at most returning from their body) and detaches the others, which run on
    /// under the OS scheduler. Returns the detached threads' names.
    fn join_ended_threads(&self) -> Vec<String> {
        let joins =
            std::mem::take(&mut *self.shared.joins.lock().unwrap_or_else(|e| e.into_inner()));
        let st = self.shared.lock();
        let (ended, running): (Vec<_>, Vec<_>) = joins
            .into_iter()
            .partition(|(i, _)| st.threads[*i].state == kernel::TState::Dead);
        let left = st.unfinished();
        drop(st);
        let tids = self.tids(ended.iter().map(|(i, _)| *i));
        for ((_, j), &tid) in ended.into_iter().zip(&tids) {
            sys::join_unless_vanished(j, tid);
        }
        sys::await_reaped(&tids);
        // Dropping a JoinHandle detaches its thread.
        drop(running);
        left
    }
}

/// A handle on a [`ThreadEnclave`] ([`ThreadEnclave::handle`]): spawns into it and reads its
/// report, from any thread, before, during and after its run.
#[derive(Clone)]
pub struct EnclaveHandle {
    shared: Arc<Shared>,
}

impl fmt::Debug for EnclaveHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnclaveHandle").finish_non_exhaustive()
    }
}

impl EnclaveHandle {
    /// Spawns `f` as a managed thread (`MSG_TASK_NEW` at once during a run, at the run's start
    /// before it). After the run has ended, the thread runs under the OS scheduler.
    ///
    /// # Errors
    ///
    /// [`ThreadError::ThreadName`] for a name with a NUL byte; [`ThreadError::Os`] when the
    /// thread cannot be created.
    pub fn spawn(
        &self,
        name: impl Into<String>,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<ThreadHandle, ThreadError> {
        self.spawn_with(name, TaskAttrs::new(), f)
    }

    /// [`spawn`](Self::spawn) with per-task attributes.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn).
    pub fn spawn_with(
        &self,
        name: impl Into<String>,
        attrs: TaskAttrs,
        f: impl FnOnce() + Send + 'static,
    ) -> Result<ThreadHandle, ThreadError> {
        let name = checked_name(name.into())?;
        let (gtid, cell) =
            managed::shielded(|| managed::spawn_managed(&self.shared, name, attrs, Box::new(f)))
                .map_err(ThreadError::Os)?;
        Ok(ThreadHandle::new(self.shared.clone(), gtid, cell))
    }

    /// The enclave's report so far, with what only real threads have.
    pub fn thread_report(&self) -> ThreadReport {
        report::thread_report_of(
            &self.shared.lock(),
            self.shared
                .realtime
                .load(std::sync::atomic::Ordering::Acquire),
        )
    }
}

impl<A: Agent + Send> EnclaveBackend<A> for ThreadEnclave {
    type Error = ThreadError;

    fn attach(&mut self, agent: &mut A, config: &AgentConfig) -> Result<(), ThreadError> {
        self.attach_cpus(agent.model(), config)?;
        self.with_first_cpu(agent, |agent, enclave| agent.enclave_ready(enclave));
        Ok(())
    }

    fn run_to_end(&mut self, agent: &mut A) -> Result<RunEnd, ThreadError> {
        if agent.stop_requested() {
            // `enclave_ready` already broke a rule: nothing is scheduled, threads go to the OS.
            let mut st = self.shared.lock();
            let machine = self.shared.machine.clone();
            st.fall_back(&machine);
            drop(st);
            self.join_threads();
            return Ok(RunEnd::AgentStopped);
        }
        match self.run_agent(agent)? {
            true => Ok(RunEnd::AgentStopped),
            false => Ok(RunEnd::Finished),
        }
    }

    fn rpc(
        &mut self,
        agent: &mut A,
        request: i64,
        args: &AgentRpcArgs,
    ) -> Result<AgentRpcResponse, ThreadError> {
        if !self.shared.lock().attached {
            return Err(ThreadError::Attach(
                "attach an agent to the thread enclave before sending it RPCs",
            ));
        }
        Ok(self.with_first_cpu(agent, |agent, enclave| agent.rpc(request, args, enclave)))
    }

    fn report(&self) -> Report {
        report::report_of(&self.shared.lock())
    }

    fn now_ns(&self) -> u64 {
        self.shared.lock().now_ns()
    }
}

impl From<ThreadError> for crate::scheduler::Error {
    fn from(err: ThreadError) -> Self {
        Self::enclave(err)
    }
}

impl Drop for ThreadEnclave {
    /// Releases threads that never ran under an agent to the OS scheduler, and joins them
    /// (their `park` returns at once: nothing could unpark them while drop waits).
    fn drop(&mut self) {
        {
            let mut st = self.shared.lock();
            // After a run every thread has ended; before one, they wait at their gates.
            if st.live > 0 {
                let machine = self.shared.machine.clone();
                st.fall_back(&machine);
                // Nothing will unpark them while this thread waits for them here.
                for t in &st.threads {
                    t.cell.unpark_for_good();
                }
            }
        }
        self.join_threads();
    }
}
