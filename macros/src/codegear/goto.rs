//! `goto!` and `next!`: transitions and continuations, resolved by rustc through methods on the
//! code-gear statics, `Next` values and `Gear<dyn I>` handles, so that argument counts and types
//! are checked at the user's own tokens.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

const GOTO_SHAPES: &str = "expected `goto!(code_gear(args..))`, `goto!(next(args..))` with a \
                           continuation `next: Next<(..)>`, or `goto!(gear.api(args..))` with \
                           `gear: Gear<dyn Interface>`";

/// The most arguments a `goto!(f(..))` fallback exists for (`codegear::__private::GotoFallbackN`).
const MAX_FALLBACK_ARITY: usize = 12;

/// `goto!(f(a, b))`, `goto!(k(a))`, `goto!(g.api(a))`, as `codegear::goto!` passes it on:
/// `[$crate] f(a, b)`.
pub(crate) fn goto(input: TokenStream) -> TokenStream {
    let (root, input) = split_root(input);
    // Parsed once: a crate's build runs this for every transition it writes.
    parse_goto(input)
        .and_then(|expr| {
            let fallback = root.and_then(|root| fallback_for(&root, &expr));
            let call = expand_goto_expr(expr)?;
            Ok(match fallback {
                // Where the target has no `goto` of its own (a plain `fn`), the call picks
                // the fallback in scope, whose bound says what is wrong (`goto_target.rs`).
                Some(import) => quote! { { #import #call } },
                None => call,
            })
        })
        .unwrap_or_else(|error| {
            // Still a `Goto`-typed expression, so that the code around it type-checks.
            let error = error.to_compile_error();
            quote! { { #error; ::core::unreachable!() } }
        })
}

/// Splits off the `[$crate]` that the `codegear::goto!` shim puts first.
pub(crate) fn split_root(input: TokenStream) -> (Option<TokenStream>, TokenStream) {
    let mut tokens = input.clone().into_iter();
    match tokens.next() {
        Some(proc_macro2::TokenTree::Group(group))
            if group.delimiter() == proc_macro2::Delimiter::Bracket =>
        {
            (Some(group.stream()), tokens.collect())
        }
        _ => (None, input),
    }
}

/// `use $crate::__private::GotoFallbackN as _;` for `goto!(f(..N args))`, `ApiFallback` for
/// `goto!(gear.api(..))`.
pub(crate) fn fallback_import(root: &TokenStream, input: &TokenStream) -> Option<TokenStream> {
    fallback_for(root, &syn::parse2::<syn::Expr>(input.clone()).ok()?)
}

/// [`fallback_import`] of the parsed transition.
fn fallback_for(root: &TokenStream, expr: &syn::Expr) -> Option<TokenStream> {
    let call = match expr {
        syn::Expr::Call(call) => call,
        // `goto!(gear.api(..))` on something that is not a `Gear<dyn Interface>`.
        syn::Expr::MethodCall(_) => {
            return Some(quote! {
                #[allow(unused_imports)]
                use #root::__private::ApiFallback as _;
            });
        }
        _ => return None,
    };
    let arity = call.args.len();
    (arity <= MAX_FALLBACK_ARITY).then(|| {
        let fallback = quote::format_ident!("GotoFallback{}", arity);
        quote! {
            #[allow(unused_imports)]
            use #root::__private::#fallback as _;
        }
    })
}

pub(crate) fn expand_goto(input: TokenStream) -> syn::Result<TokenStream> {
    expand_goto_expr(parse_goto(input)?)
}

/// The transition `goto!` was given, or what shapes it takes.
fn parse_goto(input: TokenStream) -> syn::Result<syn::Expr> {
    if input.is_empty() {
        return Err(syn::Error::new(proc_macro2::Span::call_site(), GOTO_SHAPES));
    }
    syn::parse2(input)
        .map_err(|error| syn::Error::new(error.span(), format!("{GOTO_SHAPES} ({error})")))
}

fn expand_goto_expr(expr: syn::Expr) -> syn::Result<TokenStream> {
    match expr {
        syn::Expr::Call(call) => {
            let func = &call.func;
            let args = call.args.iter();
            let method = quote_spanned! {func.span()=> goto };
            // The user's parentheses, so that rustc's "provide the argument" suggestion edits
            // the user's call (not the `codegear::goto!` shim it came through).
            let args = quote_spanned! {call.paren_token.span.join()=> (#(#args),*) };
            Ok(quote! { (#func).#method #args })
        }
        syn::Expr::MethodCall(call) => {
            if let Some(turbofish) = &call.turbofish {
                return Err(syn::Error::new_spanned(
                    turbofish,
                    "interface code gears are not generic; remove the turbofish",
                ));
            }
            let receiver = &call.receiver;
            let method = &call.method;
            let args = call.args.iter();
            let api = quote_spanned! {receiver.span()=> api };
            let args = quote_spanned! {call.paren_token.span.join()=> (#(#args),*) };
            Ok(quote! { (#receiver).#api().#method #args })
        }
        syn::Expr::Path(path) => Err(syn::Error::new_spanned(
            &path,
            format!(
                "`goto!` needs the arguments too: write `goto!({}(..))`; {GOTO_SHAPES}",
                super::text::tokens_text(&path)
            ),
        )),
        other => Err(syn::Error::new_spanned(other, GOTO_SHAPES)),
    }
}

/// `next!(f(a, b))`: `f` with its first parameters bound, as a `Next<(rest..)>`.
/// As `codegear::next!` passes it on: `[$crate] f(a, ..)`.
pub(crate) fn next(input: TokenStream) -> TokenStream {
    let (root, input) = split_root(input);
    let fallback = match syn::parse2::<syn::Expr>(input.clone()) {
        Ok(syn::Expr::Call(_)) => Some(quote!(BindFallback)),
        Ok(syn::Expr::MethodCall(_)) => Some(quote!(ApiFallback)),
        _ => None,
    };
    let fallback = root.zip(fallback).map(|(root, fallback)| {
        quote! {
            #[allow(unused_imports)]
            use #root::__private::#fallback as _;
        }
    });
    expand_next(input)
        .map(|call| match fallback {
            // As in `goto`: a target without a usable `bind` of its own gets the
            // fallback's error (or none, where its definition's error already says it all).
            Some(import) => quote! { { #import #call } },
            None => call,
        })
        .unwrap_or_else(|error| {
            let error = error.to_compile_error();
            quote! { { #error; ::core::unreachable!() } }
        })
}

pub(crate) fn expand_next(input: TokenStream) -> syn::Result<TokenStream> {
    const SHAPE: &str = "expected `next!(code_gear(first_args..))`: a code gear with its first \
                         parameters bound (the continuation receives the rest), or \
                         `next!(gear.api(args..))`: an interface code gear with all its \
                         arguments bound";
    if input.is_empty() {
        return Err(syn::Error::new(proc_macro2::Span::call_site(), SHAPE));
    }
    let expr: syn::Expr = syn::parse2(input)
        .map_err(|error| syn::Error::new(error.span(), format!("{SHAPE} ({error})")))?;
    match expr {
        syn::Expr::Call(call) => {
            let func = &call.func;
            let args = call.args.iter();
            let method = quote_spanned! {func.span()=> bind };
            let tuple = quote_spanned! {call.paren_token.span.join()=> (#(#args,)*) };
            Ok(quote! { (#func).#method(#tuple) })
        }
        syn::Expr::MethodCall(call) => {
            if let Some(turbofish) = &call.turbofish {
                return Err(syn::Error::new_spanned(
                    turbofish,
                    "interface code gears are not generic; remove the turbofish",
                ));
            }
            let receiver = &call.receiver;
            let method = &call.method;
            let args = call.args.iter();
            let next = quote_spanned! {receiver.span()=> continuations };
            Ok(quote! { (#receiver).#next().#method(#(#args),*) })
        }
        syn::Expr::Path(path) => Err(syn::Error::new_spanned(
            &path,
            format!(
                "write `next!({}())` to bind no arguments; {SHAPE}",
                super::text::tokens_text(&path)
            ),
        )),
        other => Err(syn::Error::new_spanned(other, SHAPE)),
    }
}
