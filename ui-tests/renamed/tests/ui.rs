#![allow(missing_docs)]
//! Compile-fail cases that need a renamed dependency, which `ui-tests/` (where `codegear` has
//! its own name) cannot express: trybuild builds each case with this package's dependencies,
//! renames included. Snapshots are for stable 1.95 (see `ui-tests/tests/ui.rs`); regenerate with
//! `TRYBUILD=overwrite cargo test -p gears-renamed-deps --test ui`.

#[rustversion::attr(
    not(stable(1.95)),
    ignore = "the UI snapshots are for stable Rust 1.95; this compiler's messages may differ"
)]
#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("tests/ui/*.rs");
}
