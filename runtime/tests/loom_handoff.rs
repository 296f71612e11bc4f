//! Loom models of the exclusive-ends handoff slot (`gears_runtime::handoff`). Under `--cfg loom`
//! the shipped code runs on loom's atomics and cells, so loom checks the turn protocol's
//! orderings and reports any payload access not ordered after the other end's.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p gears-runtime --release --test loom_handoff`
//!
//! Each model with more than one possible result records the results of all explored executions
//! and fails unless it saw every one of them (loom 0.7 can skip interleavings, see
//! `loom_mailbox.rs`), so a model cannot pass by exploring too little.
#![cfg(loom)]

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Mutex;

use gears_runtime::handoff::{self, Backoff, WaitStrategy};
use loom::model::Builder;
use loom::thread;

/// One loom yield per snooze: longer spins only add equivalent schedules.
const WAIT: WaitStrategy = WaitStrategy::spin_only(0).with_quick_looks(0);

fn check_results<R>(
    expected: impl IntoIterator<Item = R>,
    model: impl Fn() -> R + Send + Sync + 'static,
) where
    R: Ord + Debug + Send + 'static,
{
    let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
    let sink = seen.clone();
    let mut builder = Builder::new();
    builder.preemption_bound = builder.preemption_bound.or(Some(5));
    builder.check(move || {
        let result = model();
        sink.lock().unwrap().insert(result);
    });
    let expected: BTreeSet<R> = expected.into_iter().collect();
    assert_eq!(
        *seen.lock().unwrap(),
        expected,
        "results of the explored executions"
    );
}

/// The `String` makes loom follow a heap payload across the hand-over too.
fn answer(req: u32) -> (u32, String) {
    (req * 10, req.to_string())
}

/// A client makes two calls in a row while the server polls until it has served both. Every
/// call gets its own response, intact. Results: whether the server's very first look found the
/// first request already there.
#[test]
fn two_sequential_calls_get_their_own_responses() {
    check_results([false, true], || {
        let (client, server) = handoff::slot::<u32, (u32, String)>();
        let server = thread::spawn(move || {
            let mut served = 0;
            let mut first_look_hit = None;
            let mut idle = Backoff::new(WAIT);
            while served < 2 {
                let hit = server.try_serve(answer);
                first_look_hit.get_or_insert(hit);
                if hit {
                    served += 1;
                } else {
                    idle.snooze();
                }
            }
            assert!(!server.has_request());
            first_look_hit.unwrap()
        });
        assert_eq!(client.call(1, &WAIT), answer(1));
        assert_eq!(client.call(2, &WAIT), answer(2));
        server.join().unwrap()
    });
}

/// A handler that panics: the client gets the panic payload as its outcome, and the next call
/// on the same slot is served normally. Results: whether the server's first look was early
/// (found nothing).
#[test]
fn a_panicking_handler_hands_its_panic_over_and_the_slot_keeps_working() {
    check_results([false, true], || {
        let (client, server) = handoff::slot::<u32, u32>();
        let server = thread::spawn(move || {
            let mut served = 0;
            let mut early = None;
            while served < 2 {
                let hit = server.try_serve(|req| {
                    if req == 1 {
                        std::panic::panic_any("one");
                    }
                    req + 1
                });
                early.get_or_insert(!hit);
                if hit {
                    served += 1;
                } else {
                    thread::yield_now();
                }
            }
            early.unwrap()
        });
        let outcome = client.call_outcome(1, &WAIT);
        assert_eq!(outcome.unwrap_err().downcast_ref::<&str>(), Some(&"one"));
        assert_eq!(client.call(2, &WAIT), 3);
        server.join().unwrap()
    });
}

