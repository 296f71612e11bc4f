//! The shared region of one process friend: the only memory it shares with the hakase.
//!
//! One `memfd` per friend (so that friends cannot see each other's requests), sealed against
//! growing and shrinking (a friend that could shrink it would make the hakase fault on its next
//! read), mapped read-write by both sides at addresses neither tells the other. Nothing in it is
//! a pointer: it holds the handoff words and one buffer for the request and then the reply.
//!
//! Layout (offsets in bytes):
//!
//! | offset | what | written by |
//! |---|---|---|
//! | 0 | `state`: idle, request, reply ok, reply error | friend (request, idle), hakase (replies) |
//! | 4 | `symbol`: the request's symbol id | friend |
//! | 8 | `len`: the request's, then the reply's, length | friend, then hakase |
//! | 12 | `bell`: awake, parked (the hakase's shared bell, see below) | hakase (park), friend (ring) |
//! | 16 | the data buffer (`data_bytes`, 64 KiB unless [`FriendConfig::region_bytes`] says) | friend (request), hakase (reply) |
//! | `C` = 16 + `data_bytes` rounded up to a page | `start`: starting, ready, failed | friend |
//! | `C` + 4 | `go`: wait, go, abort | hakase |
//! | `C` + 8 | `ended`: running, returned, panicked | friend |
//! | `C` + 12 | `message_len`: of the start failure or panic message | friend |
//! | `C` + 64 | the message (up to [`MESSAGE_BYTES`]) | friend |
//!
//! The friend learns `data_bytes` from the hakase at start-up and maps the region only if its
//! size is that layout's; each side bounds every length by it.
//!
//! [`FriendConfig::region_bytes`]: crate::FriendConfig::region_bytes
//!
//! A call touches one cache line when its arguments and its value take up to 48 bytes: the
//! call words and the first 48 bytes of the buffer share the region's first line, so a request
//! and its reply each move that one line between the two cores (as a thread friend's handoff
//! slot does), where a buffer of its own would move a second line each way. The words used only
//! at start and end live pages away, so that nothing polls the call line but the call.
//!
//! The `bell` word is the hakase's doorbell for this friend
//! ([`ring_shared`](gears_runtime::handoff::ring_shared)): the hakase stores "parked" in every
//! friend's word before it sleeps on all of them at once (`futex_waitv`), and the friend wakes
//! it after publishing a request. Each friend has a word of its own in a region of its own, so
//! a friend that writes anything there can only wake the hakase when it need not, or fail to
//! wake it for its own requests; never delay another friend's.
//!
//! The two processes reach every byte only through atomic operations (a word at a time for the
//! buffers), so whatever the other side does concurrently, no access is a data race on either
//! side; the hakase copies a request out before it looks at it, so a friend that changes the
//! bytes while they are read can only change what it asked, not what the hakase checked.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The most bytes a request or a reply can have unless
/// [`FriendConfig::region_bytes`](crate::FriendConfig::region_bytes) says otherwise.
pub(crate) const DEFAULT_DATA_BYTES: usize = 64 * 1024;
/// The smallest data buffer a region may have: the call line's 48 bytes.
pub(crate) const MIN_DATA_BYTES: usize = 64 - DATA_AT;
/// The largest: lengths are 32-bit words, and a region is memory of the hakase's too.
pub(crate) const MAX_DATA_BYTES: usize = 1 << 30;
/// The most bytes of a start-failure or panic message.
pub(crate) const MESSAGE_BYTES: usize = 2048;
/// Where the data buffer starts: right after the call words, in their cache line.
const DATA_AT: usize = 16;

/// Where a region's parts are for a data buffer of `data_bytes`: the start-up and end words on
/// a page of their own after the buffer, then the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    data_bytes: usize,
    control_at: usize,
    total: usize,
}

impl Layout {
    /// The layout for `data_bytes` (within [`MIN_DATA_BYTES`]..=[`MAX_DATA_BYTES`], which
    /// `spawn_friends` checks).
    pub(crate) const fn new(data_bytes: usize) -> Self {
        assert!(data_bytes >= MIN_DATA_BYTES && data_bytes <= MAX_DATA_BYTES);
        let control_at = (DATA_AT + data_bytes).next_multiple_of(4096);
        let total = (control_at + 64 + MESSAGE_BYTES).next_multiple_of(4096);
        Self {
            data_bytes,
            control_at,
            total,
        }
    }

    fn message_at(self) -> usize {
        self.control_at + 64
    }
}

/// The words of the header (4 bytes each): the call words by offset from the start, the
/// start-up and end words by offset from the control page.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Word {
    State,
    Symbol,
    Len,
    Bell,
    Start,
    Go,
    Ended,
    MessageLen,
}

/// `state` values.
/// 0: idle, the zeroed region (a friend leaves a reply there until its next request).
#[cfg(test)]
pub(crate) const IDLE: u32 = 0;
pub(crate) const REQUEST: u32 = 1;
pub(crate) const REPLY_OK: u32 = 2;
pub(crate) const REPLY_ERROR: u32 = 3;

/// `start` values.
// 0: starting (the zeroed region).
pub(crate) const READY: u32 = 1;
pub(crate) const START_FAILED: u32 = 2;

/// `go` values.
pub(crate) const GO: u32 = 1;
pub(crate) const ABORT: u32 = 2;

/// `ended` values.
pub(crate) const RETURNED: u32 = 1;
pub(crate) const PANICKED: u32 = 2;

