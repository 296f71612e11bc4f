//! Friends in processes of their own, as the tour runs them: a process friend offloads a file
//! read and a print to the hakase, fails to read a secret the hakase holds, and goes on being
//! served after its sibling crashes.

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use offload::process::FriendExit;
use offload::{FriendConfig, FriendId, Hakase};

/// What the hakase and its process friends share.
pub mod shared {
    offload::declare_exports! {
        /// Reads a file on the hakase (the friend cannot: its sandbox denies `openat`).
        pub fn tour_read_file(path: &str) -> Result<String, String>;
        /// Prints a line on the hakase.
        pub fn tour_print(msg: &str);
        /// Notes what a friend saw, for the tour to show.
        pub fn tour_note(what: &str);
    }
}

/// The hakase's secret, set before the friends start; a process friend cannot see it.
static SECRET: Mutex<String> = Mutex::new(String::new());
/// What the friends noted.
static NOTES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Reads a file (on the hakase).
#[offload::export_symbol(declared_in = shared)]
pub fn tour_read_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|error| error.to_string())
}

/// Prints a line (on the hakase).
#[offload::export_symbol(declared_in = shared)]
pub fn tour_print(msg: &str) {
    // On the hakase, stdout works; a failed write would only lose a tour line.
    let _ = writeln!(
        std::io::stdout(),
        "  [hakase prints for a process friend] {msg}"
    );
}

/// Records a note (on the hakase).
#[offload::export_symbol(declared_in = shared)]
pub fn tour_note(what: &str) {
    NOTES.lock().expect("not poisoned").push(what.to_owned());
}

/// The file the friend has the hakase read.
const FILE: &str = "/proc/version";

/// Friend 1 crashes at once; friend 0 waits a moment (so its calls come after the crash),
/// then reads a file and prints through the hakase, and looks for the secret itself.
fn tour_friend(id: FriendId) {
    if id.0 == 1 {
        // SAFETY: not safe: this friend crashes on purpose, in its own process.
        unsafe { core::ptr::null_mut::<u64>().write_volatile(1) };
    }
    std::thread::sleep(Duration::from_millis(100));
    let text = shared::tour_read_file::remote(FILE)
        .expect("the hakase answers")
        .unwrap_or_else(|error| format!("<{error}>"));
    let first_words: Vec<&str> = text.split_whitespace().take(3).collect();
    shared::tour_print::remote(&format!("{FILE} starts with {:?}", first_words.join(" ")))
        .expect("the hakase answers");
    let own = match std::fs::read_to_string(FILE) {
        Ok(_) => "read it".to_owned(),
        Err(error) => format!("failed: {error}"),
    };
    shared::tour_note::remote(&format!("its own read of {FILE}: {own}")).expect("noted");
    let secret = SECRET.lock().expect("not poisoned").clone();
    shared::tour_note::remote(&format!("the hakase's secret, as it sees it: {secret:?}"))
        .expect("noted");
}

/// What the tour shows of process friends.
#[derive(Debug)]
pub struct ProcessReport {
    /// What friend 0 noted, in order.
    pub notes: Vec<String>,
    /// How each friend ended.
    pub exits: Vec<(FriendId, FriendExit)>,
}

/// Starts two process friends on `cpus` (friend 1 crashes) with the hakase holding a secret,
/// serves them, and reports.
///
/// # Errors
///
/// If the friends cannot start.
pub fn process_friends(hakase: &Hakase, cpus: &str) -> Result<ProcessReport, offload::Error> {
    *SECRET.lock().expect("not poisoned") = "hakase-only: 7f3a".to_owned();
    NOTES.lock().expect("not poisoned").clear();
    let config = FriendConfig::cpus(cpus)?.count(2).process();
    let friends = hakase.spawn_friends(config, tour_friend)?;
    let exits = match friends.join() {
        Ok(()) => vec![
            (FriendId(0), FriendExit::Returned),
            (FriendId(1), FriendExit::Returned),
        ],
        Err(offload::Error::FriendsFailed(failed)) => {
            let mut exits = failed;
            if !exits.iter().any(|(id, _)| *id == FriendId(0)) {
                exits.insert(0, (FriendId(0), FriendExit::Returned));
            }
            exits
        }
        Err(error) => return Err(error),
    };
    Ok(ProcessReport {
        notes: std::mem::take(&mut *NOTES.lock().expect("not poisoned")),
        exits,
    })
}
