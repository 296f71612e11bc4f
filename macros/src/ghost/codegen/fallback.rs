//! What is emitted beside the errors: the entry points with the real signatures and a body that
//! never runs (the crate does not compile), so that calls to `run` do not add errors of their own.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{ItemImpl, Path};

/// Stand-in entry points for the impl's self type. Only emitted for an inherent, non-generic
/// impl; otherwise the errors already say what to fix and nothing could call them.
pub(crate) fn fallback(item: &ItemImpl, krate: &Path) -> TokenStream {
    if item.trait_.is_some() || !item.generics.params.is_empty() {
        return TokenStream::new();
    }
    let body = quote!(::core::panic!(
        "#[ghost_scheduler] reported errors; this stand-in never runs"
    ));
    super::full_agent::entry_points(&item.self_ty, krate, Some(&body))
}
