//! `#[interface] trait I`: the trait itself, the API table type every implementation fills
//! (GearsOS's per-interface `Gearef` slots), the calls `goto!(gear.api(..))` goes through, the
//! `Interface` impl for `dyn I`, its registration, and the `I!` macro that carries the
//! declaration to `#[code_gear] impl I for D`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::super::model::InterfaceDef;
use super::site;
use crate::common::CrateRoot;

/// Names of the generated companions of interface `name`.
pub(crate) fn api_ident(name: &syn::Ident) -> syn::Ident {
    format_ident!("__gears_{}_api", name)
}

fn calls_ident(name: &syn::Ident) -> syn::Ident {
    format_ident!("__gears_{}_calls", name)
}

fn macro_ident(name: &syn::Ident) -> syn::Ident {
    format_ident!("__gears_interface_{}", name)
}

pub(crate) fn expand(def: &InterfaceDef, root: &CrateRoot) -> TokenStream {
    let private = root.private();
    let item = &def.item;
    let ident = &item.ident;
    let name = ident.to_string();
    let vis = &item.vis;
    let api = api_ident(ident);
    let calls = calls_ident(ident);
    let macro_name = macro_ident(ident);

    let mut fields = Vec::new();
    let mut call_methods = Vec::new();
    let mut signatures = Vec::new();
    for method in &def.methods {
        let m = &method.sig.ident;
        let names: Vec<&syn::Ident> = method.params.iter().map(|p| &p.name).collect();
        let wire: Vec<TokenStream> = method.params.iter().map(|p| p.wire_type(root)).collect();
        fields.push(quote! { pub #m: fn(#root::RawGear, #(#wire),*) -> #root::Goto });
        let doc = format!("Goes to the `{m}` code gear of the implementation behind the handle.");
        call_methods.push(quote! {
            #[doc = #doc]
            #[allow(clippy::too_many_arguments)]
            pub fn #m(self, #(#names: #wire),*) -> #root::Goto {
                (self.api.#m)(self.gear, #(#names),*)
            }
        });
        let receiver = if method.receiver_mut {
            "&mut self"
        } else {
            "&self"
        };
        let rest: Vec<String> = method
            .params
            .iter()
            .map(|p| {
                let ty = &p.ty;
                format!("{}: {}", p.name, quote!(#ty).to_string().replace(' ', ""))
            })
            .collect();
        let signature = std::iter::once(receiver.to_string())
            .chain(rest)
            .collect::<Vec<_>>()
            .join(", ");
        let method_name = m.to_string();
        signatures.push(quote! { (#method_name, #signature) });
    }
    let site = site(root, ident.span());
    let root_path = root.clone();

    quote! {
        #item

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #api {
            #(#fields,)*
        }

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #[derive(Clone, Copy)]
        #vis struct #calls {
            gear: #root::RawGear,
            api: &'static #api,
        }

        impl #calls {
            #(#call_methods)*
        }

        impl #root::GearTarget for dyn #ident {
            type Target = &'static #api;
            fn gear_type_name() -> &'static str {
                ::core::concat!("dyn ", #name)
            }
        }

        impl #root::Interface for dyn #ident {
            type Calls = #calls;
            const INFO: &'static #root::InterfaceInfo = &#root::InterfaceInfo {
                name: #name,
                module: ::core::module_path!(),
                methods: &[#(#signatures),*],
                site: #site,
            };
            fn calls(gear: #root::RawGear, api: &'static #api) -> #calls {
                #calls { gear, api }
            }
        }

        #private::inventory::submit! {
            #private::InterfaceEntry(
                <dyn #ident as #root::Interface>::INFO,
                ::core::concat!(::core::module_path!(), "::", #name),
            )
        }

        #[doc(hidden)]
        macro_rules! #macro_name {
            ({} $($impl:tt)*) => {
                #private::impl_interface! { { #root_path } {} { #item } { $($impl)* } }
            };
            // The impl has its own `crate = path`: reached through it, as the impl's code is.
            ({ $($impl_root:tt)+ } $($impl:tt)*) => {
                $($impl_root)+::__private::impl_interface! {
                    { #root_path } { $($impl_root)+ } { #item } { $($impl)* }
                }
            };
        }

        #[doc(hidden)]
        #[allow(unused_imports)]
        pub(crate) use #macro_name as #ident;
    }
}
