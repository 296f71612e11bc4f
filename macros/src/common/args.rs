//! Attribute arguments: `#[macro(key = value, ..)]`, read with darling after a key check that
//! names the valid keys, plus the `crate = path` override every macro accepts.

use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::spanned::Spanned;

use super::{Errors, unknown_name};

/// The arguments of one attribute macro.
pub(crate) trait AttrArgs: FromMeta {
    /// The macro's name as the user writes it, for messages (`"code_gear"`).
    const MACRO: &'static str;
    /// Every key the macro accepts, in the order the docs list them.
    const KEYS: &'static [&'static str];
}

/// Parses `attr` (the tokens inside `#[macro(..)]`) into `T`.
///
/// Keys are checked first, all of them: an unknown key gets "did you mean" and the list of valid
/// keys, a bare literal asks for `key = value`. Values are then read by `T`'s darling `FromMeta`,
/// whose errors are spanned at the offending value.
pub(crate) fn parse_args<T: AttrArgs>(attr: TokenStream) -> syn::Result<T> {
    let items = NestedMeta::parse_meta_list(attr)?;
    let mut errors = Errors::new();
    for item in &items {
        match item {
            NestedMeta::Meta(meta) => {
                let path = meta.path();
                let key = path
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| path.to_token_stream().to_string().replace(' ', ""));
                if !T::KEYS.contains(&key.as_str()) {
                    let what = format!("#[{}] argument", T::MACRO);
                    errors.push(unknown_name(path.span(), &what, &key, T::KEYS));
                }
            }
            NestedMeta::Lit(lit) => errors.error(
                lit,
                format!(
                    "#[{}] takes `key = value` arguments, not a bare literal; valid keys: {}",
                    T::MACRO,
                    T::KEYS
                        .iter()
                        .map(|k| format!("`{k}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
    }
    errors.finish()?;
    T::from_list(&items).map_err(syn::Error::from)
}

/// The path generated code uses to reach its domain crate: `crate = path` if the user gave one
/// (a renamed dependency, or code inside the domain crate itself), else `::<default>`.
#[derive(Clone, Debug)]
pub(crate) struct CrateRoot {
    path: TokenStream,
}

impl CrateRoot {
    /// The root from an optional `crate = path` override, defaulting to `::default_crate`.
    pub(crate) fn new(overridden: Option<&syn::Path>, default_crate: &str) -> Self {
        let path = match overridden {
            Some(path) => path.to_token_stream(),
            None => {
                let ident = syn::Ident::new(default_crate, proc_macro2::Span::call_site());
                quote!(::#ident)
            }
        };
        Self { path }
    }

    /// `<root>::__private`: the hidden module all generated code goes through.
    pub(crate) fn private(&self) -> TokenStream {
        let root = &self.path;
        quote!(#root::__private)
    }
}

impl ToTokens for CrateRoot {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.path.to_tokens(tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(FromMeta, Debug)]
    struct Example {
        model: Option<syn::Ident>,
        #[darling(default)]
        limit: u32,
        #[darling(rename = "crate")]
        krate: Option<syn::Path>,
    }

    impl AttrArgs for Example {
        const MACRO: &'static str = "example";
        const KEYS: &'static [&'static str] = &["model", "limit", "crate"];
    }

    #[test]
    fn reads_known_keys_and_the_crate_override() {
        let args: Example =
            parse_args(quote!(model = per_cpu, limit = 3, crate = ::renamed)).unwrap();
        assert_eq!(args.model.unwrap().to_string(), "per_cpu");
        assert_eq!(args.limit, 3);
        let root = CrateRoot::new(args.krate.as_ref(), "codegear");
        assert_eq!(root.private().to_string(), ":: renamed :: __private");
        assert_eq!(
            CrateRoot::new(None, "codegear").private().to_string(),
            ":: codegear :: __private"
        );
    }

    #[test]
    fn every_unknown_key_is_reported_with_the_valid_ones() {
        let error = parse_args::<Example>(quote!(modle = x, limt = 2)).unwrap_err();
        let messages: Vec<String> = error.into_iter().map(|e| e.to_string()).collect();
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert!(
            messages[0].contains("did you mean `model`?"),
            "{messages:?}"
        );
        assert_eq!(
            messages[1],
            "unknown #[example] argument `limt`; did you mean `limit`? \
             expected one of: `model`, `limit`, `crate`"
        );
    }

    #[test]
    fn bare_literals_and_bad_values_are_errors() {
        assert!(parse_args::<Example>(quote!("per_cpu")).is_err());
        let error = parse_args::<Example>(quote!(limit = "many")).unwrap_err();
        assert!(!error.to_string().is_empty());
    }
}
