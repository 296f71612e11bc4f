//! Compile-fail and compile-pass cases, checked against `.stderr` snapshots with trybuild.
//!
//! Compiler messages change between releases, so the snapshots belong to the one toolchain this
//! project is built with: the cases run on stable 1.95 and are `#[ignore]`d elsewhere (`cargo test` reports
//! them as ignored, with the reason).
//! Regenerate snapshots with `TRYBUILD=overwrite cargo test -p gears-ui-tests`.

// Before `#[test]`, so that the `ignore` it adds is there when the test harness reads it.
#[rustversion::attr(
    not(stable(1.95)),
    ignore = "the UI snapshots are for stable Rust 1.95; this compiler's messages may differ"
)]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    // One directory per DSL, plus one for the runtime's own compile-time guarantees; `pass/`
    // holds the cases that must compile.
    cases.compile_fail("tests/ui/runtime/*.rs");
    cases.compile_fail("tests/ui/offload/*.rs");
    cases.compile_fail("tests/ui/codegear/*.rs");
    cases.compile_fail("tests/ui/ghost/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}
