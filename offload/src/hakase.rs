//! The hakase: the capable thread that runs what friends offload.

use core::cell::RefCell;
use core::fmt;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use gears_runtime::cpu_list::AffinityError;
use gears_runtime::handoff::{self, Backoff, WaitStrategy};
use gears_runtime::registry::Table;

use crate::Error;
use crate::call::{FriendEnd, HakaseEnd, install_friend_end};
use crate::friend::{FriendConfig, FriendId, FriendStartError, Friends};
use crate::sandbox::{Filter, Sandbox};
use crate::symbols::{Export, check_symbols};

/// The hakase: owns one handoff slot per friend and runs the blocks friends offload, on the
/// thread that calls [`try_receive`](Self::try_receive) or [`serve_until`](Self::serve_until).
///
/// It is not `Sync`: one thread is the hakase. Requests from several friends are served in
/// turn, each from its own slot, so none waits for a lock or for another friend's hand-over
/// (Toshokan arbitrates friends with one lock and one request in flight).
///
/// ```
/// use offload::prelude::*;
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// static SERVED_ON_HAKASE: AtomicU32 = AtomicU32::new(0);
///
/// let hakase = Hakase::new()?;
/// let friends = hakase.spawn_friends(FriendConfig::cpus("0")?.count(2), |id| {
///     let mut x = 0;
///     let doubled = offload!({
///         x = 1; // a friend local, written on the hakase
///         SERVED_ON_HAKASE.fetch_add(1, Ordering::Relaxed);
///         id.0 * 2
///     });
///     assert_eq!((x, doubled), (1, id.0 * 2));
/// })?;
/// hakase.serve_until(|| friends.finished());
/// friends.join()?;
/// assert_eq!(SERVED_ON_HAKASE.load(Ordering::Relaxed), 2);
/// # Ok::<(), offload::Error>(())
/// ```
pub struct Hakase {
    exports: &'static Table<Export>,
    slots: RefCell<Vec<(FriendId, HakaseEnd)>>,
}

impl fmt::Debug for Hakase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hakase")
            .field("exports", self.exports)
            .field("friends", &self.slots.borrow().len())
            .finish()
    }
}

/// Friend start-up states, published by the spawner once every friend is ready.
const WAITING: u8 = 0;
const GO: u8 = 1;
const ABORT: u8 = 2;

struct Startup {
    ready: AtomicUsize,
    decision: AtomicU8,
    failures: Mutex<Vec<FriendStartError>>,
}

impl Hakase {
    /// Builds the export table and checks it against every `declare_exports!` declaration.
    ///
    /// # Errors
    ///
    /// [`Error::Symbols`] listing, all at once, every name exported twice (with both sites),
    /// every declared symbol that no linked crate implements, and every implementation whose
    /// signature differs from its declaration.
    pub fn new() -> Result<Self, Error> {
        let exports = check_symbols().map_err(Error::Symbols)?;
        Ok(Self {
            exports,
            slots: RefCell::new(Vec::new()),
        })
    }

