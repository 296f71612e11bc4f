//! Stage 4: the IR → tokens. One file per generated concern:
//! [`scheduler_impl`] (the handlers as ghost-dsl's `Scheduler` trait, i.e. the tutorial's
//! `BasicDispatchScheduler` subclass), [`full_agent`] (the `FullAgent` / `AgentProcess` entry
//! points), [`fallback`] (stand-ins emitted beside errors).
//!
//! Everything generic (task allocator, channels, dispatch with seqnums, the agent loop, state
//! checks) lives in `ghost_dsl::scheduler`; generated code only binds the user's type to it, and
//! names it through `<crate>::__private::scheduler` only.

mod fallback;
mod full_agent;
mod scheduler_impl;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use super::analyze::Ir;

pub(crate) use fallback::fallback;

/// The full expansion for a scheduler that passed every check.
pub(crate) fn generate(ir: &Ir) -> TokenStream {
    let item = ir.item.to_token_stream();
    let scheduler_impl = scheduler_impl::generate(ir);
    let full_agent = full_agent::generate(&ir.self_ty, &ir.krate);
    quote! {
        #item
        #scheduler_impl
        #full_agent
    }
}
