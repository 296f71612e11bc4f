//! Process friends: friends in processes of their own, sharing with the hakase only a region
//! of memory that holds their requests.
//!
//! Thread friends share the hakase's address space: their seccomp filter limits what they ask
//! the kernel, but friend code can read and write every byte of hakase memory. A process friend
//! cannot: it is a fresh process started from the same binary (`execve`, not a `fork`
//! snapshot, so nothing the hakase held before is in it), pinned to its CPU and under the same
//! seccomp filter as [`Sandbox::NoSyscalls`](crate::Sandbox::NoSyscalls) from before its body's
//! first instruction, and the one memory it shares with the hakase is its own region (a sealed
//! `memfd`): the handoff words and a buffer for the request and its reply (64 KiB unless
//! [`FriendConfig::region_bytes`](crate::FriendConfig::region_bytes) says otherwise).
//!
//! ```no_run,standalone_crate
//! mod shared {
//!     offload::declare_exports! {
//!         pub fn hakase_add(a: i64, b: i64) -> i64;
//!         pub fn hakase_print(msg: &str) -> usize;
//!     }
//! }
//!
//! #[offload::export_symbol(declared_in = shared)]
//! pub fn hakase_add(a: i64, b: i64) -> i64 { a + b }
//!
//! #[offload::export_symbol(declared_in = shared)]
//! pub fn hakase_print(msg: &str) -> usize { println!("{msg}"); msg.len() }
//!
//! /// Runs in a process of its own; a `fn` item (or a closure that captures nothing).
//! fn friend(id: offload::FriendId) {
//!     let sum = shared::hakase_add::remote(40, id.0 as i64).expect("the hakase answers");
//!     shared::hakase_print::remote(&format!("friend {} got {sum}", id.0)).unwrap();
//! }
//!
//! fn main() -> Result<(), offload::Error> {
//!     let hakase = offload::Hakase::new()?;
//!     let friends = hakase.spawn_friends(offload::FriendConfig::cpus("1")?.process(), friend)?;
//!     friends.join() // serves them; reports how each process ended
//! }
//! ```
//!
//! # The entry point
//!
//! There is no friend `main` to write: this crate puts a constructor in `.init_array`, which
//! runs before `main` in every process of a binary that links it and returns at once unless the
//! process was started as a friend. A friend process never reaches `main`: the constructor maps
//! the region, closes every inherited descriptor, pins, sandboxes, waits for the hakase's go,
//! runs the body and ends. The body must therefore be something the new process can find
//! without the hakase's memory: a `fn` item or a closure that captures nothing (zero-sized; a
//! body that captures is refused with [`Error::ProcessBody`](crate::Error::ProcessBody)), run
//! through its address relative to this crate's code in the same binary.
//!
//! # What crosses
//!
//! Calls of functions declared with [`declare_exports!`](crate::declare_exports): each such
//! declaration whose parameter and return types all cross (integers, floats, `bool`, `char`,
//! `()`, `String`, `&str`, `Vec<T>`, `&[T]`, `[T; N]`, `Option<T>`, `Result<T, E>` and tuples
//! of up to four, of these) gets `name::remote(args..) -> Result<R, RemoteError>`, which encodes
//! the arguments ([`Wire`]) into the region, waits for the hakase and decodes the value. Other
//! declarations have no `remote` (calling it is rustc's "no function named `remote`").
//!
//! Types of your own cross with `#[derive(Wire)]` (structs and enums, see [`Wire`]) and a
//! declaration marked `#[remote]`, which gets `remote` whatever its types are named (rustc then
//! checks that each implements `Wire`; a reference other than `&str`/`&[T]`, a `&mut`, a raw
//! pointer is a compile error there). They need not be `Clone`: the hakase function gets the
//! value decoded from the request, moved.
//!
//! ```no_run,standalone_crate
//! use offload::process::Wire;
//!
//! #[derive(Debug, Wire)]
//! pub enum Shape { Square { side: u32 }, Polygon(Vec<(i32, i32)>) }
//!
//! mod shared {
//!     offload::declare_exports! {
//!         #[remote]
//!         pub fn hakase_area(shape: super::Shape) -> u64;
//!     }
//! }
//!
//! #[offload::export_symbol(declared_in = shared)]
//! pub fn hakase_area(shape: Shape) -> u64 {
//!     match shape {
//!         Shape::Square { side } => u64::from(side) * u64::from(side),
//!         Shape::Polygon(points) => points.len() as u64,
//!     }
//! }
//!
//! fn friend(_: offload::FriendId) {
//!     assert_eq!(shared::hakase_area::remote(Shape::Square { side: 3 }), Ok(9));
//! }
//! # fn main() {}
//! ```
//!
//! `offload!` blocks cannot cross: they are closures over the friend's locals, which live in
//! another address space. A process friend body that is a `fn` item with an `offload!` in it
//! is refused by `spawn_friends` before any friend starts
//! ([`Error::OffloadInProcess`](crate::Error::OffloadInProcess), saying where and what to write
//! instead); one reached otherwise (in a closure body, or a function the body calls: the type
//! of a body cannot tell at compile time in which kind of friend it will run) panics the
//! friend at once, saying the same. Call a declared function with `remote` instead.

