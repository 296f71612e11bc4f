//! Starting process friends (hakase side) and entering one (friend side, before `main`).
//!
//! A friend process is a fresh `execve` of the hakase's own binary (through a descriptor of it
//! opened once, so a binary replaced on disk meanwhile is not the one run), with an empty
//! environment but for one variable that says which friend it is. Nothing of the hakase's
//! memory comes along: the friend starts from the binary's initial image, as any new process.
//! Before the exec, the child asks to be killed when its parent thread ends
//! (`PR_SET_PDEATHSIG`) and checks that the parent has not already gone; the parent thread is
//! the hakase process's long-lived spawner (`watch.rs`), so that is when the process ends.
//!
//! In the new process, a constructor in `.init_array` (which the dynamic loader runs before
//! `main`, and which this crate provides, so the user writes nothing) sees the variable and
//! never returns to `main`: it maps the region, closes every other inherited descriptor, pins
//! the process to its CPU, installs the seccomp filter, reports ready, waits for the go, runs
//! the friend body and ends the process.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::panic::{AssertUnwindSafe, Location};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use gears_runtime::cpu_list::CpuList;
use gears_runtime::handoff::{
    Backoff, WaitStrategy, ring_shared, shared_barriers_supported, use_light_shared_rings,
};

use gears_runtime::handoff::Bell;

use super::region::{
    ABORT, DEFAULT_DATA_BYTES, GO, Layout, MAX_DATA_BYTES, MIN_DATA_BYTES, PANICKED, READY,
    REQUEST, RETURNED, Region, START_FAILED, Word,
};
use super::{FriendExit, serve, set_friend_region, watch};
use crate::friend::{FriendConfig, FriendId, panic_message};
use crate::sandbox::{Filter, FilterSpec};

/// The variable that makes a process a friend: `fd:id:cpu:offset:fingerprint:parent`.
const ENV: &str = "GEARS_OFFLOAD_PROCESS_FRIEND";

/// How long a friend process may take to get ready (exec, map, sandbox).
const START_LIMIT: Duration = Duration::from_secs(20);

/// One process friend, as the hakase keeps it.
#[derive(Debug)]
pub(crate) struct ProcessFriend {
    pub(crate) id: FriendId,
    pub(crate) region: Region,
    state: Mutex<Reaping>,
    stopped: AtomicBool,
    /// Set (by the watcher, or when reaped) once the process has ended, or by `stop` once it
    /// has been killed: the hakase serves no request of a dead friend.
    pub(crate) dead: AtomicBool,
    /// Whether the watcher watches it (else it is asked with `waitid`).
    watched: AtomicBool,
}

#[derive(Debug)]
struct Reaping {
    /// `None` once reaped.
    child: Option<Child>,
    exit: Option<FriendExit>,
    last_look: Option<Instant>,
}

/// How often a live friend the watcher cannot watch is asked whether it has died (a `waitid`
/// system call), at most.
const LOOK_EVERY: Duration = Duration::from_millis(1);

