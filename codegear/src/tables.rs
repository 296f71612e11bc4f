//! The code-gear, data-gear and interface tables: GearsOS's generated `enum Code`,
//! `enum DataType` and interface headers, built here from the registrations the macros emit.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use gears_runtime::registry::{Registered, Registry, RegistryError, Site, Table};

use crate::code::CodeGearInfo;
use crate::gear::{DataGearInfo, InterfaceInfo};

/// A code gear's registration (emitted by `#[code_gear]`).
#[doc(hidden)]
pub struct CodeGearEntry(pub &'static CodeGearInfo);

impl CodeGearEntry {
    /// The registration of a code gear static.
    pub const fn of<A>(gear: &'static crate::code::CodeGear<A>) -> Self {
        Self(gear.info_const())
    }
}

/// A data gear's registration (emitted by `#[data_gear]`).
#[doc(hidden)]
pub struct DataGearEntry(
    pub &'static DataGearInfo,
    pub &'static str,
    /// The type's id, by which a handle's `Debug` finds its row ([`data_gear_display_of`]).
    pub fn() -> std::any::TypeId,
);

/// An interface's registration (emitted by `#[interface]`).
#[doc(hidden)]
pub struct InterfaceEntry(pub &'static InterfaceInfo, pub &'static str);

/// "data gear `D` implements interface `I`" (emitted by `#[code_gear] impl I for D`).
#[doc(hidden)]
pub struct ImplEntry {
    pub interface: &'static InterfaceInfo,
    pub data_gear: &'static DataGearInfo,
    pub key: &'static str,
    pub site: Site,
}

impl Registered for CodeGearEntry {
    /// The unique path, not the short name: two modules may each define a `pop`.
    #[allow(clippy::misnamed_getters)]
    fn name(&self) -> &str {
        self.0.path
    }
    fn site(&self) -> Site {
        self.0.site
    }
}

impl Registered for DataGearEntry {
    fn name(&self) -> &str {
        self.1
    }
    fn site(&self) -> Site {
        self.0.site
    }
}

impl Registered for InterfaceEntry {
    fn name(&self) -> &str {
        self.1
    }
    fn site(&self) -> Site {
        self.0.site
    }
}

impl Registered for ImplEntry {
    fn name(&self) -> &str {
        self.key
    }
    fn site(&self) -> Site {
        self.site
    }
}

gears_runtime::registry::inventory::collect!(CodeGearEntry);
gears_runtime::registry::inventory::collect!(DataGearEntry);
gears_runtime::registry::inventory::collect!(InterfaceEntry);
gears_runtime::registry::inventory::collect!(ImplEntry);

static CODE_GEARS: Registry<CodeGearEntry> = Registry::new("code gear");
static DATA_GEARS: Registry<DataGearEntry> = Registry::new("data gear");
static INTERFACES: Registry<InterfaceEntry> = Registry::new("interface");
static IMPLS: Registry<ImplEntry> = Registry::new("interface implementation");

/// The display name of sized type `T` for handles' `Debug` and errors: its data-gear row's
/// ([`Tables::data_gear_name`]) when `T` is a registered data gear, else its own name without
/// module paths (a type that is not a data gear is never in a heap; only handles name it).
pub(crate) fn data_gear_display_of<T: 'static>() -> &'static str {
    let id = std::any::TypeId::of::<T>();
    Tables::get()
        .ok()
        .and_then(|tables| tables.by_type.get(&id).copied())
        .unwrap_or_else(|| short_type_name(std::any::type_name::<T>()))
}

/// `a::b::Stack<c::D>` as `Stack<c::D>`: the last path segment of the outer type (what
/// `#[data_gear]` names a type), for types that have no data-gear row.
fn short_type_name(full: &'static str) -> &'static str {
    let outer = full.find('<').unwrap_or(full.len());
    match full[..outer].rfind("::") {
        Some(at) => &full[at + 2..],
        None => full,
    }
}

/// `dyn` and an interface's display name ([`Tables::interface_name`]), for handles' `Debug`.
#[doc(hidden)]
pub fn interface_display(info: &'static InterfaceInfo) -> &'static str {
    static DYN: OnceLock<std::sync::Mutex<HashMap<&'static str, &'static str>>> = OnceLock::new();
    let name = Tables::get().map_or(info.name, |tables| tables.interface_name(info));
    let mut names = DYN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    names
        .entry(name)
        .or_insert_with(|| Box::leak(format!("dyn {name}").into_boxed_str()))
}

/// As [`interface_display`], for an instance of a generic interface: `dyn Stack<i64>`, with
/// the type arguments (`std::any::type_name`s) written by their last path segments, as a user
/// writes them (`alloc::string::String` → `String`).
#[doc(hidden)]
pub fn interface_display_with(info: &'static InterfaceInfo, args: &[&'static str]) -> &'static str {
    /// Display names by (interface name, type arguments), leaked once each.
    type Names = HashMap<(&'static str, Vec<&'static str>), &'static str>;
    static DYN: OnceLock<std::sync::Mutex<Names>> = OnceLock::new();
    let name = Tables::get().map_or(info.name, |tables| tables.interface_name(info));
    let mut names = DYN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    names.entry((name, args.to_vec())).or_insert_with(|| {
        let args: Vec<String> = args.iter().map(|arg| unqualified_type_name(arg)).collect();
        Box::leak(format!("dyn {name}<{}>", args.join(", ")).into_boxed_str())
    })
}

/// `type_name` text with every path shortened to its last segment:
/// `(u8, alloc::vec::Vec<my::Item>)` → `(u8, Vec<Item>)`.
fn unqualified_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut rest = full;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("::") {
            // Drop the path segment just written: only the last one stays.
            let kept = out
                .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_')
                .len();
            out.truncate(kept);
            rest = &rest[2..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Every code gear, data gear and interface linked into the program, indexed.
pub struct Tables {
    code_gears: &'static Table<CodeGearEntry>,
    data_gears: &'static Table<DataGearEntry>,
    interfaces: &'static Table<InterfaceEntry>,
    impls: &'static Table<ImplEntry>,
    /// Display names of data gears and interfaces by `module::name` key (see [`qualify`]).
    short: HashMap<&'static str, &'static str>,
    /// Display names of data gears by type, for handles' `Debug` ([`data_gear_display_of`]).
    by_type: HashMap<std::any::TypeId, &'static str>,
}

/// Same (module, name) for infos that may live at several addresses (consts are not unique).
fn same_interface(a: &InterfaceInfo, b: &InterfaceInfo) -> bool {
    a.name == b.name && a.module == b.module
}

/// Display names for `(module, name)` rows: the name where it is unique, else prefixed by as
/// many trailing module segments as tell the rows sharing it apart. Leaked once per program
/// (the tables are built once).
fn qualify(rows: &[(&'static str, &'static str)]) -> Vec<&'static str> {
    rows.iter()
        .map(|&(module, name)| {
            let homonyms: Vec<&str> = rows
                .iter()
                .filter(|(_, other)| *other == name)
                .map(|(other_module, _)| *other_module)
                .collect();
            if homonyms.len() < 2 {
                return name;
            }
            let segments: Vec<&str> = module.split("::").collect();
            for keep in 1..=segments.len() {
                let suffix = segments[segments.len() - keep..].join("::");
                let clashes = homonyms
                    .iter()
                    .filter(|other| {
                        **other == module
                            || other.ends_with(&format!("::{suffix}"))
                            || **other == suffix
                    })
                    .count();
                if clashes == 1 {
                    return &*Box::leak(format!("{suffix}::{name}").into_boxed_str());
                }
            }
            &*Box::leak(format!("{module}::{name}").into_boxed_str())
        })
        .collect()
}

fn module_of(path: &'static str, name: &str) -> &'static str {
    path.strip_suffix(name)
        .and_then(|m| m.strip_suffix("::"))
        .unwrap_or("")
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Tables {
    /// The tables, built on first use; code gears get their ids (name order) then.
    ///
    /// # Errors
    /// A name registered twice (which separate crates defining the same module path could do).
    pub fn get() -> Result<&'static Tables, &'static RegistryError> {
        static TABLES: OnceLock<Result<Tables, &'static RegistryError>> = OnceLock::new();
        TABLES
            .get_or_init(|| {
                let mut tables = Tables {
                    code_gears: CODE_GEARS.table()?,
                    data_gears: DATA_GEARS.table()?,
                    interfaces: INTERFACES.table()?,
                    impls: IMPLS.table()?,
                    short: HashMap::new(),
                    by_type: HashMap::new(),
                };
                let rows: Vec<_> = tables
                    .code_gears
                    .iter()
                    .map(|(_, e)| (module_of(e.0.path, e.0.name), e.0.name))
                    .collect();
                for ((id, entry), display) in tables.code_gears.iter().zip(qualify(&rows)) {
                    entry.0.set_id(id.as_u32());
                    entry.0.set_display_name(display);
                }
                let rows: Vec<_> = tables
                    .data_gears
                    .iter()
                    .map(|(_, e)| (e.0.module, e.0.name))
                    .collect();
                for ((_, entry), display) in tables.data_gears.iter().zip(qualify(&rows)) {
                    tables.short.insert(entry.1, display);
                    tables.by_type.insert((entry.2)(), display);
                }
                let rows: Vec<_> = tables
                    .interfaces
                    .iter()
                    .map(|(_, e)| (e.0.module, e.0.name))
                    .collect();
                for ((_, entry), display) in tables.interfaces.iter().zip(qualify(&rows)) {
                    tables.short.insert(entry.1, display);
                }
                Ok(tables)
            })
            .as_ref()
            .map_err(|error| *error)
    }

    /// Code gears in id order.
    pub fn code_gears(&self) -> impl ExactSizeIterator<Item = &'static CodeGearInfo> + '_ {
        self.code_gears.iter().map(|(_, entry)| entry.0)
    }

    /// Data gear types in name order.
    pub fn data_gears(&self) -> impl ExactSizeIterator<Item = &'static DataGearInfo> + '_ {
        self.data_gears.iter().map(|(_, entry)| entry.0)
    }

    /// Interfaces in name order.
    pub fn interfaces(&self) -> impl ExactSizeIterator<Item = &'static InterfaceInfo> + '_ {
        self.interfaces.iter().map(|(_, entry)| entry.0)
    }

    /// The code gear registered under `path` (`module::name`), shown as `name` (see
    /// [`CodeGearInfo::display_name`]), or the only one named `name`.
    pub fn code_gear(&self, name: &str) -> Option<&'static CodeGearInfo> {
        if let Some((_, entry)) = self.code_gears.get(name) {
            return Some(entry.0);
        }
        if let Some(gear) = self.code_gears().find(|gear| gear.display_name() == name) {
            return Some(gear);
        }
        let mut matching = self.code_gears().filter(|gear| gear.name == name);
        match (matching.next(), matching.next()) {
            (Some(gear), None) => Some(gear),
            _ => None,
        }
    }

    /// The name tables and traces show for a data gear type: its name, module-qualified as far
    /// as needed where two modules define the same name.
    pub fn data_gear_name(&self, info: &'static DataGearInfo) -> &'static str {
        self.short
            .get(format!("{}::{}", info.module, info.name).as_str())
            .copied()
            .unwrap_or(info.name)
    }

    /// As [`Tables::data_gear_name`], for an interface.
    pub fn interface_name(&self, info: &'static InterfaceInfo) -> &'static str {
        self.short
            .get(format!("{}::{}", info.module, info.name).as_str())
            .copied()
            .unwrap_or(info.name)
    }

    /// The data gear types implementing `interface`.
    pub fn implementors(
        &self,
        interface: &'static InterfaceInfo,
    ) -> impl Iterator<Item = &'static DataGearInfo> + '_ {
        self.impls
            .iter()
            .filter(move |(_, i)| same_interface(i.interface, interface))
            .map(|(_, i)| i.data_gear)
    }

    /// Number of code gears.
    pub fn code_gear_count(&self) -> usize {
        self.code_gears.len()
    }

    /// The tables as a readable, C-like header: GearsOS's generated `context.h`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let _ = writeln!(
            out,
            "// context.h: {}, {}, {} (generated from the registry)",
            count(self.code_gears.len(), "code gear"),
            count(self.data_gears.len(), "data gear"),
            count(self.interfaces.len(), "interface")
        );
        out.push_str("enum Code {\n");
        for (id, entry) in self.code_gears.iter() {
            let gear = entry.0;
            let name = gear.display_name();
            let mut line = format!("    C_{} = {id},", name.replace("::", "_"));
            let pad = 34usize.saturating_sub(line.len()).max(1);
            let _ = write!(line, "{:pad$}// {name}({})", "", gear.signature());
            if let Some(interface) = gear.interface {
                let _ = write!(line, "  [impl {}]", self.interface_name(interface));
            }
            let _ = writeln!(out, "{line}");
        }
        out.push_str("};\n");
        out.push_str("enum DataType {\n");
        for (id, entry) in self.data_gears.iter() {
            let data = entry.0;
            let name = self.data_gear_name(data);
            let mut line = format!("    D_{} = {id},", name.replace("::", "_"));
            let pad = 34usize.saturating_sub(line.len()).max(1);
            let _ = write!(line, "{:pad$}// {}", "", data.declaration);
            let _ = writeln!(out, "{line}");
        }
        out.push_str("};\n");
        for (_, entry) in self.interfaces.iter() {
            let interface = entry.0;
            let name = self.interface_name(interface);
            let generics = interface.generics;
            let _ = writeln!(out, "typedef struct {name}{generics} {{");
            for (method, signature) in interface.methods {
                let _ = writeln!(out, "    __code {method}({signature});");
            }
            let implementors: Vec<&str> = self
                .impls
                .iter()
                .filter(|(_, i)| same_interface(i.interface, interface))
                .map(|(_, i)| self.data_gear_name(i.data_gear))
                .collect();
            let _ = writeln!(
                out,
                "}} {name}{generics};  // implemented by: {}",
                if implementors.is_empty() {
                    "(none)".to_string()
                } else {
                    implementors.join(", ")
                }
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{short_type_name, unqualified_type_name};

    #[test]
    fn type_arguments_are_written_by_their_last_segments() {
        assert_eq!(unqualified_type_name("i64"), "i64");
        assert_eq!(unqualified_type_name("alloc::string::String"), "String");
        assert_eq!(
            unqualified_type_name("(u8, alloc::vec::Vec<my_crate::m::Item>)"),
            "(u8, Vec<Item>)"
        );
        assert_eq!(
            unqualified_type_name("core::option::Option<&'static str>"),
            "Option<&'static str>"
        );
    }

    #[test]
    fn types_without_a_row_are_named_by_their_last_segment() {
        assert_eq!(short_type_name("a::b::Plain"), "Plain");
        assert_eq!(short_type_name("a::Stack<b::c::D>"), "Stack<b::c::D>");
        assert_eq!(short_type_name("u64"), "u64");
        assert_eq!(
            format!(
                "{:?}",
                crate::Gear::<NotADataGear>::__from_raw(crate::RawGear::new(0, 3, 0))
            ),
            "NotADataGear#0.3"
        );
    }

    struct NotADataGear;
}
