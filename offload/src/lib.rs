//! offload: Toshokan-style function offloading from restricted friend threads to the hakase.
//!
//! This crate will carry the offload DSL: `offload!({ .. })`, `#[export_symbol]`, `exported!`,
//! `Hakase` and `FriendConfig` (see the workspace's `DESIGN.md`, section 6). Its macros are not
//! here yet; what exists today is the runtime it builds on, [`gears_runtime`]: the padded mailbox
//! slot every friend will call through, and CPU lists to pin friends with.

/// Paths used by code the gears macros generate. Not a public API: it may change at any time.
#[doc(hidden)]
pub mod __private {
    pub use gears_runtime;
}
