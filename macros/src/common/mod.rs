//! Machinery every DSL pipeline shares: error accumulation, fallback emission, attribute
//! arguments (with `crate = path`), "did you mean" suggestions, and the fuzzing helpers behind the
//! never-panic property tests.
//!
//! The rules it encodes (DESIGN.md section 3):
//! - collect every error a stage can find ([`Errors`]) and report them together;
//! - on error still emit the user's item ([`emit_or_fallback`]) so only the real error shows;
//! - unknown argument keys list the valid ones ([`parse_args`]);
//! - generated code names the domain crate only through `crate = path` or its default
//!   ([`CrateRoot`]).

mod args;
mod errors;
mod expand;
mod suggest;

#[cfg(test)]
pub(crate) mod fuzz;

pub(crate) use args::{AttrArgs, CrateRoot, parse_args};
pub(crate) use errors::Errors;
pub(crate) use expand::emit_or_fallback;
pub(crate) use suggest::{did_you_mean, unknown_name};
