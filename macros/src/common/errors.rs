//! The error-collecting context of every pipeline stage.

use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;

/// Collects the errors of one macro invocation so that the user sees all of them at once.
///
/// Invariant: an `Errors` that holds errors must be consumed by [`Errors::finish`]; dropping it
/// with errors inside is a bug in the macro (the errors would be lost silently) and panics, in
/// every profile, the way serde_derive's `Ctxt` does: proc macros are often built in release,
/// where a `debug_assert!` would let the bug reach users as a silently accepted mistake.
#[must_use = "errors must be reported with `finish`"]
#[derive(Default)]
pub(crate) struct Errors {
    errors: Vec<syn::Error>,
}

impl Errors {
    /// An empty collection.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records `message` spanning the user's tokens `at`.
    pub(crate) fn error(&mut self, at: impl ToTokens, message: impl Display) {
        self.errors.push(syn::Error::new_spanned(at, message));
    }

    /// Records `message` at `span`.
    pub(crate) fn error_at(&mut self, span: Span, message: impl Display) {
        self.errors.push(syn::Error::new(span, message));
    }

    /// Records an error built elsewhere (it may already combine several).
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    /// Keeps the value of `result`, or records its error and returns `None`.
    pub(crate) fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.push(error);
                None
            }
        }
    }

    /// Every recorded error, combined into one, or `Ok` if there were none.
    pub(crate) fn finish(mut self) -> syn::Result<()> {
        let mut errors = std::mem::take(&mut self.errors).into_iter();
        match errors.next() {
            None => Ok(()),
            Some(mut first) => {
                first.extend(errors);
                Err(first)
            }
        }
    }

    /// `value` if nothing was recorded, else every recorded error.
    pub(crate) fn finish_with<T>(self, value: T) -> syn::Result<T> {
        self.finish().map(|()| value)
    }
}

impl Drop for Errors {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(
                self.errors.is_empty(),
                "gears-macros bug: errors dropped without `finish`: {:?}",
                self.errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn finish_combines_every_error_in_order() {
        let mut errors = Errors::new();
        errors.error(quote!(a), "first");
        errors.error_at(Span::call_site(), "second");
        let combined = errors.finish().unwrap_err();
        let messages: Vec<String> = combined.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages, ["first", "second"]);
    }

    #[test]
    fn finish_with_keeps_the_value_only_without_errors() {
        assert_eq!(Errors::new().finish_with(7).unwrap(), 7);
        let mut errors = Errors::new();
        assert_eq!(
            errors.take::<u8>(Err(syn::Error::new(Span::call_site(), "x"))),
            None
        );
        assert!(errors.finish_with(7).is_err());
    }

    // Not a debug assertion: this holds in `cargo test --release` too.
    #[test]
    #[should_panic(expected = "gears-macros bug: errors dropped without `finish`: [\"lost\"]")]
    fn dropping_unreported_errors_panics() {
        let mut errors = Errors::new();
        errors.error(quote!(a), "lost");
        drop(errors);
    }

    #[test]
    fn dropping_an_empty_collection_is_fine() {
        drop(Errors::new());
    }
}