/// A mapping of a friend's region.
///
/// Invariant: `base` is the start of a live `MAP_SHARED` read-write mapping of
/// `layout.total` bytes, page-aligned, unmapped only by `drop`.
#[derive(Debug)]
pub(crate) struct Region {
    base: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the mapping is reached only through atomic operations (see the module docs), which
// any thread may make.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// A new sealed region of `layout` and the file descriptor (close-on-exec) that maps it.
    pub(crate) fn create(layout: Layout) -> io::Result<(Self, OwnedFd)> {
        // SAFETY: a constant NUL-terminated name and valid flags.
        let fd = unsafe {
            libc::memfd_create(
                c"gears-offload-friend".as_ptr(),
                libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `memfd_create` returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: a valid descriptor and length.
        if unsafe { libc::ftruncate(fd.as_raw_fd(), layout.total as libc::off_t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL;
        // SAFETY: a valid memfd made with MFD_ALLOW_SEALING.
        if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let region = Self::map(fd.as_raw_fd(), layout)?;
        Ok((region, fd))
    }

    /// Maps the region behind `fd`, which must be a sealed region of `layout`.
    pub(crate) fn map(fd: RawFd, layout: Layout) -> io::Result<Self> {
        // SAFETY: a plain fstat into a local.
        let mut stat: libc::stat = unsafe { core::mem::zeroed() };
        // SAFETY: `stat` is a valid out-pointer.
        if unsafe { libc::fstat(fd, &raw mut stat) } != 0 {
            return Err(io::Error::last_os_error());
        }
        if stat.st_size as usize != layout.total {
            return Err(io::Error::other(format!(
                "the friend region is {} bytes, not {}",
                stat.st_size, layout.total
            )));
        }
        // SAFETY: a new shared mapping of a file of that size; nothing else is at the address
        // the kernel picks.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                layout.total,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            base: NonNull::new(base.cast()).expect("mmap does not return null on success"),
            layout,
        })
    }

    /// The most bytes a request or a reply can have in this region.
    pub(crate) fn data_bytes(&self) -> usize {
        self.layout.data_bytes
    }

    /// A header word.
    #[inline]
    pub(crate) fn word(&self, word: Word) -> &AtomicU32 {
        let offset = match word {
            Word::State => 0,
            Word::Symbol => 4,
            Word::Len => 8,
            Word::Bell => 12,
            Word::Start => self.layout.control_at,
            Word::Go => self.layout.control_at + 4,
            Word::Ended => self.layout.control_at + 8,
            Word::MessageLen => self.layout.control_at + 12,
        };
        // SAFETY: every offset is within the mapping: the call words before `DATA_AT`, the
        // control words within the 64 bytes at `control_at` (`Layout::new`).
        let at = unsafe { self.base.as_ptr().add(offset).cast::<u32>() };
        // SAFETY: within the mapping, 4-aligned (every offset is, and the mapping is
        // page-aligned), and only ever
        // accessed atomically, by either process.
        unsafe { AtomicU32::from_ptr(at) }
    }

    /// The 8-byte word `index` of the area at `at`.
    fn cell(&self, at: usize, index: usize) -> &AtomicU64 {
        debug_assert!(at + (index + 1) * 8 <= self.layout.total);
        // SAFETY: callers keep `at + 8 * (index + 1)` within the mapping (type invariant).
        let cell = unsafe { self.base.as_ptr().add(at + 8 * index) };
        // SAFETY: within the mapping, 8-aligned (`at` is, and the mapping is page-aligned),
        // and only ever accessed atomically, by either process.
        unsafe { AtomicU64::from_ptr(cell.cast::<u64>()) }
    }

    fn write_area(&self, at: usize, bytes: &[u8]) {
        for (index, chunk) in bytes.chunks(8).enumerate() {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.cell(at, index)
                .store(u64::from_le_bytes(word), Ordering::Relaxed);
        }
    }

    fn read_area(&self, at: usize, len: usize, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(len);
        for index in 0..len.div_ceil(8) {
            let word = self.cell(at, index).load(Ordering::Relaxed).to_le_bytes();
            let take = (len - index * 8).min(8);
            out.extend_from_slice(&word[..take]);
        }
    }

    /// Writes `bytes` (at most [`data_bytes`](Self::data_bytes)) to the data buffer.
    pub(crate) fn write_data(&self, bytes: &[u8]) {
        assert!(bytes.len() <= self.data_bytes(), "checked by the callers");
        self.write_area(DATA_AT, bytes);
    }

    /// Copies the first `len` (at most [`data_bytes`](Self::data_bytes)) bytes of the data
    /// buffer into `out`.
    pub(crate) fn read_data(&self, len: usize, out: &mut Vec<u8>) {
        assert!(len <= self.data_bytes(), "checked by the callers");
        self.read_area(DATA_AT, len, out);
    }

    /// Writes a message (cut to [`MESSAGE_BYTES`] at a character boundary) and its length.
    pub(crate) fn write_message(&self, message: &str) {
        let mut end = message.len().min(MESSAGE_BYTES);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        self.write_area(self.layout.message_at(), &message.as_bytes()[..end]);
        self.word(Word::MessageLen)
            .store(end as u32, Ordering::Release);
    }

    /// The message, validated: its length is bounded and invalid UTF-8 is replaced.
    pub(crate) fn read_message(&self) -> String {
        let len = (self.word(Word::MessageLen).load(Ordering::Acquire) as usize).min(MESSAGE_BYTES);
        let mut bytes = Vec::new();
        self.read_area(self.layout.message_at(), len, &mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: the mapping is live and ours to unmap (type invariant); no reference into it
        // outlives `self`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.layout.total) };
    }
}
