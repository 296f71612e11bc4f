//! Procedural macros of gears.
//!
//! This is the one proc-macro crate of the workspace. Users never depend on it directly: each
//! domain crate (`codegear`, `offload`, `ghost-dsl`) re-exports the macros that belong to it, and
//! the generated code refers only to that domain crate's hidden `__private` module.
//!
//! Each DSL has its pipeline (parse → check → analyze → codegen) under its own module; the
//! machinery they share (error accumulation, fallback emission, attribute arguments with
//! `crate = path`, suggestions, fuzzing helpers) is in `common`.

// Until every pipeline uses all of it, parts of the shared machinery are unused.
#[allow(dead_code, unused_imports)]
mod common;
