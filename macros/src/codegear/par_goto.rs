//! `par_goto!(world, f(args))`: GearsOS's `par goto`, a new task of a `World` whose first
//! transition is `goto!(f(args))`.
//!
//! It expands to `world.par_goto(goto!(f(args)))`, a method call, so rustc checks the world's
//! type and the transition's arguments at the user's tokens. The world comes first because a
//! code gear cannot spawn: it returns exactly one `Goto` (see `codegear::World`), so tasks are
//! added by the set-up code that owns the world.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;

use super::goto::expand_goto;

const SHAPE: &str = "expected `par_goto!(world, code_gear(args..))`: the `World` to add the task \
                     to, a comma, then the task's first transition as in `goto!`";

struct Input {
    world: syn::Expr,
    first: TokenStream,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let world: syn::Expr = input.parse()?;
        if input.is_empty() {
            let hint = match &world {
                syn::Expr::Call(_) | syn::Expr::MethodCall(_) => format!(
                    "`par_goto!` needs the world first: write `par_goto!(world, {})`",
                    quote!(#world)
                        .to_string()
                        .replace(" (", "(")
                        .replace(" ,", ",")
                ),
                _ => format!(
                    "`par_goto!` needs the task's first transition after the world: write \
                     `par_goto!({}, code_gear(args..))`",
                    quote!(#world)
                ),
            };
            return Err(syn::Error::new_spanned(&world, hint));
        }
        input.parse::<syn::Token![,]>()?;
        let first: TokenStream = input.parse()?;
        if first.is_empty() {
            return Err(syn::Error::new(
                input.span(),
                "the task's first transition is missing after the comma: write \
                 `par_goto!(world, code_gear(args..))`",
            ));
        }
        Ok(Self { world, first })
    }
}

pub(crate) fn par_goto(input: TokenStream) -> TokenStream {
    expand(input).unwrap_or_else(|error| {
        let error = error.to_compile_error();
        quote! { { #error; ::core::unreachable!() } }
    })
}

pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    if input.is_empty() {
        return Err(syn::Error::new(Span::call_site(), SHAPE));
    }
    let Input { world, first } = syn::parse2(input)
        .map_err(|error| syn::Error::new(error.span(), format!("{SHAPE} ({error})")))?;
    let goto = expand_goto(first)?;
    let method = quote_spanned! {world.span()=> par_goto };
    Ok(quote! { (#world).#method(#goto) })
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use proptest::prelude::*;
    use quote::quote;

    use super::{expand, par_goto};
    use crate::common::fuzz;

    fn error(input: TokenStream) -> String {
        expand(input).unwrap_err().to_string()
    }

    #[test]
    fn expands_to_a_method_call_with_the_goto() {
        let out = expand(quote!(world, philosopher(0, left, right, Next::exit())))
            .unwrap()
            .to_string();
        assert_eq!(
            out,
            "(world) . par_goto ((philosopher) . __gears_goto (0 , left , right , Next :: exit ()))"
        );
        let out = expand(quote!(self.world, stack.pop(next)))
            .unwrap()
            .to_string();
        assert!(
            out.starts_with("(self . world) . par_goto ((stack) . __gears_api ()"),
            "{out}"
        );
    }

    #[test]
    fn each_malformed_shape_says_what_to_write() {
        assert!(error(quote!()).contains("expected `par_goto!(world, code_gear(args..))`"));
        assert!(
            error(quote!(philosopher(0, x)))
                .contains("needs the world first: write `par_goto!(world, philosopher(0, x))`"),
            "{}",
            error(quote!(philosopher(0, x)))
        );
        assert!(error(quote!(world)).contains("first transition after the world"));
        assert!(error(quote!(world,)).contains("first transition is missing"));
        assert!(error(quote!(world, philosopher)).contains("needs the arguments too"));
        assert!(error(quote!(world, 1 + 2)).contains("expected `goto!(code_gear(args..))`"));
    }

    #[test]
    fn errors_still_give_an_expression() {
        let out = par_goto(quote!(world)).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("unreachable"), "{out}");
    }

    fn valid() -> TokenStream {
        quote!(world, philosopher(0, left, right, next!(done(a, b))))
    }

    #[test]
    fn every_truncation_is_an_error_or_an_expansion_never_a_panic() {
        for truncated in fuzz::truncations(&valid()) {
            let _ = par_goto(truncated);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn random_token_streams_never_panic(tokens in fuzz::token_stream()) {
            let _ = par_goto(tokens);
        }

        #[test]
        fn mutated_valid_input_never_panics(mutated in fuzz::mutations(valid())) {
            let _ = par_goto(mutated);
        }
    }
}
