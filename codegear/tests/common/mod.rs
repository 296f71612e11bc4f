//! Helpers shared by several test binaries of this crate.

pub(crate) mod random_programs;
