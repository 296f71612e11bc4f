//! Typed, link-time registries: the Rust counterpart of GearsOS's generated `context.h` tables.
//!
//! GearsOS had a Perl script scan the sources and write `enum Code` and `enum DataType`. Here the
//! gears macros instead emit one [`inventory::submit!`] per code gear, data gear, interface or
//! exported symbol, wherever it is defined, and a domain crate declares one [`Registry`] per kind
//! of entry. On first use the registry gathers every submitted entry into an immutable [`Table`]:
//! entries are ordered by name, so each gets an [`Id`] that does not depend on link order, and a
//! name registered twice is reported with every [`Site`] that registered it, as a
//! [`RegistryError`].
//!
//! A domain crate defines the entry type, implements [`Registered`] for it, runs
//! `inventory::collect!` on it and declares a `static` [`Registry`] of it; the example on
//! [`Registry`] shows all four.
//!
//! # Linking
//!
//! An entry exists only if the crate that submits it is linked into the final binary. Cargo
//! passes every dependency to rustc, but rustc links only the crates the code actually refers to,
//! and a crate whose only content is registrations is referred to by nothing. Its entries are then
//! absent, silently: no error, just a smaller table. The binary (or a crate it links) must refer
//! to such a crate, by using any item of it or with `use the_gears_crate as _;`.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

/// Re-exported so that code generated into user crates can reach `inventory::submit!` through
/// the domain crates, without every user crate depending on `inventory` itself.
pub use inventory;

/// Where an entry was registered: a source position, as `file!()`, `line!()` and `column!()`
/// give it.
///
/// Build one with [`site!`](crate::site). Sites order by file, then line, then column, which is
/// the order [`RegistryError`] lists them in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    /// The source file, relative to the workspace root as `file!()` reports it.
    pub file: &'static str,
    /// The line, counted from 1.
    pub line: u32,
    /// The column, counted from 1.
    pub column: u32,
}

impl Site {
    /// A site from its parts; `const` so that it can sit inside `inventory::submit!`.
    pub const fn new(file: &'static str, line: u32, column: u32) -> Self {
        Self { file, line, column }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// The [`Site`] of its invocation, as a constant expression.
///
/// It reports where it stands in the source, as `line!()` does: written by hand, even among the
/// tokens handed to `inventory::submit!`, its own position; produced by another macro's
/// expansion, the position of the invocation of that macro in the source (for a gears macro, the
/// user's attribute or macro call), which is what a message about a duplicate should point at.
///
/// ```
/// use gears_runtime::registry::Site;
///
/// const HERE: Site = gears_runtime::site!();
/// let below = line!();
/// assert_eq!((HERE.file, HERE.line, HERE.column), (file!(), below - 1, 20));
/// assert_eq!(HERE.to_string(), format!("{}:{}:20", file!(), below - 1));
/// ```
#[macro_export]
macro_rules! site {
    () => {
        $crate::registry::Site::new(::core::file!(), ::core::line!(), ::core::column!())
    };
}

/// An entry that can live in a [`Registry`]: a code gear, a data gear, an interface, a symbol.
///
/// Entries are `'static` values built in `inventory::submit!`, shared by all threads.
pub trait Registered: Sync + 'static {
    /// The name the entry is looked up by; unique within its registry.
    ///
    /// A table calls it exactly once per entry, while it is built, and keeps the result.
    fn name(&self) -> &str;

    /// Where the entry was registered, for error messages; usually [`site!`](crate::site).
    fn site(&self) -> Site;
}

/// The index of an entry in its [`Table`]: its position when the table's entries are ordered by
/// name.
///
/// Ids are dense (`0..len`) and depend only on the set of names registered, not on the order in
/// which the linker placed the registrations, so they are the same in every run. They are only
/// meaningful for the table that produced them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(u32);

impl Id {
    /// An id from its raw value, e.g. one stored in a context; [`Table::by_id`] checks it.
    pub const fn new(raw: u32) -> Self {
        Self(raw)
    }

    /// The raw value.
    pub const fn as_u32(self) -> u32 {
        self.0
    }

