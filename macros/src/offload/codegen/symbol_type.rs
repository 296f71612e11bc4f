//! The symbol type: a braced struct named like the function, in the type namespace beside it,
//! implementing `ExportedSymbol`, so that `exported!(name)` resolves the name at compile time.

use proc_macro2::TokenStream;
use quote::quote;

use crate::common::CrateRoot;
use crate::offload::analyze::Symbol;

pub(crate) fn expand(root: &CrateRoot, symbol: &Symbol) -> TokenStream {
    let private = root.private();
    let Symbol {
        name,
        vis,
        docs,
        fn_type,
        text,
    } = symbol;
    let name_text = name.to_string();
    let summary = format!(
        " Exported symbol `{name}`: `{text}` (call it with `exported!({name})` inside `offload!`)."
    );
    // A braced struct lives in the type namespace only, so it can share the function's name.
    quote! {
        #(#docs)*
        #[doc = #summary]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #name {}

        impl #private::ExportedSymbol for #name {
            const NAME: &'static str = #name_text;
            type Fn = #fn_type;
        }
    }
}
