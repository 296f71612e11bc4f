//! `#[ghost_scheduler]`: a ghOSt scheduling policy written as an `impl` block of handlers.
//!
//! Pipeline, one module per stage, each on `proc_macro2` so tests call it without a compiler:
//! [`parse`] (arguments and the impl) → [`check`] (handler names and signatures against the
//! [`catalogue`]) → [`analyze`] (defaults, the IR) → [`codegen`] (the scheduler trait impl and the
//! agent entry points). Errors are collected across stages; on any error the user's impl is still
//! emitted (with stand-ins for the generated entry points) so only the real error shows.

mod analyze;
mod catalogue;
mod check;
mod codegen;
mod parse;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Collected errors of one expansion.
#[derive(Default)]
pub(crate) struct Errors(Vec<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.0.push(error);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn to_compile_errors(&self) -> TokenStream {
        self.0.iter().map(syn::Error::to_compile_error).collect()
    }

    #[cfg(test)]
    pub(crate) fn messages(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

/// Expands `#[ghost_scheduler(attr)] item`. Never panics: every problem becomes a spanned
/// `compile_error!` beside the user's (unchanged) impl.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::default();
    let args = parse::parse_args(attr, &mut errors);
    let item_impl = match parse::parse_item(item.clone()) {
        Ok(item_impl) => item_impl,
        Err(err) => {
            errors.push(err);
            let mut out = item;
            out.extend(errors.to_compile_errors());
            return out;
        }
    };
    let checked = check::check(&args, &item_impl, &mut errors);
    let ir = analyze::analyze(&args, &item_impl, checked);
    match ir {
        Some(ir) if errors.is_empty() => codegen::generate(&ir),
        _ => {
            let mut out = analyze::strip_markers(&item_impl).to_token_stream();
            out.extend(codegen::fallback(&item_impl, &analyze::krate(&args)));
            out.extend(errors.to_compile_errors());
            out
        }
    }
}

#[cfg(test)]
mod tests;
