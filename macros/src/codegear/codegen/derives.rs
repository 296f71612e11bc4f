//! The `Clone`, `Debug`, `PartialEq`, `Eq` and `Hash` impls `#[data_gear]` adds, written out
//! rather than derived: each field goes through `DataGearField` (spanned on the field's type),
//! so a field type lacking any of them is that trait's one error at the field, not one error
//! per derive beside it. They behave as the derives do (`Debug` prints the same text). Only
//! the `<T as DataGearField>::..` paths carry the field's span (where the error points); the
//! arguments keep the macro's own, so that its locals resolve however the item was written.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::common::CrateRoot;

/// The impls of the traits in `wanted` (names among `Clone`, `Debug`, `PartialEq`, `Eq`,
/// `Hash`) for `item`.
pub(crate) fn expand(item: &syn::DeriveInput, root: &CrateRoot, wanted: &[&str]) -> TokenStream {
    let ident = &item.ident;
    let field = quote!(#root::DataGearField);
    let (impl_generics, ty_generics, where_clause) = item.generics.split_for_impl();
    // A generic data gear's impls hold where its fields do (perfect derive); a concrete one's
    // need no bound (a bound naming no parameter would be an error of its own).
    let mut where_clause = where_clause.cloned();
    if !item.generics.params.is_empty() {
        let clause = where_clause.get_or_insert_with(|| syn::parse_quote!(where));
        for ty in field_types(item) {
            clause.predicates.push(syn::parse_quote!(#ty: #field));
        }
    }
    let shapes = shapes(item);
    let mut out = TokenStream::new();
    let head = |trait_path: TokenStream| {
        quote! {
            #[automatically_derived]
            impl #impl_generics #trait_path for #ident #ty_generics #where_clause
        }
    };
    // An enum without variants: no value to clone, print, compare or hash.
    if shapes.is_empty() {
        let (clone, debug, partial_eq, eq, hash) = (
            head(quote!(::core::clone::Clone)),
            head(quote!(::core::fmt::Debug)),
            head(quote!(::core::cmp::PartialEq)),
            head(quote!(::core::cmp::Eq)),
            head(quote!(::core::hash::Hash)),
        );
        let impls = [
            (
                "Clone",
                quote! { #clone { fn clone(&self) -> Self { match *self {} } } },
            ),
            (
                "Debug",
                quote! { #debug { fn fmt(&self, _: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result { match *self {} } } },
            ),
            (
                "PartialEq",
                quote! { #partial_eq { fn eq(&self, _: &Self) -> bool { match *self {} } } },
            ),
            ("Eq", quote! { #eq {} }),
            (
                "Hash",
                quote! { #hash { fn hash<H: ::core::hash::Hasher>(&self, _: &mut H) { match *self {} } } },
            ),
        ];
        return impls
            .into_iter()
            .filter(|(name, _)| wanted.contains(name))
            .map(|(_, tokens)| tokens)
            .collect();
    }
    if wanted.contains(&"Clone") {
        let arms = shapes.iter().map(|shape| {
            let pattern = shape.pattern("");
            let values = shape.fields.iter().map(|f| {
                let (binding, ty) = (format_ident!("{}", f.binding("")), &f.ty);
                let value = {
                    let f = quote_spanned! {ty.span()=> <#ty as #field>::clone_field };
                    quote!(#f(#binding))
                };
                match &f.name {
                    Some(name) => quote!(#name: #value),
                    None => value,
                }
            });
            let build = shape.build(values.collect());
            quote! { #pattern => #build, }
        });
        let clone = head(quote!(::core::clone::Clone));
        out.extend(quote! {
            #clone {
                #[inline]
                fn clone(&self) -> Self { match self { #(#arms)* } }
            }
        });
    }
    if wanted.contains(&"Debug") {
        let arms = shapes.iter().map(|shape| {
            let pattern = shape.pattern("");
            let name = shape.display_name();
            let entries = shape.fields.iter().map(|f| {
                let (binding, ty) = (format_ident!("{}", f.binding("")), &f.ty);
                let value = {
                    let f = quote_spanned! {ty.span()=> <#ty as #field>::debug_field };
                    quote!(#f(#binding))
                };
                match &f.name {
                    Some(field_name) => {
                        let text = field_name.to_string();
                        let text = text.strip_prefix("r#").unwrap_or(&text);
                        quote!(.field(#text, #value))
                    }
                    None => quote!(.field(#value)),
                }
            });
            let body = match shape.kind {
                Kind::Named => quote! { f.debug_struct(#name) #(#entries)* .finish() },
                Kind::Unnamed => quote! { f.debug_tuple(#name) #(#entries)* .finish() },
                Kind::Unit => quote! { f.write_str(#name) },
            };
            quote! { #pattern => #body, }
        });
        let debug = head(quote!(::core::fmt::Debug));
        out.extend(quote! {
            #debug {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    match self { #(#arms)* }
                }
            }
        });
    }
    if wanted.contains(&"PartialEq") {
        let arms = shapes.iter().map(|shape| {
            let left = shape.pattern("a_");
            let right = shape.pattern("b_");
            let checks: Vec<TokenStream> = shape
                .fields
                .iter()
                .map(|f| {
                    let a = format_ident!("{}", f.binding("a_"));
                    let b = format_ident!("{}", f.binding("b_"));
                    let ty = &f.ty;
                    {
                        let f = quote_spanned! {ty.span()=> <#ty as #field>::eq_field };
                        quote!(#f(#a, #b))
                    }
                })
                .collect();
            let all = if checks.is_empty() {
                quote!(true)
            } else {
                quote!(#(#checks)&&*)
            };
            quote! { (#left, #right) => #all, }
        });
        // Different variants of an enum are unequal.
        let other = (shapes.len() > 1).then(|| quote!(_ => false,));
        let partial_eq = head(quote!(::core::cmp::PartialEq));
        out.extend(quote! {
            #partial_eq {
                #[inline]
                fn eq(&self, other: &Self) -> bool {
                    match (self, other) { #(#arms)* #other }
                }
            }
        });
    }
    if wanted.contains(&"Eq") {
        let eq = head(quote!(::core::cmp::Eq));
        out.extend(quote! { #eq {} });
    }
    if wanted.contains(&"Hash") {
        let discriminant = matches!(item.data, syn::Data::Enum(_)).then(|| {
            quote! { ::core::hash::Hash::hash(&::core::mem::discriminant(self), state); }
        });
        let arms = shapes.iter().map(|shape| {
            let pattern = shape.pattern("");
            let hashes = shape.fields.iter().map(|f| {
                let (binding, ty) = (format_ident!("{}", f.binding("")), &f.ty);
                {
                    let f = quote_spanned! {ty.span()=> <#ty as #field>::hash_field };
                    quote!(#f(#binding, state);)
                }
            });
            quote! { #pattern => { #(#hashes)* } }
        });
        let hash = head(quote!(::core::hash::Hash));
        out.extend(quote! {
            #hash {
                #[inline]
                fn hash<H: ::core::hash::Hasher>(&self, state: &mut H) {
                    #discriminant
                    match self { #(#arms)* }
                }
            }
        });
    }
    out
}

/// Every field's type, of a struct or of all an enum's variants (a union has none here).
pub(super) fn field_types(item: &syn::DeriveInput) -> Vec<&syn::Type> {
    match &item.data {
        syn::Data::Struct(data) => data.fields.iter().map(|f| &f.ty).collect(),
        syn::Data::Enum(data) => data
            .variants
            .iter()
            .flat_map(|v| v.fields.iter().map(|f| &f.ty))
            .collect(),
        syn::Data::Union(_) => Vec::new(),
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Named,
    Unnamed,
    Unit,
}

struct Field {
    name: Option<syn::Ident>,
    index: usize,
    ty: syn::Type,
}

impl Field {
    /// The local a pattern binds this field to.
    fn binding(&self, prefix: &str) -> String {
        format!("{prefix}__field_{}", self.index)
    }
}

/// The struct, or one variant of the enum.
struct Shape {
    /// `Self` or `Self::Variant`.
    path: TokenStream,
    /// The type's or the variant's name, as `Debug` prints it.
    name: String,
    kind: Kind,
    fields: Vec<Field>,
}

impl Shape {
    fn display_name(&self) -> &str {
        self.name.strip_prefix("r#").unwrap_or(&self.name)
    }

    /// `Self { a: __field_0, .. }`, `Self::V(__field_0, ..)` or `Self::V`.
    fn pattern(&self, prefix: &str) -> TokenStream {
        let path = &self.path;
        let bindings = self
            .fields
            .iter()
            .map(|f| format_ident!("{}", f.binding(prefix)));
        match self.kind {
            Kind::Named => {
                let names = self.fields.iter().map(|f| f.name.as_ref());
                quote! { #path { #(#names: #bindings),* } }
            }
            Kind::Unnamed => quote! { #path(#(#bindings),*) },
            Kind::Unit => quote! { #path },
        }
    }

    /// The value of this shape from its fields' values.
    fn build(&self, values: Vec<TokenStream>) -> TokenStream {
        let path = &self.path;
        match self.kind {
            Kind::Named => quote! { #path { #(#values),* } },
            Kind::Unnamed => quote! { #path(#(#values),*) },
            Kind::Unit => quote! { #path },
        }
    }
}

fn shape(path: TokenStream, name: String, fields: &syn::Fields) -> Shape {
    let kind = match fields {
        syn::Fields::Named(_) => Kind::Named,
        syn::Fields::Unnamed(_) => Kind::Unnamed,
        syn::Fields::Unit => Kind::Unit,
    };
    let fields = fields
        .iter()
        .enumerate()
        .map(|(index, f)| Field {
            name: f.ident.clone(),
            index,
            ty: f.ty.clone(),
        })
        .collect();
    Shape {
        path,
        name,
        kind,
        fields,
    }
}

fn shapes(item: &syn::DeriveInput) -> Vec<Shape> {
    match &item.data {
        syn::Data::Struct(data) => {
            vec![shape(quote!(Self), item.ident.to_string(), &data.fields)]
        }
        syn::Data::Enum(data) => data
            .variants
            .iter()
            .map(|v| {
                let variant = &v.ident;
                shape(quote!(Self::#variant), variant.to_string(), &v.fields)
            })
            .collect(),
        syn::Data::Union(_) => Vec::new(),
    }
}
