//! Checkpoint and resume: a check stopped by a bound and resumed (again and again, in this
//! process and in other processes) reaches the verdict, state count and transition count of an
//! uninterrupted check, with every exploration option; bad files are clear errors.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use codegear::prelude::*;
use codegear::{Bound, CheckpointError, Fairness, Report, Verdict, ViolationKind};

#[data_gear]
#[derive(Default)]
pub struct Cell {
    v: u8,
}

/// Adds the private cell's value (plus one) to the shared one, then ticks the private one.
#[code_gear]
fn bump(shared: Mut<'_, Cell>, own: Mut<'_, Cell>, left: u8, next: Next<()>) -> Goto {
    let (mut shared, own) = (shared, own);
    shared.v = (shared.v + own.v + 1) % 5;
    goto!(tick(shared.gear(), own.gear(), left, next))
}

/// A step on the private cell alone (independent of the other tasks).
#[code_gear]
fn tick(shared: Ref<'_, Cell>, own: Mut<'_, Cell>, left: u8, next: Next<()>) -> Goto {
    let mut own = own;
    own.v = (own.v + 1) % 3;
    if left == 0 {
        return goto!(next());
    }
    goto!(bump(shared.gear(), own.gear(), left - 1, next))
}

/// Waits (busy, state unchanged) until the shared cell holds `v`, then finishes.
#[code_gear]
fn wait_for(shared: Ref<'_, Cell>, v: u8, next: Next<()>) -> Goto {
    if shared.v != v {
        return goto!(wait_for(shared.gear(), v, next));
    }
    goto!(next())
}

/// `tasks` bumpers of `rounds` rounds over one shared cell, and optionally a waiter.
fn program(tasks: usize, rounds: u8, waiter: Option<u8>) -> (World, Gear<Cell>, Vec<Gear<Cell>>) {
    let mut world = World::new();
    let shared = world.alloc_shared(Cell::default());
    let mut owns = Vec::new();
    for _ in 0..tasks {
        let task = world.reserve_task();
        let own = world.alloc_private(task, Cell::default());
        owns.push(own);
        world.start(task, goto!(bump(shared, own, rounds, Next::exit())));
    }
    if let Some(v) = waiter {
        par_goto!(world, wait_for(shared, v, Next::exit()));
    }
    (world, shared, owns)
}

/// A checkpoint file in a scratch directory of its own (see [`temp`]), removed with everything
/// in it when the test is done with it, so test runs leave nothing in the temp directory.
struct Temp(PathBuf);

