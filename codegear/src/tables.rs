//! The code-gear, data-gear and interface tables: GearsOS's generated `enum Code`,
//! `enum DataType` and interface headers, built here from the registrations the macros emit.

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
pub struct DataGearEntry(pub &'static DataGearInfo, pub &'static str);

/// An interface's registration (emitted by `#[interface]`).
#[doc(hidden)]
pub struct InterfaceEntry(pub &'static InterfaceInfo, pub &'static str);

/// "data gear `D` implements interface `I`" (emitted by `#[code_gear] impl I for D`).
#[doc(hidden)]
pub struct ImplEntry {
    pub interface: &'static str,
    pub data_gear: &'static str,
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

/// Every code gear, data gear and interface linked into the program, indexed.
pub struct Tables {
    code_gears: &'static Table<CodeGearEntry>,
    data_gears: &'static Table<DataGearEntry>,
    interfaces: &'static Table<InterfaceEntry>,
    impls: &'static Table<ImplEntry>,
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
                let tables = Tables {
                    code_gears: CODE_GEARS.table()?,
                    data_gears: DATA_GEARS.table()?,
                    interfaces: INTERFACES.table()?,
                    impls: IMPLS.table()?,
                };
                for (id, entry) in tables.code_gears.iter() {
                    entry.0.set_id(id.as_u32());
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

    /// The code gear registered under `path` (`module::name`), or the only one named `name`.
    pub fn code_gear(&self, name: &str) -> Option<&'static CodeGearInfo> {
        if let Some((_, entry)) = self.code_gears.get(name) {
            return Some(entry.0);
        }
        let mut matching = self.code_gears().filter(|gear| gear.name == name);
        match (matching.next(), matching.next()) {
            (Some(gear), None) => Some(gear),
            _ => None,
        }
    }

    /// Number of code gears.
    pub fn code_gear_count(&self) -> usize {
        self.code_gears.len()
    }

    /// The tables as a readable, C-like header: GearsOS's generated `context.h`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "// context.h: {} code gears, {} data gears, {} interface(s) (generated from the registry)",
            self.code_gears.len(),
            self.data_gears.len(),
            self.interfaces.len()
        );
        out.push_str("enum Code {\n");
        for (id, entry) in self.code_gears.iter() {
            let gear = entry.0;
            let mut line = format!("    C_{} = {id},", gear.name.replace("::", "_"));
            let pad = 34usize.saturating_sub(line.len());
            let _ = write!(line, "{:pad$}// {}({})", "", gear.name, gear.signature());
            if let Some(interface) = gear.interface {
                let _ = write!(line, "  [impl {interface}]");
            }
            let _ = writeln!(out, "{line}");
        }
        out.push_str("};\n");
        out.push_str("enum DataType {\n");
        for (id, entry) in self.data_gears.iter() {
            let data = entry.0;
            let mut line = format!("    D_{} = {id},", data.name);
            let pad = 34usize.saturating_sub(line.len());
            let _ = write!(line, "{:pad$}// {}", "", data.declaration);
            let _ = writeln!(out, "{line}");
        }
        out.push_str("};\n");
        for (_, entry) in self.interfaces.iter() {
            let interface = entry.0;
            let _ = writeln!(out, "typedef struct {} {{", interface.name);
            for (name, signature) in interface.methods {
                let _ = writeln!(out, "    __code {name}({signature});");
            }
            let implementors: Vec<&str> = self
                .impls
                .iter()
                .filter(|(_, i)| i.interface == interface.name)
                .map(|(_, i)| i.data_gear)
                .collect();
            let _ = writeln!(
                out,
                "}} {};  // implemented by: {}",
                interface.name,
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