//! # The hakase trusts nothing in the region
//!
//! The hakase copies each request out of the region before looking at it, checks the symbol id
//! against the table, the length against the buffer, and decodes the arguments with every
//! length bounded by the bytes there, every tag and string validated and no byte left over. A
//! malformed request gets an error reply ([`RemoteError::Refused`]); a function that panics
//! gets one too, and the hakase goes on. Nothing a friend writes is used as an address.
//!
//! # Faults
//!
//! - **A friend ends** (crashes, aborts, is killed, exits): each friend process has a `pidfd`
//!   that one watcher thread of the hakase's process `poll`s; when it becomes readable the
//!   friend is marked dead and its hakase's bell rung, so even a parked hakase sees it at once
//!   and no serving sweep pays a system call to ask. From then on the hakase serves that
//!   region no more: a request it had made and not had answered is *not* made (nobody waits for
//!   its value), and its [`FriendExit`] names it (`in_flight`). The other friends are served
//!   on. (Without `pidfd_open`, Linux before 5.3, each friend is asked with `waitid` at most
//!   every millisecond instead.)
//! - [`Friends::join`](crate::Friends::join) reports each process's end ([`FriendExit`]), e.g.
//!   "friend 1 was killed by signal 9 (SIGKILL); its call of hakase_add was not made".
//! - **A friend hangs**: [`Friends::stop`](crate::Friends::stop) kills it.
//! - **The hakase's process ends**, however: its friends die with it. They are armed with
//!   `PR_SET_PDEATHSIG` (before the exec, with a check that the parent had not already gone),
//!   which fires when the *thread* that forked them ends, so every friend is forked from one
//!   thread that lives as long as the process; a friend started from a short-lived thread
//!   lives on with its hakase.
//! - **`Friends` is dropped without `join`**: its friends still running are killed and reaped
//!   before the drop returns (nothing is left running, not even a zombie) and the hakase
//!   serves them no more; a dropped [`Hakase`](crate::Hakase) does the same.

