//! `declare_exports!`: per declared signature, its symbol type and a registration that lets
//! `Hakase::new()` report declarations nobody implements.

use proc_macro2::TokenStream;
use quote::quote;

use super::symbol_type;
use crate::common::CrateRoot;
use crate::offload::analyze::Symbol;

pub(crate) fn expand(root: &CrateRoot, symbol: &Symbol) -> TokenStream {
    let private = root.private();
    let symbol_type = symbol_type::expand(root, symbol);
    let name_text = symbol.name.to_string();
    let text = &symbol.text;
    let fn_type = &symbol.fn_type;
    quote! {
        #symbol_type
        #private::inventory::submit! {
            #private::Declaration::new(
                #name_text,
                #text,
                #private::site!(),
                || #private::TypeId::of::<#fn_type>(),
            )
        }
    }
}
