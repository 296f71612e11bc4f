//! `#[derive(Wire)]`: the wire encoding of a user type that crosses between a process friend and
//! the hakase, composed from its fields' encodings.
//!
//! Pipeline: parse (`syn::DeriveInput` and `#[wire(crate = path)]`) → check (what cannot cross:
//! unions, borrowed fields, raw and function pointers, lifetime parameters; every error found,
//! each spanned on the user's tokens) → codegen (an `impl Wire` naming only
//! `offload::__private`). On error a stand-in impl is emitted beside the errors, so that code
//! using the type as a `Wire` shows no second error.
//!
//! The encoding: a struct is its fields in order; an enum is its variant's index (one byte, two
//! past 256 variants) and then that variant's fields. Decoding goes through the fields' own
//! decodings inside `Reader::nest`, which bounds how deep values may nest (a recursive type
//! read from hostile bytes cannot exhaust the hakase's stack).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit::Visit;

use super::DEFAULT_CRATE;
use crate::common::{AttrArgs, CrateRoot, Errors, parse_args};

/// `#[wire(..)]` on the type.
#[derive(Debug, Default, darling::FromMeta)]
struct WireArgs {
    #[darling(rename = "crate")]
    krate: Option<syn::Path>,
}

impl AttrArgs for WireArgs {
    const MACRO: &'static str = "wire";
    const KEYS: &'static [&'static str] = &["crate"];
}

/// `#[derive(Wire)]` on `input`.
pub(crate) fn derive(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Errors::new();
    let mut krate = None;
    for attr in input
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("wire"))
    {
        let args = match &attr.meta {
            syn::Meta::List(list) => errors.take(parse_args::<WireArgs>(list.tokens.clone())),
            _ => {
                errors.error(
                    attr,
                    "#[wire] takes arguments: write `#[wire(crate = path)]` to name a renamed \
                     `offload` dependency, or remove it",
                );
                None
            }
        };
        if let Some(WireArgs { krate: Some(path) }) = args {
            krate = Some(path);
        }
    }
    let root = CrateRoot::new(krate.as_ref(), DEFAULT_CRATE);
    check(&input, &mut errors);
    match errors.finish() {
        Ok(()) => expand(&root, &input),
        Err(error) => {
            let mut out = stand_in(&root, &input);
            out.extend(error.to_compile_error());
            out
        }
    }
}

/// Finds what cannot cross processes.
fn check(input: &syn::DeriveInput, errors: &mut Errors) {
    let name = &input.ident;
    if let syn::Data::Union(data) = &input.data {
        errors.error(
            data.union_token,
            format!(
                "`{name}` is a union, which cannot derive Wire: which field is live is not in \
                 its bytes, so the hakase could not check what a friend sent; use an enum with \
                 one variant per field"
            ),
        );
    }
    let fields: Vec<&syn::Field> = match &input.data {
        syn::Data::Struct(data) => data.fields.iter().collect(),
        syn::Data::Enum(data) => data
            .variants
            .iter()
            .flat_map(|variant| variant.fields.iter())
            .collect(),
        syn::Data::Union(_) => Vec::new(),
    };
    let mut field_errors = 0;
    for field in fields {
        let mut finder = Uncrossable(Vec::new());
        finder.visit_type(&field.ty);
        for (tokens, why) in finder.0 {
            errors.error(tokens, why);
            field_errors += 1;
        }
    }
    // A lifetime parameter is usually there for a borrowed field, already reported: one
    // mistake, one error.
    if field_errors == 0 {
        for lifetime in input.generics.lifetimes() {
            errors.error(
                &lifetime.lifetime,
                format!(
                    "`{name}` has a lifetime parameter, which cannot derive Wire: a value \
                     decoded from another process's bytes owns its data and borrows nothing; \
                     make its fields owned (`String` for `Cow<str>`) and drop `{}`",
                    lifetime.lifetime
                ),
            );
        }
    }
}

/// The parts of a field's type that cannot cross (their tokens, for the span), with why and
/// what to write instead.
struct Uncrossable(Vec<(TokenStream, String)>);