//! # What it costs against thread friends
//!
//! - A call copies its arguments and value through the region (a thread friend's `move` block
//!   carries up to three words in the handoff's cache line). A call whose encoded arguments and
//!   value take up to 48 bytes each still moves one cache line each way, like the thread
//!   handoff: the call words and the start of the buffer share the region's first line. See
//!   `bench offload`'s `process_call_vs_thread_call` and `process_call_vs_iceoryx2`.
//! - A parked hakase is woken by a process friend's request through a bell word in that
//!   friend's region: the hakase sleeps on its own bell and every friend's word at once
//!   (`futex_waitv`, Linux 5.16 and later; see
//!   [`Bell::park_with`](gears_runtime::handoff::Bell::park_with)), and a friend's ring is a
//!   compiler fence and a load of a word in the line it has just written, plus a futex wake
//!   when the hakase is parked: the friend registers for `membarrier`'s global expedited
//!   barrier before its sandbox closes, and the hakase issues that barrier when it parks,
//!   which stands for the friend's fence (see
//!   [`use_light_shared_rings`](gears_runtime::handoff::use_light_shared_rings); without the
//!   barrier, Linux before 4.16, the ring is a sequentially consistent fence, an `mfence` that
//!   waits for the request to reach the hakase's core).
//! - A `remote` call looks its symbol's id up by name once and keeps it; the hakase checks
//!   every id it receives against its table all the same. A friend can write anything in its word: that only wakes the hakase for
//!   nothing, or leaves its own requests waiting for the park's slice (10 ms); another friend's
//!   ring is never lost. Where `futex_waitv` is missing, or beyond
//!   [`MAX_SHARED_WORDS`](gears_runtime::handoff::MAX_SHARED_WORDS) friends, a parked hakase
//!   looks every millisecond instead.
//! - Starting one is an `execve` and the binary's start-up (milliseconds), not a thread spawn.
//! - The body is a function, not a closure over hakase data; only declared functions cross.

mod region;
mod serve;
mod spawn;
mod watch;
mod wire;

use core::fmt;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use gears_runtime::handoff::{Backoff, WaitStrategy, ring_shared};

pub(crate) use self::serve::Scratch;
#[doc(hidden)]
pub use self::serve::{RemoteEntry, ServeFn};
pub(crate) use self::spawn::{ProcessFriend, StartError, spawn};
pub use self::wire::{Arg, Reader, Wire, WireError, Writer};
#[doc(hidden)]
pub use self::wire::{decode_arg, view_arg};
use crate::symbols::ExportedSymbol;
/// `#[derive(Wire)]`: see [`Wire`](trait@Wire).
pub use gears_macros::Wire;
pub(crate) use region::{MAX_DATA_BYTES, MIN_DATA_BYTES};
use region::{REPLY_ERROR, REPLY_OK, REQUEST, Region, Word};

/// How a process friend ended, as [`Friends::join`](crate::Friends::join) reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FriendExit {
    /// Its body returned.
    Returned,
    /// Its body panicked (the message, and where).
    Panicked {
        /// The panic message and its location.
        message: String,
    },
    /// The process exited with this code without its body returning or panicking (it called
    /// `exit`, or could not start).
    Exited {
        /// The exit code.
        code: i32,
        /// The exported function it had asked the hakase to call and was waiting on, which
        /// the hakase therefore did not call (it serves no dead friend).
        in_flight: Option<&'static str>,
    },
    /// A signal ended it: a crash (`SIGSEGV`), an `abort()` (`SIGABRT`), a denied system call
    /// under [`OnDenied::KillProcess`](crate::OnDenied::KillProcess) (`SIGSYS`), or a kill
    /// from outside.
    Killed {
        /// The signal number.
        signal: i32,
        /// The exported function it had asked the hakase to call and was waiting on, which
        /// the hakase therefore did not call (it serves no dead friend).
        in_flight: Option<&'static str>,
    },
    /// [`Friends::stop`](crate::Friends::stop) killed it.
    Stopped {
        /// The exported function it had asked the hakase to call and was waiting on, which
        /// the hakase therefore did not call (it serves no dead friend).
        in_flight: Option<&'static str>,
    },
}

impl fmt::Display for FriendExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Returned => f.write_str("returned"),
            Self::Panicked { message } => write!(f, "panicked: {message}"),
            Self::Exited { code, in_flight } => {
                write!(f, "exited with code {code}")?;
                fmt_in_flight(*in_flight, f)
            }
            Self::Killed { signal, in_flight } => {
                write!(f, "was killed by signal {signal}")?;
                if let Some(name) = signal_name(*signal) {
                    write!(f, " ({name})")?;
                }
                fmt_in_flight(*in_flight, f)
            }
            Self::Stopped { in_flight } => {
                f.write_str("was stopped by the hakase")?;
                fmt_in_flight(*in_flight, f)
            }
        }
    }
}