impl ProcessFriend {
    /// Whether its process has been seen to end. One load; the hakase serves no request of a
    /// dead friend.
    #[inline]
    pub(crate) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Its exit, if it has ended; never blocks. A watched friend costs no system call until
    /// the watcher has seen it end; an unwatched one is asked at most every [`LOOK_EVERY`]
    /// unless it said it is ending.
    pub(crate) fn exit(&self) -> Option<FriendExit> {
        if self.watched.load(Ordering::Relaxed) && !self.is_dead() {
            return None;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.exit.is_some() {
            return state.exit.clone();
        }
        let ending = self.region.word(Word::Ended).load(Ordering::Acquire) != 0;
        let now = Instant::now();
        if !self.is_dead() && !ending && state.last_look.is_some_and(|at| now - at < LOOK_EVERY) {
            return None;
        }
        state.last_look = Some(now);
        let status = state.child.as_mut()?.try_wait().ok()??;
        Some(self.reaped(&mut state, status))
    }

    /// Records the end of a reaped friend.
    fn reaped(&self, state: &mut Reaping, status: std::process::ExitStatus) -> FriendExit {
        state.child = None;
        self.dead.store(true, Ordering::Release);
        let exit = self.exit_from(status);
        state.exit = Some(exit.clone());
        exit
    }

    /// Waits for the friend to end.
    pub(crate) fn wait(&self) -> FriendExit {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(exit) = &state.exit {
            return exit.clone();
        }
        let status = state
            .child
            .as_mut()
            .expect("not reaped without an exit")
            .wait();
        match status {
            Ok(status) => self.reaped(&mut state, status),
            Err(error) => {
                state.child = None;
                self.dead.store(true, Ordering::Release);
                let exit = FriendExit::Exited {
                    code: error.raw_os_error().unwrap_or(-1),
                    in_flight: None,
                };
                state.exit = Some(exit.clone());
                exit
            }
        }
    }

    /// The call the friend had asked for and the hakase had not made when it ended: the hakase
    /// serves no dead friend, so a request still in the region was never answered.
    fn in_flight(&self) -> Option<&'static str> {
        if self.region.word(Word::State).load(Ordering::Acquire) != REQUEST {
            return None;
        }
        serve::symbol_name(self.region.word(Word::Symbol).load(Ordering::Relaxed))
    }

    /// What an exit status means, with what the friend wrote (which is believed only as far
    /// as the kernel's status agrees).
    fn exit_from(&self, status: std::process::ExitStatus) -> FriendExit {
        let ended = self.region.word(Word::Ended).load(Ordering::Acquire);
        match (status.code(), status.signal()) {
            (_, Some(_)) if self.stopped.load(Ordering::Relaxed) => FriendExit::Stopped {
                in_flight: self.in_flight(),
            },
            (_, Some(signal)) => FriendExit::Killed {
                signal,
                in_flight: self.in_flight(),
            },
            (Some(0), _) if ended == RETURNED => FriendExit::Returned,
            (Some(PANIC_CODE), _) if ended == PANICKED => FriendExit::Panicked {
                message: self.region.read_message(),
            },
            (code, _) => FriendExit::Exited {
                code: code.unwrap_or(-1),
                in_flight: self.in_flight(),
            },
        }
    }

    /// Kills the friend (`SIGKILL`); [`exit`](Self::exit) then says [`FriendExit::Stopped`].
    /// Returns false if it had already ended.
    pub(crate) fn stop(&self) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match state.child.as_mut() {
            Some(child) => {
                self.stopped.store(true, Ordering::Relaxed);
                let killed = child.kill().is_ok();
                if killed {
                    // It will never read a reply: serve it no more from now on, not from when
                    // the watcher sees it go, so that a request it had made stays unanswered
                    // and its exit names it (`FriendExit::Stopped::in_flight`).
                    self.dead.store(true, Ordering::Release);
                }
                killed
            }
            None => false,
        }
    }
}

