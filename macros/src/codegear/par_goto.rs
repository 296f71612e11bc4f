//! `par_goto!(world, f(args))`: GearsOS's `par goto`, a new task of a `World` whose first
//! transition is `goto!(f(args))`; and `par_goto!(f(args))` inside a code gear: a new task of
//! the world whose step is running.
//!
//! The first expands to `world.par_goto(goto!(f(args)))`, a method call, so rustc checks the
//! world's type and the transition's arguments at the user's tokens. The second expands to
//! `::codegear::__private::par_goto_from_code_gear(goto!(f(args)))`: the running world step
//! collects the task (see `codegear::World`), which exists from the end of that step on.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;

use super::goto::{expand_goto, fallback_import, split_root};

const SHAPE: &str = "expected `par_goto!(world, code_gear(args..))`: the `World` to add the task \
                     to, a comma, then the task's first transition as in `goto!`";

struct Input {
    /// `None`: `par_goto!(f(args))` inside a code gear.
    world: Option<syn::Expr>,
    first: TokenStream,
}

/// The input's tokens as the user would write them (no spaces around `::` or before `(`).
fn written(tokens: &impl quote::ToTokens) -> String {
    quote!(#tokens)
        .to_string()
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace(" (", "(")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",")
}

impl Input {
    /// Parses the input; `parsed_world` receives the world expression as soon as it parsed, so
    /// that the error fallback can still use it.
    fn parse(input: ParseStream<'_>, parsed_world: &mut Option<syn::Expr>) -> syn::Result<Self> {
        let fork = input.fork();
        let world: syn::Expr = input.parse()?;
        *parsed_world = Some(world.clone());
        if input.is_empty() {
            if matches!(world, syn::Expr::Call(_) | syn::Expr::MethodCall(_)) {
                // The transition alone: a task started from inside a code gear.
                *parsed_world = None;
                return Ok(Self {
                    world: None,
                    first: fork.parse()?,
                });
            }
            let hint = format!(
                "`par_goto!` needs the task's first transition: write `par_goto!({}, \
                 code_gear(args..))` in set-up code, or `par_goto!(code_gear(args..))` inside a \
                 code gear",
                written(&world)
            );
            return Err(syn::Error::new_spanned(&world, hint));
        }
        let comma: syn::Token![,] = input.parse()?;
        let first: TokenStream = input.parse()?;
        if first.is_empty() {
            return Err(syn::Error::new(
                comma.span,
                "the task's first transition is missing after the comma: write \
                 `par_goto!(world, code_gear(args..))`",
            ));
        }
        Ok(Self {
            world: Some(world),
            first,
        })
    }
}

