//! `declare_exports!`, for process friends: per declaration whose parameter and return types
//! all cross processes, `name::remote(..)` (the friend's call, arguments encoded into its
//! region) and a registered server (the hakase's decoding, call and encoding).
//!
//! Which types cross is decided here from their syntax (the wire types of
//! `offload::process`), so that a declaration with any other type keeps compiling exactly as
//! before, only without `remote`. A declaration marked `#[remote]` gets `remote` whatever its
//! types are named (its own types implement `Wire`, e.g. by `#[derive(Wire)]`; rustc checks
//! that), and a type that can never cross is an error there.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;

use crate::common::CrateRoot;

/// Owned value types that cross: the primitives, `String`, and `Vec`/`Option`/`Result`/tuples
/// of such.
fn crosses_owned(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Paren(inner) => crosses_owned(&inner.elem),
        syn::Type::Group(inner) => crosses_owned(&inner.elem),
        syn::Type::Tuple(tuple) => tuple.elems.len() <= 4 && tuple.elems.iter().all(crosses_owned),
        syn::Type::Array(array) => crosses_owned(&array.elem),
        syn::Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return false;
            };
            let name = last.ident.to_string();
            match &last.arguments {
                syn::PathArguments::None => matches!(
                    name.as_str(),
                    "u8" | "u16"
                        | "u32"
                        | "u64"
                        | "u128"
                        | "usize"
                        | "i8"
                        | "i16"
                        | "i32"
                        | "i64"
                        | "i128"
                        | "isize"
                        | "f32"
                        | "f64"
                        | "bool"
                        | "char"
                        | "String"
                ),
                syn::PathArguments::AngleBracketed(args) => {
                    let types: Vec<&syn::Type> = args
                        .args
                        .iter()
                        .filter_map(|arg| match arg {
                            syn::GenericArgument::Type(ty) => Some(ty),
                            _ => None,
                        })
                        .collect();
                    let all =
                        types.len() == args.args.len() && types.iter().all(|t| crosses_owned(t));
                    all && match name.as_str() {
                        "Vec" | "Option" => types.len() == 1,
                        "Result" => types.len() == 2,
                        _ => false,
                    }
                }
                syn::PathArguments::Parenthesized(_) => false,
            }
        }
        _ => false,
    }
}

/// Parameter types that cross: the owned ones, `&str` and `&[T]`.
fn crosses_param(ty: &syn::Type) -> bool {
    match ty {
        syn::Type::Reference(reference) if reference.mutability.is_none() => {
            match &*reference.elem {
                syn::Type::Path(path) => path.path.is_ident("str"),
                syn::Type::Slice(slice) => crosses_owned(&slice.elem),
                _ => false,
            }
        }
        ty => crosses_owned(ty),
    }
}

/// In a `#[remote]` declaration: why `ty` (an owned type) can never cross, if it cannot. Any
/// named type may (rustc checks that it implements `Wire`).
fn never_crosses_owned(ty: &syn::Type) -> Option<(&syn::Type, &'static str)> {
    match ty {
        syn::Type::Paren(inner) => never_crosses_owned(&inner.elem),
        syn::Type::Group(inner) => never_crosses_owned(&inner.elem),
        syn::Type::Tuple(tuple) if tuple.elems.len() > 4 => Some((
            ty,
            "a tuple of more than four crosses no process: group the values in a struct with \
             #[derive(Wire)]",
        )),
        syn::Type::Tuple(tuple) => tuple.elems.iter().find_map(never_crosses_owned),
        syn::Type::Array(array) => never_crosses_owned(&array.elem),
        syn::Type::Path(path) if path.qself.is_none() => {
            path.path
                .segments
                .iter()
                .find_map(|segment| match &segment.arguments {
                    syn::PathArguments::AngleBracketed(args) => {
                        args.args.iter().find_map(|arg| match arg {
                            syn::GenericArgument::Type(ty) => never_crosses_owned(ty),
                            _ => None,
                        })
                    }
                    _ => None,
                })
        }
        syn::Type::Reference(_) => Some((
            ty,
            "a reference crosses no process inside a value: the hakase decodes owned values; \
             use the owned type (`String` for `&str`, `Vec<T>` for `&[T]`, `T` for `&T`)",
        )),
        syn::Type::Ptr(_) => Some((
            ty,
            "a raw pointer crosses no process: an address means nothing in the other one (and \
             the hakase never follows one a friend sent); pass the value, or an index",
        )),
        _ => Some((
            ty,
            "this type crosses no process: use a named type that implements Wire (derive it \
             with #[derive(Wire)])",
        )),
    }
}

/// In a `#[remote]` declaration: why parameter type `ty` can never cross, if it cannot.
fn never_crosses_param(ty: &syn::Type) -> Option<(&syn::Type, &'static str)> {
    match ty {
        syn::Type::Reference(reference) if reference.mutability.is_none() => {
            match &*reference.elem {
                syn::Type::Path(path) if path.path.is_ident("str") => None,
                syn::Type::Slice(slice) => never_crosses_owned(&slice.elem),
                _ => Some((
                    ty,
                    "only `&str` and `&[T]` parameters are lent across processes: take the \
                     value itself (`T` for `&T`), which is copied into the request",
                )),
            }
        }
        syn::Type::Reference(_) => Some((
            ty,
            "a `&mut` parameter crosses no process: the hakase works on its own copy of the \
             arguments, so changes would be lost; take the value and return the changed one",
        )),
        ty => never_crosses_owned(ty),
    }
}

