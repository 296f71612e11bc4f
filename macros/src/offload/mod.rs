//! The offload DSL's macros: `offload!`, `exported!`, `#[export_symbol]`, `declare_exports!`.
//!
//! One pipeline per macro, parse → check → analyze → codegen, on `proc_macro2` so that the tests
//! run every stage without a compiler:
//!
//! - `parse`: the macros' inputs into syntax trees (and `crate = path`);
//! - `check`: every rule a user can break, all reported at once with spans on their tokens
//!   (`return`/`?`/`break`/`continue` leaving an offloaded block; exported functions that are
//!   generic, async, methods, variadic, or return a reference, raw pointer or `impl Trait`);
//! - `analyze`: the symbol model (name, `fn` pointer type, signature text);
//! - `codegen`: one file per generated concern (the offloaded closure and the `exported!`
//!   rewrite, the symbol type, the export registration, the declaration registration).

mod analyze;
mod check;
mod codegen;
mod parse;
mod wire;

#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use quote::quote;

use crate::common::{CrateRoot, Errors, emit_or_fallback, parse_args};

/// The crate generated code reaches by default.
pub(crate) use wire::derive as derive_wire;

const DEFAULT_CRATE: &str = "offload";

/// `offload!({ .. })`.
pub(crate) fn offload(input: TokenStream) -> TokenStream {
    let parsed = match syn::parse2::<parse::OffloadInput>(input) {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    let root = CrateRoot::new(parsed.krate.as_ref(), DEFAULT_CRATE);
    let mut errors = Errors::new();
    check::block_escapes(&parsed.block, &mut errors);
    match errors.finish() {
        Ok(()) => codegen::offload_block::expand(&root, &parsed),
        Err(error) => {
            // The block inline, where `return`, `?` and `break` mean what they say, so that only
            // the real errors show.
            let errors = error.to_compile_error();
            let block = &parsed.block;
            quote!({ #errors #block })
        }
    }
}

/// `exported!(name)` outside `offload!` (inside, `offload!` rewrites it before it expands).
pub(crate) fn exported_outside_offload(input: TokenStream) -> TokenStream {
    let span = input
        .clone()
        .into_iter()
        .next()
        .map_or_else(proc_macro2::Span::call_site, |t| t.span());
    syn::Error::new(
        span,
        "`exported!` can only be used inside an `offload!({ .. })` block: it calls a hakase \
         function, which only the hakase can run; write `offload!({ exported!(name)(args) })`",
    )
    .to_compile_error()
}

/// `#[export_symbol]` / `#[export_symbol(declared_in = path, crate = path)]` on a hakase `fn`.
pub(crate) fn export_symbol(attr: TokenStream, item: TokenStream) -> TokenStream {
    let function = match syn::parse2::<syn::ItemFn>(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                "#[export_symbol] goes on a free function: `#[export_symbol] pub fn name(..) -> R { .. }`",
            );
            return emit_or_fallback(Err(error), || item);
        }
    };
    let mut errors = Errors::new();
    let args = errors.take(parse_args::<parse::ExportArgs>(attr));
    check::signature(&function.sig, "exported function", &mut errors);
    let expansion = errors.finish().map(|()| {
        let args = args.unwrap_or_default();
        let root = CrateRoot::new(args.krate.as_ref(), DEFAULT_CRATE);
        let symbol = analyze::symbol(&function.sig, &function.vis, &[]);
        codegen::export::expand(&root, &function, &symbol, args.declared_in.as_ref())
    });
    emit_or_fallback(expansion, || quote!(#function))
}

/// `declare_exports! { fn name(..) -> R; .. }`.
pub(crate) fn declare_exports(input: TokenStream) -> TokenStream {
    let parsed = match syn::parse2::<parse::DeclareInput>(input) {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    let root = CrateRoot::new(parsed.krate.as_ref(), DEFAULT_CRATE);
    let mut out = TokenStream::new();
    let mut errors = Errors::new();
    for declaration in &parsed.declarations {
        let mut own = Errors::new();
        check::signature(&declaration.sig, "declared export", &mut own);
        if let Err(error) = own.finish() {
            errors.push(error);
            continue;
        }
        let symbol = analyze::symbol(&declaration.sig, &declaration.vis, &declaration.attrs);
        out.extend(codegen::declare::expand(&root, &symbol));
        // Process friends' remote call, for declarations whose types cross (or that say
        // `#[remote]`: then one whose types cannot cross is an error, and a stand-in `remote`
        // keeps the calls of it from adding a second one).
        let forced = codegen::remote::is_marked_remote(&declaration.attrs);
        let mut remote = Errors::new();
        if forced {
            for attr in &declaration.attrs {
                if attr.path().is_ident("remote") && !matches!(attr.meta, syn::Meta::Path(_)) {
                    remote.error(
                        attr,
                        "#[remote] takes no arguments: write `#[remote]` above the declaration",
                    );
                }
            }
            codegen::remote::check_forced(&declaration.sig, &mut remote);
        }
        match remote.finish() {
            Ok(()) => out.extend(codegen::remote::expand(
                &root,
                &declaration.sig,
                &declaration.vis,
                forced,
            )),
            Err(error) => {
                errors.push(error);
                out.extend(codegen::remote::stand_in(
                    &root,
                    &declaration.sig,
                    &declaration.vis,
                ));
            }
        }
    }
    // The valid declarations are emitted either way, so that uses of them compile.
    emit_or_fallback(errors.finish_with(out.clone()), || out)
}
