//! `#[data_gear]`: the derives the meta level needs, the `DataGear` impl with the type's row in
//! the data-gear table (GearsOS's `enum DataType` / `union Data`), and its registration.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::super::args::Instances;
use super::super::generics;
use super::super::model::DataGearDef;
use super::super::text::tokens_text;
use super::site;
use crate::common::CrateRoot;

const NEEDED: [&str; 5] = ["Clone", "Debug", "PartialEq", "Eq", "Hash"];

/// Derives the user already wrote, by last path segment.
fn existing_derives(attrs: &[syn::Attribute]) -> Vec<String> {
    let mut found = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident("derive")) {
        let _ = attr.parse_nested_meta(|meta| {
            if let Some(last) = meta.path.segments.last() {
                found.push(last.ident.to_string());
            }
            Ok(())
        });
    }
    found
}

/// `struct Name { a: T, .. }` as one line, for `describe()`.
fn declaration(item: &syn::DeriveInput, name: &str) -> String {
    let fields = |fields: &syn::Fields| -> String {
        let list: Vec<String> = fields
            .iter()
            .map(|f| {
                let ty = tokens_text(&f.ty);
                match &f.ident {
                    Some(name) => format!("{name}: {ty}"),
                    None => ty,
                }
            })
            .collect();
        match fields {
            syn::Fields::Named(_) => format!(" {{ {} }}", list.join(", ")),
            syn::Fields::Unnamed(_) => format!("({})", list.join(", ")),
            syn::Fields::Unit => String::new(),
        }
    };
    match &item.data {
        syn::Data::Struct(data) => format!("struct {name}{}", fields(&data.fields)),
        syn::Data::Enum(data) => {
            let variants: Vec<String> = data
                .variants
                .iter()
                .map(|v| format!("{}{}", v.ident, fields(&v.fields)))
                .collect();
            format!("enum {name} {{ {} }}", variants.join(", "))
        }
        syn::Data::Union(_) => format!("union {name}"),
    }
}

