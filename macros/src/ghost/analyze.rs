//! Stage 3: the checked syntax → what codegen needs. Fills defaults (`crate = ::ghost_dsl`),
//! resolves which handlers the scheduler trait gets, and strips the DSL's own attributes from
//! the user's impl.

use syn::{ImplItem, ItemImpl, Path, Type, parse_quote};

use super::check::{Checked, Handler, is_helper};
use super::parse::{Args, Model};

/// Everything codegen reads.
pub(crate) struct Ir {
    /// The user's impl, minus `#[helper]` markers.
    pub(crate) item: ItemImpl,
    pub(crate) self_ty: Type,
    pub(crate) task: Type,
    pub(crate) model: Model,
    /// The path of the `ghost-dsl` crate (`crate = ..`, else `::ghost_dsl`).
    pub(crate) krate: Path,
    pub(crate) handlers: Vec<Handler>,
}

/// Builds the IR; `None` when check left out something required (check reported it).
pub(crate) fn analyze(args: &Args, item: &ItemImpl, checked: Checked) -> Option<Ir> {
    Some(Ir {
        item: strip_markers(item),
        self_ty: (*item.self_ty).clone(),
        task: checked.task?,
        model: checked.model?,
        krate: krate(args),
        handlers: checked.handlers,
    })
}

/// The path generated code uses to reach `ghost-dsl`.
pub(crate) fn krate(args: &Args) -> Path {
    args.krate
        .clone()
        .unwrap_or_else(|| parse_quote!(::ghost_dsl))
}

/// The impl as the user wrote it, without the `#[helper]` markers the DSL consumes.
pub(crate) fn strip_markers(item: &ItemImpl) -> ItemImpl {
    let mut item = item.clone();
    for inner in &mut item.items {
        if let ImplItem::Fn(method) = inner
            && is_helper(method)
        {
            method
                .attrs
                .retain(|attr| !attr.path().is_ident(super::check::HELPER_ATTR));
        }
    }
    item
}
