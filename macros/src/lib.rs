//! Procedural macros of gears.
//!
//! This is the one proc-macro crate of the workspace. Users never depend on it directly: each
//! domain crate (`codegear`, `offload`, `ghost-dsl`) re-exports the macros that belong to it, and
//! the generated code refers only to that domain crate's hidden `__private` module.
//!
//! No macro has landed yet; each DSL adds its pipeline (parse → check → analyze → codegen) here
//! under its own module when it lands.
