//! Behaviour of `MailboxSlot` with real threads: request/response pairing, several slots served
//! by one poller, rejection of posts on a busy slot, handler panics, and drop accounting.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use gears_runtime::mailbox::{Backoff, MailboxSlot, WaitStrategy};

/// The test machine has two cores and tests run in parallel, so idle pollers must give the
/// core away now and then or a spinning client can wait for a whole time slice.
const WAIT: WaitStrategy = WaitStrategy::SPIN_THEN_YIELD;

fn answer(req: u64) -> u64 {
    req.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555
}

#[test]
fn every_call_gets_the_response_to_its_own_request() {
    const CALLS: u64 = 100_000;
    let slot = MailboxSlot::<u64, (u64, u64)>::new();
    let client_done = AtomicBool::new(false);
    let served = thread::scope(|s| {
        let server = s.spawn(|| {
            let mut served = 0u64;
            let mut idle = Backoff::new(WAIT);
            while !client_done.load(Ordering::Acquire) {
                if slot.try_serve(|req| (req, answer(req))) {
                    served += 1;
                    idle.reset();
                } else {
                    idle.snooze();
                }
            }
            served
        });
        for i in 0..CALLS {
            let req = i * 7 + 3;
            assert_eq!(slot.call(req, &WAIT), (req, answer(req)), "call {i}");
        }
        client_done.store(true, Ordering::Release);
        server.join().unwrap()
    });
    assert_eq!(served, CALLS);
    assert!(!slot.has_request() && !slot.has_response());
}

#[test]
fn one_poller_serves_every_request_of_four_clients_exactly_once() {
    const CLIENTS: usize = 4;
    const CALLS: usize = 5_000;
    let slots: Vec<MailboxSlot<(usize, usize), u64>> =
        (0..CLIENTS).map(|_| MailboxSlot::new()).collect();
    let clients_left = AtomicUsize::new(CLIENTS);
    let times_served = thread::scope(|s| {
        for (client, slot) in slots.iter().enumerate() {
            let clients_left = &clients_left;
            s.spawn(move || {
                for seq in 0..CALLS {
                    let resp = slot.call((client, seq), &WAIT);
                    assert_eq!(resp, answer((client * CALLS + seq) as u64));
                }
                clients_left.fetch_sub(1, Ordering::Release);
            });
        }
        let server = s.spawn(|| {
            let mut times_served = vec![0u32; CLIENTS * CALLS];
            let mut idle = Backoff::new(WAIT);
            loop {
                // Read before the sweep: a client finishes only after its last call returned,
                // so a sweep that starts with none left has nothing to miss.
                let done = clients_left.load(Ordering::Acquire) == 0;
                let mut any = false;
                for (index, slot) in slots.iter().enumerate() {
                    any |= slot.try_serve(|(client, seq)| {
                        assert_eq!(client, index, "request arrived on another client's slot");
                        times_served[client * CALLS + seq] += 1;
                        answer((client * CALLS + seq) as u64)
                    });
                }
                if done {
                    break;
                }
                if any {
                    idle.reset();
                } else {
                    idle.snooze();
                }
            }
            times_served
        });
        server.join().unwrap()
    });
    let wrong: Vec<_> = times_served
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n != 1)
        .collect();
    assert!(
        wrong.is_empty(),
        "(request, times served) not once: {wrong:?}"
    );
}

#[test]
fn post_is_refused_unless_the_slot_is_empty() {
    let slot = MailboxSlot::<String, usize>::new();
    assert_eq!(slot.post("first".to_owned()), Ok(()));
    assert!(slot.has_request());
    // REQUESTED.
    assert_eq!(slot.post("second".to_owned()), Err("second".to_owned()));
    // BUSY: the handler itself plays a second client.
    assert!(slot.try_serve(|req| {
        assert!(!slot.has_request());
        assert_eq!(slot.post("during".to_owned()), Err("during".to_owned()));
        req.len()
    }));
    // ANSWERED.
    assert!(slot.has_response());
    assert_eq!(slot.post("third".to_owned()), Err("third".to_owned()));
    assert!(!slot.try_serve(|_| unreachable!("nothing was requested")));
    assert_eq!(slot.try_take_response().map(Result::unwrap), Some(5));
    assert!(slot.try_take_response().is_none());
    // EMPTY again.
    assert_eq!(slot.post("fourth".to_owned()), Ok(()));
}

