//! `#[code_gear] fn f(..) -> Goto`: the static `f` (its row in the code-gear table), its stub,
//! the body under a hidden name, and its registration.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::super::model::CodeGearFn;
use super::{param_assertions, param_table, site, stub};
use crate::common::CrateRoot;

pub(crate) fn expand(def: &CodeGearFn, root: &CrateRoot) -> TokenStream {
    let private = root.private();
    let function = &def.function;
    let ident = &function.sig.ident;
    let name = ident.to_string();
    let vis = &function.vis;
    let (docs, other_attrs): (Vec<_>, Vec<_>) = function
        .attrs
        .iter()
        .partition(|attr| attr.path().is_ident("doc"));

    let body_ident = format_ident!("__gears_body");
    let mut body = function.clone();
    body.sig.ident = body_ident.clone();
    body.vis = syn::Visibility::Inherited;
    body.attrs = other_attrs.into_iter().cloned().collect();

    let wire: Vec<TokenStream> = def.params.iter().map(|p| p.wire_type(root)).collect();
    let stub = stub::stub(
        root,
        None,
        &def.params,
        |names| quote! { #body_ident(#(#names),*) },
    );
    let assertions = param_assertions(root, &def.params);
    let params = param_table(root, None, &def.params);
    let site = site(root, ident.span());

    quote! {
        #(#docs)*
        #[allow(non_upper_case_globals)]
        #vis static #ident: #root::CodeGear<(#(#wire,)*)> = {
            #[allow(clippy::needless_pass_by_value)]
            #body
            #stub
            #assertions
            #root::CodeGear::new(#root::CodeGearInfo::new(
                #name,
                ::core::concat!(::core::module_path!(), "::", #name),
                ::core::option::Option::None,
                #params,
                #site,
                __gears_stub,
            ))
        };
        #private::inventory::submit! { #private::CodeGearEntry::of(&#ident) }
    }
}

/// What `#[code_gear] fn f` emits beside its errors: `f` as a code gear of the same arity that
/// accepts any arguments (so that `goto!(f(..))` elsewhere adds no errors), and the user's
/// function under a hidden name, so that its body is still checked.
pub(crate) fn stand_in(function: &syn::ItemFn, root: &CrateRoot) -> TokenStream {
    let private = root.private();
    let ident = &function.sig.ident;
    let vis = &function.vis;
    let arity = function.sig.inputs.len();
    let mut body = function.clone();
    body.sig.ident = format_ident!("__gears_body");
    body.vis = syn::Visibility::Inherited;
    body.attrs.retain(|attr| !attr.path().is_ident("doc"));
    quote! {
        #[allow(non_upper_case_globals)]
        #vis static #ident: #private::BrokenCodeGear<#arity> = #private::BrokenCodeGear;
        const _: () = {
            #[allow(dead_code, clippy::needless_pass_by_value)]
            #body
        };
    }
}
