//! The checker's memory bound: a check that would outgrow its budget ends "incomplete", also
//! when the budget comes from the process's address-space limit, and never aborts.
#![allow(missing_docs)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use codegear::{Bound, Check, Verdict};
use gears_examples::dpp::{Order, table};

#[test]
fn a_small_budget_ends_incomplete() {
    let t = table(7, 1, Order::Fixed);
    let report = t.world.check(Check::new().max_memory(8 << 20));
    assert_eq!(
        report.verdict,
        Verdict::Incomplete(Bound::MaxMemory(8 << 20)),
        "{report}"
    );
    assert!(report.states > 10_000, "{report}");
    assert!(
        report
            .to_string()
            .contains("incomplete: stopped at max_memory = 8 MiB")
    );
    // The same model with room to spare holds.
    let t = table(5, 1, Order::Fixed);
    assert!(t.world.check(Check::new().max_memory(64 << 20)).holds());
}

const CHILD: &str = "GEARS_CHECK_MEMORY_CHILD";

#[test]
fn sixty_four_philosophers_under_a_2_gib_address_space_limit_end_incomplete() {
    if std::env::var_os(CHILD).is_some() {
        // The child, under `ulimit -v`: the default budget comes from the address space left
        // under that limit. Most of it is taken by a reservation first (address space, not
        // memory: it is never touched), so that the budget runs out in seconds even in a
        // debug build; the allocator would fail past it.
        let ballast: Vec<u8> = Vec::with_capacity(1900 << 20);
        let t = table(64, 1, Order::Fixed);
        let report = t.world.check(Check::new());
        drop(ballast);
        println!("child verdict: {:?}", report.verdict);
        println!("child budget: {}", report.max_memory);
        print!("{report}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2097152 && exec \"$0\" --exact \"$1\" --nocapture --test-threads=1")
        .arg(exe)
        .arg("sixty_four_philosophers_under_a_2_gib_address_space_limit_end_incomplete")
        .env(CHILD, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let limit = Duration::from_secs(300);
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the check under the limit did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the child failed (an abort would be a signal): {:?}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("child verdict: Incomplete(MaxMemory("),
        "{stdout}"
    );
    // Half of what the reservation left of the 2 GiB.
    let budget: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("child budget: "))
        .and_then(|b| b.trim().parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(budget > 1 << 20 && budget < 100 << 20, "{budget}");
}
