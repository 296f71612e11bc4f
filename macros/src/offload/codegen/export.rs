//! `#[export_symbol]`: the function, its symbol type (unless it implements a declaration), and
//! its registration in the export table.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::symbol_type;
use crate::common::CrateRoot;
use crate::offload::analyze::Symbol;

pub(crate) fn expand(
    root: &CrateRoot,
    function: &syn::ItemFn,
    symbol: &Symbol,
    declared_in: Option<&syn::Path>,
) -> TokenStream {
    let private = root.private();
    let name = &symbol.name;
    let name_text = name.to_string();
    let text = &symbol.text;
    let (symbol_type, symbol_path) = match declared_in {
        // The declaration's symbol type is the symbol: the static's type comes from it, so an
        // implementation with another signature fails to coerce, at the function's name.
        Some(module) => (TokenStream::new(), quote!(#module::#name)),
        None => (symbol_type::expand(root, symbol), quote!(#name)),
    };
    let value = quote_spanned!(function.sig.ident.span()=> #name);
    let static_type = quote_spanned!(function.sig.span()=>
        <#symbol_path as #private::ExportedSymbol>::Fn
    );
    quote! {
        #function
        #symbol_type
        const _: () = {
            static __GEARS_EXPORTED_FN: #static_type = #value;
            #private::inventory::submit! {
                #private::Export::new(#name_text, #text, #private::site!(), &__GEARS_EXPORTED_FN)
            }
        };
    }
}
