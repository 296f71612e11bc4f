//! Parsing the offload macros' inputs.

use darling::FromMeta;
use syn::parse::{Parse, ParseStream};

use crate::common::AttrArgs;

/// `offload!([crate = path,] [move] { .. })`.
pub(crate) struct OffloadInput {
    pub(crate) krate: Option<syn::Path>,
    /// `move`: the block copies (moves) what it uses from the friend instead of borrowing it.
    pub(crate) capture: Option<syn::Token![move]>,
    pub(crate) block: syn::Block,
}

/// Parses an optional leading `crate = path` followed by `separator`.
fn crate_override<S: syn::token::Token + Parse>(
    input: ParseStream<'_>,
) -> syn::Result<Option<syn::Path>> {
    if !input.peek(syn::Token![crate]) {
        return Ok(None);
    }
    input.parse::<syn::Token![crate]>()?;
    input.parse::<syn::Token![=]>()?;
    let path = input.parse()?;
    input.parse::<S>()?;
    Ok(Some(path))
}

impl Parse for OffloadInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let krate = crate_override::<syn::Token![,]>(input)?;
        let capture = input.parse()?;
        if !input.peek(syn::token::Brace) {
            return Err(input.error(
                "offload! takes a block: `offload!({ .. })` or `offload!(move { .. })` (the \
                 block runs on the hakase and its value is returned)",
            ));
        }
        let block = input.parse()?;
        if !input.is_empty() {
            return Err(input.error(
                "unexpected tokens after the offloaded block: `offload!({ .. })` takes one block",
            ));
        }
        Ok(Self {
            krate,
            capture,
            block,
        })
    }
}

/// The arguments of `#[export_symbol(..)]`.
#[derive(Default, FromMeta)]
pub(crate) struct ExportArgs {
    /// The module holding the `declare_exports!` declaration this function implements; its
    /// signature is then checked against the declaration at compile time.
    pub(crate) declared_in: Option<syn::Path>,
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}

impl AttrArgs for ExportArgs {
    const MACRO: &'static str = "export_symbol";
    const KEYS: &'static [&'static str] = &["declared_in", "crate"];
}

/// `declare_exports! { [crate = path;] fn name(..) -> R; .. }`.
pub(crate) struct DeclareInput {
    pub(crate) krate: Option<syn::Path>,
    pub(crate) declarations: Vec<syn::ForeignItemFn>,
}

impl Parse for DeclareInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let krate = crate_override::<syn::Token![;]>(input)?;
        let mut declarations = Vec::new();
        while !input.is_empty() {
            let declaration: syn::ForeignItemFn = input.parse().map_err(|error| {
                syn::Error::new(
                    error.span(),
                    format!(
                        "{error}; declare_exports! takes function signatures ending in `;`, \
                         e.g. `pub fn hakase_print(msg: &str) -> usize;`"
                    ),
                )
            })?;
            declarations.push(declaration);
        }
        Ok(Self {
            krate,
            declarations,
        })
    }
}