    /// The raw value as an index into the table's id order.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An immutable, indexed collection of registered entries, with no two sharing a name.
///
/// Usually obtained from [`Registry::table`]; [`Table::build_from`] builds one from any list.
pub struct Table<T: 'static> {
    /// In id order, i.e. sorted by name, so that `by_id` is an index and `iter` a slice walk.
    /// Names are kept beside the entries so that nothing after the build calls back into entry
    /// code, and so that `Debug` needs nothing from `T`.
    entries: Box<[(&'static str, &'static T)]>,
    /// Name lookups go through a hash map rather than a binary search over `entries`: gear names
    /// share long prefixes (`StackPush`, `StackPop`, ...), so each probe of a binary search is a
    /// string comparison that runs deep into both strings, and measured on 16 to 1000 such names
    /// the search took 30-85 ns against 11-14 ns for one SipHash and probe. The map costs one
    /// extra allocation, made once per table.
    by_name: HashMap<&'static str, Id>,
}

impl<T: Registered> Table<T> {
    /// Builds a table from `entries`, in any order; `kind` names the kind of entry in errors
    /// (`"code gear"`, `"data gear"`, ...).
    ///
    /// # Errors
    ///
    /// If two or more entries share a name, a [`RegistryError`] listing every such name with all
    /// the sites that registered it.
    ///
    /// # Panics
    ///
    /// If there are more than `u32::MAX` entries, which [`Id`] cannot number.
    pub fn build_from<I>(kind: &'static str, entries: I) -> Result<Self, RegistryError>
    where
        I: IntoIterator<Item = &'static T>,
    {
        // `name()` is called once per entry and its result kept, so that sorting, duplicate
        // detection and lookups never call back into entry code.
        let mut named: Vec<(&'static str, &'static T)> = entries
            .into_iter()
            .map(|entry| (entry.name(), entry))
            .collect();
        assert!(
            u32::try_from(named.len()).is_ok(),
            "a {kind} registry cannot number more than u32::MAX entries"
        );
        // Equal names end up adjacent whatever their relative order, and duplicates fail the
        // build, so an unstable sort still gives a total, reproducible order.
        named.sort_unstable_by(|a, b| a.0.cmp(b.0));

        let duplicates: Vec<Duplicate> = named
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|group| group.len() > 1)
            .map(|group| {
                let mut sites: Vec<Site> = group.iter().map(|(_, entry)| entry.site()).collect();
                sites.sort_unstable();
                Duplicate {
                    name: group[0].0,
                    sites,
                }
            })
            .collect();
        if !duplicates.is_empty() {
            return Err(RegistryError { kind, duplicates });
        }

        let by_name = named
            .iter()
            .zip(0..)
            .map(|(&(name, _), raw)| (name, Id(raw)))
            .collect();
        Ok(Self {
            entries: named.into_boxed_slice(),
            by_name,
        })
    }
}

impl<T: 'static> Table<T> {
    /// The id and entry registered under `name`, if any.
    pub fn get(&self, name: &str) -> Option<(Id, &'static T)> {
        let id = self.id_of(name)?;
        Some((id, self.entries[id.index()].1))
    }

    /// The id of the entry registered under `name`, if any.
    pub fn id_of(&self, name: &str) -> Option<Id> {
        self.by_name.get(name).copied()
    }

    /// The entry with id `id`, or `None` if `id` is out of range.
    pub fn by_id(&self, id: Id) -> Option<&'static T> {
        self.entries.get(id.index()).map(|&(_, entry)| entry)
    }

    /// The name of the entry with id `id`, or `None` if `id` is out of range.
    pub fn name_of(&self, id: Id) -> Option<&'static str> {
        self.entries.get(id.index()).map(|&(name, _)| name)
    }

    /// Every entry with its id, in id order (that is, by name).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (Id, &'static T)> + DoubleEndedIterator {
        // `build_from` checked that every index fits in a `u32`.
        self.entries
            .iter()
            .enumerate()
            .map(|(index, &(_, entry))| (Id(index as u32), entry))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Lists the names with their ids, in id order.
impl<T: 'static> fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.entries
                    .iter()
                    .enumerate()
                    .map(|(id, (name, _))| (id, name)),
            )
            .finish()
    }
}

/// One name registered more than once, with where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    name: &'static str,
    sites: Vec<Site>,
}

impl Duplicate {
    /// The name registered more than once.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Every site that registered the name, sorted; at least two.
    pub fn sites(&self) -> &[Site] {
        &self.sites
    }
}