    /// The exported symbols (by name, with their signatures).
    #[must_use]
    pub fn exports(&self) -> &'static Table<Export> {
        self.exports
    }

    /// Starts the friends `config` describes, each running `body(id)`, and connects each to this
    /// hakase by its own slot.
    ///
    /// Every friend is pinned (and sandboxed, if configured) before any friend's body starts; if
    /// any of that fails for any friend, none runs its body and the error lists every failure.
    ///
    /// # Errors
    ///
    /// [`Error::FriendStart`] if a friend could not be pinned or sandboxed, [`Error::Spawn`] if
    /// the OS would not start a thread, [`Error::SandboxCannotYield`] for a sandboxed
    /// configuration whose wait strategy yields to the OS.
    pub fn spawn_friends<F>(&self, config: FriendConfig, body: F) -> Result<Friends, Error>
    where
        F: Fn(FriendId) + Send + Sync + 'static,
    {
        // Friends that have ended leave their slot idle forever: stop polling those.
        self.slots
            .borrow_mut()
            .retain(|(_, server)| !server.client_gone());
        let wait = config.wait_strategy();
        let filter = match config.sandbox {
            Sandbox::None => None,
            Sandbox::NoSyscalls if wait.yields_to_os() => return Err(Error::SandboxCannotYield),
            Sandbox::NoSyscalls => Some(Arc::new(Filter::no_syscalls().map_err(Error::Sandbox)?)),
        };
        let body = Arc::new(body);
        let count = config.friend_count();
        let startup = Arc::new(Startup {
            ready: AtomicUsize::new(0),
            decision: AtomicU8::new(WAITING),
            failures: Mutex::new(Vec::new()),
        });
        let mut threads = Vec::with_capacity(count);
        let mut ends = Vec::with_capacity(count);
        for index in 0..count {
            let id = FriendId(index);
            let (client, server) = handoff::slot();
            let end = FriendEnd { client, wait };
            let cpu = config.cpu_of(id);
            let spawned = thread::Builder::new()
                .name(format!("friend-{index}"))
                .spawn({
                    let (body, startup, filter) = (body.clone(), startup.clone(), filter.clone());
                    move || friend_main(id, cpu, end, filter.as_deref(), &startup, &*body)
                });
            match spawned {
                Ok(thread) => {
                    threads.push((id, thread));
                    ends.push((id, server));
                }
                Err(error) => {
                    abort_start(&startup, threads);
                    return Err(Error::Spawn(error));
                }
            }
        }
        let mut idle = Backoff::new(WaitStrategy::SPIN_THEN_YIELD);
        while startup.ready.load(Ordering::Acquire) < count {
            idle.snooze();
        }
        let mut failures = std::mem::take(
            &mut *startup
                .failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if !failures.is_empty() {
            abort_start(&startup, threads);
            failures.sort_by_key(FriendStartError::id);
            return Err(Error::FriendStart(failures));
        }
        self.slots.borrow_mut().extend(ends);
        startup.decision.store(GO, Ordering::Release);
        Ok(Friends { threads })
    }

    /// Serves every pending request, at most one per friend, and returns how many it served.
    /// Returns at once (after one look at each friend's slot) when none is pending: Toshokan's
    /// `offloader_tryreceive()`.
    ///
    /// A block that panics is caught here and re-raised in the friend that offloaded it; this
    /// call goes on with the other friends.
    pub fn try_receive(&self) -> usize {
        let slots = self.slots.borrow();
        let mut served = 0;
        for (_, server) in slots.iter() {
            // SAFETY: each request is served once (`try_serve` hands it over by value), while
            // its friend waits in `offload` for this very outcome.
            if server.try_serve(|call| unsafe { call.run() }) {
                served += 1;
            }
        }
        served
    }

    /// Serves requests until `done()` returns true, backing off (spin, then yield to the OS)
    /// while none come.
    ///
    /// `done` is asked only after a sweep that found nothing to serve (so it costs nothing while
    /// requests keep coming), and once it has said true, one more sweep follows: a friend that
    /// made its last request before `done` turned true has been served when this returns.
    pub fn serve_until(&self, mut done: impl FnMut() -> bool) {
        let mut idle = Backoff::new(WaitStrategy::SPIN_THEN_YIELD);
        loop {
            if self.try_receive() > 0 {
                idle.reset();
            } else if done() {
                self.try_receive();
                return;
            } else {
                idle.snooze();
            }
        }
    }

    /// The number of friend slots this hakase polls: every friend of every `spawn_friends` call,
    /// except those that had ended by the start of a later call.
    #[must_use]
    pub fn friend_count(&self) -> usize {
        self.slots.borrow().len()
    }
}

/// Tells started friends not to run their bodies, and waits for them.
fn abort_start(startup: &Startup, threads: Vec<(FriendId, thread::JoinHandle<()>)>) {
    startup.decision.store(ABORT, Ordering::Release);
    for (_, thread) in threads {
        // Aborted friends return without running a body; a panic here would be ours.
        let _ = thread.join();
    }
}

/// A friend thread: pin, connect, sandbox, report ready, wait for the go, run the body.
fn friend_main(
    id: FriendId,
    cpu: Option<usize>,
    end: FriendEnd,
    filter: Option<&Filter>,
    startup: &Startup,
    body: &(dyn Fn(FriendId) + Send + Sync),
) {
    let wait = end.wait;
    let fail = |failure: FriendStartError| {
        startup
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(failure);
    };
    let mut ok = true;
    if let Some(cpu) = cpu {
        // `cpu` comes out of a `CpuList`, so it is in range; the mapping is for completeness.
        let pinned = gears_runtime::cpu_list::CpuList::single(cpu)
            .map_err(AffinityError::OutOfRange)
            .and_then(|cpus| cpus.pin_current_thread());
        if let Err(source) = pinned {
            fail(FriendStartError::Pin { id, cpu, source });
            ok = false;
        }
    }
    install_friend_end(end);
    // Anything the thread allocates for itself the first time (its allocator arena, the
    // thread-local destructor list) is set up before the sandbox closes the door.
    drop(std::hint::black_box(Box::new([0u8; 256])));
    if ok
        && let Some(filter) = filter
        && let Err(source) = filter.install_on_this_thread()
    {
        fail(FriendStartError::Sandbox { id, source });
    }
    startup.ready.fetch_add(1, Ordering::Release);
    let mut idle = Backoff::new(wait);
    let decision = loop {
        match startup.decision.load(Ordering::Acquire) {
            WAITING => idle.snooze(),
            decision => break decision,
        }
    };
    if decision == GO {
        body(id);
    }
}
