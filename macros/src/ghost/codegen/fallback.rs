//! What is emitted beside the errors, so that only the real errors show: the user's impl (minus
//! the DSL's markers and minus second definitions of a handler, which the duplicate error already
//! points at), a stand-in `Scheduler` impl and the entry points with their real signatures. The
//! stand-ins' bodies never run: the crate does not compile.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote};
use syn::{ImplItem, ItemImpl, Path, Type};

use crate::ghost::analyze::strip_markers;
use crate::ghost::catalogue::{self, HANDLERS, Shape};
use crate::ghost::check::{GENERATED, is_helper};

/// The fallback expansion for `item`; `task` is the `task = ` type if one was given.
pub(crate) fn fallback(item: &ItemImpl, krate: &Path, task: Option<&Type>) -> TokenStream {
    // A trait impl was meant as the scheduler's inherent impl (the error says so): emit it as one,
    // so that its handlers do not also fail as members of that trait.
    let mut item = without_duplicates(&strip_markers(item));
    item.trait_ = None;
    let mut out = item.to_token_stream();
    // A generic impl cannot take the stand-ins; its error says what to fix.
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        return out;
    }
    let rt = quote!(#krate::__private::scheduler);
    let self_ty = &item.self_ty;
    let task = task.map_or_else(|| quote!(()), ToTokens::to_token_stream);
    let never = quote!(::core::panic!(
        "#[ghost_scheduler] reported errors; this stand-in never runs"
    ));
    let methods = HANDLERS.iter().filter(|spec| spec.required).map(|spec| {
        let name = format_ident!("{}", spec.name);
        match spec.shape {
            Shape::Task { msg } => {
                let msg = format_ident!("{}", msg);
                quote! {
                    fn #name(&mut self, _: &mut #rt::Task<#task>, _: &#rt::msg::#msg, _: &mut #rt::Cx<'_>) {
                        #never
                    }
                }
            }
            Shape::PickNext => quote! {
                fn #name(&mut self, _: #rt::Cpu, _: &mut #rt::Cx<'_>) -> ::core::option::Option<#rt::Gtid> {
                    #never
                }
            },
            // Optional handlers keep the trait's defaults.
            Shape::Cpu { .. } | Shape::Rpc | Shape::EnclaveReady | Shape::CommitFailed => quote!(),
        }
    });
    out.extend(quote! {
        impl #rt::Scheduler for #self_ty {
            type TaskData = #task;
            const MODEL: #rt::Model = #rt::Model::PerCpu;
            #[allow(clippy::unused_unit)]
            fn new_task_data() -> #task {
                #never
            }
            #(#methods)*
        }
    });
    out.extend(super::full_agent::generate(self_ty, krate));
    out
}

/// `item` with only the first definition of each handler, and without methods named like the
/// generated entry points.
fn without_duplicates(item: &ItemImpl) -> ItemImpl {
    let mut item = item.clone();
    let mut seen: Vec<String> = Vec::new();
    item.items.retain(|inner| match inner {
        // Reported; the stand-in entry points take their place.
        ImplItem::Fn(method) if GENERATED.contains(&method.sig.ident.to_string().as_str()) => false,
        ImplItem::Fn(method) if !is_helper(method) => {
            let name = method.sig.ident.to_string();
            if catalogue::lookup(&name).is_none() {
                return true;
            }
            if seen.contains(&name) {
                return false;
            }
            seen.push(name);
            true
        }
        _ => true,
    });
    item
}
