//! `offload!`: the block as a closure handed to the friend's slot, with every `exported!(name)`
//! inside it resolved through the hakase's export table.

use proc_macro2::{Delimiter, Group, Spacing, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};

use crate::common::CrateRoot;
use crate::offload::parse::OffloadInput;

pub(crate) fn expand(root: &CrateRoot, input: &OffloadInput) -> TokenStream {
    let private = root.private();
    let block = rewrite_exported(input.block.to_token_stream(), &private);
    let capture = &input.capture;
    quote! {
        #private::offload(#capture || #block)
    }
}

/// Replaces every `exported!(path)` (also written `offload::exported!(..)`), at any depth and
/// inside other macros' arguments, by the lookup of `path`'s symbol. Anything that does not fit
/// is left alone, for the bare `exported!` macro to report.
pub(crate) fn rewrite_exported(tokens: TokenStream, private: &TokenStream) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out: Vec<TokenTree> = Vec::with_capacity(trees.len());
    let mut i = 0;
    while i < trees.len() {
        if let Some(replacement) = exported_call(&trees[i..], private) {
            pop_path_prefix(&mut out);
            out.extend(replacement);
            i += 3;
            continue;
        }
        match &trees[i] {
            TokenTree::Group(group) => {
                let mut rebuilt =
                    Group::new(group.delimiter(), rewrite_exported(group.stream(), private));
                rebuilt.set_span(group.span());
                out.push(TokenTree::Group(rebuilt));
            }
            other => out.push(other.clone()),
        }
        i += 1;
    }
    out.into_iter().collect()
}

/// `exported ! (path)` at the start of `trees`, as the lookup expression.
fn exported_call(trees: &[TokenTree], private: &TokenStream) -> Option<TokenStream> {
    let [
        TokenTree::Ident(name),
        TokenTree::Punct(bang),
        TokenTree::Group(args),
        ..,
    ] = trees
    else {
        return None;
    };
    if name != "exported" || bang.as_char() != '!' || args.delimiter() == Delimiter::None {
        return None;
    }
    let path: syn::Path = syn::parse2(args.stream()).ok()?;
    // Everything at the path's span, so that a failed trait bound on it is reported once.
    let span = syn::spanned::Spanned::span(&path);
    Some(quote_spanned! {span=>
        ({
            static __GEARS_SYMBOL: #private::SymbolCache = #private::SymbolCache::new();
            <#path as #private::ExportedSymbol>::resolve(&__GEARS_SYMBOL)
        })
    })
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
