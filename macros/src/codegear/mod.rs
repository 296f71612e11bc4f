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
mod generics;
mod goto;
mod model;
mod par_goto;
mod parse;
mod text;

use proc_macro2::TokenStream;
use quote::ToTokens;

use crate::common::{CrateRoot, emit_or_fallback, parse_args};

pub(crate) use goto::{goto, next};
pub(crate) use par_goto::par_goto;

/// Parses the attribute's arguments; on error, records it and goes on with the defaults, so that
/// a typo in an argument is one error and the item still expands (and its uses compile).
fn args_or_default<T: crate::common::AttrArgs + Default>(
    attr: TokenStream,
    errors: &mut Vec<syn::Error>,
) -> T {
    parse_args(attr).unwrap_or_else(|error| {
        errors.push(error);
        T::default()
    })
}

/// The crate root for an attribute without `crate = path`: `::codegear`, or, where the user's
/// manifest renames the dependency (`cg = { package = "codegear", .. }`), an error saying to
/// add `crate = ::cg` beside an expansion through `::cg` (so that nothing else fails).
fn default_root(
    krate: Option<&syn::Path>,
    attribute: &str,
    errors: &mut Vec<syn::Error>,
) -> CrateRoot {
    if krate.is_some() {
        return CrateRoot::new(krate, "codegear");
    }
    let Some(renamed) = renamed_dependency("codegear") else {
        return CrateRoot::new(None, "codegear");
    };
    errors.push(syn::Error::new(
        proc_macro2::Span::call_site(),
        format!(
            "this crate depends on codegear under another name (`{renamed} = {{ package = \
             \"codegear\", .. }}` in its Cargo.toml), so the generated code cannot name \
             `::codegear`: write `#[{attribute}(crate = ::{renamed})]`"
        ),
    ));
    let path: syn::Path =
        syn::parse_str(&format!("::{renamed}")).unwrap_or_else(|_| syn::parse_quote!(::codegear));
    CrateRoot::new(Some(&path), "codegear")
}

/// The name the manifest of the crate being compiled gives dependency `package`, if it renames
/// it (`name = { package = "codegear", .. }` or a `[dependencies.name]` table with
/// `package = "codegear"`). A plain line scan: enough for the two spellings Cargo documents.
fn renamed_dependency(package: &str) -> Option<String> {
    // Read once per crate being compiled, not once per attribute: the macro library stays
    // loaded for the whole crate (and a long-lived host such as rust-analyzer may serve several
    // crates, hence the key).
    type Cache = std::collections::HashMap<(std::ffi::OsString, String), Option<String>>;
    static CACHE: std::sync::Mutex<Option<Cache>> = std::sync::Mutex::new(None);
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")?;
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    cache
        .get_or_insert_with(Default::default)
        .entry((dir.clone(), package.to_string()))
        .or_insert_with(|| {
            let manifest =
                std::fs::read_to_string(std::path::Path::new(&dir).join("Cargo.toml")).ok()?;
            renamed_in(&manifest, package)
        })
        .clone()
}

/// [`renamed_dependency`] on the manifest's text. A crate that also depends on the package
/// under its own name is not renaming it.
pub(crate) fn renamed_in(manifest: &str, package: &str) -> Option<String> {
    let direct = manifest.lines().map(str::trim).any(|line| {
        line.starts_with(&format!("{package} "))
            || line.starts_with(&format!("{package}="))
            || line.starts_with(&format!("{package}."))
            || (line.starts_with('[') && line.ends_with(&format!("dependencies.{package}]")))
    });
    if direct {
        return None;
    }
    let wanted = format!("package = \"{package}\"");
    let mut table: Option<String> = None;
    for line in manifest.lines().map(str::trim) {
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            // `[dependencies.cg]`, `[dev-dependencies.cg]`, `[target.'..'.dependencies.cg]`.
            table = header
                .rsplit_once("dependencies.")
                .map(|(_, name)| name.trim_matches('"').to_string());
            continue;
        }
        if !line.replace(' ', "").contains(&wanted.replace(' ', "")) {
            continue;
        }
        let name = match line.split_once('=') {
            Some((key, _)) if key.trim() != "package" => key.trim().trim_matches('"').to_string(),
            _ => table.clone()?,
        };
        return (name != package).then_some(name);
    }
    None
}

/// `tokens` followed by every error.
fn with_errors(mut tokens: TokenStream, errors: Vec<syn::Error>) -> TokenStream {
    for error in errors {
        tokens.extend(error.to_compile_error());
    }
    tokens
}