fn fmt_in_flight(in_flight: Option<&str>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match in_flight {
        Some(name) => write!(f, "; its call of {name} was not made"),
        None => Ok(()),
    }
}

/// The names of the signals that end friends.
fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGSYS => "SIGSYS",
        libc::SIGTERM => "SIGTERM",
        libc::SIGTRAP => "SIGTRAP",
        _ => return None,
    })
}

/// Why a call from a process friend did not return a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// `remote` was called outside a process friend (in a thread friend, use `offload!`).
    #[error(
        "remote calls are made from process friends (FriendConfig::process); in a thread \
         friend call exported functions inside offload!"
    )]
    NotProcessFriend,
    /// The symbol is not callable across processes in this binary.
    #[error("{0} is not callable across processes")]
    NotRemote(&'static str),
    /// The encoded arguments do not fit this friend's region; nothing was sent.
    #[error(
        "the arguments of {symbol} take {bytes} bytes encoded; this friend's region holds \
         {capacity} (make it larger with FriendConfig::region_bytes)"
    )]
    TooLarge {
        /// The function called.
        symbol: &'static str,
        /// The encoded arguments' size.
        bytes: usize,
        /// The most the region holds (its [`FriendConfig::region_bytes`](crate::FriendConfig::region_bytes)).
        capacity: usize,
    },
    /// The hakase refused the request or the function panicked there; says why (text: it
    /// comes from the hakase's process).
    #[error("the hakase refused the call: {0}")]
    Refused(String),
    /// The hakase's reply did not decode as the declared type.
    #[error("the hakase's reply is malformed")]
    Reply(#[source] WireError),
}

/// This process's region, if it is a friend process (set once, before the body runs), and how
/// it waits for replies ([`FriendConfig::wait`](crate::FriendConfig::wait)).
static FRIEND_REGION: OnceLock<(Region, WaitStrategy)> = OnceLock::new();

fn set_friend_region(region: Region, wait: WaitStrategy) -> &'static Region {
    &FRIEND_REGION.get_or_init(|| (region, wait)).0
}

/// Whether this process is a process friend.
#[must_use]
pub fn in_process_friend() -> bool {
    FRIEND_REGION.get().is_some()
}

thread_local! {
    // `const`: no lazy-initialisation check on every call.
    static BUFFERS: RefCell<(Writer, Vec<u8>)> = const { RefCell::new((Writer::new(), Vec::new())) };
}

/// The wire id of one declared symbol, looked up by name on its first `remote` call and kept
/// (each `remote` has one): the table is the same in every process of the binary (see
/// `serve::table`), so the id does not change, and later calls cost one load instead of a
/// binary search comparing names. The hakase checks every id it receives all the same.
#[doc(hidden)]
#[derive(Debug)]
pub struct RemoteId(AtomicU32);

/// A [`RemoteId`] not yet looked up (the table never has this many symbols).
const UNRESOLVED: u32 = u32::MAX;

impl RemoteId {
    #[doc(hidden)]
    #[must_use]
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(AtomicU32::new(UNRESOLVED))
    }

    #[inline]
    fn get(&self, name: &'static str) -> Result<u32, RemoteError> {
        let id = self.0.load(Ordering::Relaxed);
        if id != UNRESOLVED {
            return Ok(id);
        }
        let id = serve::symbol_id(name).ok_or(RemoteError::NotRemote(name))?;
        self.0.store(id, Ordering::Relaxed);
        Ok(id)
    }
}

