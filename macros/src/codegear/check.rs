//! Check stage: the rules of the code-gear shape, all reported together.

use std::collections::BTreeSet;

use syn::spanned::Spanned;

use super::args::Instances;
use super::generics;
use super::model::{CodeGearFn, DataGearDef, ImplDef, InterfaceDef, Method, Problem};
use super::parse;
use crate::common::{Errors, did_you_mean};

fn report(errors: &mut Errors, problems: &[Problem]) {
    for p in problems {
        errors.error(&p.tokens, &p.message);
    }
}

fn returns_goto(output: &syn::ReturnType) -> bool {
    match output {
        syn::ReturnType::Type(_, ty) => match &**ty {
            syn::Type::Path(path) => path
                .path
                .segments
                .last()
                .is_some_and(|segment| segment.ident == "Goto" && segment.arguments.is_empty()),
            _ => false,
        },
        syn::ReturnType::Default => false,
    }
}

/// What every code gear signature must be: not async/const/unsafe/extern/variadic, not
/// generic, returning `Goto`.
fn signature(errors: &mut Errors, sig: &syn::Signature, what: &str) {
    if let Some(token) = &sig.asyncness {
        errors.error(
            token,
            format!(
                "{what} cannot be `async`: a code gear runs to completion in one step and hands \
                 on a continuation (`goto!`) instead of awaiting"
            ),
        );
    }
    if let Some(token) = &sig.constness {
        errors.error(token, format!("{what} cannot be `const`"));
    }
    if let Some(token) = &sig.unsafety {
        errors.error(
            token,
            format!(
                "{what} cannot be `unsafe`: the meta level calls it with no contract to uphold"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        errors.error(abi, format!("{what} cannot have an ABI"));
    }
    if let Some(variadic) = &sig.variadic {
        errors.error(variadic, format!("{what} cannot be variadic"));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.error(
            &sig.generics,
            format!(
                "{what} cannot be generic: the code-gear table has one row per code gear, with \
                 concrete parameter types (write `'_` for the lifetime of `Mut`/`Ref`); for code \
                 gears over several types, make an interface generic (`#[interface] trait I<T>`) \
                 and list the instances at its `#[code_gear(instances(..))] impl`"
            ),
        );
    }
    if !returns_goto(&sig.output) {
        let message = format!(
            "{what} `{}` must return `Goto` (GearsOS's `__code`): it never returns to a caller \
             but ends with `goto!(..)` to the next code gear",
            sig.ident
        );
        match &sig.output {
            syn::ReturnType::Default => {
                errors.error_at(sig.ident.span(), message + "; add `-> Goto`")
            }
            syn::ReturnType::Type(_, ty) => errors.error(ty, message),
        }
    }
}

/// Makes `sig` fit the code-gear shape (the stand-in of a broken interface code gear, and of its
/// implementations): `&mut self` first, `-> Goto`, no `async`/`const`/`unsafe`/ABI/generics.
/// Returns whether anything changed.
pub(crate) fn repair_sig(sig: &mut syn::Signature) -> bool {
    let mut changed = false;
    match sig.inputs.first() {
        Some(syn::FnArg::Receiver(receiver))
            if receiver.reference.is_some() && receiver.colon_token.is_none() => {}
        Some(syn::FnArg::Receiver(_)) => {
            sig.inputs[0] = syn::parse_quote!(&mut self);
            changed = true;
        }
        _ => {
            sig.inputs.insert(0, syn::parse_quote!(&mut self));
            changed = true;
        }
    }
    if !returns_goto(&sig.output) {
        // `Goto` as the prelude names it: the interface's module imports it to write code gears.
        sig.output = syn::parse_quote!(-> Goto);
        changed = true;
    }
    if sig.asyncness.take().is_some()
        | sig.constness.take().is_some()
        | sig.unsafety.take().is_some()
        | sig.abi.take().is_some()
        | sig.variadic.take().is_some()
    {
        changed = true;
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        sig.generics = syn::Generics::default();
        changed = true;
    }
    if parse::repair_next_outputs(sig) | parse::repair_borrowed_interfaces(sig) {
        changed = true;
    }
    changed
}

/// The interface with every code gear made to fit the shape (bodies and non-code-gear items
/// dropped), and the names of the code gears that had to change: what `#[interface]` emits
/// beside its errors, so that implementations and calls of it add none.
pub(crate) fn repair_interface(item: &syn::ItemTrait) -> (syn::ItemTrait, Vec<String>) {
    let mut item = item.clone();
    let mut repaired = Vec::new();
    item.supertraits.clear();
    item.colon_token = None;
    item.unsafety = None;
    item.items.retain_mut(|trait_item| match trait_item {
        syn::TraitItem::Fn(function) => {
            let body = function.default.take().is_some();
            if repair_sig(&mut function.sig) || body {
                repaired.push(function.sig.ident.to_string());
            }
            function.semi_token = Some(Default::default());
            true
        }
        // An associated type or const (reported at the trait): dropped, and its name kept so
        // that the impls' definitions of it are dropped too instead of reported again.
        syn::TraitItem::Type(ty) => {
            repaired.push(ty.ident.to_string());
            false
        }
        syn::TraitItem::Const(constant) => {
            repaired.push(constant.ident.to_string());
            false
        }
        _ => false,
    });
    (item, repaired)
}

/// Parameters a code gear may take: `goto!`/`next!` are typed per arity by the runtime, up to
/// this many (GearsOS code gears rarely take more than five).
pub(crate) const MAX_PARAMS: usize = 10;

fn arity(errors: &mut Errors, sig: &syn::Signature, taken: usize, what: &str) {
    if taken > MAX_PARAMS {
        let extra: Vec<&syn::FnArg> = sig
            .inputs
            .iter()
            .skip(sig.inputs.len() - (taken - MAX_PARAMS))
            .collect();
        errors.error(
            quote::quote!(#(#extra),*),
            format!(
                "{what} `{}` takes {taken} parameters; at most {MAX_PARAMS} are supported{}: \
                 group some in a tuple or a struct value, or keep them in a data gear",
                sig.ident,
                if what.contains("interface") {
                    " (the data gear itself counts as one)"
                } else {
                    ""
                }
            ),
        );
    }
}

/// `#[code_gear] fn`.
pub(crate) fn code_gear_fn(def: &CodeGearFn) -> syn::Result<()> {
    let mut errors = Errors::new();
    signature(&mut errors, &def.function.sig, "a code gear");
    arity(
        &mut errors,
        &def.function.sig,
        def.function.sig.inputs.len(),
        "code gear",
    );
    report(&mut errors, &def.problems);
    errors.finish()
}

/// `#[data_gear]`.
pub(crate) fn data_gear(def: &DataGearDef, instances: &Instances) -> syn::Result<()> {
    let mut errors = Errors::new();
    // `struct S<'a> { name: &'a str }` is one mistake, the borrowed field (reported as such,
    // with its fix), not also a second one at `<'a>`.
    let generics = &def.item.generics;
    let only_lifetimes = generics
        .params
        .iter()
        .all(|p| matches!(p, syn::GenericParam::Lifetime(_)));
    if !(only_lifetimes && !generics.params.is_empty() && has_borrowed_field(&def.item)) {
        generic_rows(
            &mut errors,
            generics,
            instances,
            "a data gear",
            "#[data_gear",
        );
    }
    report(&mut errors, &def.problems);
    errors.finish()
}

/// Whether a field of the data gear is a reference other than `&'static T`.
fn has_borrowed_field(item: &syn::DeriveInput) -> bool {
    let borrowed = |field: &syn::Field| matches!(&field.ty, syn::Type::Reference(r) if !parse::is_static_shared(r));
    match &item.data {
        syn::Data::Struct(data) => data.fields.iter().any(borrowed),
        syn::Data::Enum(data) => data.variants.iter().any(|v| v.fields.iter().any(borrowed)),
        syn::Data::Union(_) => false,
    }
}

/// A generic item lists its instances, each fitting its type parameters; a plain one lists none.
fn generic_rows(
    errors: &mut Errors,
    generics: &syn::Generics,
    instances: &Instances,
    what: &str,
    attribute: &str,
) {
    if generics.params.is_empty() {
        if let Some(first) = instances.0.first() {
            errors.error(
                first,
                format!("`instances(..)` lists the instances of a generic item; {what} without type parameters has one row already: remove it"),
            );
        }
        return;
    }
    if let Err(error) = generics::only_type_params(generics, what) {
        errors.push(error);
        return;
    }
    if instances.0.is_empty() {
        let params: Vec<String> = generics
            .type_params()
            .map(|p| p.ident.to_string())
            .collect();
        errors.error(
            generics,
            format!(
                "{what} generic over {} lists the instances the program uses: \
                 `{attribute}(instances(i64, String))]` (GearsOS's tables have one row per \
                 concrete type, and Rust registers an item once, at link time, not once per use)",
                params
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        return;
    }
    if let Err(error) = generics::substitutions(generics, instances) {
        errors.push(error);
    }
}

fn method_rules(errors: &mut Errors, method: &Method, what: &str) {
    signature(errors, &method.sig, what);
    // The receiver travels as the data gear's handle: one of the parameters.
    let taken = method.sig.inputs.len()
        + usize::from(!matches!(
            method.sig.inputs.first(),
            Some(syn::FnArg::Receiver(_))
        ));
    arity(errors, &method.sig, taken, "interface code gear");
    report(errors, &method.problems);
}

/// `#[interface]`.
pub(crate) fn interface(def: &InterfaceDef) -> syn::Result<()> {
    let mut errors = Errors::new();
    if let Err(error) = generics::only_type_params(&def.item.generics, "an interface") {
        errors.push(error);
    }
    if let Some(token) = &def.item.unsafety {
        errors.error(token, "an interface cannot be an `unsafe trait`");
    }
    if !def.item.supertraits.is_empty() {
        errors.error(
            &def.item.supertraits,
            "an interface cannot have supertraits; declare every API code gear in it",
        );
    }
    if def.methods.is_empty() && def.problems.is_empty() {
        errors.error(
            &def.item.ident,
            "an interface declares at least one code gear: `fn name(&mut self, ..) -> Goto;`",
        );
    }
    report(&mut errors, &def.problems);
    for method in &def.methods {
        method_rules(&mut errors, method, "an interface code gear");
    }
    errors.finish()
}

/// `#[code_gear] impl I for D`, against `I`'s declaration. On error, also returns the impl
/// repaired (missing code gears stubbed, unknown ones dropped) for the fallback.
pub(crate) fn impl_interface(
    interface: &InterfaceDef,
    block: &syn::ItemImpl,
    instances: &Instances,
) -> Result<ImplDef, (syn::Error, Option<Box<ImplDef>>)> {
    let mut errors = Errors::new();
    // The impl's definitions of the associated types and consts a broken interface declared
    // (the mistake is reported once, at the trait; the repaired trait has no such item).
    let without_dropped;
    let block = if interface.repaired.is_empty() {
        block
    } else {
        let mut copy = block.clone();
        copy.items.retain(|item| {
            let name = match item {
                syn::ImplItem::Type(ty) => &ty.ident,
                syn::ImplItem::Const(constant) => &constant.ident,
                _ => return true,
            };
            !interface.repaired.contains(&name.to_string())
        });
        without_dropped = copy;
        &without_dropped
    };
    let head = match parse::impl_head(block, instances) {
        Ok(head) => head,
        Err(error) => return Err((error, None)),
    };
    let interface_name = interface.item.ident.clone();
    let self_name = match &*block.self_ty {
        syn::Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|s| s.ident.clone())
        }
        _ => None,
    };
    let Some(self_name) = self_name else {
        return Err((
            syn::Error::new_spanned(
                &block.self_ty,
                "implement an interface for a `#[data_gear]` type, named by its path",
            ),
            None,
        ));
    };

    let (methods, problems) = parse::impl_methods(block);
    report(&mut errors, &problems);
    let declared: Vec<String> = interface
        .methods
        .iter()
        .map(|m| m.sig.ident.to_string())
        .collect();
    let implemented: BTreeSet<String> = methods.iter().map(|m| m.sig.ident.to_string()).collect();

    // An undeclared code gear whose name is close to a missing one is that one misspelt: it is
    // reported once, as the typo (with the suggestion), not also as a missing code gear.
    let misspelt: BTreeSet<&str> = methods
        .iter()
        .map(|m| m.sig.ident.to_string())
        .filter(|name| !declared.contains(name))
        .filter_map(|name| did_you_mean(&name, declared.iter().map(String::as_str)))
        .filter(|suggestion| !implemented.contains(*suggestion))
        .collect();
    let missing: Vec<&String> = declared
        .iter()
        .filter(|name| !implemented.contains(*name) && !misspelt.contains(name.as_str()))
        .collect();
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|n| format!("`{n}`")).collect();
        errors.error(
            &block.self_ty,
            format!(
                "`{self_name}` does not define {} of interface `{interface_name}`: {} (GearsOS: \
                 \"Not define {}\"); add {}",
                if missing.len() == 1 {
                    "a code gear"
                } else {
                    "code gears"
                },
                list.join(", "),
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if missing.len() == 1 { "it" } else { "them" },
            ),
        );
    }
    // The interface's type parameters as this impl instantiates them (`Stack<i64>`: T ↦ i64).
    let trait_args: generics::Substitution = {
        let params = interface
            .item
            .generics
            .type_params()
            .map(|p| p.ident.clone());
        let args = match head.trait_path.segments.last().map(|s| &s.arguments) {
            Some(syn::PathArguments::AngleBracketed(args)) => args
                .args
                .iter()
                .filter_map(|arg| match arg {
                    syn::GenericArgument::Type(ty) => Some(quote::quote!(#ty)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        params.zip(args).collect()
    };
    let mut kept = Vec::new();
    for method in methods {
        let name = method.sig.ident.to_string();
        if let Some(declaration) = interface.methods.iter().find(|m| m.sig.ident == name) {
            // A method the interface marks as broken was reported there; its copy here is the
            // same mistake, not a second one.
            if !interface.repaired.contains(&name) {
                method_rules(&mut errors, &method, "an interface code gear");
            }
            // The API code gear is generated from the interface's declaration: where the impl's
            // signature differs, rustc says so at the impl (E0053/E0050) and nothing generated
            // adds to it.
            let params = declaration
                .params
                .iter()
                .map(|p| {
                    let mut p = p.clone();
                    if let Ok(ty) = generics::substitute_parse::<syn::Type>(&p.ty, &trait_args) {
                        if let Ok(kind) = parse::classify(&ty) {
                            p.kind = kind;
                        }
                        p.ty = ty;
                    }
                    p
                })
                .collect();
            kept.push(Method {
                params,
                receiver_mut: declaration.receiver_mut,
                ..method
            });
            continue;
        }
        let declares = declared
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let suggestion = did_you_mean(&name, declared.iter().map(String::as_str));
        let message = match suggestion {
            // The misspelling of a code gear this impl lacks: the fix is the rename.
            Some(suggestion) if misspelt.contains(suggestion) => format!(
                "code gear `{name}` is not declared by interface `{interface_name}`; did you mean \
                 `{suggestion}`, which this impl does not define? rename `{name}` to \
                 `{suggestion}` (the interface declares {declares})"
            ),
            Some(suggestion) => format!(
                "code gear `{name}` is not declared by interface `{interface_name}`; did you mean \
                 `{suggestion}`? (it declares {declares}); declare it in the interface, or move \
                 it to a free `#[code_gear] fn`"
            ),
            None => format!(
                "code gear `{name}` is not declared by interface `{interface_name}` (it declares \
                 {declares}); declare it in the interface, or move it to a free `#[code_gear] fn`"
            ),
        };
        errors.error(&method.sig.ident, message);
    }

    let mut block = block.clone();
    for item in &mut block.items {
        if let syn::ImplItem::Fn(function) = item
            && interface.repaired.contains(&function.sig.ident.to_string())
        {
            repair_sig(&mut function.sig);
            function.block = syn::parse_quote!({ ::core::unreachable!() });
            function
                .attrs
                .push(syn::parse_quote!(#[allow(unused_variables)]));
        }
    }
    let mut def = ImplDef {
        block,
        trait_path: head.trait_path,
        interface_name,
        self_name,
        methods: kept,
    };
    // The API table is positional (`Api::__gears_new` takes one closure per declared code
    // gear, in the declaration's order): an impl may list its code gears in any order.
    sort_as_declared(&mut def.methods, &declared);
    match errors.finish() {
        Ok(()) => Ok(def),
        Err(error) => {
            // Repair: keep declared methods, stub the missing ones from the declaration.
            def.block.items.retain(|item| match item {
                syn::ImplItem::Fn(function) => declared.contains(&function.sig.ident.to_string()),
                _ => false,
            });
            for declared_method in &interface.methods {
                if implemented.contains(&declared_method.sig.ident.to_string()) {
                    continue;
                }
                let sig = &declared_method.sig;
                let stub: syn::ImplItem = syn::parse_quote_spanned! {sig.span()=>
                    #[allow(unused_variables)]
                    #sig { ::core::unreachable!() }
                };
                def.block.items.push(stub);
                def.methods.push(Method {
                    sig: declared_method.sig.clone(),
                    receiver_mut: declared_method.receiver_mut,
                    params: declared_method.params.clone(),
                    problems: Vec::new(),
                });
            }
            sort_as_declared(&mut def.methods, &declared);
            Err((error, Some(Box::new(def))))
        }
    }
}

/// Puts an impl's code gears in the order of the interface's declaration (`declared`), which
/// is the order of the API table's fields.
fn sort_as_declared(methods: &mut [Method], declared: &[String]) {
    methods.sort_by_key(|m| {
        let name = m.sig.ident.to_string();
        declared.iter().position(|d| *d == name)
    });
}
