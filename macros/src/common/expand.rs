//! Emission: the expansion, or the user's item beside the errors.

use proc_macro2::TokenStream;

/// The expansion if the pipeline succeeded; otherwise `fallback` (the user's item, or a stub
/// with its signature) followed by every error as `compile_error!`.
///
/// Emitting the item keeps the rest of the user's crate compiling against it, so rustc shows
/// only the real error instead of a cascade of "cannot find" errors, and IDEs keep resolving it.
pub(crate) fn emit_or_fallback(
    expansion: syn::Result<TokenStream>,
    fallback: impl FnOnce() -> TokenStream,
) -> TokenStream {
    match expansion {
        Ok(tokens) => tokens,
        Err(error) => {
            let mut tokens = fallback();
            tokens.extend(error.to_compile_error());
            tokens
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn error_keeps_the_item_and_adds_compile_error() {
        let out = emit_or_fallback(
            Err(syn::Error::new(proc_macro2::Span::call_site(), "bad")),
            || {
                quote!(
                    fn user_item() {}
                )
            },
        )
        .to_string();
        assert!(out.starts_with("fn user_item"), "{out}");
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("\"bad\""), "{out}");
    }

    #[test]
    fn success_is_the_expansion_alone() {
        let out = emit_or_fallback(
            Ok(quote!(
                struct S;
            )),
            || quote!(unreachable_fallback),
        );
        assert_eq!(out.to_string(), "struct S ;");
    }
}
