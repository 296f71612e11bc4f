//! The hakase: the capable thread that runs what friends offload.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::marker::PhantomData;
use std::panic::Location;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use gears_runtime::cpu_list::{AffinityError, CpuList};
use gears_runtime::handoff::{self, Backoff, Bell, SlotOptions, WaitStrategy};
use gears_runtime::registry::Table;

use crate::Error;
use crate::call::{
    FriendEnd, HakaseEnd, install_friend_end, reraised_from, serving, while_serving,
};
use crate::friend::{
    FriendConfig, FriendId, FriendPanic, FriendStartError, FriendThread, Friends, VanishWatch,
    panic_message,
};
use crate::sandbox::{
    Filter, FilterSpec, OnDenied, Sandbox, arm_trap, check_denials, set_trap_identity,
};
use crate::symbols::{Export, check_symbols};

/// How long an idle hakase spins before it parks, unless told otherwise
/// ([`Hakase::spin_before_parking`]).
pub const DEFAULT_SPIN_BEFORE_PARKING: Duration = Duration::from_micros(50);

/// The longest a parked hakase sleeps before it looks at `serve_until`'s `done` again, in case
/// `done` turned true by something other than a friend (a friend's request or end wakes it at
/// once).
const PARK_SLICE: Duration = Duration::from_millis(50);

/// The hakase: owns one handoff slot per friend and runs the blocks friends offload, on the
/// thread that calls [`try_receive`](Self::try_receive) or [`serve_until`](Self::serve_until).
///
/// It is not `Sync`: one thread is the hakase. Requests from several friends are served in
/// turn, each from its own slot, so none waits for a lock or for another friend's hand-over
/// (Toshokan arbitrates friends with one lock and one request in flight).
///
/// An idle hakase spins for a short budget ([`spin_before_parking`](Self::spin_before_parking))
/// and then parks in the kernel; a friend's request wakes it with one `futex` wake call (which
/// the sandbox allows), and costs the friend nothing more than a load while the hakase spins.
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
/// friends.join()?; // serves until both have ended
/// assert_eq!(SERVED_ON_HAKASE.load(Ordering::Relaxed), 2);
/// # Ok::<(), offload::Error>(())
/// ```
pub struct Hakase {
    /// What makes the hakase not `Sync`, and the only thing: a friend body capturing the hakase
    /// is told once that `Cell<()>` (nothing of ours) cannot be shared between threads.
    _one_thread: PhantomData<Cell<()>>,
    exports: &'static Table<Export>,
    bell: Arc<Bell>,
    spin_before_parking: OneThread<Cell<Duration>>,
    /// Set while `serve_until` parks between slices: the cue for `Friends::finished` to look
    /// for friend threads that vanished (a look that costs a `/proc` read, too much for the
    /// spinning phase).
    parking: OneThread<Cell<bool>>,
    slots: OneThread<RefCell<Vec<(FriendId, HakaseEnd)>>>,
    /// Process friends (`process/`).
    processes: OneThread<crate::process::ProcessSlots>,
}

/// A field of the hakase that is only reached through `&Hakase`.
struct OneThread<T>(T);

// SAFETY: `Hakase` is not `Sync` (its `_one_thread` marker), so no `&Hakase`, and so no
// `&OneThread` field of it, is ever shared between threads; declaring the fields `Sync` only
// keeps their own types out of the compiler's messages about the hakase.
unsafe impl<T> Sync for OneThread<T> {}

impl<T> core::ops::Deref for OneThread<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl fmt::Debug for Hakase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hakase")
            .field("exports", self.exports)
            .field("friends", &self.slots.borrow().len())
            .field("spin_before_parking", &self.spin_before_parking.get())
            .finish_non_exhaustive()
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

