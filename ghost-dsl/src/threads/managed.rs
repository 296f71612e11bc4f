//! Managed threads: their body, and the enclave-aware blocking calls through which their real
//! events become messages.
//!
//! Every call follows one pattern ([`call`]): mark the thread as inside a call (the preemption
//! signal then leaves it alone), wait until it is committed (a thread the agent preempted a
//! moment ago may still be executing; what it does becomes visible only once it runs again),
//! change the kernel state under the lock, release the lock, carry out the wakes, then wait on
//! the gate until committed again. After a fallback every call is the plain OS one.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::agents::Inline;
use super::gate::{CELL, ThreadCell, UNPARKED_FOR_GOOD};
use super::kernel::{BlockKind, State, TState, Wake, flush};
use super::sys;
use crate::Gtid;

/// The running policy as [`Inline`], for managed threads that run an agent iteration
/// themselves when they leave their CPU (see [`call`]).
#[derive(Clone, Copy)]
pub(crate) struct InlineAgent(pub(crate) *const (dyn Inline + 'static));

// SAFETY: the pointee is `Sync` (`Inline: Sync`); it is dereferenced only under the read lock
// of `Shared::inline`, and the run clears the slot under the write lock (so after every reader)
// before the pointee is dropped.
unsafe impl Send for InlineAgent {}
// SAFETY: as above.
unsafe impl Sync for InlineAgent {}

/// What the enclave's threads share: the kernel state and what the run waits on.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// The CPUs the process could use when the enclave was made: a released thread gets them.
    pub(crate) machine: Vec<usize>,
    /// Bumped (and woken) when a thread dies or the run faults; the run thread waits on it.
    pub(crate) done: std::sync::atomic::AtomicU32,
    /// Whether every agent thread of the run got `SCHED_FIFO`.
    pub(crate) realtime: AtomicBool,
    /// When the run started (the report's time 0).
    pub(crate) epoch: std::sync::OnceLock<Instant>,
    /// The policy, while a run is on and inline iterations are allowed.
    pub(crate) inline: std::sync::RwLock<Option<InlineAgent>>,
    /// Every managed thread's cell, outside the state lock: the stall breaker opens their gates
    /// while an agent holds that lock.
    pub(crate) cells: Mutex<Vec<Arc<ThreadCell>>>,
    /// The OS threads of managed threads (by thread index), joined by the run or by drop.
    pub(crate) joins: Mutex<Vec<(usize, std::thread::JoinHandle<()>)>>,
}

impl Shared {
    /// The kernel state. A panic while it was held (a policy handler's, caught by the agent
    /// thread) does not make it unusable: the agent thread turns the panic into a fallback.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn notify_done(&self) {
        self.done.fetch_add(1, Ordering::Release);
        sys::futex_wake_all(&self.done);
    }
}

