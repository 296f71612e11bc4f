//! Shared code of the gears examples: the workloads the tour shows and the bench measures.

pub mod bench;
pub mod codegear;
pub mod dpp;
pub mod dpp_seed;
pub mod ghost;
pub mod offload;
pub mod workloads;