#[test]
fn nothing_to_serve_or_take_returns_at_once() {
    let slot = MailboxSlot::<u8, u8>::default();
    assert!(!slot.try_serve(|_| unreachable!()));
    assert!(slot.try_take_response().is_none());
    assert!(!slot.has_request() && !slot.has_response());
    assert_eq!(format!("{slot:?}"), "MailboxSlot { state: \"EMPTY\", .. }");
}

#[test]
#[should_panic(expected = "MailboxSlot::call on a slot in state REQUESTED")]
fn call_on_a_slot_that_is_not_empty_panics() {
    let slot = MailboxSlot::<u8, u8>::new();
    slot.post(1).unwrap();
    slot.call(2, &WAIT);
}

/// The panic payload the failing handler raises, so the client can tell it from other panics.
#[derive(Debug, PartialEq)]
struct HandlerFailed(u64);

#[test]
fn handler_panic_reaches_the_client_and_the_server_keeps_serving() {
    let slot = MailboxSlot::<u64, u64>::new();
    let client_done = AtomicBool::new(false);
    thread::scope(|s| {
        s.spawn(|| {
            let mut idle = Backoff::new(WAIT);
            while !client_done.load(Ordering::Acquire) {
                let served = slot.try_serve(|req| {
                    if req % 3 == 0 {
                        panic::panic_any(HandlerFailed(req));
                    }
                    req + 1
                });
                if served {
                    idle.reset();
                } else {
                    idle.snooze();
                }
            }
        });

        for req in 1..=9 {
            // `call` re-raises the handler's own payload on the client.
            let result = panic::catch_unwind(AssertUnwindSafe(|| slot.call(req, &WAIT)));
            match result {
                Ok(resp) => assert_eq!((req % 3 != 0, resp), (true, req + 1)),
                Err(payload) => {
                    assert_eq!(payload.downcast_ref(), Some(&HandlerFailed(req)));
                }
            }
        }

        // The non-raising path hands the payload over as the `Err` outcome.
        slot.post(12).unwrap();
        let mut wait = Backoff::new(WAIT);
        let outcome = loop {
            match slot.try_take_response() {
                Some(outcome) => break outcome,
                None => wait.snooze(),
            }
        };
        let payload = outcome.expect_err("the handler panicked on 12");
        assert_eq!(payload.downcast_ref(), Some(&HandlerFailed(12)));

        // Not wedged: the next call goes through.
        assert_eq!(slot.call(13, &WAIT), 14);
        client_done.store(true, Ordering::Release);
    });
}

/// Counts its drops in a shared counter.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

fn drops(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::Relaxed)
}

#[test]
fn slot_dropped_with_a_request_drops_it_once() {
    let reqs = counter();
    let slot = MailboxSlot::<Counted, Counted>::new();
    slot.post(Counted(reqs.clone())).unwrap();
    assert_eq!(drops(&reqs), 0);
    drop(slot);
    assert_eq!(drops(&reqs), 1);
}

#[test]
fn slot_dropped_with_a_response_drops_it_once() {
    let (reqs, resps) = (counter(), counter());
    let slot = MailboxSlot::<Counted, Counted>::new();
    slot.post(Counted(reqs.clone())).unwrap();
    let resps_in_handler = resps.clone();
    // The handler consumes the request, so it is dropped here, once.
    assert!(slot.try_serve(move |_req| Counted(resps_in_handler)));
    assert_eq!((drops(&reqs), drops(&resps)), (1, 0));
    drop(slot);
    assert_eq!((drops(&reqs), drops(&resps)), (1, 1));
}

