//! `#[code_gear] impl I for D`: the impl itself, one registered code gear (with its stub) per
//! API method, and D's API table for `Gear<dyn I>`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::super::model::{ImplDef, ImplHead};
use super::stub::{self, Receiver};
use super::{param_assertions, param_table, site};
use crate::common::CrateRoot;

/// First half: hand the impl to the `I!` macro `#[interface]` left beside the trait, which comes
/// back with the declaration to [`expand`].
/// `I! { { <the impl's crate override, if any> } <impl> }`: the interface's macro adds its
/// declaration (and its own crate root, used when the impl has no override).
pub(crate) fn forward(
    head: &ImplHead,
    block: &syn::ItemImpl,
    overridden: Option<&syn::Path>,
) -> TokenStream {
    let path = &head.trait_path;
    quote! { #path! { { #overridden } #block } }
}

/// The path of the API table type: the trait's path with its last segment renamed.
fn api_path(trait_path: &syn::Path, interface: &syn::Ident) -> syn::Path {
    let mut path = trait_path.clone();
    if let Some(last) = path.segments.last_mut() {
        last.ident = super::interface::api_ident(interface);
        last.arguments = syn::PathArguments::None;
    }
    path
}

pub(crate) fn expand(def: &ImplDef, root: &CrateRoot) -> TokenStream {
    let private = root.private();
    let block = &def.block;
    let self_ty = &block.self_ty;
    let trait_path = &def.trait_path;
    let interface = def.interface_name.to_string();
    let self_name = def.self_name.to_string();
    let api = api_path(trait_path, &def.interface_name);

    let mut gears = Vec::new();
    let mut table = Vec::new();
    for method in &def.methods {
        let m = &method.sig.ident;
        let static_ident = format_ident!("__gears_code_{}", m);
        let names: Vec<&syn::Ident> = method.params.iter().map(|p| &p.name).collect();
        let wire: Vec<TokenStream> = method.params.iter().map(|p| p.wire_type(root)).collect();
        let receiver = Receiver {
            self_ty,
            is_mut: method.receiver_mut,
        };
        let this = if method.receiver_mut {
            quote!(&mut *__gears_self)
        } else {
            quote!(&*__gears_self)
        };
        let stub = stub::stub(
            root,
            Some(&receiver),
            &method.params,
            quote! { <#self_ty as #trait_path>::#m(#this, #(#names),*) },
        );
        let assertions = param_assertions(root, &method.params);
        let params = param_table(
            root,
            Some((&self_name, method.receiver_mut)),
            &method.params,
        );
        let name = format!("{self_name}::{m}");
        let site = site(root, m.span());
        gears.push(quote! {
            #[allow(non_upper_case_globals)]
            static #static_ident: #root::CodeGear<(#root::Gear<#self_ty>, #(#wire,)*)> = {
                #stub
                #assertions
                #root::CodeGear::new(#root::CodeGearInfo::new(
                    #name,
                    ::core::concat!(::core::module_path!(), "::", #name),
                    ::core::option::Option::Some(#interface),
                    #params,
                    #site,
                    __gears_stub,
                ))
            };
            #private::inventory::submit! { #private::CodeGearEntry::of(&#static_ident) }
        });
        table.push(quote! {
            #m: |gear, #(#names),*| #static_ident.__gears_goto(#root::Gear::__from_raw(gear), #(#names),*)
        });
    }
    let site = site(root, def.self_name.span());

    quote! {
        #block

        const _: () = {
            #(#gears)*

            impl #root::Implements<dyn #trait_path> for #self_ty {
                const API: &'static #api = &#api { #(#table,)* };
            }

            #private::inventory::submit! {
                #private::ImplEntry {
                    interface: #interface,
                    data_gear: #self_name,
                    key: ::core::concat!(::core::module_path!(), "::", #self_name, " as ", #interface),
                    site: #site,
                }
            }
        };
    }
}
