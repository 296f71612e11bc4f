//! Code generation, one file per generated concern.

pub(crate) mod declare;
pub(crate) mod export;
pub(crate) mod offload_block;
pub(crate) mod remote;
pub(crate) mod symbol_type;
