//! ghost-dsl: ghOSt user-space scheduling policies as plain Rust.
//!
//! This crate will carry the scheduler DSL: `#[ghost_scheduler]`, the simulated enclave, topology
//! and run requests (see the workspace's `DESIGN.md`, section 7). What exists today is ghOSt's
//! `CpuList` and `ParseCpuStr`, re-exported here from [`gears_runtime`] under ghOSt's names.

pub use gears_runtime::cpu_list::{CpuList, CpuListParseError, MAX_CPUS, parse_cpu_str};

/// Paths used by code the gears macros generate. Not a public API: it may change at any time.
#[doc(hidden)]
pub mod __private {
    pub use gears_runtime;
}