/// Calls symbol `S` on the hakase from a process friend: what `name::remote(..)` does.
#[doc(hidden)]
pub fn remote_call<S: ExportedSymbol, R: Wire>(
    id: &RemoteId,
    encode: impl FnOnce(&mut Writer),
) -> Result<R, RemoteError> {
    let (region, wait) = FRIEND_REGION.get().ok_or(RemoteError::NotProcessFriend)?;
    let id = id.get(S::NAME)?;
    BUFFERS.with_borrow_mut(|(out, reply)| {
        out.clear();
        encode(out);
        let bytes = out.as_bytes();
        let capacity = region.data_bytes();
        if bytes.len() > capacity {
            return Err(RemoteError::TooLarge {
                symbol: S::NAME,
                bytes: bytes.len(),
                capacity,
            });
        }
        region.write_data(bytes);
        region.word(Word::Symbol).store(id, Ordering::Relaxed);
        region
            .word(Word::Len)
            .store(bytes.len() as u32, Ordering::Relaxed);
        region.word(Word::State).store(REQUEST, Ordering::Release);
        // Wakes the hakase if it parked (its word is in this region's call line, which this
        // friend has just written: while the hakase is awake the ring costs the fence alone).
        ring_shared(region.word(Word::Bell));
        let mut idle = Backoff::new(*wait);
        let state = loop {
            match region.word(Word::State).load(Ordering::Acquire) {
                state @ (REPLY_OK | REPLY_ERROR) => break state,
                _ => idle.snooze(),
            }
        };
        let len = (region.word(Word::Len).load(Ordering::Relaxed) as usize).min(capacity);
        region.read_data(len, reply);
        // The state stays a reply until the next request: the hakase serves only `REQUEST`,
        // and not writing `IDLE` saves moving the call line once more between the cores.
        if state == REPLY_ERROR {
            return Err(RemoteError::Refused(
                String::from_utf8_lossy(reply).into_owned(),
            ));
        }
        let mut input = Reader::new(reply);
        let value = R::decode(&mut input).map_err(RemoteError::Reply)?;
        input.finish().map_err(RemoteError::Reply)?;
        Ok(value)
    })
}

/// Encodes one argument of parameter type `T` (generated code names its types here).
#[doc(hidden)]
pub fn encode_arg<'a, T: Arg<'a>>(value: &T, out: &mut Writer) {
    value.encode_arg(out);
}

/// The process friends a hakase serves, with its scratch space for each.
#[derive(Debug, Default)]
pub(crate) struct ProcessSlots(RefCell<Vec<(Arc<ProcessFriend>, Scratch)>>);

impl ProcessSlots {
    /// Serves every pending request, one per friend; returns how many.
    pub(crate) fn serve(&self) -> usize {
        let mut slots = self.0.borrow_mut();
        let mut served = 0;
        for (friend, scratch) in slots.iter_mut() {
            // A dead friend's request is not served: nobody waits for its value, and its
            // exit reports the call as not made.
            if !friend.is_dead() && serve::serve_one(&friend.region, scratch) {
                served += 1;
            }
        }
        served
    }

    /// Whether any friend has a request waiting. A hint.
    pub(crate) fn has_request(&self) -> bool {
        self.0
            .borrow()
            .iter()
            .any(|(friend, _)| !friend.is_dead() && serve::has_request(&friend.region))
    }

    /// Parks on `bell` and every friend's shared bell word (see
    /// [`Bell::park_with`](gears_runtime::handoff::Bell::park_with)) until one is rung,
    /// `has_work` says there is work, or [`PARK_SLICE_WITH_PROCESSES`] passes. The pidfd
    /// watcher rings `bell` when a friend ends; where there is no pidfd a crash rings nothing,
    /// and the slice bounds how late a parked hakase sees it. A friend that has said it is
    /// ending rang when it said so, but its process is gone only a moment later: then the
    /// slice is [`ENDING_SLICE`], to see it go.
    pub(crate) fn park(
        &self,
        bell: &gears_runtime::handoff::Bell,
        has_work: impl FnOnce() -> bool,
    ) {
        let slots = self.0.borrow();
        let words: Vec<&core::sync::atomic::AtomicU32> = slots
            .iter()
            .map(|(friend, _)| friend.region.word(Word::Bell))
            .collect();
        let ending = slots.iter().any(|(friend, _)| {
            friend.region.word(Word::Ended).load(Ordering::Relaxed) != 0 && friend.exit().is_none()
        });
        let slice = if ending {
            ENDING_SLICE
        } else {
            PARK_SLICE_WITH_PROCESSES
        };
        bell.park_with(&words, has_work, slice);
    }

