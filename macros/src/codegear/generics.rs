//! Generic data gears and interface implementations: each instance the user lists
//! (`instances(i64, String)`) becomes concrete tokens by substituting the type parameters, and
//! gets its own rows in the tables (Rust registers items at link time, once per item, so a
//! generic item cannot register each use by itself).

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::spanned::Spanned;

use super::args::Instances;

/// Type parameter `name` ↦ the instance's type.
pub(crate) type Substitution = Vec<(syn::Ident, TokenStream)>;

/// One substitution per listed instance of `generics`' type parameters. Each instance is a type
/// for one parameter, a tuple of as many types for several.
pub(crate) fn substitutions(
    generics: &syn::Generics,
    instances: &Instances,
) -> syn::Result<Vec<Substitution>> {
    let params: Vec<&syn::Ident> = generics.type_params().map(|p| &p.ident).collect();
    let mut out = Vec::new();
    for instance in &instances.0 {
        let types: Vec<TokenStream> = match (params.len(), instance) {
            (1, ty) => vec![ty.to_token_stream()],
            (n, syn::Type::Tuple(tuple)) if tuple.elems.len() == n => {
                tuple.elems.iter().map(ToTokens::to_token_stream).collect()
            }
            (n, other) => {
                return Err(syn::Error::new(
                    other.span(),
                    format!(
                        "this item has {n} type parameters: write each instance as a tuple of {n} \
                         types, e.g. `instances(({}))`",
                        vec!["i64"; n].join(", ")
                    ),
                ));
            }
        };
        out.push(params.iter().map(|p| (*p).clone()).zip(types).collect());
    }
    Ok(out)
}

/// `tokens` with every identifier that names a substituted parameter replaced.
pub(crate) fn substitute(tokens: TokenStream, with: &Substitution) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Ident(ident) => match with.iter().find(|(param, _)| *param == ident) {
                Some((_, ty)) => {
                    let ty = ty.clone();
                    quote!(#ty)
                }
                None => TokenTree::Ident(ident).into_token_stream(),
            },
            TokenTree::Group(group) => {
                let mut replaced =
                    proc_macro2::Group::new(group.delimiter(), substitute(group.stream(), with));
                replaced.set_span(group.span());
                TokenTree::Group(replaced).into_token_stream()
            }
            other => other.into_token_stream(),
        })
        .collect()
}

/// `T` with the substitution applied, parsed back.
pub(crate) fn substitute_parse<T: syn::parse::Parse>(
    item: &impl ToTokens,
    with: &Substitution,
) -> syn::Result<T> {
    syn::parse2(substitute(item.to_token_stream(), with))
}

/// What a generic item may have: type parameters only (lifetimes and consts do not fit a row of
/// the tables keyed by types).
pub(crate) fn only_type_params(generics: &syn::Generics, what: &str) -> syn::Result<()> {
    for param in &generics.params {
        match param {
            syn::GenericParam::Type(_) => {}
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    format!(
                        "{what} can be generic over types only: lifetimes and const parameters \
                         do not fit a row of the code-gear and data-gear tables"
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_every_occurrence() {
        let generics: syn::Generics = syn::parse_quote!(<T>);
        let instances = Instances(vec![syn::parse_quote!(i64), syn::parse_quote!(Vec<u8>)]);
        let subs = substitutions(&generics, &instances).unwrap();
        assert_eq!(subs.len(), 2);
        let out = substitute(quote!(Option<(T, Vec<T>)>), &subs[1]);
        assert_eq!(
            super::super::text::tokens_text(&out),
            "Option<(Vec<u8>, Vec<Vec<u8>>)>"
        );
    }

    #[test]
    fn several_parameters_take_tuples() {
        let generics: syn::Generics = syn::parse_quote!(<K, V>);
        let ok = Instances(vec![syn::parse_quote!((u8, String))]);
        assert_eq!(substitutions(&generics, &ok).unwrap()[0].len(), 2);
        let bad = Instances(vec![syn::parse_quote!(u8)]);
        let error = substitutions(&generics, &bad).unwrap_err().to_string();
        assert!(error.contains("2 type parameters"), "{error}");
    }
}