impl<'ast> Visit<'ast> for Uncrossable {
    fn visit_type_reference(&mut self, reference: &'ast syn::TypeReference) {
        let owned = match &*reference.elem {
            syn::Type::Path(path) if path.path.is_ident("str") => "`String`".to_owned(),
            syn::Type::Slice(slice) => {
                let elem = &slice.elem;
                format!("`Vec<{}>`", quote!(#elem).to_string().replace(' ', ""))
            }
            elem => format!("`{}`", quote!(#elem).to_string().replace(' ', "")),
        };
        self.0.push((
            quote!(#reference),
            format!(
                "a reference cannot derive Wire: a value decoded from another process's bytes \
                 owns its data and borrows nothing; use the owned type, {owned}"
            ),
        ));
    }

    fn visit_type_ptr(&mut self, pointer: &'ast syn::TypePtr) {
        self.0.push((
            quote!(#pointer),
            "a raw pointer cannot derive Wire: an address means nothing in another process \
             (and the hakase never follows one a friend sent); send the value it points to, or \
             an index into a table the hakase keeps"
                .to_owned(),
        ));
    }

    fn visit_type_bare_fn(&mut self, function: &'ast syn::TypeBareFn) {
        self.0.push((
            quote!(#function),
            "a function pointer cannot derive Wire: it is an address in one process; send an \
             enum that names the function instead"
                .to_owned(),
        ));
    }

    fn visit_type_trait_object(&mut self, object: &'ast syn::TypeTraitObject) {
        self.0.push((
            quote!(#object),
            "a trait object cannot derive Wire: the hakase could not know which type to \
             decode; use an enum with one variant per type"
                .to_owned(),
        ));
    }
}

/// The generics of the impl, with `T: Wire` for each type parameter.
fn generics_with_bounds(private: &TokenStream, generics: &syn::Generics) -> syn::Generics {
    let mut generics = generics.clone();
    let params: Vec<syn::Ident> = generics
        .type_params()
        .map(|param| param.ident.clone())
        .collect();
    let clause = generics.make_where_clause();
    for param in params {
        clause
            .predicates
            .push(syn::parse_quote!(#param: #private::Wire));
    }
    generics
}

/// An impl that compiles and is never run, so that an error in the type shows alone.
fn stand_in(root: &CrateRoot, input: &syn::DeriveInput) -> TokenStream {
    let private = root.private();
    let name = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    quote! {
        impl #impl_generics #private::Wire for #name #ty_generics #where_clause {
            fn encode(&self, _: &mut #private::Writer) {
                ::core::unreachable!()
            }
            fn decode(
                _: &mut #private::Reader<'_>,
            ) -> ::core::result::Result<Self, #private::WireError> {
                ::core::unreachable!()
            }
        }
    }
}

/// Encodes each bound field, spanned at its type (so a field whose type is not `Wire` gets one
/// error, there).
fn encode_fields(private: &TokenStream, fields: &syn::Fields, names: &[syn::Ident]) -> TokenStream {
    let calls = fields.iter().zip(names).map(|(field, name)| {
        let ty = &field.ty;
        quote_spanned!(ty.span()=> <#ty as #private::Wire>::encode(#name, out);)
    });
    quote!(#(#calls)*)
}

/// Binding names for a variant's or struct's fields, and the pattern that binds them.
fn bindings(fields: &syn::Fields) -> (Vec<syn::Ident>, TokenStream) {
    let names: Vec<syn::Ident> = (0..fields.len())
        .map(|i| format_ident!("field{i}"))
        .collect();
    let pattern = match fields {
        syn::Fields::Named(named) => {
            let idents = named.named.iter().map(|field| &field.ident);
            quote!({ #(#idents: #names),* })
        }
        syn::Fields::Unnamed(_) => quote!(( #(#names),* )),
        syn::Fields::Unit => TokenStream::new(),
    };
    (names, pattern)
}

/// `Self { a: decode?, .. }`, `Self(decode?, ..)` or `Self`, for `path` (`Self` or a variant).
fn construct(private: &TokenStream, path: &TokenStream, fields: &syn::Fields) -> TokenStream {
    let decode = |field: &syn::Field| {
        let ty = &field.ty;
        quote_spanned!(ty.span()=> <#ty as #private::Wire>::decode(input)?)
    };
    match fields {
        syn::Fields::Named(named) => {
            let idents = named.named.iter().map(|field| &field.ident);
            let values = named.named.iter().map(decode);
            quote!(#path { #(#idents: #values),* })
        }
        syn::Fields::Unnamed(unnamed) => {
            let values = unnamed.unnamed.iter().map(decode);
            quote!(#path ( #(#values),* ))
        }
        syn::Fields::Unit => quote!(#path),
    }
}

fn expand(root: &CrateRoot, input: &syn::DeriveInput) -> TokenStream {
    let private = root.private();
    let name = &input.ident;
    let name_text = name.to_string();
    let generics = generics_with_bounds(&private, &input.generics);
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let (encode, decode) = match &input.data {
        // A struct without fields is the one byte every value takes (so that a vector of
        // them is bounded by its bytes; see `Wire`'s encoding rules).
        syn::Data::Struct(data) if data.fields.is_empty() => {
            let value = construct(&private, &quote!(Self), &data.fields);
            (
                quote!(out.unit();),
                quote! {
                    input.unit(#name_text)?;
                    ::core::result::Result::Ok(#value)
                },
            )
        }
        syn::Data::Struct(data) => {
            let (names, pattern) = bindings(&data.fields);
            let value = construct(&private, &quote!(Self), &data.fields);
            (
                {
                    let encode = encode_fields(&private, &data.fields, &names);
                    quote! {
                        let Self #pattern = self;
                        #encode
                    }
                },
                quote!(::core::result::Result::Ok(#value)),
            )
        }
        syn::Data::Enum(data) => {
            // The tag's width: one byte while every index fits one.
            let wide = data.variants.len() > 256;
            let tag_ty = if wide { quote!(u16) } else { quote!(u8) };
            let mut encode_arms = Vec::new();
            let mut decode_arms = Vec::new();
            for (index, variant) in data.variants.iter().enumerate() {
                let ident = &variant.ident;
                let (names, pattern) = bindings(&variant.fields);
                let tag = syn::LitInt::new(&format!("{index}{tag_ty}"), Span::call_site());
                let encode = encode_fields(&private, &variant.fields, &names);
                encode_arms.push(quote! {
                    Self::#ident #pattern => {
                        #private::Wire::encode(&#tag, out);
                        #encode
                    }
                });
                let value = construct(&private, &quote!(Self::#ident), &variant.fields);
                decode_arms.push(quote!(#tag => ::core::result::Result::Ok(#value),));
            }
            (
                quote! {
                    match self {
                        #(#encode_arms)*
                    }
                },
                quote! {
                    match <#tag_ty as #private::Wire>::decode(input)? {
                        #(#decode_arms)*
                        tag => ::core::result::Result::Err(#private::WireError::Tag {
                            ty: #name_text,
                            tag: ::core::convert::From::from(tag),
                        }),
                    }
                },
            )
        }
        // Refused by `check`.
        syn::Data::Union(_) => return stand_in(root, input),
    };
    quote! {
        impl #impl_generics #private::Wire for #name #ty_generics #where_clause {
            fn encode(&self, out: &mut #private::Writer) {
                #encode
            }
            fn decode(
                input: &mut #private::Reader<'_>,
            ) -> ::core::result::Result<Self, #private::WireError> {
                #private::Reader::nest(input, |input| { #decode })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::fuzz;

    fn expand_text(input: TokenStream) -> String {
        derive(input).to_string()
    }

    #[test]
    fn names_only_the_private_paths_and_honours_crate() {
        let out = expand_text(quote!(
            #[wire(crate = my_offload)]
            struct Point<T> {
                x: T,
                y: i32,
            }
        ));
        assert!(out.contains("my_offload :: __private :: Wire"), "{out}");
        assert!(!out.contains(":: offload ::"), "{out}");
        assert!(!out.contains("__gears_"), "{out}");
        assert!(out.contains("T : my_offload :: __private :: Wire"), "{out}");
    }

    #[test]
    fn every_uncrossable_field_is_one_error() {
        let out = expand_text(quote!(
            enum Bad<'a> {
                A(&'a str),
                B { p: *const u8, f: fn() },
            }
        ));
        // Three fields, three errors (the lifetime is for the borrowed field).
        assert_eq!(out.matches("compile_error").count(), 3, "{out}");
        // The stand-in keeps uses compiling.
        assert!(out.contains("unreachable"), "{out}");
    }

    fn valid() -> TokenStream {
        quote!(
            enum Shape<T> {
                Dot,
                Circle { r: f64, tag: Option<T> },
                Poly(Vec<(i32, i32)>, String),
            }
        )
    }

    #[test]
    fn truncated_items_never_panic() {
        for truncated in fuzz::truncations(&valid()) {
            let _ = derive(truncated);
        }
    }

    proptest::proptest! {
        #[test]
        fn random_token_streams_never_panic(tokens in fuzz::token_stream()) {
            let _ = derive(tokens);
        }

        #[test]
        fn mutated_items_never_panic(tokens in fuzz::mutations(valid())) {
            let _ = derive(tokens);
        }
    }
}
