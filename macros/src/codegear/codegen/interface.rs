//! `#[interface] trait I`: the trait itself, the API table type every implementation fills
//! (GearsOS's per-interface `Gearef` slots), the calls `goto!(gear.api(..))` goes through, the
//! `Interface` impl for `dyn I`, its registration, and the `I!` macro that carries the
//! declaration to `#[code_gear] impl I for D`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::super::model::InterfaceDef;
use super::super::text::tokens_text;
use super::site;
use crate::common::CrateRoot;

/// Names of the generated companions of interface `name`.
pub(crate) fn api_ident(name: &syn::Ident) -> syn::Ident {
    format_ident!("__gears_{}_api", name)
}

// These two are named in rustc's "no method named `pop3` found for struct `Stack_code_gears`"
// when `goto!(gear.pop3(..))` / `next!(gear.pop3(..))` names an API the interface lacks, so
// they read as what they are rather than as generated internals.
fn calls_ident(name: &syn::Ident) -> syn::Ident {
    format_ident!("{}_code_gears", name)
}

fn next_ident(name: &syn::Ident) -> syn::Ident {
    format_ident!("{}_continuations", name)
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
    let next_calls = next_ident(ident);

    let mut fields = Vec::new();
    let mut field_names = Vec::new();
    let mut field_types = Vec::new();
    let mut call_methods = Vec::new();
    let mut next_methods = Vec::new();
    let mut signatures = Vec::new();
    for method in &def.methods {
        let m = &method.sig.ident;
        let names: Vec<syn::Ident> = (0..method.params.len())
            .map(|i| format_ident!("__gears_arg_{}", i))
            .collect();
        let wire: Vec<TokenStream> = method.params.iter().map(|p| p.wire_type(root)).collect();
        let bind = format_ident!("__gears_bind_{}", m);
        fields.push(quote! { #m: fn(#root::RawGear, #(#wire),*) -> #root::Goto });
        fields.push(quote! { #bind: fn(#root::RawGear, #(#wire),*) -> #root::Next<()> });
        field_names.push(m.clone());
        field_types.push(quote! { fn(#root::RawGear, #(#wire),*) -> #root::Goto });
        field_names.push(bind.clone());
        field_types.push(quote! { fn(#root::RawGear, #(#wire),*) -> #root::Next<()> });
        let doc = format!(
            "The continuation that goes to the `{m}` code gear of the implementation behind the \
             handle with all its arguments bound (`next!(gear.{m}(..))`)."
        );
        next_methods.push(quote! {
            #[doc = #doc]
            #[allow(clippy::too_many_arguments)]
            pub fn #m(self, #(#names: #wire),*) -> #root::Next<()> {
                (self.api.#bind)(self.gear, #(#names),*)
            }
        });
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
            .map(|p| format!("{}: {}", p.name, tokens_text(&p.ty)))
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
    // A generic interface (`trait Stack<T>`): its tables are generic too; each parameter must
    // be a value (it travels in continuations).
    let params: Vec<&syn::Ident> = item.generics.type_params().map(|p| &p.ident).collect();
    let (generic_args, bounded, marker, marker_init) = if params.is_empty() {
        (quote!(), quote!(), quote!(), quote!())
    } else {
        (
            quote!(<#(#params),*>),
            quote!(<#(#params: #root::Value),*>),
            quote!(_marker: ::core::marker::PhantomData<fn() -> (#(#params,)*)>,),
            quote!(_marker: ::core::marker::PhantomData,),
        )
    };
    // `dyn Stack` / `dyn Stack<i64>`: a generic interface's handle prints its instance.
    let display = if params.is_empty() {
        quote! { #private::interface_display(<Self as #root::Interface>::INFO) }
    } else {
        quote! {
            #private::interface_display_with(
                <Self as #root::Interface>::INFO,
                &[#(::core::any::type_name::<#params>()),*],
            )
        }
    };
    let generics_text = if params.is_empty() {
        String::new()
    } else {
        format!(
            "<{}>",
            params
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let repaired_attr = if def.repaired.is_empty() {
        quote!()
    } else {
        let names = def.repaired.iter().map(|n| format_ident!("{}", n));
        quote!(#[__gears_repaired(#(#names),*)])
    };
    let calls_where = if params.is_empty() {
        quote!()
    } else {
        quote!(where #(#params: 'static),*)
    };
    let unit_args = if params.is_empty() {
        quote!()
    } else {
        let units = params.iter().map(|_| quote!(()));
        quote!(<#(#units),*>)
    };

    quote! {
        #item

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #api #generic_args {
            #(#fields,)*
            #marker
        }

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #calls #generic_args #calls_where {
            gear: #root::RawGear,
            api: &'static #api #generic_args,
        }

        impl #bounded ::core::clone::Clone for #calls #generic_args {
            fn clone(&self) -> Self {
                *self
            }
        }

        impl #bounded ::core::marker::Copy for #calls #generic_args {}

        impl #bounded #calls #generic_args {
            #(#call_methods)*
        }

        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #next_calls #generic_args #calls_where {
            gear: #root::RawGear,
            api: &'static #api #generic_args,
        }

        impl #bounded ::core::clone::Clone for #next_calls #generic_args {
            fn clone(&self) -> Self {
                *self
            }
        }

        // Copy: its methods take `self` and are reached through `Continuations`' `Deref`.
        impl #bounded ::core::marker::Copy for #next_calls #generic_args {}

        impl #bounded #next_calls #generic_args {
            #(#next_methods)*
        }

        impl #bounded #api #generic_args {
            /// The table of one implementation, in declaration order (named by
            /// `#[code_gear] impl` through `Interface::Api`, so that it works wherever the trait
            /// is in scope, however it was imported).
            #[allow(clippy::too_many_arguments)]
            pub const fn __gears_new(#(#field_names: #field_types),*) -> Self {
                Self { #(#field_names,)* #marker_init }
            }
        }

        impl #bounded #root::GearTarget for dyn #ident #generic_args {
            type Target = &'static #api #generic_args;
            fn gear_type_name() -> &'static str {
                #display
            }
        }

        impl #bounded #root::Interface for dyn #ident #generic_args {
            type Calls = #calls #generic_args;
            type Api = #api #generic_args;
            const INFO: &'static #root::InterfaceInfo = &#root::InterfaceInfo {
                name: #name,
                generics: #generics_text,
                module: ::core::module_path!(),
                methods: &[#(#signatures),*],
                site: #site,
            };
            fn calls(gear: #root::RawGear, api: &'static #api #generic_args) -> #calls #generic_args {
                #calls { gear, api }
            }
            type Continuations = #next_calls #generic_args;
            fn continuations(gear: #root::RawGear, api: &'static #api #generic_args) -> #next_calls #generic_args {
                #next_calls { gear, api }
            }
        }

        #private::inventory::submit! {
            #private::InterfaceEntry(
                <dyn #ident #unit_args as #root::Interface>::INFO,
                ::core::concat!(::core::module_path!(), "::", #name),
            )
        }

        #[doc(hidden)]
        macro_rules! #macro_name {
            ({} $($impl:tt)*) => {
                #private::impl_interface! { { #root_path } {} { #repaired_attr #item } { $($impl)* } }
            };
            // The impl has its own `crate = path`: reached through it, as the impl's code is.
            ({ $($impl_root:tt)+ } $($impl:tt)*) => {
                $($impl_root)+::__private::impl_interface! {
                    { #root_path } { $($impl_root)+ } { #repaired_attr #item } { $($impl)* }
                }
            };
        }

        #[doc(hidden)]
        #[allow(unused_imports)]
        pub(crate) use #macro_name as #ident;
    }
}
