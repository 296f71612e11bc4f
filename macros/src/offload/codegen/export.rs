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
    let fn_type = &symbol.fn_type;
    let (symbol_type, check) = match declared_in {
        // The declaration's symbol type is the symbol. The path is spanned at the `declared_in`
        // module, so that rustc's suggestions for a wrong module edit the attribute; the
        // signature check names the declaration and both types (and is the one error).
        Some(module) => {
            let in_module = syn::Ident::new(&name_text, module.span());
            let declared = quote_spanned!(module.span()=> #module::#in_module);
            let check = quote_spanned! {function.sig.ident.span()=>
                #private::same_signature::<
                    <#declared as #private::ExportedSymbol>::Fn,
                    #fn_type,
                    #declared,
                >();
            };
            (TokenStream::new(), check)
        }
        None => (symbol_type::expand(root, symbol), TokenStream::new()),
    };
    let value = quote_spanned!(function.sig.ident.span()=> #name);
    quote! {
        #function
        #symbol_type
        const _: () = {
            const fn __gears_check() {
                #check
            }
            static __GEARS_EXPORTED_FN: #fn_type = #value;
            #private::inventory::submit! {
                #private::Export::new(#name_text, #text, #private::site!(), &__GEARS_EXPORTED_FN)
            }
        };
    }
}
