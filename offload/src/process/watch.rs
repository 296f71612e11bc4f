//! Two long-lived threads of the hakase's process that friend processes need: the one that
//! starts them, and the one that sees them end.
//!
//! **The spawner.** `PR_SET_PDEATHSIG` fires when the *thread* that forked the child ends, not
//! when its process does. A friend forked from a short-lived thread would die with that thread
//! while the hakase went on. So every friend process is forked from one thread that lives as
//! long as the hakase's process (it waits for work in a channel that is never closed), and its
//! friends die exactly when that process does.
//!
//! **The watcher.** Each friend process has a `pidfd` (`pidfd_open`), which becomes readable when
//! the process ends. One thread `poll`s all of them (and an `eventfd` that says "a new one to
//! watch"); when a friend ends it marks it dead and rings the bell of the hakase that serves it,
//! so a crash is seen at once, by a parked hakase too, and no serving sweep pays a system call
//! to ask. Where `pidfd_open` is missing (Linux before 5.3) the friend is asked with `waitid`
//! instead, at most every millisecond.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};

use gears_runtime::handoff::Bell;

use super::spawn::ProcessFriend;

/// A command to start, and where to send the child.
type Job = (Command, Sender<io::Result<Child>>);

/// Starts `command` from the spawner thread (so the child's parent-death signal is tied to the
/// life of this process, not of the calling thread).
pub(crate) fn spawn_from_spawner(command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    let spawner = match SPAWNER.get() {
        Some(spawner) => spawner,
        None => {
            let (jobs, inbox) = channel::<Job>();
            std::thread::Builder::new()
                .name("offload-spawner".to_owned())
                .spawn(move || {
                    // Ends only if every sender is gone, which the static never is.
                    for (mut command, reply) in inbox {
                        let _ = reply.send(command.spawn());
                    }
                })?;
            // Another thread may have won: its spawner is used and this one ends at once
            // (its sender is dropped here).
            SPAWNER.get_or_init(|| Mutex::new(jobs))
        }
    };
    let (reply, answer) = channel();
    spawner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send((command, reply))
        .map_err(|_| io::Error::other("the offload spawner thread is gone"))?;
    answer
        .recv()
        .map_err(|_| io::Error::other("the offload spawner thread is gone"))?
}

/// One friend the watcher watches.
struct Watched {
    friend: Weak<ProcessFriend>,
    /// The watcher's own descriptor of the process (so closing the friend's cannot pull it away
    /// mid-`poll`).
    pidfd: OwnedFd,
    bell: Option<Arc<Bell>>,
}

struct Watcher {
    /// Written to when `added` has something new.
    wake: OwnedFd,
    added: Mutex<Vec<Watched>>,
}

/// Opens a pidfd for `pid`, or `None` where the kernel has none.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a non-negative result is a descriptor this process now owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn watcher() -> Option<&'static Watcher> {
    static WATCHER: OnceLock<Option<Watcher>> = OnceLock::new();
    WATCHER
        .get_or_init(|| {
            // SAFETY: eventfd takes a value and flags and returns a new descriptor or -1.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return None;
            }
            // SAFETY: a non-negative result is a descriptor this process now owns.
            let wake = unsafe { OwnedFd::from_raw_fd(fd) };
            std::thread::Builder::new()
                .name("offload-watcher".to_owned())
                .spawn(watch_loop)
                .ok()?;
            Some(Watcher {
                wake,
                added: Mutex::new(Vec::new()),
            })
        })
        .as_ref()
}

/// Has the watcher mark `friend` dead (and ring `bell`) when its process `pid` ends. Returns
/// false if it cannot (no pidfd): then the friend must be asked with `waitid`.
pub(crate) fn watch(friend: &Arc<ProcessFriend>, pid: u32, bell: Option<Arc<Bell>>) -> bool {
    let (Some(watcher), Some(pidfd)) = (watcher(), pidfd_open(pid)) else {
        return false;
    };
    watcher
        .added
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Watched {
            friend: Arc::downgrade(friend),
            pidfd,
            bell,
        });
    // SAFETY: writes 8 bytes from a live local to a descriptor the watcher owns.
    unsafe { libc::eventfd_write(watcher.wake.as_raw_fd(), 1) };
    true
}

fn watch_loop() {
    // Blocks until the thread that started this one has finished initialising the watcher.
    let Some(watcher) = watcher() else {
        return;
    };
    let mut watching: Vec<Watched> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        watching.append(&mut watcher.added.lock().unwrap_or_else(PoisonError::into_inner));
        fds.clear();
        fds.push(libc::pollfd {
            fd: watcher.wake.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        fds.extend(watching.iter().map(|watched| libc::pollfd {
            fd: watched.pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }));
        // SAFETY: `fds` is a live array of `fds.len()` pollfd records.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if ready < 0 {
            // EINTR, or a transient failure: look again.
            continue;
        }
        if fds[0].revents != 0 {
            let mut value: libc::eventfd_t = 0;
            // SAFETY: reads 8 bytes into a live local from a descriptor the watcher owns.
            unsafe { libc::eventfd_read(watcher.wake.as_raw_fd(), &raw mut value) };
        }
        // From the back, so that `swap_remove` only moves entries already looked at.
        for index in (0..watching.len()).rev() {
            if fds[index + 1].revents == 0 {
                continue;
            }
            let watched = watching.swap_remove(index);
            if let Some(friend) = watched.friend.upgrade() {
                friend.dead.store(true, Ordering::Release);
            }
            if let Some(bell) = &watched.bell {
                bell.ring();
            }
        }
    }
}
