//! Parse stage: tokens → the model, classifying every parameter. Syntax errors fail here;
//! rule violations are recorded as problems for the check stage, so all are reported together.

use proc_macro2::{Delimiter, TokenStream, TokenTree};
use syn::{FnArg, GenericArgument, Pat, PathArguments, Type};

use super::model::{
    CodeGearFn, DataGearDef, ImplHead, InterfaceDef, Method, Param, ParamKind, Problem,
};

fn problem(at: impl quote::ToTokens, message: impl Into<String>) -> Problem {
    Problem {
        tokens: at.into_token_stream(),
        message: message.into(),
    }
}

/// The last path segment's name and its angle-bracketed arguments, for `Mut<'_, T>` etc.
fn last_segment(ty: &Type) -> Option<(&syn::Ident, Vec<&GenericArgument>)> {
    let Type::Path(path) = ty else { return None };
    if path.qself.is_some() {
        return None;
    }
    let segment = path.path.segments.last()?;
    let args = match &segment.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().collect(),
        _ => Vec::new(),
    };
    Some((&segment.ident, args))
}

/// Whether a continuation's output type may be a tuple: a tuple, or a path that may name one
/// (an alias). Types known not to be tuples are rejected at the definition, where the fix is.
pub(crate) fn could_be_tuple(ty: &Type) -> bool {
    match ty {
        Type::Tuple(_) | Type::Paren(_) | Type::Group(_) | Type::Macro(_) | Type::Infer(_) => true,
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return true;
            };
            !matches!(
                last.ident.to_string().as_str(),
                "u8" | "u16"
                    | "u32"
                    | "u64"
                    | "u128"
                    | "usize"
                    | "i8"
                    | "i16"
                    | "i32"
                    | "i64"
                    | "i128"
                    | "isize"
                    | "bool"
                    | "char"
                    | "str"
                    | "String"
                    | "Vec"
                    | "Option"
                    | "Result"
                    | "Box"
                    | "Gear"
                    | "Next"
            )
        }
        Type::Path(_) => true,
        // References, arrays, slices, pointers, functions, trait objects: never tuples.
        _ => false,
    }
}

/// The `T` of `Mut<'_, T>` / `Ref<'_, T>`, well formed or not (an interface).
pub(crate) fn borrowed_type(ty: &Type) -> Option<Type> {
    let (name, args) = last_segment(ty)?;
    if name != "Mut" && name != "Ref" {
        return None;
    }
    data_gear_argument(&args)
}

/// Whether a parameter borrows an interface (`Mut<'_, dyn I>`, an error): a body with it
/// cannot be compiled at all (`dyn I` is unsized), so a broken code gear's stand-in drops it.
pub(crate) fn borrows_interface(sig: &syn::Signature) -> bool {
    sig.inputs.iter().any(|input| {
        let FnArg::Typed(arg) = input else {
            return false;
        };
        let Some((name, args)) = last_segment(&arg.ty) else {
            return false;
        };
        (name == "Mut" || name == "Ref")
            && matches!(data_gear_argument(&args), Some(Type::TraitObject(_)))
    })
}