/// Why a [`Table`] could not be built: some names were registered more than once.
///
/// Its `Display` has one line per duplicated name, sorted by name, each listing all its sites in
/// order:
///
/// ```text
/// duplicate code gear "pop": registered at src/a.rs:10:1 and at src/b.rs:20:5
/// duplicate code gear "push": registered at src/a.rs:12:1, at src/b.rs:30:5 and at src/c.rs:3:1
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", fmt::from_fn(|f| self.render(f)))]
pub struct RegistryError {
    kind: &'static str,
    duplicates: Vec<Duplicate>,
}

impl RegistryError {
    /// The kind of entry of the registry that failed, e.g. `"code gear"`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Every duplicated name, sorted by name; never empty.
    pub fn duplicates(&self) -> &[Duplicate] {
        &self.duplicates
    }
}

impl RegistryError {
    fn render(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, duplicate) in self.duplicates.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(
                f,
                "duplicate {} {:?}: registered",
                self.kind, duplicate.name
            )?;
            let last = duplicate.sites.len() - 1;
            for (j, site) in duplicate.sites.iter().enumerate() {
                let separator = match j {
                    0 => " at",
                    _ if j == last => " and at",
                    _ => ", at",
                };
                write!(f, "{separator} {site}")?;
            }
        }
        Ok(())
    }
}

/// A registry of entries of type `T`, submitted anywhere in the program with
/// `inventory::submit!` and gathered into a [`Table`] on first use.
///
/// The table is built once, by whichever thread asks first; concurrent first callers wait for it
/// and all get the same table (or the same error).
///
/// # Example
///
/// ```
/// use gears_runtime::registry::{Registered, Registry, Site};
///
/// pub struct CodeGear {
///     name: &'static str,
///     site: Site,
///     run: fn(u32) -> u32,
/// }
///
/// impl Registered for CodeGear {
///     fn name(&self) -> &str {
///         self.name
///     }
///     fn site(&self) -> Site {
///         self.site
///     }
/// }
///
/// inventory::collect!(CodeGear);
///
/// static CODE_GEARS: Registry<CodeGear> = Registry::new("code gear");
///
/// inventory::submit! {
///     CodeGear { name: "push", site: gears_runtime::site!(), run: |x| x + 1 }
/// }
/// inventory::submit! {
///     CodeGear { name: "pop", site: gears_runtime::site!(), run: |x| x - 1 }
/// }
///
/// fn main() {
///     let table = CODE_GEARS.table().unwrap_or_else(|error| panic!("{error}"));
///     assert_eq!(table.len(), 2);
///
///     let (id, push) = table.get("push").expect("push is registered");
///     assert_eq!((push.run)(41), 42);
///     // Ids follow name order: "pop" < "push".
///     assert_eq!(id.as_u32(), 1);
///     assert_eq!(table.by_id(id).map(|gear| gear.name), Some("push"));
///     assert!(table.get("peek").is_none());
/// }
/// ```
pub struct Registry<T: 'static> {
    kind: &'static str,
    table: OnceLock<Result<Table<T>, RegistryError>>,
}

impl<T: 'static> Registry<T> {
    /// An empty registry for entries of the given kind (`"code gear"`, `"data gear"`, ...), named
    /// in error messages. `const`, so that it can initialise a `static`.
    pub const fn new(kind: &'static str) -> Self {
        Self {
            kind,
            table: OnceLock::new(),
        }
    }

    /// The kind of entry, as given to [`Registry::new`].
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

/// Shows the kind and, once built, the table or the error, without building it.
impl<T: 'static> fmt::Debug for Registry<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("kind", &self.kind)
            .field("table", &self.table.get())
            .finish()
    }
}

impl<T: inventory::Collect + Registered> Registry<T> {
    /// The table of every `T` submitted in the program, built on the first call.
    ///
    /// Later calls, from any thread, return the same table without rebuilding it.
    ///
    /// # Errors
    ///
    /// The [`RegistryError`] from [`Table::build_from`] if a name was registered more than once;
    /// every call returns that same error.
    pub fn table(&self) -> Result<&Table<T>, &RegistryError> {
        self.table
            .get_or_init(|| Table::build_from(self.kind, inventory::iter::<T>))
            .as_ref()
    }
}