/// Adds to the panic report of a block that panics on the hakase which friend offloaded it,
/// and from where (the block's panic is then re-raised in that friend).
fn install_panic_note() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            if let Some((friend, site)) = serving() {
                eprintln!(
                    "note: the panicking block was offloaded by {friend} at {site}; the panic is \
                     re-raised there"
                );
            }
        }));
    });
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
        install_panic_note();
        Ok(Self {
            _one_thread: PhantomData,
            exports,
            bell: Arc::new(Bell::new()),
            spin_before_parking: OneThread(Cell::new(DEFAULT_SPIN_BEFORE_PARKING)),
            parking: OneThread(Cell::new(false)),
            slots: OneThread(RefCell::new(Vec::new())),
            processes: OneThread(crate::process::ProcessSlots::default()),
        })
    }

    /// The exported symbols (by name, with their signatures).
    #[must_use]
    pub fn exports(&self) -> &'static Table<Export> {
        self.exports
    }

    /// How long [`serve_until`](Self::serve_until) spins with nothing to serve before it parks
    /// ([`DEFAULT_SPIN_BEFORE_PARKING`] unless set). A request that comes while the hakase
    /// spins is served within a few tens of nanoseconds; one that comes while it is parked
    /// waits for the kernel to wake it (some µs). `Duration::MAX` never parks.
    pub fn spin_before_parking(&self, budget: Duration) {
        self.spin_before_parking.set(budget);
    }

    /// Whether the hakase is parked (or about to park) in [`serve_until`](Self::serve_until).
    /// A hint, for tests and benchmarks. Only the hakase's own thread can ask the hakase; other
    /// threads (friends) ask a [`parked_probe`](Self::parked_probe).
    #[must_use]
    pub fn is_parked(&self) -> bool {
        self.bell.is_parked()
    }

    /// A `Send + Sync` probe of whether this hakase is parked, for friends to look at.
    #[must_use]
    pub fn parked_probe(&self) -> ParkedProbe {
        ParkedProbe(self.bell.clone())
    }

    /// Starts the friends `config` describes, each running `body(id)`, and connects each to this
    /// hakase by its own slot.
    ///
    /// Every friend is pinned (and sandboxed, if configured) before any friend's body starts; if
    /// any of that fails for any friend, none runs its body and the error lists every failure.
    ///
    /// # Errors
    ///
    /// [`Error::NoCpus`] for an empty CPU list, [`Error::CpusAbsent`] for CPUs this machine does
    /// not have, [`Error::FriendStart`] if a friend could not be pinned or sandboxed,
    /// [`Error::Spawn`] if the OS would not start a thread, [`Error::Sandbox`] if the filter
    /// could not be built. With [`FriendConfig::process`] (see [`process`](crate::process)):
    /// [`Error::ProcessBody`] if `body` captures anything, [`Error::ProcessSpawn`] if the OS
    /// would not start a process, [`Error::FriendStart`] if one could not get ready (every one
    /// started is then killed).
    pub fn spawn_friends<F>(&self, config: FriendConfig, body: F) -> Result<Friends<'_>, Error>
    where
        F: Fn(FriendId) + Send + Sync + 'static,
    {
        if config.cpus.is_empty() {
            return Err(Error::NoCpus);
        }
        if config.friend_count() > crate::MAX_FRIENDS {
            return Err(Error::TooManyFriends {
                requested: config.friend_count(),
                max: crate::MAX_FRIENDS,
            });
        }
        if let Some(existing) = existing_cpus() {
            let absent = config.cpus.difference(&existing);
            if !absent.is_empty() {
                return Err(Error::CpusAbsent {
                    absent: Box::new(absent),
                    existing: Box::new(existing),
                });
            }
        }
        if config.process {
            return self.spawn_process_friends::<F>(&config);
        }
        // Friends that have ended leave their slot idle forever: stop polling those.
        self.slots
            .borrow_mut()
            .retain(|(_, server)| !server.client_gone());
        let wait = config.wait_strategy();
        let filter = match config.sandbox {
            Sandbox::NoSyscalls => {
                if config.on_denied == OnDenied::KillProcess {
                    arm_trap();
                }
                Some(Arc::new(
                    Filter::build(FilterSpec::for_this_process(config.on_denied))
                        .map_err(Error::Sandbox)?,
                ))
            }
            _ => None,
        };
        let kill_on_denied = filter.is_some() && config.on_denied == OnDenied::KillProcess;
        let body = Arc::new(body);
        let count = config.friend_count();
        let running = Arc::new(AtomicUsize::new(count));
        let startup = Arc::new(Startup {
            ready: AtomicUsize::new(0),
            decision: AtomicU8::new(WAITING),
            failures: Mutex::new(Vec::new()),
        });
        let mut threads = Vec::with_capacity(count);
        let mut ends = Vec::with_capacity(count);
        for index in 0..count {
            let id = FriendId(index);
            let mut options = SlotOptions::new().ring(self.bell.clone());
            if config.wait_timeout.is_some() {
                options = options.retractable();
            }
            let (client, server) = handoff::slot_with(options);
            let end = FriendEnd {
                client,
                wait,
                timeout: config.wait_timeout,
            };
            let start = FriendStart {
                id,
                cpu: config.cpu_of(id),
                filter: filter.clone(),
                kill_on_denied,
                startup: startup.clone(),
                running: running.clone(),
                bell: self.bell.clone(),
                tid: Arc::new(AtomicI32::new(0)),
            };
            let tid = start.tid.clone();
            let spawned = thread::Builder::new()
                .name(format!("friend-{index}"))
                .spawn({
                    let body = body.clone();
                    move || friend_main(start, end, &*body)
                });
            match spawned {
                Ok(thread) => {
                    threads.push((id, thread, tid));
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
        Ok(Friends {
            hakase: self,
            threads,
            running,
            processes: Vec::new(),
            vanish: VanishWatch::default(),
        })
    }

    /// `spawn_friends` for process friends (`process/`).
    fn spawn_process_friends<F>(&self, config: &FriendConfig) -> Result<Friends<'_>, Error>
    where
        F: Fn(FriendId) + Send + Sync + 'static,
    {
        if size_of::<F>() != 0 {
            return Err(Error::ProcessBody(core::any::type_name::<F>()));
        }
        if let Some(bytes) = config.region_bytes {
            let (min, max) = (
                crate::process::MIN_DATA_BYTES,
                crate::process::MAX_DATA_BYTES,
            );
            if !(min..=max).contains(&bytes) {
                return Err(Error::RegionSize { bytes, min, max });
            }
        }
        if let Some(site) = crate::process::offload_in_body::<F>() {
            return Err(Error::OffloadInProcess {
                body: core::any::type_name::<F>(),
                site,
            });
        }
        let processes =
            crate::process::spawn::<F>(config, Some(&self.bell)).map_err(|error| match error {
                crate::process::StartError::Io(error) => Error::ProcessSpawn(error),
                crate::process::StartError::Friends(failures) => Error::FriendStart(
                    failures
                        .into_iter()
                        .map(|(id, why)| FriendStartError::Process { id, why })
                        .collect(),
                ),
            })?;
        self.processes.add(&processes);
        Ok(Friends {
            hakase: self,
            threads: Vec::new(),
            running: Arc::new(AtomicUsize::new(0)),
            processes,
            vanish: VanishWatch::default(),
        })
    }

    /// Stops polling process friends that have ended.
    pub(crate) fn forget_ended_processes(&self) {
        self.processes.forget_ended();
    }

    /// Serves every pending request, at most one per friend, and returns how many it served.
    /// Returns at once (after one look at each friend's slot) when none is pending: Toshokan's
    /// `offloader_tryreceive()`.
    ///
    /// A block that panics is caught here and re-raised in the friend that offloaded it; this
    /// call goes on with the other friends. The panic report printed here names that friend.
    pub fn try_receive(&self) -> usize {
        check_denials();
        let slots = self.slots.borrow();
        let mut served = 0;
        for (id, server) in slots.iter() {
            let hit = server.try_serve(|call| {
                // SAFETY: each request is served once (`try_serve` hands it over by value),
                // while its friend waits in `offload` for this very outcome.
                while_serving(*id, call.site, || unsafe { call.run() })
            });
            if hit {
                served += 1;
            }
        }
        served + self.processes.serve()
    }

    /// Whether any friend's request is waiting. A hint.
    fn has_request(&self) -> bool {
        self.slots
            .borrow()
            .iter()
            .any(|(_, server)| server.has_request())
            || self.processes.has_request()
    }

    /// Serves requests until `done()` returns true. With nothing to serve it spins for
    /// [`spin_before_parking`](Self::spin_before_parking), then parks in the kernel until a
    /// friend makes a request or ends (or 50 ms pass, to look at `done` again in case something
    /// else made it true).
    ///
    /// `done` is asked only after a sweep that found nothing to serve (so it costs nothing while
    /// requests keep coming), and once it has said true, one more sweep follows: a friend that
    /// made its last request before `done` turned true has been served when this returns.
    pub fn serve_until(&self, mut done: impl FnMut() -> bool) {
        // Yielding while it spins lets friends that share its core make their requests.
        let mut idle = Backoff::new(WaitStrategy::SPIN_THEN_YIELD);
        let mut idle_since: Option<Instant> = None;
        let mut parked = false;
        loop {
            if self.try_receive() > 0 {
                idle.reset();
                idle_since = None;
                parked = false;
            } else if done() {
                self.try_receive();
                return;
            } else if !parked
                && (!idle.is_capped()
                    || idle_since.get_or_insert_with(Instant::now).elapsed()
                        < self.spin_before_parking.get())
            {
                // The clock is read only once the quick looks are over.
                idle.snooze();
            } else {
                // After a park that found nothing, park again without spinning first.
                parked = true;
                self.parking.set(true);
                if self.processes.any() {
                    // Process friends ring shared words in their regions (the bell is in
                    // hakase memory); a crash rings nothing, so look for one more often.
                    self.processes
                        .park(&self.bell, || self.has_request() || done());
                } else {
                    self.bell.park(|| self.has_request() || done(), PARK_SLICE);
                }
                self.parking.set(false);
                check_denials();
            }
        }
    }

    /// Whether `serve_until` is parked between slices (see the field).
    pub(crate) fn is_parking(&self) -> bool {
        self.parking.get()
    }

    /// The number of friends this hakase serves, of both kinds: every friend of every
    /// `spawn_friends` call, except those that had ended by the start of a later call. A
    /// thread friend keeps its slot after it ends until such a call; a process friend is also
    /// let go once [`Friends::join`](crate::Friends::join) has seen it end (or its `Friends`
    /// was dropped).
    #[must_use]
    pub fn friend_count(&self) -> usize {
        self.slots.borrow().len() + self.processes.len()
    }
}

/// Whether a hakase is parked, from any thread: see [`Hakase::parked_probe`].
#[derive(Clone, Debug)]
pub struct ParkedProbe(Arc<Bell>);

impl ParkedProbe {
    /// Whether the hakase is parked (or about to park). A hint.
    #[must_use]
    pub fn is_parked(&self) -> bool {
        self.0.is_parked()
    }
}

/// The CPUs this machine has online, if it says (`/sys/devices/system/cpu/online`).
fn existing_cpus() -> Option<CpuList> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?;
    gears_runtime::cpu_list::parse_cpu_str(text.trim()).ok()
}

/// Tells started friends not to run their bodies, and waits for them.
fn abort_start(startup: &Startup, threads: Vec<FriendThread>) {
    startup.decision.store(ABORT, Ordering::Release);
    for (_, thread, _) in threads {
        // Aborted friends return without running a body; a panic here would be ours.
        let _ = thread.join();
    }
}

/// What a friend thread needs to start.
struct FriendStart {
    id: FriendId,
    cpu: Option<usize>,
    filter: Option<Arc<Filter>>,
    kill_on_denied: bool,
    startup: Arc<Startup>,
    running: Arc<AtomicUsize>,
    bell: Arc<Bell>,
    /// Where the friend thread stores its kernel tid first thing (for `VanishWatch`).
    tid: Arc<AtomicI32>,
}

/// Counts the friend's body as ended and wakes the hakase, however the body ends.
struct Ended<'a> {
    running: &'a AtomicUsize,
    bell: &'a Bell,
}

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::Release);
        self.bell.ring();
    }
}