/// `Mut<'_, dyn I>` / `Ref<'_, dyn I>` (an error) as the `Gear<dyn I>` the error says to take,
/// in a repaired interface's signatures.
pub(crate) fn repair_borrowed_interfaces(sig: &mut syn::Signature) -> bool {
    let mut changed = false;
    for input in &mut sig.inputs {
        let FnArg::Typed(arg) = input else { continue };
        if let Some(inner @ Type::TraitObject(_)) = borrowed_type(&arg.ty) {
            let span = syn::spanned::Spanned::span(&*arg.ty);
            *arg.ty = syn::parse_quote_spanned!(span=> Gear<#inner>);
            changed = true;
        }
    }
    changed
}

/// `Next<u64>` as the `Next<(u64,)>` the error says to write, for a broken code gear's
/// stand-in: its body and its callers then add no errors of their own.
pub(crate) fn repair_next_outputs(sig: &mut syn::Signature) -> bool {
    let mut changed = false;
    for input in &mut sig.inputs {
        let FnArg::Typed(arg) = input else { continue };
        let Type::Path(path) = &mut *arg.ty else {
            continue;
        };
        let Some(last) = path.path.segments.last_mut() else {
            continue;
        };
        if last.ident != "Next" {
            continue;
        }
        let PathArguments::AngleBracketed(args) = &mut last.arguments else {
            continue;
        };
        for arg in &mut args.args {
            if let GenericArgument::Type(outputs) = arg
                && !could_be_tuple(outputs)
            {
                let inner = outputs.clone();
                *outputs =
                    syn::parse_quote_spanned!(syn::spanned::Spanned::span(&inner)=> (#inner,));
                changed = true;
            }
        }
    }
    changed
}

/// The data-gear type of `Mut<'_, T>` / `Ref<'_, T>`.
fn data_gear_argument(args: &[&GenericArgument]) -> Option<Type> {
    let types: Vec<&Type> = args
        .iter()
        .filter_map(|arg| match arg {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
        .collect();
    match types.as_slice() {
        [ty] => Some((*ty).clone()),
        _ => None,
    }
}

/// Classifies a parameter type, or says why it cannot be a code-gear parameter.
pub(crate) fn classify(ty: &Type) -> Result<ParamKind, Problem> {
    match ty {
        // `&'static T` outlives every step: a value like any other (names, static tables).
        Type::Reference(reference) if is_static_shared(reference) => {
            match classify(&reference.elem)? {
                ParamKind::Value => Ok(ParamKind::Value),
                _ => Err(problem(
                    reference,
                    "pass a data gear's handle or continuation by value (`Gear<T>`, `Next<(..)>`), \
                 not by `&'static` reference",
                )),
            }
        }
        Type::Reference(reference) => Err(problem(
            reference,
            "a code gear cannot take a borrowed reference: its inputs travel inside continuations \
             and outlive the step; take a data gear as `Mut<'_, T>` / `Ref<'_, T>`, pass an owned \
             value, or a `&'static` one",
        )),
        Type::Ptr(pointer) => Err(problem(
            pointer,
            "a code gear cannot take a raw pointer: continuations must be cloned, hashed and \
             compared by the meta level, and sent between workers; keep the data in a data gear \
             and pass its `Gear<T>` handle",
        )),
        Type::ImplTrait(bound) => Err(problem(
            bound,
            "`impl Trait` makes the code gear generic; the code-gear table needs one concrete \
             signature per code gear",
        )),
        Type::BareFn(function) => Err(problem(
            function,
            "a code gear cannot take a function pointer: pass a continuation `Next<(..)>` \
             instead (`next!(f(..))`), which the meta level can see and compare",
        )),
        Type::TraitObject(object) => Err(problem(
            object,
            "a code gear cannot take a trait object by value; for an interface use \
             `Gear<dyn Interface>`",
        )),
        Type::Paren(inner) => classify(&inner.elem),
        Type::Group(inner) => classify(&inner.elem),
        _ => {
            let Some((name, args)) = last_segment(ty) else {
                return Ok(ParamKind::Value);
            };
            match name.to_string().as_str() {
                "Mut" | "Ref" => {
                    let Some(inner) = data_gear_argument(&args) else {
                        return Err(problem(
                            ty,
                            format!("write the data gear type: `{name}<'_, DataGear>`"),
                        ));
                    };
                    if let Type::TraitObject(object) = &inner {
                        let interface = super::text::tokens_text(&object.bounds);
                        return Err(problem(
                            ty,
                            format!(
                                "`{name}` borrows a concrete data gear, not an interface: take \
                                 `Gear<dyn {interface}>` and go to its code gears \
                                 (`goto!(gear.code_gear(..))`), or take the implementing data \
                                 gear as `{name}<'_, DataGear>`"
                            ),
                        ));
                    }
                    Ok(if name == "Mut" {
                        ParamKind::Mut(inner)
                    } else {
                        ParamKind::Ref(inner)
                    })
                }
                "Next" => match data_gear_argument(&args) {
                    Some(outputs) if !could_be_tuple(&outputs) => {
                        let text = super::text::tokens_text(&outputs);
                        Err(problem(
                            ty,
                            format!(
                                "a continuation's outputs are a tuple: write `Next<({text},)>` \
                                 (`goto!(next(value))` passes them as arguments, as to a code \
                                 gear), or `Next<()>` for none"
                            ),
                        ))
                    }
                    _ => Ok(ParamKind::Next),
                },
                "Gear" => Ok(ParamKind::Handle),
                "Rc" | "Weak" => Err(problem(
                    ty,
                    format!(
                        "a code gear cannot take `{name}`: it is not `Send`, and parallel runs move \
                         continuations between workers; put shared state in a data gear (or use \
                         `Arc` for immutable data)"
                    ),
                )),
                "f32" | "f64" => Err(problem(
                    ty,
                    format!(
                        "a code gear cannot take `{name}`: floats are neither `Eq` nor `Hash`, which \
                         the meta level needs to compare and store states; pass an integer (fixed \
                         point, or `{name}::to_bits()`)"
                    ),
                )),
                "RefCell" | "Cell" => Err(problem(
                    ty,
                    format!(
                        "a code gear cannot take `{name}`: interior mutability hides state changes \
                         from the meta level (and the model checker); keep mutable state in a data \
                         gear and take it as `Mut<'_, T>`"
                    ),
                )),
                _ => match nested_unsupported(quote::quote!(#ty)) {
                    Some((inner, why)) => Err(problem(
                        ty,
                        format!(
                            "a code gear cannot take `{}`: it holds `{inner}`, and {why}",
                            super::text::tokens_text(ty)
                        ),
                    )),
                    None => Ok(ParamKind::Value),
                },
            }
        }
    }
}

fn param_from(arg: &syn::PatType) -> Result<Param, Problem> {
    let name = match &*arg.pat {
        Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
            ident.ident.clone()
        }
        other => {
            return Err(problem(
                other,
                "code-gear parameters must be plain names (`x: T`), since the stub passes them \
                 by name; destructure inside the body",
            ));
        }
    };
    let kind = classify(&arg.ty)?;
    Ok(Param {
        name,
        ty: (*arg.ty).clone(),
        kind,
    })
}

fn params<'a>(inputs: impl Iterator<Item = &'a FnArg>, problems: &mut Vec<Problem>) -> Vec<Param> {
    let mut out = Vec::new();
    for input in inputs {
        match input {
            FnArg::Typed(arg) => match param_from(arg) {
                Ok(param) => out.push(param),
                Err(p) => problems.push(p),
            },
            FnArg::Receiver(receiver) => problems.push(problem(
                receiver,
                "`self` is only allowed in an interface's code gears; a free code gear takes \
                 its data gears as `Mut<'_, T>` / `Ref<'_, T>`",
            )),
        }
    }
    out
}

/// `#[code_gear] fn`.
pub(crate) fn code_gear_fn(function: syn::ItemFn) -> syn::Result<CodeGearFn> {
    let mut problems = Vec::new();
    let params = params(function.sig.inputs.iter(), &mut problems);
    Ok(CodeGearFn {
        function,
        params,
        problems,
    })
}

/// Why a type the meta level must clone, hash and compare cannot be, by name.
fn unsupported_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "f32" | "f64" => {
            "floats are neither `Eq` nor `Hash`, which the meta level needs to store visited \
             states; store an integer (fixed point, or `to_bits()`)"
        }
        "Rc" | "Weak" => {
            "`Rc` is not `Send`/`Sync` and hashes by pointer semantics the checker cannot see \
             through; use `Arc`, or another data gear"
        }
        "Cell" | "RefCell" | "UnsafeCell" => {
            "interior mutability hides state changes from the meta level; take the data gear as \
             `Mut<'_, T>` to change it"
        }
        "Mutex" | "RwLock" => {
            "locks are neither `Clone`, `Hash` nor `Eq`, and code gears are already atomic over \
             the data gears they take; hold the value itself"
        }
        _ => return None,
    })
}

/// The first name inside `tokens` (type arguments, tuples, arrays) that no data gear can hold.
/// Only names no user type plausibly shadows are looked for inside other types: `Cell` or
/// `Mutex` in `Gear<Cell>` may well be the user's own data gear.
fn nested_unsupported(tokens: proc_macro2::TokenStream) -> Option<(String, &'static str)> {
    for token in tokens {
        match token {
            TokenTree::Ident(ident) => {
                let name = ident.to_string();
                if matches!(
                    name.as_str(),
                    "f32" | "f64" | "Rc" | "RefCell" | "UnsafeCell"
                ) {
                    return unsupported_name(&name).map(|why| (name, why));
                }
            }
            TokenTree::Group(group) => {
                if let Some(found) = nested_unsupported(group.stream()) {
                    return Some(found);
                }
            }
            _ => {}
        }
    }
    None
}

/// Field types the meta level can never clone, hash and compare, recognised by name so that the
/// error is ours and rustc's derives do not pile up behind it.
fn unsupported_field(ty: &Type) -> Option<String> {
    match ty {
        // `&'static T` is a value like any other (names, tables): cloned, hashed and compared
        // through `T`.
        Type::Reference(reference) if is_static_shared(reference) => {
            unsupported_field(&reference.elem)
        }
        Type::Reference(_) => Some(
            "a data gear cannot hold a borrowed reference: it lives in the context's heap beyond \
             any borrow; hold the value (`String` for `&str`, `Vec<T>` for `&[T]`), a \
             `&'static` reference, or a `Gear<T>` handle to another data gear"
                .into(),
        ),
        Type::Ptr(_) => Some(
            "a data gear cannot hold a raw pointer: it must be cloned, hashed and compared by \
             value; hold a `Gear<T>` handle to another data gear instead"
                .into(),
        ),
        _ => {
            let text = super::text::tokens_text(ty);
            if let Some(why) =
                last_segment(ty).and_then(|(name, _)| unsupported_name(&name.to_string()))
            {
                return Some(format!(
                    "data gear field of type `{text}` cannot be cloned, hashed and compared: {why}"
                ));
            }
            let (inner, why) = nested_unsupported(quote::quote!(#ty))?;
            Some(format!(
                "data gear field of type `{text}` cannot be cloned, hashed and compared: it holds \
                 `{inner}`, and {why}"
            ))
        }
    }
}

/// `&'static T` (not `&'static mut T`, which is neither `Clone` nor shareable).
pub(crate) fn is_static_shared(reference: &syn::TypeReference) -> bool {
    reference.mutability.is_none()
        && reference
            .lifetime
            .as_ref()
            .is_some_and(|lifetime| lifetime.ident == "static")
}

/// `#[data_gear]` struct or enum.
pub(crate) fn data_gear(item: TokenStream) -> syn::Result<DataGearDef> {
    let item: syn::DeriveInput = syn::parse2(item).map_err(|error| {
        syn::Error::new(
            error.span(),
            format!("#[data_gear] goes on a struct or an enum: {error}"),
        )
    })?;
    let mut problems = Vec::new();
    let mut field_types: Vec<&Type> = Vec::new();
    match &item.data {
        syn::Data::Struct(data) => field_types.extend(data.fields.iter().map(|f| &f.ty)),
        syn::Data::Enum(data) => {
            for variant in &data.variants {
                field_types.extend(variant.fields.iter().map(|f| &f.ty));
            }
        }
        syn::Data::Union(data) => problems.push(problem(
            data.union_token,
            "a data gear cannot be a union: the meta level must clone, hash and compare it by \
             value; use an enum",
        )),
    }
    for ty in field_types {
        if let Some(message) = unsupported_field(ty) {
            problems.push(problem(ty, message));
        }
    }
    Ok(DataGearDef { item, problems })
}

fn method(sig: &syn::Signature) -> Method {
    let mut problems = Vec::new();
    let mut inputs = sig.inputs.iter();
    let receiver_mut = match inputs.next() {
        Some(FnArg::Receiver(receiver))
            if receiver.reference.is_some() && receiver.colon_token.is_none() =>
        {
            receiver.mutability.is_some()
        }
        Some(FnArg::Receiver(receiver)) => {
            problems.push(problem(
                receiver,
                "an interface code gear takes its data gear as `&mut self` or `&self`; `self` by \
                 value would move the data gear out of the context",
            ));
            true
        }
        _ => {
            problems.push(problem(
                &sig.ident,
                format!(
                    "interface code gear `{}` must take `&mut self` or `&self` first: that is the \
                     data gear implementing the interface",
                    sig.ident
                ),
            ));
            true
        }
    };
    let rest: Vec<&FnArg> = if matches!(sig.inputs.first(), Some(FnArg::Receiver(_))) {
        inputs.collect()
    } else {
        sig.inputs.iter().collect()
    };
    let params = params(rest.into_iter(), &mut problems);
    Method {
        sig: sig.clone(),
        receiver_mut,
        params,
        problems,
    }
}

/// `#[interface] trait`.
pub(crate) fn interface(item: TokenStream) -> syn::Result<InterfaceDef> {
    let item: syn::ItemTrait = syn::parse2(item).map_err(|error| {
        syn::Error::new(
            error.span(),
            format!("#[interface] goes on a trait: {error}"),
        )
    })?;
    let mut methods = Vec::new();
    let mut problems = Vec::new();
    for trait_item in &item.items {
        match trait_item {
            syn::TraitItem::Fn(function) => {
                if let Some(body) = &function.default {
                    problems.push(problem(
                        body,
                        "an interface declares its code gears without bodies; implement them in \
                         `#[code_gear] impl Interface for DataGear`",
                    ));
                }
                methods.push(method(&function.sig));
            }
            syn::TraitItem::Type(ty) => problems.push(problem(
                ty,
                "an interface holds only code gears (`fn name(&mut self, ..) -> Goto;`), not \
                 associated types: for a type each implementation chooses, make the interface \
                 generic (`trait I<T>`, implemented as `impl I<i64> for D`)",
            )),
            other => problems.push(problem(
                other,
                "an interface holds only code gears (`fn name(&mut self, ..) -> Goto;`): move \
                 this item out of the trait",
            )),
        }
    }
    // `#[__gears_repaired(a, b)]`: set by a repaired interface's `I!` macro.
    let mut repaired = Vec::new();
    let mut item = item;
    item.attrs.retain(|attr| {
        if !attr.path().is_ident("__gears_repaired") {
            return true;
        }
        let _ = attr.parse_nested_meta(|meta| {
            if let Some(ident) = meta.path.get_ident() {
                repaired.push(ident.to_string());
            }
            Ok(())
        });
        false
    });
    Ok(InterfaceDef {
        item,
        methods,
        problems,
        repaired,
    })
}

/// The methods of an implementation, parsed like the interface's.
pub(crate) fn impl_methods(block: &syn::ItemImpl) -> (Vec<Method>, Vec<Problem>) {
    let mut methods = Vec::new();
    let mut problems = Vec::new();
    for item in &block.items {
        match item {
            syn::ImplItem::Fn(function) => methods.push(method(&function.sig)),
            other => problems.push(problem(
                other,
                "an interface implementation holds only its code gears",
            )),
        }
    }
    (methods, problems)
}

/// The head of `#[code_gear] impl Interface for DataGear`.
pub(crate) fn impl_head(
    block: &syn::ItemImpl,
    instances: &super::args::Instances,
) -> syn::Result<ImplHead> {
    let Some((negative, path, _)) = &block.trait_ else {
        return Err(syn::Error::new_spanned(
            &block.self_ty,
            "#[code_gear] on an inherent impl: put it on an interface implementation \
             (`impl Interface for DataGear`), or on each free function",
        ));
    };
    if let Some(bang) = negative {
        return Err(syn::Error::new_spanned(
            bang,
            "a negative impl cannot implement an interface",
        ));
    }
    if block.generics.params.is_empty() {
        if let Some(first) = instances.0.first() {
            return Err(syn::Error::new_spanned(
                first,
                "`instances(..)` lists the instances of a generic implementation; this one has \
                 no type parameters: remove it",
            ));
        }
    } else {
        super::generics::only_type_params(&block.generics, "an interface implementation")?;
        if instances.0.is_empty() {
            return Err(syn::Error::new_spanned(
                &block.generics,
                "a generic interface implementation lists the instances the program uses: \
                 `#[code_gear(instances(i64, String))]` (each instance gets its own row of API \
                 code gears; Rust registers an item once, at link time, not once per use)",
            ));
        }
        super::generics::substitutions(&block.generics, instances)?;
    }
    Ok(ImplHead {
        trait_path: path.clone(),
    })
}

fn brace_group(
    tokens: &mut impl Iterator<Item = TokenTree>,
    what: &str,
) -> syn::Result<TokenStream> {
    match tokens.next() {
        Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::Brace => {
            Ok(group.stream())
        }
        other => Err(syn::Error::new(
            other.map_or_else(proc_macro2::Span::call_site, |t| t.span()),
            format!("internal: expected {{ {what} }} (this macro is generated by #[interface])"),
        )),
    }
}

/// `{ root } { trait } { impl }`, as the `I!` macro forwards it.
pub(crate) fn impl_interface_input(
    input: TokenStream,
) -> syn::Result<(syn::Path, InterfaceDef, syn::ItemImpl)> {
    let mut tokens = input.into_iter();
    let interface_root: syn::Path = syn::parse2(brace_group(&mut tokens, "crate root")?)?;
    // The impl's own `crate = path`, if it has one, wins over the interface's.
    let impl_root = brace_group(&mut tokens, "impl crate root")?;
    let root = if impl_root.is_empty() {
        interface_root
    } else {
        syn::parse2(impl_root)?
    };
    let interface = interface(brace_group(&mut tokens, "trait")?)?;
    let block: syn::ItemImpl = syn::parse2(brace_group(&mut tokens, "impl")?)?;
    Ok((root, interface, block))
}
