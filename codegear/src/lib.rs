//! codegear: GearsOS-style code gears and data gears for Rust.
//!
//! This crate will carry the GearsOS DSL: `#[code_gear]`, `#[data_gear]`, `#[interface]`,
//! `goto!`, `par_goto!`, the `Context` whose tables are built from the registry, and model
//! checking as meta computation (see the workspace's `DESIGN.md`, section 5). Its macros are not
//! here yet; what exists today is the runtime it builds on, [`gears_runtime`]: the spawn/sync
//! pool under `par_goto!` and the typed registry behind the code-gear and data-gear tables.

/// Paths used by code the gears macros generate. Not a public API: it may change at any time.
#[doc(hidden)]
pub mod __private {
    pub use gears_runtime;
}