/// The calling managed thread: its enclave and index.
#[derive(Clone)]
struct Current {
    shared: Arc<Shared>,
    index: usize,
    cell: Arc<ThreadCell>,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

fn current() -> Option<Current> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Nanoseconds on the clock of the calling managed thread's enclave (the clock of its report
/// and trace: 0 when the run started), or `None` outside managed threads.
pub fn now_ns() -> Option<u64> {
    let cur = current()?;
    let epoch = *cur.shared.epoch.get()?;
    Some(epoch.elapsed().as_nanos() as u64)
}

/// The gtid of the calling managed thread, or `None` outside managed threads.
pub fn current_gtid() -> Option<Gtid> {
    let cur = current()?;
    shielded(|| cur.shared.lock().threads[cur.index].gtid).into()
}

/// Runs `f`, which takes the enclave's lock, shielded from the preemption signal when the caller
/// is a managed thread: a thread stopped while holding the lock would stall the agent that is to
/// commit it again. Once `f` is done, a preemption that came meanwhile is honoured.
pub(crate) fn shielded<R>(f: impl FnOnce() -> R) -> R {
    let cell = CELL.with(std::cell::Cell::get);
    if cell.is_null() {
        return f();
    }
    // SAFETY: set by this thread's body from an `Arc` it keeps alive while the pointer is set.
    let cell = unsafe { &*cell };
    if cell.in_call.swap(true, Ordering::AcqRel) {
        // Already inside an enclave call: that call ends the shield.
        return f();
    }
    let r = f();
    leave_call(cell);
    r
}

/// Registers and starts a managed thread (it waits at its gate until committed).
pub(crate) fn spawn_managed(
    shared: &Arc<Shared>,
    name: String,
    attrs: crate::TaskAttrs,
    f: Box<dyn FnOnce() + Send + 'static>,
) -> std::io::Result<(Gtid, Arc<ThreadCell>)> {
    let cell = Arc::new(ThreadCell::new());
    shared
        .cells
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(cell.clone());
    let (gtid, index) = {
        let mut st = shared.lock();
        if st.fallen_back {
            cell.set_free();
        }
        let gtid = st.add_thread(name.clone(), attrs, cell.clone());
        let mut wakes = std::mem::take(&mut st.wakes);
        drop(st);
        flush(&mut wakes);
        (gtid, gtid.tid() as usize - 1)
    };
    let body_shared = shared.clone();
    let body_cell = cell.clone();
    let spawned = std::thread::Builder::new()
        .name(name)
        .spawn(move || body(body_shared, index, body_cell, f));
    match spawned {
        Ok(join) => {
            shared
                .joins
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((index, join));
            Ok((gtid, cell))
        }
        Err(e) => {
            // The thread never existed: it is dead to the enclave.
            let mut st = shared.lock();
            st.exit(index, Some(format!("could not spawn: {e}")));
            let mut wakes = std::mem::take(&mut st.wakes);
            drop(st);
            flush(&mut wakes);
            shared.notify_done();
            Err(e)
        }
    }
}

fn body(shared: Arc<Shared>, index: usize, cell: Arc<ThreadCell>, f: Box<dyn FnOnce() + Send>) {
    cell.tid.store(sys::gettid(), Ordering::Release);
    CELL.with(|c| c.set(Arc::as_ptr(&cell)));
    CURRENT.with(|c| {
        *c.borrow_mut() = Some(Current {
            shared: shared.clone(),
            index,
            cell: cell.clone(),
        });
    });
    cell.in_call.store(true, Ordering::Release);
    // A commit that came before the tid was known could not pin the thread: pin it here.
    let pinned = shared.lock().threads[index].pinned_cpu();
    if let Some(cpu) = pinned {
        let _ = sys::set_affinity(0, &[cpu]);
    }
    cell.wait_gate();
    leave_call(&cell);
    let result = catch_unwind(AssertUnwindSafe(f));
    let panic = result.err().map(|payload| panic_message(payload.as_ref()));
    // The exit is an event like any other: it is seen once the thread runs.
    cell.in_call.store(true, Ordering::Release);
    // As for any call: the exit is posted while the thread is committed (an agent may have
    // preempted it while it waited for the lock).
    let mut st = loop {
        cell.wait_gate();
        let mut st = shared.lock();
        if st.fallen_back || cell.is_free() {
            break st;
        }
        match (st.threads[index].state, st.threads[index].block) {
            (TState::OnCpu(_), _) => break st,
            (TState::Blocked, Some(BlockKind::Kernel)) => {
                st.wake(index);
                let mut wakes = std::mem::take(&mut st.wakes);
                drop(st);
                flush(&mut wakes);
            }
            _ => drop(st),
        }
    };
    let cpu = on_cpu(&st, index);
    st.exit(index, panic);
    let wakes = std::mem::take(&mut st.wakes);
    finish_call(&shared, st, cpu, wakes);
    CURRENT.with(|c| c.borrow_mut().take());
    CELL.with(|c| c.set(std::ptr::null()));
    shared.notify_done();
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic payload that is not a string".to_owned()
    }
}

