//! Loom models of the mailbox slot protocol. Under `--cfg loom` the shipped code runs on loom's
//! atomics and cells, so loom checks its interleavings and memory orderings, and reports any
//! payload access that is not ordered after the previous one.
//!
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p gears-runtime --release --test loom_mailbox`
//!
//! Loom 0.7 can silently skip interleavings when a thread loads an atomic before it writes it
//! (tokio-rs/loom#166, tokio-rs/loom#392), and every claim in the slot does that on purpose (a
//! plain load before the compare-and-swap). So each model that has more than one possible
//! result records the results of all explored executions, and the test fails unless it saw all
//! of them. Where loom needed it to get there, a model has a `thread::yield_now()`: a yield
//! changes no possible behaviour, it only steers loom's scheduler.
#![cfg(loom)]

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Mutex;

use gears_runtime::mailbox::{Backoff, MailboxSlot, WaitStrategy};
use loom::model::Builder;
use loom::sync::Arc;
use loom::thread;

/// One spin hint (a loom yield) per snooze, quick looks or not: longer spins only add
/// equivalent schedules.
const WAIT: WaitStrategy = WaitStrategy::spin_only(0);

/// Runs `model` under `builder` and asserts that its results, over all explored executions,
/// are exactly `expected`.
fn check_results<R>(
    builder: &Builder,
    expected: impl IntoIterator<Item = R>,
    model: impl Fn() -> R + Send + Sync + 'static,
) where
    R: Ord + Debug + Send + 'static,
{
    let seen = std::sync::Arc::new(Mutex::new(BTreeSet::new()));
    let sink = seen.clone();
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

type Slot = MailboxSlot<u32, (u32, String)>;

/// The answer to `req`; the `String` makes loom follow a heap payload across the handoff too.
fn answer(req: u32) -> (u32, String) {
    (req * 10, req.to_string())
}

/// Takes the response to the pending request, waiting for it.
fn wait_response<Q, R>(slot: &MailboxSlot<Q, R>) -> R {
    let mut idle = Backoff::new(WAIT);
    loop {
        match slot.try_take_response() {
            Some(outcome) => return outcome.unwrap(),
            None => idle.snooze(),
        }
    }
}

/// Unbounded, this model takes about a minute of loom time on the 2-core dev machine, so unless
/// `LOOM_MAX_PREEMPTIONS` says otherwise, schedules with more than this many preemptions are
/// left out (it then runs in seconds). `LOOM_MAX_PREEMPTIONS=100` makes the run exhaustive.
const CALLS_PREEMPTION_BOUND: usize = 5;

/// (a) A client makes two calls in a row while the server polls until it has served two.
#[test]
fn two_sequential_calls_get_their_own_responses() {
    let mut builder = Builder::new();
    builder.preemption_bound = builder.preemption_bound.or(Some(CALLS_PREEMPTION_BOUND));
    builder.check(|| {
        let slot = Arc::new(Slot::new());
        let server = thread::spawn({
            let slot = slot.clone();
            move || {
                let mut served = 0;
                let mut idle = Backoff::new(WAIT);
                while served < 2 {
                    if slot.try_serve(answer) {
                        served += 1;
                        idle.reset();
                    } else {
                        idle.snooze();
                    }
                }
            }
        });
        assert_eq!(slot.call(1, &WAIT), answer(1));
        assert_eq!(slot.call(2, &WAIT), answer(2));
        server.join().unwrap();
        assert!(!slot.has_request() && !slot.has_response());
    });
}

/// (b) One `try_serve` races the `post` and the client's look for the response: the request is
/// served or left pending, never lost or seen half written, and a response is only seen once it
/// is complete. Results: (served by the racing poll, response seen by the racing look).
#[test]
fn post_races_try_serve() {
    let results = [(false, false), (true, false), (true, true)];
    check_results(&Builder::new(), results, || {
        let slot = Arc::new(Slot::new());
        let server = thread::spawn({
            let slot = slot.clone();
            move || slot.try_serve(answer)
        });
        assert_eq!(slot.post(7), Ok(()));
        // Without it loom never runs the whole serve between the post and the look.
        thread::yield_now();
        let early = slot.try_take_response();
        let served = server.join().unwrap();
        let seen_early = early.is_some();
        if !served {
            assert!(early.is_none());
            assert!(slot.has_request());
            assert!(slot.try_serve(answer));
        }
        let outcome = match early {
            Some(outcome) => outcome,
            None => slot.try_take_response().expect("served, so answered"),
        };
        assert_eq!(outcome.unwrap(), answer(7));
        assert!(!slot.has_request() && !slot.has_response());
        (served, seen_early)
    });
}

/// (c) A slot dropped while it holds a response drops it exactly once, whichever thread lets go
/// of the slot last. Results: which thread dropped the response.
#[test]
fn slot_dropped_holding_a_response_drops_it_once() {
    /// Records the loom thread that drops it; the record is std's, read after the join.
    struct Recorded(std::sync::Arc<Mutex<Vec<thread::ThreadId>>>);

    impl Drop for Recorded {
        fn drop(&mut self) {
            self.0.lock().unwrap().push(thread::current().id());
        }
    }

    check_results(&Builder::new(), ["client", "server"], || {
        let client = thread::current().id();
        let req_drops = std::sync::Arc::new(Mutex::new(Vec::new()));
        let resp_drops = std::sync::Arc::new(Mutex::new(Vec::new()));
        let slot = Arc::new(MailboxSlot::<Recorded, Recorded>::new());
        let server = thread::spawn({
            let slot = slot.clone();
            let resp_drops = resp_drops.clone();
            move || {
                let mut idle = Backoff::new(WAIT);
                while !slot.try_serve(|_req| Recorded(resp_drops.clone())) {
                    idle.snooze();
                }
                let server = thread::current().id();
                drop(slot);
                server
            }
        });
        assert!(slot.post(Recorded(req_drops.clone())).is_ok());
        drop(slot);
        let server = server.join().unwrap();
        // The handler consumed the request on the server thread.
        assert_eq!(*req_drops.lock().unwrap(), [server]);
        let resp_drops = resp_drops.lock().unwrap();
        assert_eq!(resp_drops.len(), 1, "response drops");
        if resp_drops[0] == client {
            "client"
        } else {
            "server"
        }
    });
}

/// The slot hands the client role over by itself: one thread takes the last response while the
/// next client is already trying to post. The new request must not be written before the old
/// response has been moved out. Results: whether the first post was refused.
#[test]
fn next_client_posts_once_the_previous_response_is_taken() {
    check_results(&Builder::new(), [false, true], || {
        let slot = Arc::new(Slot::new());
        slot.post(1).unwrap();
        assert!(slot.try_serve(answer));
        let previous = thread::spawn({
            let slot = slot.clone();
            move || wait_response(&slot)
        });
        // Without it loom never lets the new thread take the response before the first post.
        thread::yield_now();
        let mut req = 2;
        let mut refused = false;
        let mut idle = Backoff::new(WAIT);
        while let Err(back) = slot.post(req) {
            (req, refused) = (back, true);
            idle.snooze();
        }
        assert_eq!(previous.join().unwrap(), answer(1));
        assert!(slot.try_serve(answer));
        assert_eq!(wait_response(&slot), answer(2));
        refused
    });
}

/// Two clients at once break the role rules but must not break memory safety: one post wins,
/// the other gets its request back, and the winner's request arrives intact. Results: the
/// winner.
#[test]
fn racing_posts_are_refused_not_raced() {
    check_results(&Builder::new(), ["main", "other"], || {
        let slot = Arc::new(MailboxSlot::<String, String>::new());
        let other = thread::spawn({
            let slot = slot.clone();
            move || slot.post("other".to_owned()).is_ok()
        });
        let main_won = slot.post("main".to_owned()).is_ok();
        let other_won = other.join().unwrap();
        assert!(main_won != other_won, "exactly one post wins");
        let winner = if main_won { "main" } else { "other" };
        assert!(slot.try_serve(|req| req));
        assert_eq!(wait_response(&slot), winner);
        winner
    });
}
