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

mod offload;

/// Runs a block on the hakase and returns its value: `offload!({ .. })`. Use it through the
/// `offload` crate, whose docs describe it; `offload!(crate = path, { .. })` names a renamed
/// `offload` dependency.
#[proc_macro]
pub fn offload(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    offload::offload(input.into()).into()
}

/// Calls an exported hakase function by name inside `offload!`; anywhere else a compile error.
/// Use it through the `offload` crate, whose docs describe it.
#[proc_macro]
pub fn exported(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    offload::exported_outside_offload(input.into()).into()
}

/// Exports a hakase function to friend code: `#[export_symbol]` or
/// `#[export_symbol(declared_in = path, crate = path)]`. Use it through the `offload` crate,
/// whose docs describe it.
#[proc_macro_attribute]
pub fn export_symbol(
    attr: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    offload::export_symbol(attr.into(), item.into()).into()
}

/// Declares exported signatures shared by both sides: `declare_exports! { fn f(..) -> R; }`.
/// Use it through the `offload` crate, whose docs describe it.
#[proc_macro]
pub fn declare_exports(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    offload::declare_exports(input.into()).into()
}
