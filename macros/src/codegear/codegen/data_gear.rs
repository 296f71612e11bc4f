//! `#[data_gear]`: the derives the meta level needs, the `DataGear` impl with the type's row in
//! the data-gear table (GearsOS's `enum DataType` / `union Data`), and its registration.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

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
fn declaration(item: &syn::DeriveInput) -> String {
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
    let name = &item.ident;
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

pub(crate) fn expand(def: &DataGearDef, root: &CrateRoot) -> TokenStream {
    let private = root.private();
    let item = &def.item;
    let ident = &item.ident;
    let name = ident.to_string();
    let existing = existing_derives(&item.attrs);
    let missing: Vec<syn::Ident> = NEEDED
        .iter()
        .filter(|needed| !existing.iter().any(|e| e == *needed))
        .map(|needed| syn::Ident::new(needed, ident.span()))
        .collect();
    let derive = if missing.is_empty() {
        TokenStream::new()
    } else {
        quote! { #[derive(#(#missing),*)] }
    };
    let field_types: Vec<&syn::Type> = match &item.data {
        syn::Data::Struct(data) => data.fields.iter().map(|f| &f.ty).collect(),
        syn::Data::Enum(data) => data
            .variants
            .iter()
            .flat_map(|v| v.fields.iter().map(|f| &f.ty))
            .collect(),
        syn::Data::Union(_) => Vec::new(),
    };
    let field_checks = field_types.iter().map(|ty| {
        quote_spanned! {ty.span()=> #private::assert_data_gear_field::<#ty>(); }
    });
    let declaration = declaration(item);
    let site = site(root, ident.span());
    quote! {
        #derive
        #item

        impl #root::GearTarget for #ident {
            type Target = ();
            fn gear_type_name() -> &'static str {
                #private::data_gear_display(<Self as #root::DataGear>::INFO)
            }
        }

        impl #root::DataGear for #ident {
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
                <#ident as #root::DataGear>::INFO,
                ::core::concat!(::core::module_path!(), "::", #name),
            )
        }
    }
}
