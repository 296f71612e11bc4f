//! Procedural macros of gears.
//!
//! This is the one proc-macro crate of the workspace. Users never depend on it directly: each
//! domain crate (`codegear`, `offload`, `ghost-dsl`) re-exports the macros that belong to it, and
//! the generated code refers only to that domain crate's hidden `__private` module.
//!
//! Each DSL has its pipeline (parse → check → analyze → codegen) under its own module; the
//! machinery they share (error accumulation, fallback emission, attribute arguments with
//! `crate = path`, suggestions, fuzzing helpers) is in `common`.

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

/// `#[derive(Wire)]`: the wire encoding of a struct or enum that crosses between a process
/// friend and the hakase. Use it through `offload::process::Wire`, whose docs describe it;
/// `#[wire(crate = path)]` names a renamed `offload` dependency.
#[proc_macro_derive(Wire, attributes(wire))]
pub fn derive_wire(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    offload::derive_wire(input.into()).into()
}

mod codegear;
mod ghost;

use proc_macro::TokenStream;

/// Marks a struct or enum as a **data gear**: state kept in a `Context`'s heap, handed to code
/// gears as `Mut<'_, T>` / `Ref<'_, T>`, registered in the data-gear table.
///
/// Derives what the meta level needs and the user did not derive already (`Clone`, `Debug`,
/// `PartialEq`, `Eq`, `Hash`). Arguments: `crate = path` for a renamed `codegear`.
/// Use it through `codegear::data_gear`.
#[proc_macro_attribute]
pub fn data_gear(attr: TokenStream, item: TokenStream) -> TokenStream {
    codegear::data_gear(attr.into(), item.into()).into()
}

/// Marks a trait as an **interface**: a set of API code gears (`fn name(&mut self, ..) -> Goto;`)
/// that data gears implement with `#[code_gear] impl Interface for DataGear`, and that
/// `goto!(gear.api(..))` calls on a `Gear<dyn Interface>`.
/// Use it through `codegear::interface`.
#[proc_macro_attribute]
pub fn interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    codegear::interface(attr.into(), item.into()).into()
}

/// Defines a **code gear** (`fn f(..) -> Goto`), or the API code gears of an interface
/// implementation (`impl Interface for DataGear`). Generates the stub, the row in the code-gear
/// table and its registration; `f` becomes a static that only `goto!`/`next!` use.
/// Use it through `codegear::code_gear`.
#[proc_macro_attribute]
pub fn code_gear(attr: TokenStream, item: TokenStream) -> TokenStream {
    codegear::code_gear(attr.into(), item.into()).into()
}

/// `goto!(f(args))`, `goto!(next(args))`, `goto!(gear.api(args))`: the transition a code gear
/// ends with. Use it through `codegear::goto`.
#[proc_macro]
pub fn goto(input: TokenStream) -> TokenStream {
    codegear::goto(input.into()).into()
}

/// `next!(f(first_args))`: the continuation that runs `f` with its first parameters bound.
/// Use it through `codegear::next`.
#[proc_macro]
pub fn next(input: TokenStream) -> TokenStream {
    codegear::next(input.into()).into()
}

/// `par_goto!(world, f(args))`: adds a task to a `World` whose first transition is
/// `goto!(f(args))`, and returns its `TaskId`. Use it through `codegear::par_goto`.
#[proc_macro]
pub fn par_goto(input: TokenStream) -> TokenStream {
    codegear::par_goto(input.into()).into()
}

/// The second half of `#[code_gear] impl I for D`, reached through the macro `#[interface]`
/// leaves beside the trait. Not a public API.
#[doc(hidden)]
#[proc_macro]
pub fn __codegear_impl_interface(input: TokenStream) -> TokenStream {
    codegear::impl_interface(input.into()).into()
}

/// Turns an `impl` block of ghOSt message handlers into a scheduler: see `ghost_dsl`'s
/// documentation of `ghost_scheduler` (the re-export users see) for the handlers and arguments.
#[proc_macro_attribute]
pub fn ghost_scheduler(attr: TokenStream, item: TokenStream) -> TokenStream {
    ghost::expand(attr.into(), item.into()).into()
}