/// `#[data_gear]` on a struct or enum.
pub(crate) fn data_gear(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Vec::new();
    let args: args::DataGearArgs = args_or_default(attr, &mut errors);
    let root = default_root(args.krate.as_ref(), "data_gear", &mut errors);
    let def = match parse::data_gear(item.clone()) {
        Ok(def) => def,
        Err(error) => return emit_or_fallback(Err(error), || item),
    };
    let tokens = match check::data_gear(&def, &args.instances) {
        Ok(()) => codegen::data_gear::expand(&def, &root, &args.instances),
        Err(error) => {
            errors.push(error);
            codegen::data_gear::stand_in(&def, &root)
        }
    };
    with_errors(tokens, errors)
}

/// `#[interface]` on a trait.
pub(crate) fn interface(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Vec::new();
    let args: args::InterfaceArgs = args_or_default(attr, &mut errors);
    let root = default_root(args.krate.as_ref(), "interface", &mut errors);
    let def = match parse::interface(item.clone()) {
        Ok(def) => def,
        Err(error) => return emit_or_fallback(Err(error), || item),
    };
    let def = match check::interface(&def) {
        Ok(()) => def,
        Err(error) => {
            errors.push(error);
            // The stand-in: the interface with its code gears made to fit, so that the
            // implementations and calls of it add no errors of their own.
            let (item, repaired) = check::repair_interface(&def.item);
            match parse::interface(item.into_token_stream()) {
                Ok(mut fixed) => {
                    fixed.repaired = repaired;
                    fixed
                }
                Err(_) => def,
            }
        }
    };
    with_errors(codegen::interface::expand(&def, &root), errors)
}

/// `#[code_gear]` on a function or on `impl Interface for DataGear`.
pub(crate) fn code_gear(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Vec::new();
    let args: args::CodeGearArgs = args_or_default(attr, &mut errors);
    let root = default_root(args.krate.as_ref(), "code_gear", &mut errors);
    let item: syn::Item = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(error) => return emit_or_fallback(Err(error), || item),
    };
    let tokens = match item {
        // `#[code_gear]` on a method of a plain `impl` block: one error, and the method as
        // written (the static a code gear defines cannot live in an impl block).
        syn::Item::Fn(function) if function.sig.receiver().is_some() => {
            let receiver = function.sig.receiver().expect("checked above");
            errors.push(syn::Error::new_spanned(
                receiver,
                format!(
                    "#[code_gear] on a method: `{}` takes `self`, and only the code gears of an \
                     interface do; declare it in an `#[interface]` trait and put `#[code_gear]` on \
                     the `impl Interface for DataGear` block, or make it a free `#[code_gear] fn` \
                     taking the data gear as `Mut<'_, T>`",
                    function.sig.ident
                ),
            ));
            function.into_token_stream()
        }
        syn::Item::Fn(function) => {
            if let Some(first) = args.instances.0.first() {
                errors.push(syn::Error::new_spanned(
                    first,
                    "`instances(..)` belongs on a generic interface implementation \
                     (`#[code_gear(instances(..))] impl<T> I<T> for D<T>`); a free code gear is \
                     not generic",
                ));
            }
            // The stand-in is built from the function as written, before parsing consumes it,
            // but only where there is an error (this is the hot path of a crate's build).
            let written = function.clone();
            match parse::code_gear_fn(function).and_then(|def| {
                check::code_gear_fn(&def)?;
                Ok(def)
            }) {
                Ok(def) => codegen::code_gear_fn::expand(&def, &root),
                Err(error) => {
                    errors.push(error);
                    codegen::code_gear_fn::stand_in(&written, &root)
                }
            }
        }
        syn::Item::Impl(block) => match parse::impl_head(&block, &args.instances) {
            Ok(def) => {
                codegen::impl_interface::forward(&def, &block, &args.instances, args.krate.as_ref())
            }
            Err(error) => {
                errors.push(error);
                block.into_token_stream()
            }
        },
        other => {
            errors.push(syn::Error::new_spanned(
                &other,
                "#[code_gear] goes on a function (`fn f(..) -> Goto`) or on an interface \
                 implementation (`impl Interface for DataGear { .. }`)",
            ));
            other.into_token_stream()
        }
    };
    with_errors(tokens, errors)
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
    let (block, instances) = codegen::impl_interface::take_instances(block);
    match check::impl_interface(&interface, &block, &instances) {
        Ok(def) => codegen::impl_interface::expand(&def, &root, &interface, &instances),
        Err((error, repaired)) => {
            // The impl with missing code gears stubbed and unknown ones dropped, so that rustc
            // adds no "not all trait items implemented" on top of our message.
            let mut tokens = match repaired {
                Some(def) => codegen::impl_interface::expand(&def, &root, &interface, &instances),
                None => TokenStream::new(),
            };
            tokens.extend(error.to_compile_error());
            tokens
        }
    }
}

#[cfg(test)]
mod tests;