/// A friend thread: pin, connect, sandbox, report ready, wait for the go, run the body.
fn friend_main(
    start: FriendStart,
    end: FriendEnd,
    body: &(dyn Fn(FriendId) + Send + Sync),
) -> Result<(), FriendPanic> {
    let FriendStart {
        id,
        cpu,
        filter,
        kill_on_denied,
        startup,
        running,
        bell,
        tid,
    } = start;
    // SAFETY: gettid has no preconditions.
    tid.store(unsafe { libc::gettid() }, Ordering::Release);
    let _ended = Ended {
        running: &running,
        bell: &bell,
    };
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
        let pinned = CpuList::single(cpu)
            .map_err(AffinityError::OutOfRange)
            .and_then(|cpus| cpus.pin_current_thread());
        if let Err(source) = pinned {
            fail(FriendStartError::Pin { id, cpu, source });
            ok = false;
        }
    }
    install_friend_end(end);
    // Anything the thread allocates for itself the first time (its allocator arena, the
    // thread-local destructor list, the `Location` of a panic) is set up before the sandbox
    // closes the door.
    drop(std::hint::black_box(Box::new([0u8; 256])));
    let _ = Location::caller();
    if kill_on_denied {
        set_trap_identity(id);
    }
    if ok
        && let Some(filter) = &filter
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
    if decision != GO {
        return Ok(());
    }
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| body(id))).map_err(|payload| {
        FriendPanic {
            id,
            message: panic_message(&*payload),
            offloaded_at: reraised_from(&*payload),
        }
    })
}
