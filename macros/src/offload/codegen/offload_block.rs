//! `offload!`: the block as a closure handed to the friend's slot, with every `exported!(name)`
//! inside it resolved through the hakase's export table.

use proc_macro2::{Delimiter, Group, Spacing, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};

use crate::common::CrateRoot;
use crate::offload::parse::OffloadInput;

pub(crate) fn expand(root: &CrateRoot, input: &OffloadInput) -> TokenStream {
    let private = root.private();
    let block = rewrite_exported(input.block.to_token_stream(), &private, false);
    let capture = &input.capture;
    let on_hakase = on_hakase();
    // The site is registered with the path of the function it is in (the path of a `fn` item
    // nested here names it), so that a process friend whose body contains an `offload!` is
    // refused before it starts (`offload::process`).
    let site = proc_macro2::Ident::new("offload_site", proc_macro2::Span::mixed_site());
    quote! {
        {
            fn #site() {}
            #private::inventory::submit! {
                #private::OffloadSite::new(
                    || ::core::any::type_name_of_val(&#site),
                    ::core::file!(),
                    ::core::line!(),
                    ::core::column!(),
                )
            }
            #private::offload(#capture |#on_hakase: #private::OnHakase<'_>| #block)
        }
    }
}

/// The block's proof that it runs on the hakase, which every `exported!` call uses (so that a
/// closure calling one cannot leave the block). Hygienic: user code cannot name it.
fn on_hakase() -> proc_macro2::Ident {
    proc_macro2::Ident::new("__gears_on_hakase", proc_macro2::Span::mixed_site())
}

/// Replaces every `exported!(path)(args)` (also written `offload::exported!(..)`), at any depth
/// and inside other macros' arguments, by the call through the lookup of `path`'s symbol.
/// Inside a nested item (`fn`, `impl`, `trait`, `mod` body), where the block's proof of running
/// on the hakase is out of reach and the item could be called from the friend, it is an error
/// instead. Anything that does not fit is left alone, for the bare `exported!` macro to report.
pub(crate) fn rewrite_exported(
    tokens: TokenStream,
    private: &TokenStream,
    in_item: bool,
) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(trees.len());
    // Set after `fn name`, `impl`, `trait`, `mod`: the next braced group is an item's body.
    let mut item_ahead = false;
    let mut i = 0;
    while i < trees.len() {
        let call = if in_item {
            nested_item_call(&trees[i..])
        } else {
            exported_call(&trees[i..], private)
        };
        if let Some((replacement, used)) = call {
            pop_path_prefix(&mut out);
            out.extend(replacement);
            i += used;
            continue;
        }
        match &trees[i] {
            TokenTree::Group(group) => {
                let body = item_ahead && group.delimiter() == Delimiter::Brace;
                if group.delimiter() == Delimiter::Brace {
                    item_ahead = false;
                }
                let mut rebuilt = Group::new(
                    group.delimiter(),
                    rewrite_exported(group.stream(), private, in_item || body),
                );
                rebuilt.set_span(group.span());
                out.push(TokenTree::Group(rebuilt));
            }
            TokenTree::Ident(ident) => {
                let next_is_name = matches!(trees.get(i + 1), Some(TokenTree::Ident(_)));
                if (ident == "fn" && next_is_name)
                    || ident == "impl"
                    || ident == "trait"
                    || ident == "mod"
                {
                    item_ahead = true;
                }
                out.push(trees[i].clone());
            }
            TokenTree::Punct(punct) if punct.as_char() == ';' => {
                item_ahead = false;
                out.push(trees[i].clone());
            }
            other => out.push(other.clone()),
        }
        i += 1;
    }
    out.into_iter().collect()
}

