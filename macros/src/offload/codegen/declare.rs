//! `declare_exports!`: per declared signature, its symbol type and a registration that lets
//! `Hakase::new()` report declarations nobody implements.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::symbol_type;
use crate::common::CrateRoot;
use crate::offload::analyze::Symbol;

pub(crate) fn expand(root: &CrateRoot, symbol: &Symbol) -> TokenStream {
    let private = root.private();
    let symbol_type = symbol_type::expand(root, symbol);
    let name_text = symbol.name.to_string();
    let text = &symbol.text;
    let fn_type = &symbol.fn_type;
    // The declaration's own line and column, so that a report about it points at it rather than
    // at the `declare_exports!` that holds it (`line!()` would give the macro call's line).
    let start = symbol.name.span().start();
    let (line, column) = (start.line as u32, start.column as u32 + 1);
    let site = if line == 0 {
        quote!(#private::site!())
    } else {
        quote_spanned!(symbol.name.span()=>
            #private::gears_runtime::registry::Site::new(::core::file!(), #line, #column)
        )
    };
    quote! {
        #symbol_type
        #private::inventory::submit! {
            #private::Declaration::new(
                #name_text,
                #text,
                #site,
                || #private::TypeId::of::<#fn_type>(),
            )
        }
    }
}
