//! The codegear DSL: `#[data_gear]`, `#[interface]`, `#[code_gear]` (on functions and on
//! `impl Interface for DataGear`), `goto!` and `next!`.
//!
//! Each attribute runs parse → check → codegen on `proc_macro2` tokens; on any error it emits the
//! errors next to a fallback (the user's item, made harmless) so that rustc reports only them.
//!
//! `#[code_gear] impl I for D` needs the interface's declaration, which another invocation saw.
//! `#[interface] trait I` therefore leaves a `macro_rules!` named `I` (in the macro namespace,
//! beside the trait) that carries the declaration; the impl expands to `I! { .. }`, which
//! forwards both to the hidden [`impl_interface`] macro for checking and codegen.

mod args;
mod check;
mod codegen;
mod goto;
mod model;
mod par_goto;
mod parse;

use proc_macro2::TokenStream;
use quote::ToTokens;

use crate::common::{CrateRoot, emit_or_fallback, parse_args};

pub(crate) use goto::{goto, next};
pub(crate) use par_goto::par_goto;

/// `#[data_gear]` on a struct or enum.
pub(crate) fn data_gear(attr: TokenStream, item: TokenStream) -> TokenStream {
    let fallback_item = item.clone();
    emit_or_fallback(
        (|| {
            let args: args::CodegearArgs = parse_args(attr)?;
            let root = CrateRoot::new(args.krate.as_ref(), "codegear");
            let def = parse::data_gear(item)?;
            check::data_gear(&def)?;
            Ok(codegen::data_gear::expand(&def, &root))
        })(),
        || fallback_item,
    )
}

/// `#[interface]` on a trait.
pub(crate) fn interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    let fallback_item = item.clone();
    emit_or_fallback(
        (|| {
            let args: args::CodegearArgs = parse_args(attr)?;
            let root = CrateRoot::new(args.krate.as_ref(), "codegear");
            let def = parse::interface(item)?;
            check::interface(&def)?;
            Ok(codegen::interface::expand(&def, &root))
        })(),
        || fallback_item,
    )
}

/// `#[code_gear]` on a function or on `impl Interface for DataGear`.
pub(crate) fn code_gear(attr: TokenStream, item: TokenStream) -> TokenStream {
    let fallback_item = item.clone();
    let parsed = (|| {
        let args: args::CodegearArgs = parse_args(attr)?;
        let item: syn::Item = syn::parse2(item)?;
        Ok((args.krate, item))
    })();
    let (overridden, item) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return emit_or_fallback(Err(error), || fallback_item),
    };
    match item {
        syn::Item::Fn(function) => {
            let fallback = codegen::code_gear_fn::fallback(&function);
            emit_or_fallback(
                (|| {
                    let def = parse::code_gear_fn(function)?;
                    check::code_gear_fn(&def)?;
                    let root = CrateRoot::new(overridden.as_ref(), "codegear");
                    Ok(codegen::code_gear_fn::expand(&def, &root))
                })(),
                || fallback,
            )
        }
        syn::Item::Impl(block) => emit_or_fallback(
            (|| {
                let def = parse::impl_head(&block)?;
                Ok(codegen::impl_interface::forward(
                    &def,
                    &block,
                    overridden.as_ref(),
                ))
            })(),
            || block.into_token_stream(),
        ),
        other => emit_or_fallback(
            Err(syn::Error::new_spanned(
                &other,
                "#[code_gear] goes on a function (`fn f(..) -> Goto`) or on an interface \
                 implementation (`impl Interface for DataGear { .. }`)",
            )),
            || other.into_token_stream(),
        ),
    }
}

/// The hidden second half of `#[code_gear] impl I for D`, reached through the `I!` macro that
/// `#[interface]` generated: `{ <crate root> } { <trait I> } { <impl> }`.
pub(crate) fn impl_interface(input: TokenStream) -> TokenStream {
    let parsed = parse::impl_interface_input(input);
    let (root, interface, block) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return error.to_compile_error(),
    };
    let root = CrateRoot::new(Some(&root), "codegear");
    match check::impl_interface(&interface, &block) {
        Ok(def) => codegen::impl_interface::expand(&def, &root),
        Err((error, repaired)) => {
            // The impl with missing code gears stubbed and unknown ones dropped, so that rustc
            // adds no "not all trait items implemented" on top of our message.
            let mut tokens = match repaired {
                Some(def) => codegen::impl_interface::expand(&def, &root),
                None => TokenStream::new(),
            };
            tokens.extend(error.to_compile_error());
            tokens
        }
    }
}

#[cfg(test)]
mod tests;
