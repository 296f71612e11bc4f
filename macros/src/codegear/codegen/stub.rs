//! The stub of a code gear (GearsOS's `_stub` code gears): takes the arguments out of the
//! `Goto`, borrows the data gears from the heap, and calls the body.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

use super::super::model::{Param, ParamKind};
use crate::common::CrateRoot;

/// The receiver of an API code gear: the implementing type, borrowed `Mut` or `Ref`.
pub(crate) struct Receiver<'a> {
    pub(crate) self_ty: &'a syn::Type,
    pub(crate) is_mut: bool,
}

/// `fn __gears_stub(heap, goto) -> Result<(), Error>` whose last step writes the call `call`
/// makes of the arguments into `goto`. The arguments are bound under hidden names (`call` gets
/// them in parameter order; the receiver is `__gears_self`), so that a parameter named like a
/// code gear (a static) is reported once, at the user's parameter, not again in the stub.
pub(crate) fn stub(
    root: &CrateRoot,
    receiver: Option<&Receiver<'_>>,
    params: &[Param],
    call: impl FnOnce(&[syn::Ident]) -> TokenStream,
) -> TokenStream {
    let private = root.private();
    let self_ident = format_ident!("__gears_self");
    let mut names = Vec::new();
    let mut wire = Vec::new();
    // (name, data gear type, is_mut)
    let mut gears: Vec<(syn::Ident, TokenStream, bool)> = Vec::new();
    if let Some(receiver) = receiver {
        let ty = receiver.self_ty;
        names.push(self_ident.clone());
        wire.push(quote!(#root::Gear<#ty>));
        gears.push((self_ident.clone(), quote!(#ty), receiver.is_mut));
    }
    let hidden: Vec<syn::Ident> = (0..params.len())
        .map(|i| format_ident!("__gears_arg_{}", i))
        .collect();
    for (param, name) in params.iter().zip(&hidden) {
        names.push(name.clone());
        wire.push(param.wire_type(root));
        match &param.kind {
            ParamKind::Mut(inner) => gears.push((name.clone(), quote!(#inner), true)),
            ParamKind::Ref(inner) => gears.push((name.clone(), quote!(#inner), false)),
            _ => {}
        }
    }
    let call = call(&hidden);

    let aliasing = if gears.len() >= 2 {
        let rows = gears.iter().map(|(name, ty, is_mut)| {
            quote! { (#name.raw(), #is_mut, <#ty as #root::GearTarget>::gear_type_name as fn() -> &'static str) }
        });
        quote! { __gears_heap.stub_check_aliasing(&[#(#rows),*])?; }
    } else {
        TokenStream::new()
    };
    let refs = gears
        .iter()
        .filter(|(_, _, is_mut)| !is_mut)
        .map(|(name, _, _)| {
            quote! { let #name = __gears_heap.stub_borrow_ref(#name)?; }
        });
    let muts: Vec<&(syn::Ident, TokenStream, bool)> =
        gears.iter().filter(|(_, _, is_mut)| *is_mut).collect();
    let mut_bindings = match muts.as_slice() {
        [] => TokenStream::new(),
        [(name, _, _)] => quote! {
            #[allow(unused_mut)]
            let mut #name = __gears_heap.stub_borrow_mut(#name)?;
        },
        many => {
            let temps: Vec<syn::Ident> = (0..many.len())
                .map(|i| syn::Ident::new(&format!("__gears_mut_{i}"), Span::call_site()))
                .collect();
            let requests = many.iter().map(|(name, ty, _)| {
                quote! { (#name.raw(), <#ty as #root::GearTarget>::gear_type_name as fn() -> &'static str) }
            });
            let typed = many.iter().zip(&temps).map(|((name, ty, _), temp)| {
                quote! {
                    #[allow(unused_mut)]
                    let mut #name = #root::Mut::__new(#private::downcast_mut::<#ty>(#temp)?, #name);
                }
            });
            quote! {
                let [#(#temps),*] = __gears_heap.stub_borrow_many([#(#requests),*])?;
                #(#typed)*
            }
        }
    };

    quote! {
        #[allow(clippy::needless_question_mark, unused_mut)]
        fn __gears_stub(
            __gears_heap: &mut #root::Heap,
            __gears_goto: &mut #root::Goto,
        ) -> ::core::result::Result<(), #root::Error> {
            let (#(#names,)*) = __gears_goto.__gears_take::<(#(#wire,)*)>()?;
            #aliasing
            #(#refs)*
            #mut_bindings
            *__gears_goto = #call;
            ::core::result::Result::Ok(())
        }
    }
}
