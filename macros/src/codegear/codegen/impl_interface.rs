//! `#[code_gear] impl I for D`: the impl itself, one registered code gear (with its stub) per
//! API method, and D's API table for `Gear<dyn I>`.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;

use super::super::args::Instances;
use super::super::check;
use super::super::generics;
use super::super::model::{ImplDef, ImplHead, InterfaceDef};
use super::super::text::tokens_text;
use super::stub::{self, Receiver};
use super::{param_assertions, param_table, site};
use crate::common::CrateRoot;

/// The hidden attribute that carries `#[code_gear(instances(..))]` through the `I!` macro.
const INSTANCES_ATTR: &str = "__gears_instances";

/// First half: hand the impl to the `I!` macro `#[interface]` left beside the trait, which comes
/// back with the declaration to [`expand`].
/// `I! { { <the impl's crate override, if any> } <impl> }`: the interface's macro adds its
/// declaration (and its own crate root, used when the impl has no override).
pub(crate) fn forward(
    head: &ImplHead,
    block: &syn::ItemImpl,
    instances: &Instances,
    overridden: Option<&syn::Path>,
) -> TokenStream {
    // The macro is named by the trait's path without its type arguments (`Stack<T>` → `Stack!`).
    let mut path = head.trait_path.clone();
    for segment in &mut path.segments {
        segment.arguments = syn::PathArguments::None;
    }
    let carried = if instances.0.is_empty() {
        TokenStream::new()
    } else {
        let attr = format_ident!("{}", INSTANCES_ATTR);
        let list = &instances.0;
        quote! { #[#attr(#(#list),*)] }
    };
    quote! { #path! { { #overridden } #carried #block } }
}

/// Takes the instances [`forward`] attached back off the impl.
pub(crate) fn take_instances(mut block: syn::ItemImpl) -> (syn::ItemImpl, Instances) {
    let mut instances = Instances::default();
    block.attrs.retain(|attr| {
        if !attr.path().is_ident(INSTANCES_ATTR) {
            return true;
        }
        if let Ok(list) = attr.parse_args_with(
            syn::punctuated::Punctuated::<syn::Type, syn::Token![,]>::parse_terminated,
        ) {
            instances.0.extend(list);
        }
        false
    });
    (block, instances)
}

/// The impl as written, and the API code gears and table of each concrete implementation: the
/// impl itself, or each listed instance of a generic one.
pub(crate) fn expand(
    def: &ImplDef,
    root: &CrateRoot,
    interface: &InterfaceDef,
    instances: &Instances,
) -> TokenStream {
    let block = &def.block;
    if block.generics.params.is_empty() {
        let rows = rows(def, root);
        return quote! { #block #rows };
    }
    let mut plain = block.clone();
    plain.generics = syn::Generics::default();
    let subs = generics::substitutions(&block.generics, instances).unwrap_or_default();
    let rows = subs.iter().filter_map(|with| {
        let concrete: syn::ItemImpl = generics::substitute_parse(&plain, with).ok()?;
        let concrete = check::impl_interface(interface, &concrete, &Instances::default()).ok()?;
        Some(rows(&concrete, root))
    });
    quote! {
        #block
        #(#rows)*
    }
}

/// The API code gears (statics with their stubs, registered), the `Implements` table and the
/// implementation's registration, for one concrete implementation.
fn rows(def: &ImplDef, root: &CrateRoot) -> TokenStream {
    let private = root.private();
    let block = &def.block;
    let self_ty = &block.self_ty;
    let trait_path = &def.trait_path;
    // `SingleLinkedStack` or `SingleLinkedStack<i64>`: the last segment, as written.
    let self_name = match &**self_ty {
        syn::Type::Path(path) => path
            .path
            .segments
            .last()
            .map_or_else(|| tokens_text(self_ty), tokens_text),
        other => tokens_text(other),
    };
    let interface_name = def.interface_name.to_string();
    let interface = quote! { <dyn #trait_path as #root::Interface>::INFO };

    let mut gears = Vec::new();
    let mut table = Vec::new();
    for method in &def.methods {
        let m = &method.sig.ident;
        let static_ident = format_ident!("__gears_code_{}", m);
        // Hidden names: a parameter named like a code gear (a static) must not be reported
        // again here.
        let names: Vec<syn::Ident> = (0..method.params.len())
            .map(|i| format_ident!("__gears_arg_{}", i))
            .collect();
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
            |names| quote! { <#self_ty as #trait_path>::#m(#this, #(#names),*) },
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
            |gear, #(#names),*| #static_ident.goto(#root::Gear::__from_raw(gear), #(#names),*)
        });
        table.push(quote! {
            |gear, #(#names),*| #static_ident.bind((#root::Gear::__from_raw(gear), #(#names,)*))
        });
    }
    let site = site(root, def.self_name.span());
    // The one place the implementing type's data-gear bound is asserted (`Implements` has no
    // supertrait and the stubs borrow type-erased), spanned on the user's type.
    let self_info = quote_spanned! {self_ty.span()=> <#self_ty as #root::DataGear>::INFO };

    quote! {
        const _: () = {
            #(#gears)*

            impl #root::Implements<dyn #trait_path> for #self_ty {
                const API: <dyn #trait_path as #root::GearTarget>::Target =
                    &<<dyn #trait_path as #root::Interface>::Api>::__gears_new(#(#table),*);
            }

            #private::inventory::submit! {
                #private::ImplEntry {
                    interface: #interface,
                    data_gear: #self_info,
                    key: ::core::concat!(::core::module_path!(), "::", #self_name, " as ", #interface_name),
                    site: #site,
                }
            }
        };
    }
}
