//! Behaviour of the exclusive-ends handoff slot with real threads: request/response pairing,
//! handler panics, several slots served by one poller, drop accounting and the ends' traits.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use gears_runtime::handoff::{self, Backoff, WaitStrategy};

/// Two cores, tests in parallel: waiters must give the core away now and then.
const WAIT: WaitStrategy = WaitStrategy::SPIN_THEN_YIELD;

fn answer(req: u64) -> u64 {
    req.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555
}

#[test]
fn every_call_gets_the_response_to_its_own_request() {
    const CALLS: u64 = 100_000;
    let (client, server) = handoff::slot::<u64, (u64, u64)>();
    let client = thread::spawn(move || {
        for i in 0..CALLS {
            let req = i * 7 + 3;
            assert_eq!(client.call(req, &WAIT), (req, answer(req)), "call {i}");
        }
    });
    let mut served = 0u64;
    let mut idle = Backoff::new(WAIT);
    while !server.client_gone() {
        if server.try_serve(|req| (req, answer(req))) {
            served += 1;
            idle.reset();
        } else {
            idle.snooze();
        }
    }
    client.join().unwrap();
    assert_eq!(served, CALLS);
    assert!(!server.has_request());
}

#[test]
fn one_poller_serves_every_request_of_four_clients_exactly_once() {
    const CLIENTS: usize = 4;
    const CALLS: usize = 5_000;
    let (clients, servers): (Vec<_>, Vec<_>) = (0..CLIENTS)
        .map(|_| handoff::slot::<(usize, usize), u64>())
        .unzip();
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(id, client)| {
            thread::spawn(move || {
                for seq in 0..CALLS {
                    assert_eq!(
                        client.call((id, seq), &WAIT),
                        answer((id * CALLS + seq) as u64)
                    );
                }
            })
        })
        .collect();
    let mut times_served = vec![0u32; CLIENTS * CALLS];
    let mut idle = Backoff::new(WAIT);
    loop {
        // Read before the sweep: a client is gone only after its last call returned.
        let all_gone = servers.iter().all(|s| s.client_gone());
        let mut any = false;
        for (index, server) in servers.iter().enumerate() {
            any |= server.try_serve(|(id, seq)| {
                assert_eq!(id, index, "request on another client's slot");
                times_served[id * CALLS + seq] += 1;
                answer((id * CALLS + seq) as u64)
            });
        }
        if all_gone {
            break;
        }
        if any {
            idle.reset();
        } else {
            idle.snooze();
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    assert!(times_served.iter().all(|&n| n == 1));
}

#[derive(Debug, PartialEq)]
struct HandlerFailed(u64);

#[test]
fn handler_panic_reaches_the_client_and_the_server_keeps_serving() {
    let (client, server) = handoff::slot::<u64, u64>();
    let client = thread::spawn(move || {
        for req in 1..=9 {
            let result = panic::catch_unwind(AssertUnwindSafe(|| client.call(req, &WAIT)));
            match result {
                Ok(resp) => assert_eq!((req % 3 != 0, resp), (true, req + 1)),
                Err(payload) => assert_eq!(payload.downcast_ref(), Some(&HandlerFailed(req))),
            }
        }
        let outcome = client.call_outcome(12, &WAIT);
        assert_eq!(
            outcome.expect_err("12 panics").downcast_ref(),
            Some(&HandlerFailed(12))
        );
        assert_eq!(client.call(13, &WAIT), 14);
    });
    let mut idle = Backoff::new(WAIT);
    while !server.client_gone() {
        let served = server.try_serve(|req| {
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
    client.join().unwrap();
}

#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn each_request_and_response_is_dropped_once() {
    let reqs = Arc::new(AtomicUsize::new(0));
    let resps = Arc::new(AtomicUsize::new(0));
    let (client, server) = handoff::slot::<Counted, Counted>();
    let client = thread::spawn({
        let reqs = reqs.clone();
        move || {
            for _ in 0..3 {
                drop(client.call(Counted(reqs.clone()), &WAIT));
            }
        }
    });
    let mut served = 0;
    while served < 3 {
        if server.try_serve(|_req| Counted(resps.clone())) {
            served += 1;
        } else {
            thread::yield_now();
        }
    }
    client.join().unwrap();
    assert!(server.client_gone());
    drop(server);
    assert_eq!(
        (reqs.load(Ordering::Relaxed), resps.load(Ordering::Relaxed)),
        (3, 3)
    );
}

#[test]
fn nothing_pending_returns_at_once_and_ends_know_when_the_other_is_gone() {
    let (client, server) = handoff::slot::<u8, u8>();
    assert!(!server.try_serve(|_| unreachable!("nothing was requested")));
    assert!(!server.has_request());
    assert!(!server.client_gone() && !client.server_gone());
    drop(server);
    assert!(client.server_gone());
    let (client, server) = handoff::slot::<u8, u8>();
    drop(client);
    assert!(server.client_gone());
}

#[test]
fn ends_are_send() {
    fn send<T: Send>() {}
    send::<handoff::Client<String, Vec<u8>>>();
    send::<handoff::Server<String, Vec<u8>>>();
    // `Sync` is what the ends must not be; see the compile-fail cases in ui-tests.
}

#[test]
fn a_timeout_of_duration_max_never_passes_and_a_short_one_gives_the_request_back() {
    use std::time::Duration;
    let (client, server) =
        handoff::slot_with::<u64, u64>(handoff::SlotOptions::new().retractable());
    // Nobody serves: a short timeout hands the request back.
    match client.call_until(7, &WAIT, Some(Duration::from_millis(20))) {
        Err(handoff::CallError::TimedOut(req)) => assert_eq!(req, 7),
        other => panic!("expected the request back, got {other:?}"),
    }
    // A server that takes its time: `Duration::MAX` (too long for an `Instant`) waits for it
    // instead of panicking on the deadline's overflow.
    let serving = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        while !server.try_serve(answer) {
            thread::yield_now();
        }
    });
    let outcome = client.call_until(8, &WAIT, Some(Duration::MAX));
    serving.join().unwrap();
    assert_eq!(outcome.unwrap().unwrap(), answer(8));
}