/// A client that goes away after its calls: the server sees the client gone only after it has
/// served the last request (so a sweep that starts once the client is gone misses nothing).
/// Results: whether the server saw the client gone on its first check.
#[test]
fn the_client_is_gone_only_after_its_last_request_was_served() {
    check_results([false], || {
        let (client, server) = handoff::slot::<u32, u32>();
        let client = thread::spawn(move || client.call(5, &WAIT));
        let mut gone_at_first = None;
        let mut served = 0;
        loop {
            let gone = server.client_gone();
            gone_at_first.get_or_insert(gone);
            if server.try_serve(|x| x * 2) {
                served += 1;
            }
            if gone {
                break;
            }
            thread::yield_now();
        }
        assert_eq!(served, 1);
        assert_eq!(client.join().unwrap(), 10);
        gone_at_first.unwrap()
    });
}

/// The client's memory, which the server reaches through the request (as an offloaded block
/// reaches its friend's locals).
struct ClientLocal(loom::cell::UnsafeCell<u32>);

// SAFETY: the model below accesses it only as the handoff protocol allows: the client before it
// posts and after it has the outcome, the server while it serves; loom checks exactly that.
unsafe impl Sync for ClientLocal {}

/// The offload pattern: the request names client memory, the server writes it in the handler,
/// and the client reads it after the call, then writes it again for the next call. Loom reports
/// any access the handoff does not order. Results: whether the server's first look was early.
#[test]
fn the_server_may_work_on_client_memory_named_in_the_request() {
    check_results([false, true], || {
        let local = std::sync::Arc::new(ClientLocal(loom::cell::UnsafeCell::new(0)));
        let (client, server) = handoff::slot::<std::sync::Arc<ClientLocal>, ()>();
        let server = thread::spawn(move || {
            let mut served = 0;
            let mut early = None;
            while served < 2 {
                // SAFETY (of the access in the handler): the client waits while we serve.
                let hit = server.try_serve(|local| local.0.with_mut(|x| unsafe { *x += 10 }));
                early.get_or_insert(!hit);
                if hit {
                    served += 1;
                } else {
                    thread::yield_now();
                }
            }
            early.unwrap()
        });
        // SAFETY: no request is pending, so the server does not touch it.
        local.0.with_mut(|x| unsafe { *x = 1 });
        client.call(local.clone(), &WAIT);
        // SAFETY: the call returned, so the server is done with it.
        assert_eq!(local.0.with(|x| unsafe { *x }), 11);
        local.0.with_mut(|x| unsafe { *x += 1 });
        client.call(local.clone(), &WAIT);
        assert_eq!(local.0.with(|x| unsafe { *x }), 22);
        server.join().unwrap()
    });
}

/// A timeout of zero, on a retractable slot: the client either gets its
/// outcome (the server claimed the request first) or takes the request back (it retracted
/// first), never both, and the server serves it exactly when the client did not retract it.
/// Loom checks the payload accesses of both paths. Results: whether the call was served.
#[test]
fn a_retracted_request_is_never_served_and_a_served_one_is_never_retracted() {
    use loom::sync::atomic::{AtomicBool, Ordering};
    check_results([false, true], || {
        let (client, server) =
            handoff::slot_with::<u32, u32>(handoff::SlotOptions::new().retractable());
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let server = thread::spawn({
            let done = done.clone();
            move || loop {
                if server.try_serve(|x| x + 1) {
                    return true;
                }
                if done.load(Ordering::Acquire) {
                    // One more look after the client is done: a request it left would be here.
                    return server.try_serve(|x| x + 1);
                }
                thread::yield_now();
            }
        });
        let result = client.call_until(7, &WAIT, Some(std::time::Duration::ZERO));
        done.store(true, Ordering::Release);
        let served = server.join().unwrap();
        assert_eq!(served, result.is_ok(), "served exactly when not retracted");
        match result {
            Ok(outcome) => assert_eq!(outcome.unwrap(), 8),
            Err(handoff::CallError::TimedOut(req)) => assert_eq!(req, 7),
            Err(other) => panic!("unexpected {other}"),
        }
        served
    });
}