#[test]
fn a_full_round_trip_drops_each_value_once_and_leaves_nothing() {
    let (reqs, resps) = (counter(), counter());
    let slot = MailboxSlot::<Counted, Counted>::new();
    for round in 1..=3 {
        slot.post(Counted(reqs.clone())).unwrap();
        assert!(slot.try_serve(|_req| Counted(resps.clone())));
        let resp = slot.try_take_response().unwrap().unwrap();
        assert_eq!((drops(&reqs), drops(&resps)), (round, round - 1));
        drop(resp);
    }
    drop(slot);
    assert_eq!((drops(&reqs), drops(&resps)), (3, 3));
}

#[test]
fn a_panicking_handler_drops_its_request_once_and_the_panic_outcome_is_dropped_with_the_slot() {
    let (reqs, payloads) = (counter(), counter());
    let slot = MailboxSlot::<Counted, Counted>::new();
    slot.post(Counted(reqs.clone())).unwrap();
    let payload = Counted(payloads.clone());
    assert!(slot.try_serve(move |_req| panic::panic_any(payload)));
    assert_eq!((drops(&reqs), drops(&payloads)), (1, 0));
    drop(slot);
    assert_eq!((drops(&reqs), drops(&payloads)), (1, 1));
}

#[test]
fn slot_is_send_and_sync_and_padded() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<MailboxSlot<String, Vec<u8>>>();
    let align = align_of::<MailboxSlot<u64, u64>>();
    assert!(align >= 64, "alignment {align}");
    assert_eq!(size_of::<MailboxSlot<u64, u64>>(), align);
    // Neighbours in an array never share a line.
    let slots = [MailboxSlot::<u64, u64>::new(), MailboxSlot::new()];
    let gap = std::ptr::from_ref(&slots[1]).addr() - std::ptr::from_ref(&slots[0]).addr();
    assert!(gap >= 64);
}

#[test]
fn backoff_makes_its_quick_looks_then_doubles_up_to_its_cap() {
    for strategy in [WaitStrategy::spin_only(3), WaitStrategy::spin_then_yield(3)] {
        let strategy = strategy.with_quick_looks(5);
        let mut backoff = Backoff::new(strategy);
        // 5 quick looks, then 2, 4 and 8 hints.
        for _ in 0..5 + 3 {
            assert!(!backoff.is_capped());
            backoff.snooze();
        }
        assert!(backoff.is_capped());
        backoff.snooze();
        assert!(backoff.is_capped());
        backoff.reset();
        assert!(!backoff.is_capped());
    }
    let no_quick = Backoff::new(WaitStrategy::spin_then_yield(0).with_quick_looks(0));
    assert!(no_quick.is_capped(), "nothing left but yielding");
}

#[test]
fn wait_strategies_say_what_they_do() {
    assert!(!WaitStrategy::SPIN_ONLY.yields_to_os());
    assert_eq!(WaitStrategy::default(), WaitStrategy::SPIN_ONLY);
    assert!(WaitStrategy::SPIN_THEN_YIELD.yields_to_os());
    assert_eq!(
        WaitStrategy::SPIN_ONLY.quick_looks(),
        WaitStrategy::DEFAULT_QUICK_LOOKS
    );
    assert_eq!(WaitStrategy::SPIN_ONLY.max_spin_shift(), 6);
    assert_eq!(
        WaitStrategy::spin_only(99).max_spin_shift(),
        WaitStrategy::MAX_SPIN_SHIFT
    );
    let tuned = WaitStrategy::spin_then_yield(2).with_quick_looks(7);
    assert_eq!(
        (
            tuned.quick_looks(),
            tuned.max_spin_shift(),
            tuned.yields_to_os()
        ),
        (7, 2, true)
    );
}
