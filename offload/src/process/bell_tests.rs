//! The shared bell across processes: a hakase parked on its bell and on the bell words of
//! friends' regions (real sealed memfds) is woken by a ring from a forked process, whatever a
//! hostile process writes into its own word meanwhile, and also when the friend rings with a
//! compiler fence only (registered for the global barrier the hakase's park issues). Each park has a 30 s slice, so a wake
//! within seconds can only be the ring.

use core::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use gears_runtime::handoff::{
    Bell, SHARED_AWAKE, ring_shared, shared_barriers_supported, shared_wakes_supported,
    use_light_shared_rings,
};

use super::region::{DEFAULT_DATA_BYTES, Layout, REQUEST, Region, Word};

/// Runs `body` in a forked child (which only touches the shared mapping and makes futex
/// calls, so a fork of the multi-threaded test process is safe); returns its pid.
fn fork(body: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the child runs `body` (atomics, sleeps, futex wakes: no locks, no allocation)
    // and `_exit`s without unwinding or running the parent's destructors.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        body();
        // SAFETY: ends the child at once, as a child of fork must.
        unsafe { libc::_exit(0) };
    }
    pid
}

fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: our own child; `status` is a valid out-pointer.
    unsafe { libc::waitpid(pid, &raw mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child failed: {status:#x}"
    );
}

fn sleep_ms(ms: u32) {
    // SAFETY: usleep has no preconditions.
    unsafe { libc::usleep(ms * 1000) };
}

/// The friend side: waits until the hakase has parked on `region`'s word (and 20 ms more, so
/// that it is asleep), then makes a request and rings.
fn honest_friend(region: &Region) {
    let bell = region.word(Word::Bell);
    for _ in 0..20_000 {
        if bell.load(Ordering::Relaxed) != SHARED_AWAKE {
            break;
        }
        sleep_ms(1);
    }
    sleep_ms(20);
    region.word(Word::State).store(REQUEST, Ordering::Release);
    ring_shared(bell);
}

/// The hakase side: parks on `bell` and `words` until `region` has a request; how long it took
/// and how many parks.
fn park_until_request(bell: &Bell, words: &[&Region], region: &Region) -> (Duration, u32) {
    let words: Vec<_> = words.iter().map(|r| r.word(Word::Bell)).collect();
    let has = || region.word(Word::State).load(Ordering::Acquire) == REQUEST;
    let start = Instant::now();
    let mut parks = 0;
    while !has() && start.elapsed() < Duration::from_secs(20) {
        bell.park_with(&words, has, Duration::from_secs(30));
        parks += 1;
    }
    assert!(
        shared_wakes_supported(),
        "this kernel has no futex_waitv (Linux 5.16 and later): a parked hakase cannot sleep \
         on process friends' bell words and looks every millisecond instead"
    );
    (start.elapsed(), parks)
}

#[test]
fn a_ring_from_a_friend_process_wakes_a_hakase_parked_on_its_word() {
    let (region, _fd) = Region::create(Layout::new(DEFAULT_DATA_BYTES)).expect("a region");
    let bell = Bell::new();
    let child = fork(|| honest_friend(&region));
    let (took, _) = park_until_request(&bell, &[&region], &region);
    reap(child);
    assert_eq!(region.word(Word::State).load(Ordering::Acquire), REQUEST);
    assert!(took < Duration::from_secs(15), "woken after {took:?}");
    // Woken, the hakase has left the word awake: rings cost no system call.
    assert_eq!(
        region.word(Word::Bell).load(Ordering::Relaxed),
        SHARED_AWAKE
    );
}

#[test]
fn a_hostile_word_cannot_keep_the_hakase_from_another_friends_ring() {
    let (hostile, _hostile_fd) = Region::create(Layout::new(DEFAULT_DATA_BYTES)).expect("a region");
    let (honest, _honest_fd) = Region::create(Layout::new(DEFAULT_DATA_BYTES)).expect("a region");
    let bell = Bell::new();
    let attacker = fork(|| {
        let word = hostile.word(Word::Bell);
        let start = Instant::now();
        let mut i = 0u32;
        while start.elapsed() < Duration::from_millis(300) {
            // "Awake", "parked" and garbage, and swaps, as fast as it can, with wakes.
            word.store(
                [SHARED_AWAKE, 1, 0xdead_beef][i as usize % 3],
                Ordering::Relaxed,
            );
            word.swap(i, Ordering::Relaxed);
            ring_shared(word);
            i = i.wrapping_add(1);
        }
    });
    let friend = fork(|| honest_friend(&honest));
    let (took, _) = park_until_request(&bell, &[&hostile, &honest], &honest);
    reap(friend);
    reap(attacker);
    assert_eq!(honest.word(Word::State).load(Ordering::Acquire), REQUEST);
    assert!(took < Duration::from_secs(15), "woken after {took:?}");
}

#[test]
fn a_light_ring_from_a_registered_friend_process_wakes_a_parked_hakase() {
    assert!(
        shared_barriers_supported(),
        "this kernel has no global expedited membarrier (Linux 4.16 and later): process \
         friends ring with a sequentially consistent fence instead"
    );
    let (region, _fd) = Region::create(Layout::new(DEFAULT_DATA_BYTES)).expect("a region");
    let bell = Bell::new();
    // The child registers and rings with a compiler fence only; the hakase's park issues the
    // global barrier that stands for the child's fence.
    let child = fork(|| {
        if !use_light_shared_rings() {
            // Registration refused: `reap` reports the exit code.
            // SAFETY: ends the child at once, as a child of fork must.
            unsafe { libc::_exit(3) };
        }
        honest_friend(&region);
    });
    let (took, _) = park_until_request(&bell, &[&region], &region);
    reap(child);
    assert!(took < Duration::from_secs(15), "woken after {took:?}");
    assert_eq!(region.word(Word::State).load(Ordering::Acquire), REQUEST);
}
