//! Fingerprints are stable: the same state of the same program has the same fingerprint in
//! another world and in another process (no addresses, random seeds or heap ids in the hash).
#![allow(missing_docs)]

use std::process::Command;
use std::time::{Duration, Instant};

use codegear::prelude::*;

#[data_gear]
#[derive(Default)]
pub struct Cell {
    value: u64,
    /// A handle inside a data gear: it must hash without its heap id.
    peer: Option<Gear<Cell>>,
}

#[code_gear]
fn bump(cell: Mut<'_, Cell>, times: u32, next: Next<()>) -> Goto {
    let mut cell = cell;
    if times == 0 {
        return goto!(next());
    }
    cell.value += 1;
    goto!(bump(cell.gear(), times - 1, next))
}

/// A program built the same way every time; `noise` allocates unrelated heaps first, so that
/// heap ids (and addresses) differ between builds.
fn build(noise: usize) -> World {
    let mut others = Vec::new();
    for _ in 0..noise {
        let mut other = World::new();
        other.alloc_shared(Cell::default());
        others.push(other);
    }
    let mut world = World::new();
    let a = world.alloc_shared(Cell::default());
    let b = world.alloc_shared(Cell {
        value: 7,
        peer: Some(a),
    });
    par_goto!(world, bump(a, 2, Next::exit()));
    par_goto!(world, bump(b, 1, Next::exit()));
    world
}

/// The fingerprints a build's check stores for its terminal states, and the initial one.
fn fingerprints(world: &World) -> (u64, Vec<u64>) {
    let report = world.check(Check::new().terminal_states(true));
    assert!(report.holds(), "{report}");
    (world.fingerprint(), report.terminal_states().to_vec())
}

#[test]
fn two_worlds_built_alike_have_equal_fingerprints() {
    let first = build(0);
    let second = build(3);
    assert_ne!(
        format!("{first:?}"),
        format!("{second:?}"),
        "the builds differ in heap ids (so the test tests something)"
    );
    assert_eq!(fingerprints(&first), fingerprints(&second));
    // And a different state has a different fingerprint.
    let mut stepped = build(0);
    stepped.step(codegear::TaskId::from_index(0)).unwrap();
    assert_ne!(stepped.fingerprint(), first.fingerprint());
}

const CHILD: &str = "GEARS_FINGERPRINT_CHILD";

#[test]
fn another_process_computes_the_same_fingerprints() {
    if std::env::var_os(CHILD).is_some() {
        // The child: print the fingerprints of a build with other heaps around it.
        let (initial, terminal) = fingerprints(&build(5));
        println!("fingerprints {initial} {terminal:?}");
        return;
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "another_process_computes_the_same_fingerprints",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the child process did not finish in 60 s"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "child failed: {output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let (initial, terminal) = fingerprints(&build(0));
    let expected = format!("fingerprints {initial} {terminal:?}");
    assert!(
        stdout.contains(&format!("{expected}\n")),
        "child printed {stdout:?}, this process computes {expected:?}"
    );
}