impl Drop for ProcessFriend {
    fn drop(&mut self) {
        // Nothing is left running: a friend nobody can serve or join any more is killed.
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if let Some(child) = state.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The exit code of a friend process whose body panicked.
const PANIC_CODE: i32 = 101;
/// The exit code of a friend process that could not start (its region says why).
const START_FAILED_CODE: i32 = 102;

/// The base addresses are different in every process (ASLR); the distance between two
/// functions of one binary is not.
#[inline(never)]
fn anchor() -> usize {
    std::hint::black_box(1)
}

#[inline(never)]
fn second_anchor() -> usize {
    std::hint::black_box(2)
}

fn fingerprint() -> usize {
    (second_anchor as fn() -> usize as usize).wrapping_sub(anchor as fn() -> usize as usize)
}

/// Runs a friend body of type `F` in a process that has none: `F` is zero-sized (checked by
/// [`spawn`]), a `fn` item or a closure that captures nothing.
fn trampoline<F: Fn(FriendId)>(id: FriendId) {
    assert_eq!(size_of::<F>(), 0, "checked by spawn");
    // SAFETY: `F` is zero-sized, so its value has no bytes to be invalid; it is a `fn` item or
    // a closure without captures (the only zero-sized `Fn` bodies a program writes), whose
    // values carry nothing beyond their type, so conjuring one is making the same function.
    let body: F = unsafe { core::mem::zeroed() };
    body(id);
    core::mem::forget(body);
}

/// The binary, opened once, that friend processes are started from.
fn exe() -> io::Result<&'static File> {
    static EXE: OnceLock<File> = OnceLock::new();
    if let Some(file) = EXE.get() {
        return Ok(file);
    }
    let file = File::open("/proc/self/exe")?;
    Ok(EXE.get_or_init(|| file))
}

/// What went wrong starting process friends, before any ran its body.
pub(crate) enum StartError {
    Io(io::Error),
    Friends(Vec<(FriendId, String)>),
}

/// Starts the friends of `config`, each running `F` in its own process; returns them once
/// every one is ready (pinned and sandboxed), with the go given. On any failure none runs its
/// body and every one started is killed.
pub(crate) fn spawn<F>(
    config: &FriendConfig,
    bell: Option<&Arc<Bell>>,
) -> Result<Vec<Arc<ProcessFriend>>, StartError>
where
    F: Fn(FriendId) + Send + Sync + 'static,
{
    // Linked in, whatever the linker keeps: the constructor that makes a process a friend.
    std::hint::black_box(&ENTRY);
    let exe = exe().map_err(StartError::Io)?;
    let offset =
        (trampoline::<F> as fn(FriendId) as usize).wrapping_sub(anchor as fn() -> usize as usize);
    let parent = std::process::id();
    let data_bytes = config.region_bytes.unwrap_or(DEFAULT_DATA_BYTES);
    let layout = Layout::new(data_bytes);
    let mut friends: Vec<Arc<ProcessFriend>> = Vec::new();
    let abort = |friends: &[Arc<ProcessFriend>]| {
        for friend in friends {
            friend.region.word(Word::Go).store(ABORT, Ordering::Release);
            friend.stop();
            friend.wait();
        }
    };
    for index in 0..config.friend_count() {
        let id = FriendId(index);
        let started = (|| {
            let (region, fd) = Region::create(layout)?;
            let raw = fd.as_raw_fd();
            let cpu = config
                .cpu_of(id)
                .map_or_else(|| "-".to_owned(), |cpu| cpu.to_string());
            let wait = config.wait_strategy();
            let spec = format!(
                "{raw}:{index}:{cpu}:{offset}:{}:{parent}:{}:{}:{}:{}:{}:{data_bytes}",
                fingerprint(),
                config.on_denied == crate::OnDenied::KillProcess,
                wait.quick_looks(),
                wait.max_spin_shift(),
                wait.yields_to_os(),
                // Whether this hakase's parks issue the global barrier that lets the friend
                // ring its bell word with a compiler fence (see `run_friend`).
                shared_barriers_supported(),
            );
            let mut command = Command::new(format!("/proc/self/fd/{}", exe.as_raw_fd()));
            command
                .env_clear()
                .env(ENV, spec)
                .stdin(Stdio::null())
                .stdout(Stdio::inherit())
                .stderr(Stdio::inherit());
            let before_exec = move || {
                // This child, and only this one, keeps the region's descriptor over exec.
                // SAFETY: clears the close-on-exec flag of a descriptor this child has.
                if unsafe { libc::fcntl(raw, libc::F_SETFD, 0) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                // SAFETY: arms the parent-death signal of this child; no memory involved.
                if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) } != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have gone before the death signal was armed.
                if std::os::unix::process::parent_id() != parent {
                    return Err(io::Error::other("the hakase is gone"));
                }
                Ok(())
            };
            // SAFETY: `before_exec` makes only async-signal-safe calls (fcntl, prctl, getppid)
            // and allocates nothing on its success path.
            unsafe { command.pre_exec(before_exec) };
            // From the long-lived spawner thread: the death signal is armed for its end, which
            // is this process's end.
            let child = watch::spawn_from_spawner(command)?;
            drop(fd);
            let pid = child.id();
            let friend = Arc::new(ProcessFriend {
                id,
                region,
                state: Mutex::new(Reaping {
                    child: Some(child),
                    exit: None,
                    last_look: None,
                }),
                stopped: AtomicBool::new(false),
                dead: AtomicBool::new(false),
                watched: AtomicBool::new(false),
            });
            if watch::watch(&friend, pid, bell.cloned()) {
                friend.watched.store(true, Ordering::Relaxed);
            }
            Ok::<_, io::Error>(friend)
        })();
        match started {
            Ok(friend) => friends.push(friend),
            Err(error) => {
                abort(&friends);
                return Err(StartError::Io(error));
            }
        }
    }
    let deadline = Instant::now() + START_LIMIT;
    let mut failures = Vec::new();
    for friend in &friends {
        let mut idle = Backoff::new(WaitStrategy::SPIN_THEN_YIELD);
        loop {
            match friend.region.word(Word::Start).load(Ordering::Acquire) {
                READY => break,
                START_FAILED => {
                    failures.push((friend.id, friend.region.read_message()));
                    break;
                }
                // STARTING, or anything a broken friend wrote: keep waiting (bounded).
                _ => {}
            }
            if let Some(exit) = friend.exit() {
                failures.push((friend.id, format!("ended before it was ready: {exit}")));
                break;
            }
            if Instant::now() > deadline {
                failures.push((friend.id, format!("not ready after {START_LIMIT:?}")));
                break;
            }
            idle.snooze();
        }
    }
    if !failures.is_empty() {
        abort(&friends);
        return Err(StartError::Friends(failures));
    }
    for friend in &friends {
        friend.region.word(Word::Go).store(GO, Ordering::Release);
    }
    Ok(friends)
}