/// Whether `attrs` holds `#[remote]`.
pub(crate) fn is_marked_remote(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| attr.path().is_ident("remote"))
}

/// Checks a `#[remote]` declaration: every type must be able to cross.
pub(crate) fn check_forced(sig: &syn::Signature, errors: &mut crate::common::Errors) {
    // Generic declarations are refused by `check::signature` before this.
    for input in &sig.inputs {
        if let syn::FnArg::Typed(typed) = input
            && let Some((ty, why)) = never_crosses_param(&typed.ty)
        {
            errors.error(ty, why);
        }
    }
    if let syn::ReturnType::Type(_, ty) = &sig.output
        && let Some((ty, why)) = never_crosses_owned(ty)
    {
        errors.error(ty, why);
    }
}

/// A `remote` that compiles and is never run, for a `#[remote]` declaration with an error.
pub(crate) fn stand_in(
    root: &CrateRoot,
    sig: &syn::Signature,
    vis: &syn::Visibility,
) -> TokenStream {
    let private = root.private();
    let name = &sig.ident;
    let generics = &sig.generics;
    let inputs = &sig.inputs;
    let ret: syn::Type = match &sig.output {
        syn::ReturnType::Default => syn::parse_quote!(()),
        syn::ReturnType::Type(_, ty) => (**ty).clone(),
    };
    quote! {
        impl #name {
            #[allow(dead_code, unused_variables)]
            #vis fn remote #generics (#inputs)
                -> ::core::result::Result<#ret, #private::RemoteError>
            {
                ::core::unreachable!()
            }
        }
    }
}

/// Turns every lifetime into `'_`, for the parameter types named inside function bodies.
struct ElideLifetimes;

impl VisitMut for ElideLifetimes {
    fn visit_lifetime_mut(&mut self, lifetime: &mut syn::Lifetime) {
        if lifetime.ident != "static" {
            *lifetime = syn::Lifetime::new("'_", lifetime.span());
        }
    }
}

/// `remote` and the server for `sig` if its types cross (or, `forced` by `#[remote]`, whatever
/// they are named; `check_forced` has accepted it).
pub(crate) fn expand(
    root: &CrateRoot,
    sig: &syn::Signature,
    vis: &syn::Visibility,
    forced: bool,
) -> TokenStream {
    if sig.unsafety.is_some()
        || sig.abi.is_some()
        || sig.variadic.is_some()
        || sig.generics.type_params().next().is_some()
        || sig.generics.const_params().next().is_some()
    {
        return TokenStream::new();
    }
    let types: Vec<&syn::Type> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(typed) => Some(&*typed.ty),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    let ret: syn::Type = match &sig.output {
        syn::ReturnType::Default => syn::parse_quote!(()),
        syn::ReturnType::Type(_, ty) => (**ty).clone(),
    };
    if types.len() != sig.inputs.len()
        || (!forced && (!types.iter().all(|t| crosses_param(t)) || !crosses_owned(&ret)))
    {
        return TokenStream::new();
    }
    let private = root.private();
    let name = &sig.ident;
    let name_text = name.to_string();
    let generics = &sig.generics;
    let args: Vec<syn::Ident> = (0..types.len()).map(|i| format_ident!("arg{i}")).collect();
    let owned: Vec<syn::Ident> = (0..types.len())
        .map(|i| format_ident!("owned{i}"))
        .collect();
    let elided: Vec<syn::Type> = types
        .iter()
        .map(|ty| {
            let mut ty = (*ty).clone();
            ElideLifetimes.visit_type_mut(&mut ty);
            ty
        })
        .collect();
    let doc = format!(
        "Calls `{name_text}` on the hakase from a process friend: the arguments are copied \
         into the friend's region, the hakase checks and decodes them, calls its \
         implementation, and the value is copied back.\n\n# Errors\n\nIf this is not a \
         process friend, or the hakase refused the call (it says why) or the function \
         panicked there."
    );
    quote! {
        impl #name {
            #[doc = #doc]
            #[allow(dead_code)]
            #vis fn remote #generics (#(#args: #types),*)
                -> ::core::result::Result<#ret, #private::RemoteError>
            {
                static ID: #private::RemoteId = #private::RemoteId::new();
                #private::remote_call::<#name, #ret>(&ID, |out| {
                    #( #private::encode_arg::<#elided>(&#args, out); )*
                })
            }
        }
        #private::inventory::submit! {
            #private::RemoteEntry::new(#name_text, {
                fn serve(
                    input: &mut #private::Reader<'_>,
                    out: &mut #private::Writer,
                ) -> ::core::result::Result<(), #private::WireError> {
                    static CACHE: #private::SymbolCache = #private::SymbolCache::new();
                    let function = CACHE.resolve::<#name>();
                    #( let mut #owned = #private::decode_arg::<#elided>(input)?; )*
                    input.finish()?;
                    let value = function(#( #private::view_arg::<#elided>(&mut #owned) ),*);
                    #private::Wire::encode(&value, out);
                    ::core::result::Result::Ok(())
                }
                serve
            })
        }
    }
}
