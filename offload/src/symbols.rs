//! Exported symbols: the hakase functions friend code may call by name (Toshokan's
//! `EXPORT_SYMBOL` / `EXPORTED_SYMBOL`).
//!
//! `#[export_symbol]` on a hakase function registers an [`Export`] (its name, its function as a
//! typed `fn` pointer behind `dyn Any`, its signature as written, where it was defined) and
//! defines a *symbol type* of the same name (in the type namespace, beside the function) that
//! implements [`ExportedSymbol`]. `declare_exports!` defines the same symbol types for
//! signatures only, in a crate shared by both sides, and registers a [`Declaration`] for each.
//! `exported!(name)` inside `offload!` names the symbol type, so an unknown name is a compile
//! error, and resolves it on the hakase through the export table, checking the `fn` pointer type
//! exactly (by `TypeId`), so a friend can never call a function through the wrong signature.

use core::any::{Any, TypeId};
use core::fmt;
use std::sync::OnceLock;

use gears_runtime::registry::{Registered, Registry, RegistryError, Site, Table};

/// A symbol friend code may call with `exported!`: implemented by the symbol types that
/// `#[export_symbol]` and `declare_exports!` define. Not meant to be implemented by hand.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an exported symbol",
    label = "not an exported symbol",
    note = "mark the hakase function with `#[offload::export_symbol]`, or declare it with \
            `offload::declare_exports! {{ fn name(..) -> R; }}` and import the declaration"
)]
pub trait ExportedSymbol: 'static {
    /// The symbol's name, as the export table knows it.
    const NAME: &'static str;
    /// The function pointer type friends call it through, e.g. `fn(&str) -> usize`.
    type Fn: Copy + Send + Sync + 'static;

    /// The function, resolved through the export table once per call site (`cache`); what
    /// `exported!(name)` expands to.
    #[doc(hidden)]
    fn resolve(cache: &SymbolCache, on_hakase: crate::call::OnHakase<'_>) -> Self::Fn
    where
        Self: Sized,
    {
        let _ = on_hakase;
        cache.resolve::<Self>()
    }
}

/// Implemented only for `Declared == Implemented`: `#[export_symbol(declared_in = m)]` asks for
/// it, so that an implementation whose signature differs from the declaration is one error that
/// names both.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Symbol}` is declared as `{Self}` but implemented as `{Implemented}`",
    label = "this signature differs from the declaration's",
    note = "make the implementation's signature the declaration's, or change the declaration \
            (in `declare_exports!`)"
)]
pub trait SameSignature<Implemented, Symbol> {}

impl<F, S> SameSignature<F, S> for F {}

/// The check `#[export_symbol(declared_in = m)]` generates (it never runs).
#[doc(hidden)]
pub const fn same_signature<Declared, Implemented, Symbol>()
where
    Declared: SameSignature<Implemented, Symbol>,
{
}

/// A hakase function exported by `#[export_symbol]`.
pub struct Export {
    name: &'static str,
    signature: &'static str,
    site: Site,
    function: &'static (dyn Any + Send + Sync),
}

impl Export {
    /// An export entry (built by `#[export_symbol]`). `function` points to a `static` holding the
    /// function as its `fn` pointer type.
    #[doc(hidden)]
    pub const fn new(
        name: &'static str,
        signature: &'static str,
        site: Site,
        function: &'static (dyn Any + Send + Sync),
    ) -> Self {
        Self {
            name,
            signature,
            site,
            function,
        }
    }

    /// The signature as written at the definition, e.g. `fn(msg: &str) -> usize`.
    #[must_use]
    pub fn signature(&self) -> &'static str {
        self.signature
    }

    /// The function, if its `fn` pointer type is `F`.
    #[must_use]
    pub fn function<F: Copy + 'static>(&self) -> Option<F> {
        self.function.downcast_ref::<F>().copied()
    }

    fn fn_type_id(&self) -> TypeId {
        self.function.type_id()
    }
}

impl Registered for Export {
    fn name(&self) -> &str {
        self.name
    }
    fn site(&self) -> Site {
        self.site
    }
}

/// A signature declared by `declare_exports!`, which some linked crate must implement.
pub struct Declaration {
    name: &'static str,
    signature: &'static str,
    site: Site,
    type_id: fn() -> TypeId,
}

impl Declaration {
    /// A declaration entry (built by `declare_exports!`); `type_id` gives the `TypeId` of the
    /// declared `fn` pointer type.
    #[doc(hidden)]
    pub const fn new(
        name: &'static str,
        signature: &'static str,
        site: Site,
        type_id: fn() -> TypeId,
    ) -> Self {
        Self {
            name,
            signature,
            site,
            type_id,
        }
    }
}

