//! The symbol model: what the export and declaration codegen need from a checked signature.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// One exported (or declared) symbol.
pub(crate) struct Symbol {
    /// The function's name, which is also the symbol's name and its symbol type's name.
    pub(crate) name: syn::Ident,
    pub(crate) vis: syn::Visibility,
    /// The attributes to carry over to the symbol type (doc comments of a declaration).
    pub(crate) docs: Vec<syn::Attribute>,
    /// The `fn` pointer type friends call it through: `for<'a> unsafe extern "C" fn(A) -> R`.
    pub(crate) fn_type: TokenStream,
    /// The signature as written, for messages: `fn hakase_print(msg: &str) -> usize`.
    pub(crate) text: String,
}

/// Builds the model of a signature that passed `check::signature`.
pub(crate) fn symbol(
    sig: &syn::Signature,
    vis: &syn::Visibility,
    attrs: &[syn::Attribute],
) -> Symbol {
    let lifetimes: Vec<&syn::Lifetime> = sig.generics.lifetimes().map(|l| &l.lifetime).collect();
    let binder = (!lifetimes.is_empty()).then(|| quote!(for<#(#lifetimes),*>));
    let unsafety = &sig.unsafety;
    let abi = &sig.abi;
    let types = sig.inputs.iter().filter_map(|input| match input {
        syn::FnArg::Typed(typed) => Some(&typed.ty),
        syn::FnArg::Receiver(_) => None,
    });
    let output = &sig.output;
    let fn_type = quote!(#binder #unsafety #abi fn(#(#types),*) #output);

    let arguments: Vec<String> = sig
        .inputs
        .iter()
        .map(|input| match input {
            syn::FnArg::Typed(typed) => {
                format!("{}: {}", tidy(&typed.pat), tidy(&typed.ty))
            }
            syn::FnArg::Receiver(receiver) => tidy(receiver),
        })
        .collect();
    let mut text = format!("fn {}({})", sig.ident, arguments.join(", "));
    if let syn::ReturnType::Type(_, ty) = &sig.output {
        text.push_str(&format!(" -> {}", tidy(ty)));
    }
    if let Some(abi) = abi {
        text = format!("{} {text}", tidy(abi));
    }
    if unsafety.is_some() {
        text = format!("unsafe {text}");
    }

    Symbol {
        name: sig.ident.clone(),
        vis: vis.clone(),
        docs: attrs
            .iter()
            .filter(|attr| attr.path().is_ident("doc"))
            .cloned()
            .collect(),
        fn_type,
        text,
    }
}

/// Tokens as a person would write them: `& str`, `Vec < u8 >` become `&str`, `Vec<u8>`.
pub(crate) fn tidy(tokens: &dyn ToTokens) -> String {
    let mut text = tokens.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        ("& ", "&"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
        (" ;", ";"),
        ("* const ", "*const "),
        ("* mut ", "*mut "),
        ("' ", "'"),
    ] {
        text = text.replace(from, to);
    }
    text
}