/// Ends an enclave call: leave call mode, then stop if preempted meanwhile.
fn leave_call(cell: &ThreadCell) {
    cell.in_call.store(false, Ordering::Release);
    // A preemption that came during the call found `in_call` set; honour it now.
    if !cell.may_run() {
        cell.in_call.store(true, Ordering::Release);
        cell.wait_gate();
        cell.in_call.store(false, Ordering::Release);
    }
}

/// The CPU (index) thread `i` is committed to.
fn on_cpu(st: &State, i: usize) -> Option<usize> {
    match st.threads[i].state {
        TState::OnCpu(c) => Some(c),
        _ => None,
    }
}

/// Ends the locked part of an enclave call of a thread that was on CPU `cpu` before it: if the
/// thread left the CPU, the per-CPU model has no ticks to keep, and inline iterations are on,
/// the thread runs the iteration of that CPU's agent itself, the way a kernel's `schedule()`
/// runs in the context of the task that blocks (the agent thread is not woken for it, which
/// saves two context switches); otherwise the wakes go out as usual.
fn finish_call(
    shared: &Shared,
    st: std::sync::MutexGuard<'_, State>,
    cpu: Option<usize>,
    mut wakes: Vec<Wake>,
) {
    let left = cpu.filter(|&c| {
        st.model == crate::AgentModel::PerCpu
            && !st.ticks
            && !st.fallen_back
            && st.cpus[c].current.is_none()
    });
    let own = left.map(|c| st.cpus[c].word.clone());
    drop(st);
    if let (Some(c), Some(own)) = (left, own) {
        let slot = shared.inline.read().unwrap_or_else(|e| e.into_inner());
        if let Some(agent) = *slot {
            wakes.retain(|w| !matches!(w, Wake::Agent(word) if Arc::ptr_eq(word, &own)));
            flush(&mut wakes);
            // SAFETY: the slot is set only while the run keeps the pointee alive, and cleared
            // under the write lock, which waits for this read guard.
            unsafe { &*agent.0 }.iterate_inline(c);
            return;
        }
    }
    flush(&mut wakes);
}

/// How an enclave call went.
enum Called<R> {
    /// Not a managed thread, or released to the OS: do the plain OS thing.
    Os,
    /// Done under the lock (the thread is still in call mode; end with [`leave_call`]).
    Done(Current, R),
}

/// Runs `action` on the calling thread's kernel state once the thread is committed.
fn call<R>(action: impl FnOnce(&mut State, usize) -> R) -> Called<R> {
    let Some(cur) = current() else {
        return Called::Os;
    };
    cur.cell.in_call.store(true, Ordering::Release);
    loop {
        cur.cell.wait_gate();
        let mut st = cur.shared.lock();
        if st.fallen_back || cur.cell.is_free() {
            drop(st);
            cur.cell.in_call.store(false, Ordering::Release);
            return Called::Os;
        }
        match st.threads[cur.index].state {
            TState::OnCpu(c) => {
                let r = action(&mut st, cur.index);
                let wakes = std::mem::take(&mut st.wakes);
                finish_call(&cur.shared, st, Some(c), wakes);
                return Called::Done(cur, r);
            }
            // It had blocked in the kernel and is back before the monitor saw it: that is its
            // wakeup; then it waits to be committed like any woken thread.
            TState::Blocked if st.threads[cur.index].block == Some(BlockKind::Kernel) => {
                st.wake(cur.index);
                let mut wakes = std::mem::take(&mut st.wakes);
                drop(st);
                flush(&mut wakes);
            }
            _ => {
                // Preempted a moment ago: its gate is closed now; wait for the next commit.
                drop(st);
            }
        }
    }
}