impl Registered for Declaration {
    fn name(&self) -> &str {
        self.name
    }
    fn site(&self) -> Site {
        self.site
    }
}

gears_runtime::registry::inventory::collect!(Export);
gears_runtime::registry::inventory::collect!(Declaration);

static EXPORTS: Registry<Export> = Registry::new("exported symbol");

/// The table of every `#[export_symbol]` function linked into the program.
///
/// # Errors
///
/// If a name is exported twice, every such name with its sites.
pub fn export_table() -> Result<&'static Table<Export>, &'static RegistryError> {
    EXPORTS.table()
}

/// What is wrong with the program's exported symbols, as [`Hakase::new`](crate::Hakase::new)
/// reports it: every problem at once.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", fmt::from_fn(|f| self.render(f)))]
pub struct SymbolError {
    duplicates: Option<RegistryError>,
    missing: Vec<(&'static str, &'static str, Site)>,
    mismatched: Vec<Mismatch>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Mismatch {
    name: &'static str,
    declared: &'static str,
    declared_at: Site,
    implemented: &'static str,
    implemented_at: Site,
}

impl SymbolError {
    /// The names exported more than once, with their sites (empty if none).
    #[must_use]
    pub fn duplicated(&self) -> Vec<&'static str> {
        self.duplicates
            .iter()
            .flat_map(|error| error.duplicates().iter().map(|d| d.name()))
            .collect()
    }

    /// The names declared by `declare_exports!` that no linked crate implements.
    #[must_use]
    pub fn missing(&self) -> Vec<&'static str> {
        self.missing.iter().map(|&(name, ..)| name).collect()
    }

    /// The names implemented with another signature than the one declared.
    #[must_use]
    pub fn mismatched(&self) -> Vec<&'static str> {
        self.mismatched.iter().map(|m| m.name).collect()
    }
}

impl SymbolError {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut lines = Vec::new();
        if let Some(duplicates) = &self.duplicates {
            lines.push(format!(
                "{duplicates}\n  (each exported name must have one #[export_symbol] function; \
                 rename or remove the others)"
            ));
        }
        for (name, signature, site) in &self.missing {
            lines.push(format!(
                "missing exported symbol {name:?}: declared at {site} as `{signature}`, but no \
                 linked crate implements it (add `#[export_symbol]` to a hakase function of \
                 that name, and make sure its crate is linked)"
            ));
        }
        for m in &self.mismatched {
            lines.push(format!(
                "exported symbol {:?} is declared at {} as `{}` but implemented at {} as `{}` \
                 (use `#[export_symbol(declared_in = path)]` to have this checked at compile time)",
                m.name, m.declared_at, m.declared, m.implemented_at, m.implemented
            ));
        }
        f.write_str(&lines.join("\n"))
    }
}

/// Checks the export table against every declaration: duplicates, missing implementations and
/// signature mismatches, all reported together.
pub(crate) fn check_symbols() -> Result<&'static Table<Export>, SymbolError> {
    check_symbols_from(
        export_table(),
        gears_runtime::registry::inventory::iter::<Export>,
        gears_runtime::registry::inventory::iter::<Declaration>,
    )
}

/// `exports` are every registered export, duplicates included: a duplicated name must not make
/// the declarations of other names look unimplemented.
fn check_symbols_from<'d>(
    table: Result<&'static Table<Export>, &'static RegistryError>,
    exports: impl IntoIterator<Item = &'static Export>,
    declarations: impl IntoIterator<Item = &'d Declaration>,
) -> Result<&'static Table<Export>, SymbolError> {
    let mut error = SymbolError {
        duplicates: None,
        missing: Vec::new(),
        mismatched: Vec::new(),
    };
    let table = match table {
        Ok(table) => Some(table),
        Err(duplicates) => {
            error.duplicates = Some(duplicates.clone());
            None
        }
    };
    let exports: Vec<&Export> = exports.into_iter().collect();
    let mut declarations: Vec<&Declaration> = declarations.into_iter().collect();
    declarations.sort_by_key(|d| (d.name, d.site));
    for declaration in declarations {
        let implementations: Vec<&&Export> = exports
            .iter()
            .filter(|export| export.name == declaration.name)
            .collect();
        if implementations.is_empty() {
            error
                .missing
                .push((declaration.name, declaration.signature, declaration.site));
        }
        // A duplicated name is reported as such; each of its implementations is still compared.
        for export in implementations {
            if export.fn_type_id() != (declaration.type_id)() {
                error.mismatched.push(Mismatch {
                    name: declaration.name,
                    declared: declaration.signature,
                    declared_at: declaration.site,
                    implemented: export.signature,
                    implemented_at: export.site,
                });
            }
        }
    }
    match table {
        Some(table) if error.missing.is_empty() && error.mismatched.is_empty() => Ok(table),
        _ => Err(error),
    }
}