    /// Whether there are process friends that may still make requests.
    pub(crate) fn any(&self) -> bool {
        !self.0.borrow().is_empty()
    }

    /// How many process friends are served.
    pub(crate) fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Adds friends; drops those that have ended.
    pub(crate) fn add(&self, friends: &[Arc<ProcessFriend>]) {
        let mut slots = self.0.borrow_mut();
        slots.retain(|(friend, _)| friend.exit().is_none());
        slots.extend(
            friends
                .iter()
                .map(|friend| (friend.clone(), Scratch::default())),
        );
    }

    /// Stops serving friends that have ended.
    pub(crate) fn forget_ended(&self) {
        self.0
            .borrow_mut()
            .retain(|(friend, _)| friend.exit().is_none());
    }
}

/// An `offload!` in the program: the path of the function it is in, and where it is
/// (registered by each `offload!`).
#[doc(hidden)]
pub struct OffloadSite {
    /// `type_name` of a `fn` item at the site: `crate::module::function::offload_site`.
    enclosing: fn() -> &'static str,
    file: &'static str,
    line: u32,
    column: u32,
}

impl OffloadSite {
    #[doc(hidden)]
    #[must_use]
    pub const fn new(
        enclosing: fn() -> &'static str,
        file: &'static str,
        line: u32,
        column: u32,
    ) -> Self {
        Self {
            enclosing,
            file,
            line,
            column,
        }
    }
}

gears_runtime::registry::inventory::collect!(OffloadSite);

/// Where an `offload!` is written inside the body `F` of a process friend, if one is: `F` a
/// `fn` item whose own body (or a closure or block in it) holds the `offload!`. A closure body
/// cannot be told from the other closures of its function, so it is not looked into: an
/// `offload!` there, or in a function the body calls, panics when it runs (saying the same).
pub(crate) fn offload_in_body<F>() -> Option<String> {
    let body = core::any::type_name::<F>();
    if body.contains("{{closure}}") {
        return None;
    }
    // `crate::friend<u8>` is the instance of `crate::friend`.
    let body = body.split('<').next().unwrap_or(body);
    gears_runtime::registry::inventory::iter::<OffloadSite>().find_map(|site| {
        let path = (site.enclosing)();
        let function = path.strip_suffix("::offload_site").unwrap_or(path);
        let inside = function == body
            || function
                .strip_prefix(body)
                .is_some_and(|rest| rest.starts_with("::"));
        inside.then(|| format!("{}:{}:{}", site.file, site.line, site.column))
    })
}

/// The panic `offload!` raises in a process friend.
pub(crate) fn offload_in_process_friend() -> ! {
    panic!(
        "offload! cannot cross processes: this is a process friend (FriendConfig::process), \
         and an offload! block is a closure over the friend's locals, which the hakase's \
         process cannot reach; declare the hakase function with declare_exports! and call \
         `name::remote(args..)`, whose arguments and value are copied through the region"
    )
}

#[cfg(test)]
mod bell_tests;
#[cfg(test)]
mod tests;

/// How long a parked hakase with process friends sleeps before it looks again: requests ring
/// the shared words, ends the watcher rings the bell; this bounds a lost ring (a friend that
/// wrote its own word) and a crash where there is no pidfd.
const PARK_SLICE_WITH_PROCESSES: core::time::Duration = core::time::Duration::from_millis(10);

/// How long a parked hakase sleeps while a friend that said it is ending has not yet exited.
const ENDING_SLICE: core::time::Duration = core::time::Duration::from_millis(1);
