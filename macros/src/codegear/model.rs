//! What the parse stage produces and the later stages read.

use syn::{Ident, Type};

/// How a code-gear parameter is passed (mirrors `codegear::ParamKind`).
#[derive(Clone, Debug)]
pub(crate) enum ParamKind {
    /// An owned value; checked to be a `Value` at its type.
    Value,
    /// `Next<..>`.
    Next,
    /// `Gear<T>` / `Gear<dyn I>`, passed on untouched.
    Handle,
    /// `Mut<'_, T>`: the data gear `T`, borrowed exclusively.
    Mut(Type),
    /// `Ref<'_, T>`: the data gear `T`, borrowed shared.
    Ref(Type),
}

impl ParamKind {
    pub(crate) fn runtime_name(&self) -> &'static str {
        match self {
            Self::Value => "Value",
            Self::Next => "Next",
            Self::Handle => "Handle",
            Self::Mut(_) => "Mut",
            Self::Ref(_) => "Ref",
        }
    }
}

/// One parameter, classified.
#[derive(Clone, Debug)]
pub(crate) struct Param {
    pub(crate) name: Ident,
    pub(crate) ty: Type,
    pub(crate) kind: ParamKind,
}

impl Param {
    /// The type the argument travels as inside a `Goto` (data gears travel as handles).
    pub(crate) fn wire_type(&self, root: &crate::common::CrateRoot) -> proc_macro2::TokenStream {
        match &self.kind {
            ParamKind::Mut(inner) | ParamKind::Ref(inner) => quote::quote!(#root::Gear<#inner>),
            _ => {
                let ty = &self.ty;
                quote::quote!(#ty)
            }
        }
    }
}

/// A problem found while classifying, reported by the check stage with the others.
#[derive(Clone, Debug)]
pub(crate) struct Problem {
    /// The user's tokens it is about (the whole type, not just its first token).
    pub(crate) tokens: proc_macro2::TokenStream,
    pub(crate) message: String,
}

/// `#[code_gear] fn`.
pub(crate) struct CodeGearFn {
    pub(crate) function: syn::ItemFn,
    pub(crate) params: Vec<Param>,
    pub(crate) problems: Vec<Problem>,
}

/// `#[data_gear]` struct or enum.
pub(crate) struct DataGearDef {
    pub(crate) item: syn::DeriveInput,
    pub(crate) problems: Vec<Problem>,
}

/// One API code gear of an interface, or one method of an implementation.
pub(crate) struct Method {
    pub(crate) sig: syn::Signature,
    /// `&mut self` (true) or `&self` (false).
    pub(crate) receiver_mut: bool,
    /// Parameters after the receiver.
    pub(crate) params: Vec<Param>,
    pub(crate) problems: Vec<Problem>,
}

/// `#[interface] trait`.
pub(crate) struct InterfaceDef {
    pub(crate) item: syn::ItemTrait,
    pub(crate) methods: Vec<Method>,
    pub(crate) problems: Vec<Problem>,
    /// Code gears `#[interface]` reported and repaired (carried to implementations by the `I!`
    /// macro, which then do not report the same mistake again).
    pub(crate) repaired: Vec<String>,
}

/// `#[code_gear] impl Interface for DataGear`, head only (the first half).
pub(crate) struct ImplHead {
    pub(crate) trait_path: syn::Path,
}

/// `#[code_gear] impl Interface for DataGear`, checked against the interface.
pub(crate) struct ImplDef {
    pub(crate) block: syn::ItemImpl,
    pub(crate) trait_path: syn::Path,
    pub(crate) interface_name: Ident,
    pub(crate) self_name: Ident,
    pub(crate) methods: Vec<Method>,
}
