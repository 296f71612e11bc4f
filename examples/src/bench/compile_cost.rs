//! What `#[code_gear]` costs at compile time: a generated crate of N code gears against the same
//! logic as N plain functions, each built from scratch-for-the-crate (dependencies already
//! built), in the same run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::{report, report_ratio};

/// The body every generated function shares: a little arithmetic and a branch.
fn gear_source(n: usize) -> String {
    let mut s = String::from("#![allow(dead_code)]\nuse codegear::prelude::*;\n\n");
    for i in 0..n {
        let next = (i + 1) % n;
        s.push_str(&format!(
            "#[code_gear]\npub fn gear_{i}(x: u64, acc: u64) -> Goto {{\n    \
             if x == 0 {{ Goto::exit((acc,)) }} else {{ goto!(gear_{next}(x - 1, acc.wrapping_mul(31) ^ {i})) }}\n}}\n\n"
        ));
    }
    s
}

fn plain_source(n: usize) -> String {
    let mut s = String::from("#![allow(dead_code)]\n\n");
    for i in 0..n {
        let next = (i + 1) % n;
        s.push_str(&format!(
            "pub fn plain_{i}(x: u64, acc: u64) -> u64 {{\n    \
             if x == 0 {{ acc }} else {{ plain_{next}(x - 1, acc.wrapping_mul(31) ^ {i}) }}\n}}\n\n"
        ));
    }
    s
}

fn write_crate(dir: &Path, name: &str, source: &str, codegear: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("src"))?;
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\ncodegear = {{ path = {:?} }}\n\n[workspace]\n",
            codegear.display()
        ),
    )?;
    std::fs::write(dir.join("src/lib.rs"), source)
}

fn build(dir: &Path, target: &Path) -> Result<Duration, String> {
    let start = Instant::now();
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--quiet", "--offline"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "build of {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(start.elapsed())
}

/// Builds both crates `reps` times (touching the source before each), interleaved; prints the
/// medians and the ratio.
pub(super) fn run(gears: usize, reps: usize) {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("examples/ is inside the workspace")
        .to_path_buf();
    let codegear = workspace.join("codegear");
    let root = workspace.join("target").join("compile-cost");
    let target = root.join("target");
    let crates = [
        ("gears", root.join("gears"), gear_source(gears)),
        ("plain", root.join("plain"), plain_source(gears)),
    ];
    let mut samples = vec![Vec::new(), Vec::new()];
    for (name, dir, source) in &crates {
        if let Err(e) = write_crate(dir, &format!("compile_cost_{name}"), source, &codegear) {
            println!("bench dispatch.compile_cost skipped: {e}");
            return;
        }
        // Builds the dependencies (and checks that the crate compiles).
        if let Err(e) = build(dir, &target) {
            println!("bench dispatch.compile_cost skipped: {e}");
            return;
        }
    }
    for _ in 0..reps {
        for ((_, dir, source), samples) in crates.iter().zip(samples.iter_mut()) {
            // A changed source forces the crate (only) to be rebuilt.
            let _ = std::fs::write(
                dir.join("src/lib.rs"),
                format!("{source}\n// {}\n", samples.len()),
            );
            match build(dir, &target) {
                Ok(elapsed) => samples.push(elapsed),
                Err(e) => {
                    println!("bench dispatch.compile_cost skipped: {e}");
                    return;
                }
            }
        }
    }
    let medians: Vec<f64> = samples
        .into_iter()
        .map(|mut s| {
            s.sort();
            s[s.len() / 2].as_secs_f64()
        })
        .collect();
    report(
        &format!("dispatch.build_{gears}_code_gears"),
        medians[0],
        "s",
    );
    report(
        &format!("dispatch.build_{gears}_plain_fns"),
        medians[1],
        "s",
    );
    report_ratio(
        &format!("dispatch.build_{gears}_code_gears_vs_plain"),
        medians[0],
        medians[1],
    );
}