/// Sleeps for `duration`. In a managed thread: `MSG_TASK_BLOCKED` now, `MSG_TASK_WAKEUP` at the
/// deadline, then it runs when the agent commits it. Elsewhere: [`std::thread::sleep`].
///
/// A `duration` too long for an [`Instant`] (`Duration::MAX`) sleeps for good, as std's does:
/// only a release of the thread (a time limit, a fault) ends it, and then it sleeps on under the
/// OS.
pub fn sleep(duration: Duration) {
    // `None`: never (the deadline does not fit an `Instant`).
    let deadline = super::config::deadline_after(duration);
    let Called::Done(cur, _) = call(|st, i| st.block(i, BlockKind::Sleep)) else {
        std::thread::sleep(duration);
        return;
    };
    let cell = &cur.cell;
    loop {
        let g = cell.gate.load(Ordering::Acquire);
        if g & (super::gate::RUN | super::gate::FREE) != 0 {
            break;
        }
        let now = Instant::now();
        match deadline {
            None => {
                sys::futex_wait(&cell.gate, g, None);
                continue;
            }
            Some(deadline) if now < deadline => {
                sys::futex_wait(&cell.gate, g, Some(deadline - now));
                continue;
            }
            Some(_) => {}
        }
        // The deadline: the timer "interrupt" runs in the sleeper's own context.
        let mut st = cur.shared.lock();
        if st.threads[cur.index].block == Some(BlockKind::Sleep) {
            st.wake(cur.index);
        }
        let mut wakes = std::mem::take(&mut st.wakes);
        drop(st);
        flush(&mut wakes);
        cell.wait_gate();
        break;
    }
    if cell.is_free() {
        // Released mid-sleep: sleep the rest under the OS.
        let now = Instant::now();
        match deadline {
            None => std::thread::sleep(Duration::MAX),
            Some(deadline) if now < deadline => std::thread::sleep(deadline - now),
            Some(_) => {}
        }
    }
    leave_call(cell);
}

/// Gives the CPU up: `MSG_TASK_YIELD`; the thread runs again when the agent commits it.
/// Elsewhere: [`std::thread::yield_now`].
pub fn yield_now() {
    let Called::Done(cur, _) = call(|st, i| st.yield_cpu(i)) else {
        std::thread::yield_now();
        return;
    };
    cur.cell.wait_gate();
    leave_call(&cur.cell);
}

/// Blocks until [`ThreadHandle::unpark`](super::ThreadHandle::unpark) (or returns at once if
/// an unpark came since the last park, as [`std::thread::park`]'s token). In a managed thread:
/// `MSG_TASK_BLOCKED`, and `MSG_TASK_WAKEUP` from the unpark. Outside managed threads:
/// [`std::thread::park`].
///
/// Like `std::thread::park` it may return spuriously, so call it in a loop that checks its
/// condition. When the enclave releases its threads to the OS scheduler (a fault, a drop)
/// every parked thread returns from `park`; after that, `park` waits for an unpark while a
/// [`ThreadHandle`](super::ThreadHandle) of the thread exists and returns at once when none
/// does (nothing could unpark it). When the run ends because nothing could ever wake the parked
/// threads ([`ThreadError::Deadlock`](super::ThreadError::Deadlock)), at its time limit
/// ([`ThreadError::TimeLimit`](super::ThreadError::TimeLimit)), or when an enclave is dropped,
/// every later `park` returns at once.
#[track_caller]
pub fn park() {
    park_at(std::panic::Location::caller());
}

fn park_at(at: &'static std::panic::Location<'static>) {
    let called = call(|st, i| {
        if std::mem::take(&mut st.threads[i].token) {
            false
        } else {
            st.threads[i].parked_at = Some(at);
            st.block(i, BlockKind::Park)
        }
    });
    match called {
        Called::Done(cur, _) => {
            cur.cell.wait_gate();
            leave_call(&cur.cell);
        }
        Called::Os => match current() {
            Some(cur) => park_released(&cur.cell),
            None => std::thread::park(),
        },
    }
}

/// `park` of a thread released to the OS scheduler: the token lives in the cell. Returns at
/// once (spuriously) when no [`ThreadHandle`](super::ThreadHandle) of the thread is left, as
/// nothing could unpark it; a handle dropped while it waits is noticed within 10 ms.
fn park_released(cell: &ThreadCell) {
    loop {
        let v = cell.token.load(Ordering::Acquire);
        if v == UNPARKED_FOR_GOOD || cell.handles.load(Ordering::Acquire) == 0 {
            return;
        }
        if v == 1 {
            if cell
                .token
                .compare_exchange(1, 0, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return;
            }
            continue;
        }
        sys::futex_wait(&cell.token, v, Some(Duration::from_millis(10)));
    }
}

