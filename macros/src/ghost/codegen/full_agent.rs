//! The entry points of the tutorial's `FullAgent` / `AgentProcess`, as inherent methods of the
//! user's type: `run` (build the agents over an enclave and run to completion) and `full_agent`
//! (build them and hand them back, for stepping and RPC). Both are generic over the enclave: the
//! simulator or the thread enclave, anything that is a `Backend` of the scheduler.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Path, Type};

/// Inherent `run` / `full_agent` for `self_ty`. Also used by the fallback with the same
/// signatures, so that callers type-check while the real error is shown.
pub(super) fn generate(self_ty: &Type, krate: &Path) -> TokenStream {
    entry_points(self_ty, krate, None)
}

/// The entry points; with `stub_body`, every body is that expression instead of the real one.
pub(super) fn entry_points(
    self_ty: &Type,
    krate: &Path,
    stub_body: Option<&TokenStream>,
) -> TokenStream {
    let rt = quote!(#krate::__private::scheduler);
    let full_agent_body = stub_body
        .cloned()
        .unwrap_or_else(|| quote!(#rt::FullAgent::new(self, enclave, config)));
    let run_body = stub_body
        .cloned()
        .unwrap_or_else(|| quote!(#rt::FullAgent::new(self, enclave, config)?.run()));
    quote! {
        impl #self_ty {
            /// Builds this scheduler's agents (one per CPU, or one global agent for the
            /// centralized model) over `enclave` (the simulator, `SimEnclave`, or the thread
            /// enclave), makes the enclave ready and runs until every task has finished;
            /// returns the enclave's report.
            ///
            /// Errors: invalid configuration, a task state transition the handlers broke (the
            /// error names the message and the task), a handler's panic (naming the handler,
            /// the message and the task), or the enclave's own failure; each with the report so
            /// far.
            #[allow(dead_code)]
            pub fn run<E: #rt::Backend<Self>>(
                self,
                enclave: E,
                config: #rt::AgentConfig,
            ) -> ::core::result::Result<#rt::Report, #rt::Error> {
                #run_body
            }

            /// Builds this scheduler's agents over `enclave` without running them: the
            /// `FullAgent` of the tutorial, to step (simulator), to query (`rpc`) or to run
            /// later.
            #[allow(dead_code)]
            pub fn full_agent<E: #rt::Backend<Self>>(
                self,
                enclave: E,
                config: #rt::AgentConfig,
            ) -> ::core::result::Result<#rt::FullAgent<Self, E>, #rt::Error> {
                #full_agent_body
            }
        }
    }
}