/// The bell: a server that parks whenever it finds no request, and a client that rings after
/// posting. A lost wake-up would leave the server asleep forever (the futex model waits without
/// a time limit) and the client spinning, which loom reports (with the light fence removed, it
/// does: "exceeded maximum number of branches"). Results: whether the server slept.
#[test]
fn a_parked_server_is_always_woken_by_a_request() {
    check_results([false, true], || {
        let bell = loom::sync::Arc::new(handoff::Bell::new());
        let (client, server) =
            handoff::slot_with::<u32, u32>(handoff::SlotOptions::new().ring(bell.clone()));
        let server = thread::spawn(move || {
            let mut slept = false;
            while !server.try_serve(|x| x * 3) {
                slept |= bell.park(|| server.has_request(), std::time::Duration::from_secs(1));
            }
            slept
        });
        assert_eq!(client.call(2, &WAIT), 6);
        server.join().unwrap()
    });
}

/// A server dropped while the client waits: the client gets its outcome if the server served
/// before it went, and its request back otherwise, never a wait forever. Results: whether it
/// was served.
#[test]
fn a_dropped_server_ends_the_wait_with_the_request_or_the_outcome() {
    check_results([false, true], || {
        let (client, server) = handoff::slot::<u32, u32>();
        let server = thread::spawn(move || {
            let served = server.try_serve(|x| x + 100);
            drop(server);
            served
        });
        let result = client.call_until(1, &WAIT, None);
        let served = server.join().unwrap();
        match result {
            Ok(outcome) => {
                assert!(served);
                assert_eq!(outcome.unwrap(), 101);
                true
            }
            Err(handoff::CallError::ServerGone(req)) => {
                assert!(!served);
                assert_eq!(req, 1);
                false
            }
            Err(other) => panic!("unexpected {other}"),
        }
    });
}

/// A server parked on its bell and on shared words (`Bell::park_with`: the words are in
/// regions shared with client processes), one client ringing its own word after posting, and a
/// hostile client writing whatever it likes into its word (never a request). The honest
/// client is always served: the hostile one can make the server wake for nothing, never sleep
/// through the honest ring (a lost wake-up would leave the server asleep forever, as the futex
/// model waits without a time limit, which loom reports: with the client's `ring_shared`
/// removed, it does, "deadlock"). Results: whether the server slept.
#[test]
fn a_server_parked_on_shared_words_is_woken_by_its_client_whatever_another_writes() {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicU32, Ordering};
    check_results([false, true], || {
        let bell = Arc::new(handoff::Bell::for_processes());
        let honest = Arc::new(AtomicU32::new(handoff::SHARED_AWAKE));
        let hostile = Arc::new(AtomicU32::new(handoff::SHARED_AWAKE));
        let request = Arc::new(AtomicU32::new(0));
        let reply = Arc::new(AtomicU32::new(0));
        let server = thread::spawn({
            let (honest, hostile) = (honest.clone(), hostile.clone());
            let (request, reply) = (request.clone(), reply.clone());
            move || {
                let mut slept = false;
                loop {
                    let asked = request.load(Ordering::Acquire);
                    if asked != 0 {
                        reply.store(asked * 3, Ordering::Release);
                        return slept;
                    }
                    slept |= bell.park_with(
                        &[&*honest, &*hostile],
                        || request.load(Ordering::Relaxed) != 0,
                        std::time::Duration::from_secs(1),
                    );
                }
            }
        });
        let attacker = thread::spawn(move || {
            // "Parked", "awake" and garbage, as a friend process may write at any time.
            hostile.store(1, Ordering::Relaxed);
            hostile.swap(0, Ordering::Relaxed);
            hostile.store(0xdead, Ordering::Relaxed);
        });
        request.store(2, Ordering::Release);
        handoff::ring_shared(&honest);
        while reply.load(Ordering::Acquire) == 0 {
            thread::yield_now();
        }
        assert_eq!(reply.load(Ordering::Acquire), 6);
        attacker.join().unwrap();
        server.join().unwrap()
    });
}
