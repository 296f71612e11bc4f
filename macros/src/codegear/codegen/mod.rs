//! Codegen stage: one file per generated concern.

pub(crate) mod code_gear_fn;
pub(crate) mod data_gear;
mod derives;
pub(crate) mod impl_interface;
pub(crate) mod interface;
mod stub;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};

use super::model::{Param, ParamKind};
use super::text::tokens_text;
use crate::common::CrateRoot;

/// `Site::new(file!(), line!(), column!())` at the user's token.
fn site(root: &CrateRoot, span: Span) -> TokenStream {
    let private = root.private();
    quote_spanned! {span=> #private::Site::new(::core::file!(), ::core::line!(), ::core::column!()) }
}

/// The `&[Param { .. }]` table of a code gear, `self` first for an API code gear.
fn param_table(root: &CrateRoot, receiver: Option<(&str, bool)>, params: &[Param]) -> TokenStream {
    let mut rows = Vec::new();
    if let Some((self_type, is_mut)) = receiver {
        let (kind, ty) = if is_mut {
            (quote!(Mut), format!("Mut<{self_type}>"))
        } else {
            (quote!(Ref), format!("Ref<{self_type}>"))
        };
        rows.push(quote! { #root::Param { name: "self", ty: #ty, kind: #root::ParamKind::#kind } });
    }
    for param in params {
        let name = param.name.to_string();
        let ty = tokens_text(&param.ty);
        let kind = syn::Ident::new(param.kind.runtime_name(), Span::call_site());
        rows.push(quote! { #root::Param { name: #name, ty: #ty, kind: #root::ParamKind::#kind } });
    }
    quote! { &[#(#rows),*] }
}

/// Compile-time checks of parameter types, spanned at the user's types.
fn param_assertions(root: &CrateRoot, params: &[Param]) -> TokenStream {
    // Primitive values need no check: most code gears take only those, and every item the
    // expansion adds is paid for in the crate's build.
    let checks = params
        .iter()
        .filter(|param| !is_primitive_value(param))
        .map(|param| match &param.kind {
            ParamKind::Value | ParamKind::Next | ParamKind::Handle => {
                let ty = &param.ty;
                quote_spanned! {ty.span()=> let () = <#ty as #root::CodeGearValue>::CHECKED; }
            }
            ParamKind::Mut(inner) | ParamKind::Ref(inner) => {
                // The one place the data-gear bound is asserted (the stub borrows type-erased),
                // spanned on the user's type; a projection, so that no note points into codegear.
                quote_spanned! {inner.span()=> let _ = <#inner as #root::DataGear>::INFO; }
            }
        });
    let checks: Vec<TokenStream> = checks.collect();
    if checks.is_empty() {
        return TokenStream::new();
    }
    quote! { const _: () = { #(#checks)* }; }
}

/// A value parameter whose type is a primitive that is always a `Value` (`u64`, `bool`..):
/// written as a single identifier, which a user type of the same name would
/// shadow only by defining, say, its own `struct u64`.
fn is_primitive_value(param: &Param) -> bool {
    const PRIMITIVES: &[&str] = &[
        "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize",
        "bool", "char",
    ];
    if !matches!(param.kind, ParamKind::Value) {
        return false;
    }
    match &param.ty {
        syn::Type::Path(path) if path.qself.is_none() => path
            .path
            .get_ident()
            .is_some_and(|ident| PRIMITIVES.iter().any(|p| ident == p)),
        _ => false,
    }
}

use syn::spanned::Spanned as _;
