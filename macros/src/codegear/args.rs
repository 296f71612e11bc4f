//! Arguments of the codegear attributes: `crate = path` on all three, and `instances(..)` on the
//! generic ones (`#[data_gear(instances(i64, String))]`, `#[code_gear(instances(..))]`).

use darling::FromMeta;
use syn::punctuated::Punctuated;

use crate::common::AttrArgs;

/// `instances(T1, T2, ..)`: the instantiations of a generic data gear or implementation that
/// get rows in the tables (Rust cannot register a generic item once per use at link time).
#[derive(Clone, Debug, Default)]
pub(crate) struct Instances(pub(crate) Vec<syn::Type>);

impl FromMeta for Instances {
    fn from_meta(item: &syn::Meta) -> darling::Result<Self> {
        match item {
            syn::Meta::List(list) => {
                let types = list
                    .parse_args_with(Punctuated::<syn::Type, syn::Token![,]>::parse_terminated)
                    .map_err(darling::Error::from)?;
                if types.is_empty() {
                    return Err(darling::Error::custom(
                        "list at least one instance: `instances(i64, String)`",
                    )
                    .with_span(list));
                }
                Ok(Self(types.into_iter().collect()))
            }
            other => Err(darling::Error::custom(
                "write the instances as a list of types: `instances(i64, String)` (one type per \
                 generic parameter; a tuple `(A, B)` for two)",
            )
            .with_span(other)),
        }
    }
}

macro_rules! codegear_args {
    ($(#[$doc:meta])* $name:ident, $macro:literal, [$($key:literal),*] $(, $instances:ident)?) => {
        $(#[$doc])*
        #[derive(FromMeta, Default)]
        pub(crate) struct $name {
            #[darling(rename = "crate")]
            pub(crate) krate: Option<syn::Path>,
            $(
                #[darling(default)]
                pub(crate) $instances: Instances,
            )?
        }

        impl AttrArgs for $name {
            const MACRO: &'static str = $macro;
            const KEYS: &'static [&'static str] = &[$($key),*];
        }
    };
}

codegear_args!(
    /// `#[data_gear(crate = ::renamed, instances(..))]`.
    DataGearArgs, "data_gear", ["crate", "instances"], instances
);
codegear_args!(
    /// `#[interface(crate = ::renamed)]`.
    InterfaceArgs, "interface", ["crate"]
);
codegear_args!(
    /// `#[code_gear(crate = ::renamed, instances(..))]`.
    CodeGearArgs, "code_gear", ["crate", "instances"], instances
);
