//! gears-runtime: the thin runtime under the gears DSLs.
//!
//! - [`pool`]: the spawn/sync worker pool with elcore-runtime semantics (the engine of `par_goto!`).
//! - [`registry`]: typed, link-time registries over `inventory`, built once into indexed tables.
//! - [`cpu_list`]: CPU bitmaps, `"0-1,4"` parsing and printing, thread pinning.
//! - [`mailbox`]: the cache-line-padded request/response slot used for busy-polling handoffs.
//! - [`handoff`]: the same kind of slot split into exclusive client and server ends, whose round
//!   trip costs two writes of the shared state word (the offload friends' mailbox).
//!
//! Users reach this crate through the domain crates (`codegear`, `offload`, `ghost-dsl`).
//!
//! # Platform
//!
//! Built and tested on Linux (x86-64). Thread pinning ([`cpu_list::CpuList::pin_current_thread`],
//! `Pool::builder().pin_to(..)`) uses Linux's `sched_setaffinity` and reports
//! [`cpu_list::AffinityError::Unsupported`] on other systems; everything else is `std` only.

pub mod cpu_list;
pub mod handoff;
pub mod mailbox;
pub mod pool;
pub mod registry;
pub(crate) mod sync;