pub(crate) fn expand(def: &DataGearDef, root: &CrateRoot, instances: &Instances) -> TokenStream {
    let item = &def.item;
    let ident = &item.ident;
    let existing = existing_derives(&item.attrs);
    let missing: Vec<&str> = NEEDED
        .iter()
        .copied()
        .filter(|needed| !existing.iter().any(|e| e == needed))
        .collect();
    let derive = super::derives::expand(item, root, &missing);
    let rows = if item.generics.params.is_empty() {
        row(item, quote!(#ident), root)
    } else {
        // The check stage made sure the instances fit the parameters.
        let subs = generics::substitutions(&item.generics, instances).unwrap_or_default();
        let mut plain = item.clone();
        plain.generics = syn::Generics::default();
        subs.iter()
            .filter_map(|with| {
                let args: Vec<&TokenStream> = with.iter().map(|(_, ty)| ty).collect();
                let concrete: syn::DeriveInput = generics::substitute_parse(&plain, with).ok()?;
                Some(row(&concrete, quote!(#ident<#(#args),*>), root))
            })
            .collect()
    };
    quote! {
        #item
        #derive
        #rows
    }
}

/// The impls and the registration of one concrete data gear type `ty` whose definition (with
/// the type parameters substituted) is `item`.
fn row(item: &syn::DeriveInput, ty: TokenStream, root: &CrateRoot) -> TokenStream {
    let private = root.private();
    let ident = &item.ident;
    let name = tokens_text(&ty);
    let field_types = super::derives::field_types(item);
    let field_checks = field_types.iter().map(|ty| {
        quote_spanned! {ty.span()=> let () = <#ty as #root::DataGearField>::CHECKED; }
    });
    let declaration = declaration(item, &name);
    let site = site(root, ident.span());
    quote! {
        impl #root::DataGear for #ty {
            const INFO: &'static #root::DataGearInfo = &#root::DataGearInfo {
                name: #name,
                module: ::core::module_path!(),
                declaration: #declaration,
                site: #site,
            };
        }

        const _: () = { #(#field_checks)* };

        #private::inventory::submit! {
            #private::DataGearEntry(
                <#ty as #root::DataGear>::INFO,
                ::core::concat!(::core::module_path!(), "::", #name),
                ::core::any::TypeId::of::<#ty>,
            )
        }
    }
}

/// What `#[data_gear]` emits beside its errors: the item with the impls the meta level needs
/// (the derives it asks for replaced by impls whose bodies are never reached, since the program
/// does not compile), so that every use of the broken data gear type-checks and only the real
/// error shows.
pub(crate) fn stand_in(def: &DataGearDef, root: &CrateRoot) -> TokenStream {
    let mut item = def.item.clone();
    // Drop the derives the stand-in implements by hand (the user's own `#[derive(Hash)]` of a
    // float field would fail too).
    for attr in &mut item.attrs {
        if !attr.path().is_ident("derive") {
            continue;
        }
        let mut kept: Vec<syn::Path> = Vec::new();
        let _ = attr.parse_nested_meta(|meta| {
            let needed = meta
                .path
                .segments
                .last()
                .is_some_and(|last| NEEDED.iter().any(|n| last.ident == n));
            if !needed {
                kept.push(meta.path.clone());
            }
            Ok(())
        });
        *attr = syn::parse_quote! { #[derive(#(#kept),*)] };
    }
    let ident = &item.ident;
    let name = ident.to_string();
    let mut generics = item.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!('static));
    }
    // A data gear is `'static`: the stand-in of one with lifetime parameters (an error) is
    // implemented at `'static`, so that its uses (which can only be at `'static`) add nothing.
    let ty_generics_static = {
        let args = generics.params.iter().map(|param| match param {
            syn::GenericParam::Lifetime(_) => quote!('static),
            syn::GenericParam::Type(ty) => {
                let ident = &ty.ident;
                quote!(#ident)
            }
            syn::GenericParam::Const(c) => {
                let ident = &c.ident;
                quote!(#ident)
            }
        });
        if generics.params.is_empty() {
            TokenStream::new()
        } else {
            quote!(<#(#args),*>)
        }
    };
    let has_lifetimes = generics.lifetimes().next().is_some();
    generics.params = generics
        .params
        .into_iter()
        .filter(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
        .collect();
    if has_lifetimes {
        // It may name the lifetimes just dropped.
        generics.where_clause = None;
    }
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let ty_generics = ty_generics_static;
    let site = site(root, ident.span());
    let unreachable = quote! { ::core::unreachable!("a data gear that did not compile") };
    quote! {
        #item

        const _: () = {
            impl #impl_generics ::core::clone::Clone for #ident #ty_generics #where_clause {
                fn clone(&self) -> Self { #unreachable }
            }
            impl #impl_generics ::core::fmt::Debug for #ident #ty_generics #where_clause {
                fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result { #unreachable }
            }
            impl #impl_generics ::core::cmp::PartialEq for #ident #ty_generics #where_clause {
                fn eq(&self, _: &Self) -> bool { #unreachable }
            }
            impl #impl_generics ::core::cmp::Eq for #ident #ty_generics #where_clause {}
            impl #impl_generics ::core::hash::Hash for #ident #ty_generics #where_clause {
                fn hash<H: ::core::hash::Hasher>(&self, _: &mut H) { #unreachable }
            }
            // SAFETY: never part of a program: a `compile_error!` is emitted beside this
            // stand-in, so no value of the type is ever sent or shared; the impls only keep the
            // uses of the type from adding errors of their own.
            unsafe impl #impl_generics ::core::marker::Send for #ident #ty_generics #where_clause {}
            // SAFETY: as for `Send` above.
            unsafe impl #impl_generics ::core::marker::Sync for #ident #ty_generics #where_clause {}
            impl #impl_generics #root::DataGear for #ident #ty_generics #where_clause {
                const INFO: &'static #root::DataGearInfo = &#root::DataGearInfo {
                    name: #name,
                    module: ::core::module_path!(),
                    declaration: "",
                    site: #site,
                };
            }
        };
    }
}
