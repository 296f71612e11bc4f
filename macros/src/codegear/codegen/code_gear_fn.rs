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
    let mut function = function.clone();
    super::super::parse::repair_next_outputs(&mut function.sig);
    let function = &function;
    let private = root.private();
    let ident = &function.sig.ident;
    let vis = &function.vis;
    let arity = function.sig.inputs.len();
    // The written parameter types where all of them can be named in a static (uses are then
    // still checked against them); any types otherwise.
    let generic_names: Vec<String> = function
        .sig
        .generics
        .type_params()
        .map(|p| p.ident.to_string())
        .collect();
    let written: Option<Vec<TokenStream>> = function
        .sig
        .inputs
        .iter()
        .map(|input| match input {
            syn::FnArg::Typed(arg) if nameable(&arg.ty, &generic_names) => {
                Some(wire_of(&arg.ty, root))
            }
            _ => None,
        })
        .collect();
    let (ty, init) = match written {
        Some(types) if arity <= 12 => (
            quote!(#private::BrokenCodeGear<(#(#types,)*)>),
            quote!(#private::BrokenCodeGear::new()),
        ),
        _ => (quote!(#private::Untyped<#arity>), quote!(#private::Untyped)),
    };
    let mut body = function.clone();
    body.sig.ident = format_ident!("__gears_body");
    body.vis = syn::Visibility::Inherited;
    body.attrs.retain(|attr| !attr.path().is_ident("doc"));
    if super::super::parse::borrows_interface(&function.sig) {
        return quote! {
            #[allow(non_upper_case_globals)]
            #vis static #ident: #ty = #init;
        };
    }
    quote! {
        #[allow(non_upper_case_globals)]
        #vis static #ident: #ty = #init;
        const _: () = {
            #[allow(dead_code, clippy::needless_pass_by_value)]
            #body
        };
    }
}

/// Whether `ty` can be written in a static's type: no `impl Trait`, no type parameter of the
/// function, no `Self`.
fn nameable(ty: &syn::Type, generic_names: &[String]) -> bool {
    if matches!(
        ty,
        syn::Type::ImplTrait(_) | syn::Type::Infer(_) | syn::Type::Macro(_)
    ) {
        return false;
    }
    fn walk(tokens: TokenStream, generic_names: &[String]) -> bool {
        tokens.into_iter().all(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => {
                let name = ident.to_string();
                name != "impl" && name != "Self" && !generic_names.contains(&name)
            }
            proc_macro2::TokenTree::Group(group) => walk(group.stream(), generic_names),
            _ => true,
        })
    }
    walk(quote!(#ty), generic_names)
}

/// How a written parameter travels: `Mut<'_, T>`/`Ref<'_, T>` as `Gear<T>`, others as written.
fn wire_of(ty: &syn::Type, root: &CrateRoot) -> TokenStream {
    match super::super::parse::classify(ty) {
        Ok(
            super::super::model::ParamKind::Mut(inner) | super::super::model::ParamKind::Ref(inner),
        ) => {
            quote!(#root::Gear<#inner>)
        }
        // `Mut<'_, dyn I>` (an error): its handle, as written.
        _ => match super::super::parse::borrowed_type(ty) {
            Some(inner) => quote!(#root::Gear<#inner>),
            None => quote!(#ty),
        },
    }
}
