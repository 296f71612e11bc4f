//! Shared code of the gears examples: the workloads the tour shows and the bench measures.

pub mod bench;
pub mod codegear;
pub mod dpp;
pub mod ghost;
pub mod offload;
pub mod workloads;

/// The README's Rust code blocks, compiled and run as doctests of this crate (it depends on every
/// domain crate), so that they cannot go stale. `text` and `sh` blocks are not Rust and are not
/// run.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