impl std::ops::Deref for Temp {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<Path> for Temp {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            // The directory is this Temp's alone (a `.partial` left by a failed write goes too).
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// One directory per file: a directory shared by the tests (running on several threads) could
/// be removed by one test's drop between another's `create_dir_all` and its write (it was, once
/// under load, before `a_check_resumes_in_other_processes`'s child wrote there: that check
/// ended with the note "checkpoint not written"). Numbered,
/// not named after the file, so that two tests may use the same file name.
fn temp(name: &str) -> Temp {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("gears-checkpoint-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    Temp(dir.join(name))
}

fn kind(report: &Report) -> String {
    match &report.verdict {
        Verdict::Holds => "holds".into(),
        Verdict::Violated(v) => match &v.kind {
            ViolationKind::Deadlock => "deadlock".into(),
            ViolationKind::Always(name) => format!("always {name}"),
            ViolationKind::Liveness(name) => format!("liveness {name}"),
            other => format!("{other:?}"),
        },
        Verdict::Incomplete(bound) => format!("incomplete {bound:?}"),
        other => format!("{other:?}"),
    }
}

/// Runs `check()` stopped every `step` states and resumed from its checkpoint until it ends;
/// returns the final report and how many times it was resumed.
fn in_steps(world: &World, check: &dyn Fn() -> Check, step: usize, path: &Path) -> (Report, u32) {
    let mut bound = step;
    let mut report = world.check(check().max_states(bound).checkpoint(path));
    let mut resumes = 0;
    while matches!(report.verdict, Verdict::Incomplete(Bound::MaxStates(_))) {
        assert_eq!(report.checkpoint.as_deref(), Some(path), "{report}");
        bound += step;
        report = world
            .resume(check().max_states(bound).checkpoint(path), path)
            .unwrap_or_else(|e| panic!("resume: {e}"));
        resumes += 1;
    }
    (report, resumes)
}

#[test]
fn resumed_checks_reach_the_uninterrupted_verdict_and_counts_with_every_option() {
    let (plain, shared, owns) = program(3, 3, None);
    let (waiting, waited, _) = program(2, 2, Some(4));
    type Make = Box<dyn Fn() -> Check>;
    let cases: Vec<(&str, &World, Make)> = vec![
        (
            "breadth-first",
            &plain,
            Box::new(|| Check::new().terminal_states(true)),
        ),
        (
            "depth-first",
            &plain,
            Box::new(|| Check::new().depth_first().terminal_states(true)),
        ),
        (
            "invariant violated",
            &plain,
            Box::new(move || {
                Check::new().always("not 2 once two tasks finished", move |v| {
                    let done = |t| v.finished(codegear::TaskId::from_index(t));
                    v.get(shared).v != 2 || !(done(0) && done(1))
                })
            }),
        ),
        (
            "partial-order reduction",
            &plain,
            Box::new(|| Check::new().partial_order_reduction(true)),
        ),
        (
            "symmetry",
            &plain,
            Box::new(move || {
                let owns = owns.clone();
                Check::new().symmetry(move |v| {
                    // The identity (every state its own class, by what it prints as): the
                    // visited set holds keys instead of fingerprints, which is what matters here.
                    use std::hash::{Hash, Hasher};
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    v.get(shared).v.hash(&mut hasher);
                    for t in 0..v.tasks() {
                        format!("{:?}", v.pending(codegear::TaskId::from_index(t)))
                            .hash(&mut hasher);
                    }
                    for own in &owns {
                        v.get(*own).v.hash(&mut hasher);
                    }
                    hasher.finish()
                })
            }),
        ),
        (
            "liveness, weak",
            &waiting,
            Box::new(move || {
                Check::new()
                    .deadlocks(false)
                    .every_task_finishes()
                    .eventually("shared reaches 2", move |v| v.get(waited).v == 2)
            }),
        ),
        (
            "liveness, strong, reduced",
            &waiting,
            Box::new(move || {
                Check::new()
                    .deadlocks(false)
                    .fairness(Fairness::Strong)
                    .partial_order_reduction(true)
                    .leads_to(
                        "shared at 1 leads to 3",
                        move |v| v.get(waited).v == 1,
                        move |v| v.get(waited).v == 3,
                    )
            }),
        ),
    ];
    for (name, world, check) in &cases {
        let full = world.check(check());
        assert!(full.states > 50, "{name}: {full}");
        let path = temp(&format!("{}.ckpt", name.replace([' ', ','], "-")));
        for step in [7, full.states as usize / 2 + 1] {
            let (resumed, resumes) = in_steps(world, check, step, &path);
            assert!(resumes >= 1, "{name}");
            assert_eq!(
                kind(&resumed),
                kind(&full),
                "{name}, every {step}:\n{resumed}\n{full}"
            );
            assert_eq!(resumed.states, full.states, "{name}, every {step}");
            assert_eq!(
                resumed.transitions, full.transitions,
                "{name}, every {step}"
            );
            assert_eq!(resumed.depth, full.depth, "{name}, every {step}");
            assert_eq!(resumed.terminal_states(), full.terminal_states(), "{name}");
            if let (Some(a), Some(b)) = (resumed.violation(), full.violation()) {
                // Breadth-first the trace is the same shortest one.
                assert_eq!(a.trace.len(), b.trace.len(), "{name}");
            }
        }
        let _ = std::fs::remove_file(&path);
    }
}

#[test]
fn time_and_request_bounds_write_checkpoints_too() {
    let (world, _, _) = program(3, 3, None);
    let path = temp("time.ckpt");
    let report = world.check(
        Check::new()
            .max_time(Duration::ZERO)
            .checkpoint(path.as_path()),
    );
    assert_eq!(
        report.verdict,
        Verdict::Incomplete(Bound::MaxTime(Duration::ZERO)),
        "{report}"
    );
    assert!(
        report.to_string().contains("checkpoint: saved to"),
        "{report}"
    );
    let full = world.check(Check::new());
    let resumed = world.resume(Check::new(), &path).unwrap();
    assert_eq!(
        (resumed.states, resumed.transitions),
        (full.states, full.transitions)
    );

    let flag = Arc::new(AtomicBool::new(true));
    let report = world.check(Check::new().stop_when(flag).checkpoint(path.as_path()));
    assert_eq!(
        report.verdict,
        Verdict::Incomplete(Bound::Stopped),
        "{report}"
    );
    let resumed = world.resume(Check::new(), &path).unwrap();
    assert!(resumed.holds());
    assert_eq!(resumed.states, full.states);
    // A depth bound drops the states it cuts: no checkpoint (resuming could not reach them).
    let _ = std::fs::remove_file(&path);
    let report = world.check(Check::new().max_depth(2).checkpoint(path.as_path()));
    assert_eq!(
        report.verdict,
        Verdict::Incomplete(Bound::MaxDepth(2)),
        "{report}"
    );
    assert!(report.checkpoint.is_none() && !path.exists(), "{report}");
    // Without a checkpoint path nothing is written and the report says so by omission.
    let report = world.check(Check::new().max_states(10));
    assert!(report.checkpoint.is_none());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let (world, _, _) = program(3, 3, None);
    let path = temp("bad.ckpt");
    let report = world.check(Check::new().max_states(50).checkpoint(path.as_path()));
    assert!(report.checkpoint.is_some(), "{report}");
    let good = std::fs::read(&path).unwrap();

    // Another program: other initial values, or another number of tasks.
    let (other, _) = world_with_start(3, 3, 1);
    let error = other.resume(Check::new(), &path).unwrap_err();
    assert!(
        matches!(error, CheckpointError::OtherProgram { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("another program"), "{error}");
    let (fewer, _, _) = program(2, 3, None);
    assert!(matches!(
        fewer.resume(Check::new(), &path).unwrap_err(),
        CheckpointError::OtherProgram { .. }
    ));
    // Another check: an extra invariant, or another search order.
    let error = world
        .resume(Check::new().always("extra", |_| true), &path)
        .unwrap_err();
    assert!(
        matches!(error, CheckpointError::OtherCheck { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("\"extra\""), "{error}");
    assert!(matches!(
        world.resume(Check::new().depth_first(), &path).unwrap_err(),
        CheckpointError::OtherCheck { .. }
    ));
    // Truncated, corrupted, not a checkpoint, missing.
    for cut in [0, 5, 20, good.len() / 2, good.len() - 1] {
        std::fs::write(&path, &good[..cut]).unwrap();
        let error = world.resume(Check::new(), &path).unwrap_err();
        assert!(
            matches!(
                error,
                CheckpointError::Truncated { .. } | CheckpointError::Corrupted { .. }
            ),
            "{cut}: {error}"
        );
    }
    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 1;
    std::fs::write(&path, &flipped).unwrap();
    let error = world.resume(Check::new(), &path).unwrap_err();
    assert!(
        matches!(error, CheckpointError::Corrupted { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("checksum"), "{error}");
    std::fs::write(&path, b"#!/bin/sh\necho not a checkpoint\n").unwrap();
    assert!(matches!(
        world.resume(Check::new(), &path).unwrap_err(),
        CheckpointError::NotACheckpoint { .. }
    ));
    // Something that never ends is rejected by its first bytes, not read into memory.
    assert!(matches!(
        world.resume(Check::new(), "/dev/zero").unwrap_err(),
        CheckpointError::NotACheckpoint { .. }
    ));
    let error = world
        .resume(Check::new(), std::env::temp_dir())
        .unwrap_err();
    assert!(matches!(error, CheckpointError::Read { .. }), "{error}");
    let mut newer = good.clone();
    newer[8] = 99;
    std::fs::write(&path, &newer).unwrap();
    assert!(matches!(
        world.resume(Check::new(), &path).unwrap_err(),
        CheckpointError::Version { found: 99, .. }
    ));
    std::fs::remove_file(&path).unwrap();
    let error = world.resume(Check::new(), &path).unwrap_err();
    assert!(matches!(error, CheckpointError::Read { .. }), "{error}");
    assert!(std::error::Error::source(&error).is_some());
    // The good file still works, and a checkpoint that cannot be written is a note.
    std::fs::write(&path, &good).unwrap();
    assert!(world.resume(Check::new(), &path).unwrap().holds());
    let nowhere = temp("no-such-dir").join("x.ckpt");
    let report = world.check(Check::new().max_states(50).checkpoint(&nowhere));
    assert!(report.checkpoint.is_none());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("checkpoint not written")),
        "{report}"
    );
    let _ = std::fs::remove_file(&path);
}

/// Like [`world`], with the shared cell starting at `start`.
fn world_with_start(tasks: usize, rounds: u8, start: u8) -> (World, Gear<Cell>) {
    let mut world = World::new();
    let shared = world.alloc_shared(Cell { v: start });
    for _ in 0..tasks {
        let task = world.reserve_task();
        let own = world.alloc_private(task, Cell::default());
        world.start(task, goto!(bump(shared, own, rounds, Next::exit())));
    }
    (world, shared)
}

/// The child side of [`a_check_resumes_in_other_processes`]: checks or resumes as told by the
/// environment and prints the report's counts.
#[test]
#[ignore = "run by a_check_resumes_in_other_processes in a child process"]
fn child_phase() {
    let Ok(phase) = std::env::var("GEARS_CHECKPOINT_PHASE") else {
        panic!("run by a_check_resumes_in_other_processes, with GEARS_CHECKPOINT_PHASE set");
    };
    let path = PathBuf::from(std::env::var("GEARS_CHECKPOINT_PATH").unwrap());
    let (world, _, _) = program(4, 3, None);
    let check = || Check::new().partial_order_reduction(true);
    let report = match phase.as_str() {
        "start" => world.check(check().max_states(500).checkpoint(path.as_path())),
        "resume" => world
            .resume(check().max_states(1500).checkpoint(&path), &path)
            .unwrap(),
        _ => world.resume(check(), &path).unwrap(),
    };
    // The whole report first, so that a parent's failing assertion can show its notes.
    println!("{report}");
    println!(
        "RESULT {} {} {} {}",
        kind(&report).replace(' ', "_"),
        report.states,
        report.transitions,
        report.checkpoint.is_some()
    );
}

/// Runs [`child_phase`] in a child process with a time limit; returns its verdict, states,
/// transitions, whether it wrote a checkpoint, and its whole output (for assertion messages).
fn child(phase: &str, path: &Path) -> (String, u64, u64, bool, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_phase", "--ignored", "--nocapture"])
        .env("GEARS_CHECKPOINT_PHASE", phase)
        .env("GEARS_CHECKPOINT_PATH", path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the child ({phase}) did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child {phase}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("RESULT "))
        .unwrap_or_else(|| panic!("no result from the child: {stdout}"));
    let parts: Vec<&str> = line.split_whitespace().collect();
    (
        parts[1].to_string(),
        parts[2].parse().unwrap(),
        parts[3].parse().unwrap(),
        parts[4] == "true",
        stdout.into_owned(),
    )
}

#[test]
fn a_check_resumes_in_other_processes() {
    let path = temp("process.ckpt");
    let _ = std::fs::remove_file(&path);
    let (world, _, _) = program(4, 3, None);
    let full = world.check(Check::new().partial_order_reduction(true));
    assert!(full.holds() && full.states > 1500, "{full}");
    let (verdict, states, _, written, out) = child("start", &path);
    assert_eq!(
        (verdict.as_str(), states, written),
        ("incomplete_MaxStates(500)", 500, true),
        "{out}"
    );
    // Resumed twice more, each time in a new process: to 1500 states, then to the end.
    let (verdict, states, _, written, out) = child("resume", &path);
    assert_eq!(
        (verdict.as_str(), states, written),
        ("incomplete_MaxStates(1500)", 1500, true),
        "{out}"
    );
    let (verdict, states, transitions, written, out) = child("finish", &path);
    assert_eq!(verdict, "holds", "{out}");
    assert!(!written, "{out}");
    assert_eq!(
        (states, transitions),
        (full.states, full.transitions),
        "{out}"
    );
    let _ = std::fs::remove_file(&path);
}

/// What [`drift`] adds: stands for a program whose code changed between check and resume.
static DRIFT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(1);

#[code_gear]
fn drift(cell: Mut<'_, Cell>, left: u8, next: Next<()>) -> Goto {
    let mut cell = cell;
    cell.v = (cell.v + DRIFT.load(std::sync::atomic::Ordering::Relaxed)) % 7;
    if left == 0 {
        return goto!(next());
    }
    goto!(drift(cell.gear(), left - 1, next))
}

#[test]
fn a_program_whose_steps_changed_does_not_resume() {
    let mut world = World::new();
    for _ in 0..3 {
        let task = world.reserve_task();
        let own = world.alloc_private(task, Cell::default());
        world.start(task, goto!(drift(own, 4, Next::exit())));
    }
    let path = temp("drift.ckpt");
    let report = world.check(Check::new().max_states(40).checkpoint(path.as_path()));
    assert!(report.checkpoint.is_some(), "{report}");
    // Same initial state, same code gear names, other steps: the replay does not reach the
    // saved states.
    DRIFT.store(2, std::sync::atomic::Ordering::Relaxed);
    let error = world.resume(Check::new(), &path).unwrap_err();
    DRIFT.store(1, std::sync::atomic::Ordering::Relaxed);
    assert!(matches!(error, CheckpointError::Diverged { .. }), "{error}");
    assert!(
        error.to_string().contains("not the ones that were checked"),
        "{error}"
    );
    // With the steps as they were, it resumes.
    assert!(world.resume(Check::new(), &path).unwrap().holds());
    let _ = std::fs::remove_file(&path);
}
