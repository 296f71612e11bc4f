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

use crate::common::{Errors, emit_or_fallback};

/// Expands `#[ghost_scheduler(attr)] item`. Never panics: every problem becomes a spanned
/// `compile_error!` beside the user's (unchanged) impl.
pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let args = parse::parse_args(attr, &mut errors);
    let item_impl = match parse::parse_item(item.clone()) {
        Ok(item_impl) => item_impl,
        Err(err) => {
            errors.push(err);
            return emit_or_fallback(errors.finish().map(|()| TokenStream::new()), || item);
        }
    };
    let checked = check::check(&args, &item_impl, &mut errors);
    let ir = analyze::analyze(&args, &item_impl, checked);
    let expansion = errors.finish().and_then(|()| {
        ir.map(|ir| codegen::generate(&ir)).ok_or_else(|| {
            // check reports every reason analyze can give up; this is a second line of defence.
            syn::Error::new(
                proc_macro2::Span::call_site(),
                "#[ghost_scheduler] could not read its arguments",
            )
        })
    });
    emit_or_fallback(expansion, || {
        codegen::fallback(&item_impl, &analyze::krate(&args), args.task.as_ref())
    })
}

#[cfg(test)]
mod tests;