/// `par_goto!(..)` as `codegear::par_goto!` passes it on: `[$crate] world, f(args)`.
pub(crate) fn par_goto(input: TokenStream) -> TokenStream {
    let (root, input) = split_root(input);
    let root = root.unwrap_or_else(|| quote!(::codegear));
    let fallbacks = fallback_imports(&root, &input);
    expand_in(input, &root)
        .map(|tokens| quote! { { #fallbacks #tokens } })
        .unwrap_or_else(|(error, world)| {
            let error = error.to_compile_error();
            match world {
                // Still a `TaskId`, so that the code after it is not unreachable and rustc adds
                // nothing to the real error (nor resolves a method on a wrong world).
                Some(world) => {
                    quote! { { #error; let _ = &(#world); #root::__private::invalid_task() } }
                }
                None => quote! { { #error; ::core::unreachable!() } },
            }
        })
}

/// The fallbacks that turn "no method" into a readable error: `par_goto` on something that is
/// not a `World`, `goto` on something that is not a code gear.
fn fallback_imports(root: &TokenStream, input: &TokenStream) -> TokenStream {
    let mut parts: Vec<TokenStream> = Vec::new();
    let mut current = TokenStream::new();
    for token in input.clone() {
        match &token {
            proc_macro2::TokenTree::Punct(p) if p.as_char() == ',' && parts.is_empty() => {
                parts.push(std::mem::take(&mut current));
            }
            _ => current.extend([token]),
        }
    }
    // `current` is the first transition (after the world and its comma, if any).
    let first = current;
    let world = if parts.is_empty() {
        TokenStream::new()
    } else {
        quote! {
            #[allow(unused_imports)]
            use #root::__private::ParGotoFallback as _;
        }
    };
    let goto = fallback_import(root, &first).unwrap_or_default();
    quote! { #world #goto }
}

/// The expansion, or the error with the world expression when it parsed.
#[cfg(test)]
pub(crate) fn expand(input: TokenStream) -> Result<TokenStream, (syn::Error, Option<TokenStream>)> {
    expand_in(input, &quote!(::codegear))
}

/// [`expand`] with the path of the codegear crate as the user depends on it.
fn expand_in(
    input: TokenStream,
    root: &TokenStream,
) -> Result<TokenStream, (syn::Error, Option<TokenStream>)> {
    if input.is_empty() {
        return Err((syn::Error::new(Span::call_site(), SHAPE), None));
    }
    let mut parsed_world = None;
    let parser = |stream: ParseStream<'_>| Input::parse(stream, &mut parsed_world);
    let parsed = parser.parse2(input);
    let Input { world, first } = parsed.map_err(|error| {
        let message = error.to_string();
        let error = if message.starts_with("`par_goto!`") || message.starts_with("the task's") {
            error
        } else {
            syn::Error::new(error.span(), format!("{SHAPE} ({message})"))
        };
        (error, parsed_world.as_ref().map(ToTokens::to_token_stream))
    })?;
    let goto = match expand_goto(first) {
        Ok(goto) => goto,
        Err(error) => return Err((error, world.as_ref().map(ToTokens::to_token_stream))),
    };
    match world {
        Some(world) => {
            let method = quote_spanned! {world.span()=> par_goto };
            Ok(quote! { (#world).#method(#goto) })
        }
        None => Ok(quote! { #root::__private::par_goto_from_code_gear(#goto) }),
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use proptest::prelude::*;
    use quote::quote;

    use super::{expand, par_goto};
    use crate::common::fuzz;

    fn error(input: TokenStream) -> String {
        expand(input).unwrap_err().0.to_string()
    }

    #[test]
    fn expands_to_a_method_call_with_the_goto() {
        let out = expand(quote!(world, philosopher(0, left, right, Next::exit())))
            .unwrap_or_else(|(error, _)| panic!("{error}"))
            .to_string();
        assert_eq!(
            out,
            "(world) . par_goto ((philosopher) . goto (0 , left , right , Next :: exit ()))"
        );
        let out = expand(quote!(self.world, stack.pop(next)))
            .unwrap()
            .to_string();
        assert!(
            out.starts_with("(self . world) . par_goto ((stack) . api ()"),
            "{out}"
        );
    }

    #[test]
    fn each_malformed_shape_says_what_to_write() {
        assert!(error(quote!()).contains("expected `par_goto!(world, code_gear(args..))`"));
        assert!(error(quote!(world)).contains(
            "needs the task's first transition: write `par_goto!(world, code_gear(args..))` in \
             set-up code, or `par_goto!(code_gear(args..))` inside a code gear"
        ));
        assert!(error(quote!(world,)).contains("first transition is missing"));
        assert!(error(quote!(world, philosopher)).contains("needs the arguments too"));
        assert!(error(quote!(world, 1 + 2)).contains("expected `goto!(code_gear(args..))`"));
    }

    #[test]
    fn the_transition_alone_starts_a_task_from_inside_a_code_gear() {
        let out = expand(quote!(philosopher(0, left, Next::exit())))
            .unwrap_or_else(|(error, _)| panic!("{error}"))
            .to_string();
        assert_eq!(
            out,
            ":: codegear :: __private :: par_goto_from_code_gear ((philosopher) . goto \
             (0 , left , Next :: exit ()))"
        );
        assert!(
            error(quote!(philosopher)).contains("needs the arguments too") || {
                // A bare path is no transition: the world-less form needs a call.
                error(quote!(philosopher)).contains("first transition")
            }
        );
    }

    #[test]
    fn errors_still_give_an_expression() {
        let out = par_goto(quote!(f)).to_string();
        assert!(out.contains("compile_error"), "{out}");
        let out = par_goto(quote!(1 +)).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("unreachable"), "{out}");
        // With the world known, a task id from it (no unreachable code after the error).
        let out = par_goto(quote!(world, f)).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("invalid_task ()"), "{out}");
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