/// The constructor that runs before `main` in every process of a binary linking this crate,
/// and does nothing unless the process was started as a friend.
#[used]
#[unsafe(link_section = ".init_array")]
static ENTRY: extern "C" fn() = enter;

extern "C" fn enter() {
    let Some(spec) = std::env::var_os(ENV) else {
        return;
    };
    let code = match spec.to_str().and_then(Spec::parse) {
        Some(spec) => run_friend(&spec),
        None => {
            eprintln!("offload: {ENV} is malformed; this process is not a friend");
            START_FAILED_CODE
        }
    };
    // SAFETY: ends the process at once, as a friend must (never returning into `main`).
    unsafe { libc::_exit(code) }
}

struct Spec {
    fd: RawFd,
    id: usize,
    cpu: Option<usize>,
    offset: usize,
    fingerprint: usize,
    parent: u32,
    kill_on_denied: bool,
    wait: WaitStrategy,
    light_rings: bool,
    data_bytes: usize,
}

impl Spec {
    fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(':');
        let mut next = || parts.next();
        Some(Self {
            fd: next()?.parse().ok()?,
            id: next()?.parse().ok()?,
            cpu: match next()? {
                "-" => None,
                cpu => Some(cpu.parse().ok()?),
            },
            offset: next()?.parse().ok()?,
            fingerprint: next()?.parse().ok()?,
            parent: next()?.parse().ok()?,
            kill_on_denied: next()?.parse().ok()?,
            wait: {
                let quick_looks: u32 = next()?.parse().ok()?;
                let shift: u32 = next()?.parse().ok()?;
                let yields: bool = next()?.parse().ok()?;
                let wait = if yields {
                    WaitStrategy::spin_then_yield(shift)
                } else {
                    WaitStrategy::spin_only(shift)
                };
                wait.with_quick_looks(quick_looks)
            },
            light_rings: next()?.parse().ok()?,
            data_bytes: next()?
                .parse()
                .ok()
                .filter(|bytes| (MIN_DATA_BYTES..=MAX_DATA_BYTES).contains(bytes))?,
        })
    }
}

thread_local! {
    /// Where the friend body's last panic was, for the report.
    static PANIC_AT: core::cell::Cell<Option<&'static str>> = const { core::cell::Cell::new(None) };
}