/// A per-call-site cache of one resolved symbol; `exported!` puts one in a `static`.
#[doc(hidden)]
pub struct SymbolCache {
    function: OnceLock<&'static (dyn Any + Send + Sync)>,
}

impl SymbolCache {
    #[doc(hidden)]
    #[must_use]
    pub const fn new() -> Self {
        Self {
            function: OnceLock::new(),
        }
    }

    /// Resolves `S` through the export table (once per call site) and returns its function.
    ///
    /// # Panics
    ///
    /// If no function is exported under `S::NAME`, or it is exported with another signature
    /// (both of which `Hakase::new` reports before any friend runs), or the export table has
    /// duplicates.
    #[doc(hidden)]
    pub fn resolve<S: ExportedSymbol>(&self) -> S::Fn {
        let function = *self.function.get_or_init(|| {
            let table = export_table().unwrap_or_else(|error| panic!("{error}"));
            match table.get(S::NAME) {
                Some((_, export)) => export.function,
                None => panic!(
                    "exported!({}): no linked crate exports a function of that name \
                     (Hakase::new reports this)",
                    S::NAME
                ),
            }
        });
        match function.downcast_ref::<S::Fn>() {
            Some(&f) => f,
            None => panic!(
                "exported!({}): the export's signature differs from the declaration `{}` \
                 (Hakase::new reports this)",
                S::NAME,
                core::any::type_name::<S::Fn>()
            ),
        }
    }
}

impl Default for SymbolCache {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(a: i64, b: i64) -> i64 {
        a + b
    }
    static ADD: fn(i64, i64) -> i64 = add;
    static ADD_ENTRY: Export = Export::new(
        "add",
        "fn(a: i64, b: i64) -> i64",
        Site::new("a.rs", 1, 1),
        &ADD,
    );

    fn type_of_add() -> TypeId {
        TypeId::of::<fn(i64, i64) -> i64>()
    }
    fn type_of_other() -> TypeId {
        TypeId::of::<fn(i32) -> i32>()
    }

    fn leak_table(entries: Vec<&'static Export>) -> &'static Table<Export> {
        Box::leak(Box::new(
            Table::build_from("exported symbol", entries).unwrap(),
        ))
    }

    #[test]
    fn declarations_are_checked_for_missing_and_mismatched_implementations() {
        let table = leak_table(vec![&ADD_ENTRY]);
        let declarations = [
            Declaration::new(
                "add",
                "fn(i64, i64) -> i64",
                Site::new("s.rs", 1, 1),
                type_of_add,
            ),
            Declaration::new("gone", "fn()", Site::new("s.rs", 2, 1), type_of_add),
            Declaration::new("alpha", "fn()", Site::new("s.rs", 3, 1), type_of_add),
        ];
        let error = check_symbols_from(Ok(table), [&ADD_ENTRY], &declarations).unwrap_err();
        assert_eq!(error.missing(), ["alpha", "gone"]);
        assert!(error.mismatched().is_empty() && error.duplicated().is_empty());
        assert!(error.to_string().contains(
            "missing exported symbol \"alpha\": declared at s.rs:3:1 as `fn()`, but no linked \
             crate implements it"
        ));

        let declarations = [Declaration::new(
            "add",
            "fn(x: i32) -> i32",
            Site::new("s.rs", 9, 1),
            type_of_other,
        )];
        let error = check_symbols_from(Ok(table), [&ADD_ENTRY], &declarations).unwrap_err();
        assert_eq!(error.mismatched(), ["add"]);
        assert_eq!(
            error.to_string(),
            "exported symbol \"add\" is declared at s.rs:9:1 as `fn(x: i32) -> i32` but \
             implemented at a.rs:1:1 as `fn(a: i64, b: i64) -> i64` (use \
             `#[export_symbol(declared_in = path)]` to have this checked at compile time)"
        );

        let ok = [Declaration::new(
            "add",
            "",
            Site::new("s.rs", 1, 1),
            type_of_add,
        )];
        assert!(check_symbols_from(Ok(table), [&ADD_ENTRY], &ok).is_ok());
    }

    #[test]
    fn an_export_hands_out_its_function_only_as_its_own_type() {
        assert_eq!(
            ADD_ENTRY.function::<fn(i64, i64) -> i64>().map(|f| f(2, 3)),
            Some(5)
        );
        assert!(ADD_ENTRY.function::<fn(i32, i32) -> i32>().is_none());
    }
}