/// Wakes managed thread `to` and parks the caller, as one event for the agent: its
/// `MSG_TASK_WAKEUP` and the caller's `MSG_TASK_BLOCKED` are posted together, so the agent is
/// woken once and can commit `to` to the CPU the caller leaves (a direct handoff; ghOSt's
/// `switchto` without the kernel's shortcut). Outside managed threads: `unpark` then `park`.
#[track_caller]
pub(crate) fn handoff(to_shared: &Shared, to: usize, to_cell: &ThreadCell) {
    let at = std::panic::Location::caller();
    let same = current().is_some_and(|cur| std::ptr::eq(&*cur.shared, to_shared));
    if !same {
        shielded(|| unpark(to_shared, to, to_cell));
        park_at(at);
        return;
    }
    let called = call(|st, i| {
        let t = &mut st.threads[to];
        if t.state == TState::Blocked && t.block == Some(BlockKind::Park) {
            st.wake(to);
        } else if t.state != TState::Dead {
            t.token = true;
        }
        if std::mem::take(&mut st.threads[i].token) {
            false
        } else {
            st.threads[i].parked_at = Some(at);
            st.block(i, BlockKind::Park)
        }
    });
    match called {
        Called::Done(cur, _) => {
            cur.cell.wait_gate();
            leave_call(&cur.cell);
        }
        Called::Os => {
            shielded(|| unpark(to_shared, to, to_cell));
            park_at(at);
        }
    }
}

/// Unparks managed thread `index` of `shared`.
pub(crate) fn unpark(shared: &Shared, index: usize, cell: &ThreadCell) {
    let mut st = shared.lock();
    if st.fallen_back {
        drop(st);
        // Not over UNPARKED_FOR_GOOD.
        let _ = cell
            .token
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire);
        sys::futex_wake_all(&cell.token);
        return;
    }
    let t = &mut st.threads[index];
    if t.state == TState::Blocked && t.block == Some(BlockKind::Park) {
        st.wake(index);
    } else if t.state != TState::Dead {
        t.token = true;
    }
    let mut wakes = std::mem::take(&mut st.wakes);
    drop(st);
    flush(&mut wakes);
}

/// Runs `f`, a call that blocks in the kernel (I/O, a `std` lock, a foreign wait), as a
/// blocked period of the thread: `MSG_TASK_BLOCKED` before, `MSG_TASK_WAKEUP` after, then the
/// thread continues when committed. `f` runs outside the enclave's control (its CPU may be given
/// to another thread meanwhile): it should wait, not compute. Outside managed threads: `f()`.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    let Called::Done(cur, _) = call(|st, i| st.block(i, BlockKind::Call)) else {
        return f();
    };
    // The gate stays closed while `f` runs; `f` itself runs regardless (the signal handler
    // leaves a thread in call mode alone).
    let r = f();
    let mut st = cur.shared.lock();
    st.wake(cur.index);
    let mut wakes = std::mem::take(&mut st.wakes);
    drop(st);
    flush(&mut wakes);
    cur.cell.wait_gate();
    leave_call(&cur.cell);
    r
}

/// A spawned thread: its enclave, gtid and cell.
pub(crate) type Spawned = (Arc<Shared>, Gtid, Arc<ThreadCell>);

/// Spawns a managed thread into the enclave of the calling managed thread.
///
/// # Errors
///
/// `None` when the caller is not a managed thread; the OS error if the thread cannot be created.
pub(crate) fn spawn_here(
    name: String,
    attrs: crate::TaskAttrs,
    f: Box<dyn FnOnce() + Send>,
) -> Option<std::io::Result<Spawned>> {
    let cur = current()?;
    Some(spawn_managed(&cur.shared, name, attrs, f).map(|(g, c)| (cur.shared.clone(), g, c)))
}
