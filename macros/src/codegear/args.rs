//! Arguments of the codegear attributes: only `crate = path`.

use darling::FromMeta;

use crate::common::AttrArgs;

/// `#[data_gear(crate = ::renamed)]` etc.
#[derive(FromMeta, Default)]
pub(crate) struct CodegearArgs {
    #[darling(rename = "crate")]
    pub(crate) krate: Option<syn::Path>,
}

impl AttrArgs for CodegearArgs {
    const MACRO: &'static str = "codegear attribute";
    const KEYS: &'static [&'static str] = &["crate"];
}