/// The friend process: set up, sandbox, wait for the go, run the body; returns the exit code.
fn run_friend(spec: &Spec) -> i32 {
    let region = match Region::map(spec.fd, Layout::new(spec.data_bytes)) {
        Ok(region) => region,
        Err(error) => {
            eprintln!(
                "offload: friend {} could not map its region: {error}",
                spec.id
            );
            return START_FAILED_CODE;
        }
    };
    let fail = |region: &Region, why: String| {
        region.write_message(&why);
        region
            .word(Word::Start)
            .store(START_FAILED, Ordering::Release);
        START_FAILED_CODE
    };
    // Every descriptor but the standard three goes (the region's too, now mapped): what the
    // hakase had open is not the friend's.
    // SAFETY: closing descriptors this process does not use.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    if std::process::id() == spec.parent || std::os::unix::process::parent_id() != spec.parent {
        return fail(&region, "the hakase is gone".to_owned());
    }
    if fingerprint() != spec.fingerprint {
        return fail(
            &region,
            "this binary is not the hakase's (the friend entry point moved)".to_owned(),
        );
    }
    if let Some(cpu) = spec.cpu {
        let pinned = CpuList::single(cpu)
            .map_err(|e| e.to_string())
            .and_then(|cpus| cpus.pin_current_thread().map_err(|e| e.to_string()));
        if let Err(why) = pinned {
            return fail(&region, format!("could not pin to CPU {cpu}: {why}"));
        }
    }
    let on_denied = if spec.kill_on_denied {
        crate::OnDenied::KillProcess
    } else {
        crate::OnDenied::Errno
    };
    let filter = match Filter::build(FilterSpec::for_this_process(on_denied)) {
        Ok(filter) => filter,
        Err(why) => return fail(&region, why.to_string()),
    };
    // A quiet panic hook (stderr is closed to the sandbox anyway) that keeps where.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|at| {
            &*Box::leak(format!("{}:{}:{}", at.file(), at.line(), at.column()).into_boxed_str())
        });
        PANIC_AT.with(|cell| cell.set(at));
    }));
    // Rings of the bell word after each request: a compiler fence, not an `mfence` that waits
    // for the request to reach the hakase's core, where the hakase's parks issue the global
    // barrier that pairs with it (a system call, so before the filter).
    if spec.light_rings {
        use_light_shared_rings();
    }
    // What the process allocates the first time, before the door closes.
    drop(std::hint::black_box(Box::new([0u8; 256])));
    let _ = Location::caller();
    if let Err(why) = filter.install_on_this_thread() {
        return fail(&region, why.to_string());
    }
    // From here on the friend is sandboxed.
    region.word(Word::Start).store(READY, Ordering::Release);
    let mut idle = Backoff::new(WaitStrategy::SPIN_THEN_YIELD);
    loop {
        match region.word(Word::Go).load(Ordering::Acquire) {
            GO => break,
            ABORT => return 0,
            _ => idle.snooze(),
        }
    }
    let body_address = (anchor as fn() -> usize as usize).wrapping_add(spec.offset);
    // SAFETY: the hakase computed `offset` as the distance from `anchor` to
    // `trampoline::<F>` in this very binary (the fingerprint agrees that it is laid out the
    // same), so this is that function's address in this process.
    let body: fn(FriendId) = unsafe { core::mem::transmute::<usize, fn(FriendId)>(body_address) };
    let region = set_friend_region(region, spec.wait);
    let id = FriendId(spec.id);
    match std::panic::catch_unwind(AssertUnwindSafe(|| body(id))) {
        Ok(()) => {
            region.word(Word::Ended).store(RETURNED, Ordering::Release);
            ring_shared(region.word(Word::Bell));
            0
        }
        Err(payload) => {
            let message = panic_message(&*payload);
            let message = match PANIC_AT.with(core::cell::Cell::get) {
                Some(at) => format!("{message} (at {at})"),
                None => message,
            };
            region.write_message(&message);
            region.word(Word::Ended).store(PANICKED, Ordering::Release);
            ring_shared(region.word(Word::Bell));
            PANIC_CODE
        }
    }
}