/// `exported!(path)` inside a nested item: an error at it, replacing the call (and its
/// arguments, if any) so that nothing else is reported about it.
fn nested_item_call(trees: &[TokenTree]) -> Option<(TokenStream, usize)> {
    let [
        TokenTree::Ident(name),
        TokenTree::Punct(bang),
        TokenTree::Group(args),
        rest @ ..,
    ] = trees
    else {
        return None;
    };
    if name != "exported" || bang.as_char() != '!' || args.delimiter() == Delimiter::None {
        return None;
    }
    let used = match rest.first() {
        Some(TokenTree::Group(call)) if call.delimiter() == Delimiter::Parenthesis => 4,
        _ => 3,
    };
    let error = syn::Error::new_spanned(
        quote!(#name #bang #args),
        "`exported!` cannot be used inside an item (`fn`, `impl`, ..) nested in an `offload!` \
         block: the item can be called from anywhere, the friend included, and a hakase function \
         only runs on the hakase; call it in the block itself, or in a closure inside the block",
    )
    .to_compile_error();
    Some((quote!((#error)), used))
}

/// `exported ! (path) (args)` at the start of `trees`, as the call through the looked-up
/// function, and how many trees it replaces. `exported!(path)` not followed by its arguments is
/// an error: the function may only be called right there, never taken as a value (which could
/// leave the block and be called on the friend).
fn exported_call(trees: &[TokenTree], private: &TokenStream) -> Option<(TokenStream, usize)> {
    let [
        TokenTree::Ident(name),
        TokenTree::Punct(bang),
        TokenTree::Group(args),
        rest @ ..,
    ] = trees
    else {
        return None;
    };
    if name != "exported" || bang.as_char() != '!' || args.delimiter() == Delimiter::None {
        return None;
    }
    let path: syn::Path = syn::parse2(args.stream()).ok()?;
    let call_args = match rest.first() {
        Some(TokenTree::Group(call)) if call.delimiter() == Delimiter::Parenthesis => call,
        _ => {
            let error = syn::Error::new_spanned(
                quote!(#name #bang #args),
                format!(
                    "`exported!({})` must be called where it stands, e.g. \
                     `exported!({})(args)`: a hakase function cannot be taken as a value, \
                     since the value could leave the `offload!` block and be called on the friend",
                    quote!(#path),
                    quote!(#path),
                ),
            )
            .to_compile_error();
            return Some((quote!((#error)), 3));
        }
    };
    let on_hakase = on_hakase();
    // The lookup at the path's span, so that a failed trait bound on it is reported once.
    let span = syn::spanned::Spanned::span(&path);
    let lookup = quote_spanned! {span=>
        {
            static __GEARS_SYMBOL: #private::SymbolCache = #private::SymbolCache::new();
            <#path as #private::ExportedSymbol>::resolve(&__GEARS_SYMBOL, #on_hakase)
        }
    };
    // The callee spans `(path)`, so that rustc's suggestions about the call's arguments edit
    // what follows `exported!(path)`, and never the macro's own parentheses.
    let mut lookup = Group::new(Delimiter::Parenthesis, lookup);
    lookup.set_span(args.span());
    let call_args = rewrite_exported(call_args.stream(), private, false);
    let mut group = Group::new(Delimiter::Parenthesis, call_args);
    if let Some(TokenTree::Group(call)) = rest.first() {
        group.set_span(call.span());
    }
    Some((quote!(#lookup #group), 4))
}

/// Drops a path prefix (`offload::`, `::offload::`) already emitted before `exported`.
fn pop_path_prefix(out: &mut Vec<TokenTree>) {
    loop {
        let n = out.len();
        let colons = n >= 2
            && matches!(&out[n - 2], TokenTree::Punct(p) if p.as_char() == ':' && p.spacing() == Spacing::Joint)
            && matches!(&out[n - 1], TokenTree::Punct(p) if p.as_char() == ':');
        if !colons {
            return;
        }
        out.truncate(n - 2);
        if matches!(out.last(), Some(TokenTree::Ident(_))) {
            out.pop();
        } else {
            return;
        }
    }
}
