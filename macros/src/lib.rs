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
mod ghost;

/// Turns an `impl` block of ghOSt message handlers into a scheduler: see `ghost_dsl`'s
/// documentation of `ghost_scheduler` (the re-export users see) for the handlers and arguments.
#[proc_macro_attribute]
pub fn ghost_scheduler(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    ghost::expand(attr.into(), item.into()).into()
}
