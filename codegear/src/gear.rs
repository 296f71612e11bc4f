//! Handles to data gears: [`Gear<T>`] for a concrete data gear, [`Gear<dyn I>`](Gear) for any
//! data gear implementing interface `I`, and the [`Mut`] / [`Ref`] views a code gear receives.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use gears_runtime::registry::Site;

use crate::value::Value;

/// The untyped part of a handle: which heap, which slot, which generation of that slot.
///
/// Its hash leaves the heap id out (equal handles still hash equally): heap ids are handed out
/// per process, and a state's fingerprint must not depend on them (the same state of the same
/// program has the same fingerprint in another world and another process).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawGear {
    owner: u32,
    index: u32,
    generation: u32,
}

impl RawGear {
    pub(crate) const fn new(owner: u32, index: u32, generation: u32) -> Self {
        Self {
            owner,
            index,
            generation,
        }
    }

    /// The heap the gear was allocated in.
    pub const fn owner(self) -> u32 {
        self.owner
    }

    /// Its slot in that heap.
    pub const fn index(self) -> u32 {
        self.index
    }

    /// The slot's generation when the gear was allocated.
    pub const fn generation(self) -> u32 {
        self.generation
    }
}

impl Hash for RawGear {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The model checker's partial-order reduction finds the handles a value holds by
        // hashing it with a collector on.
        crate::world::note_handle(*self);
        self.index.hash(state);
        self.generation.hash(state);
    }
}

impl fmt::Debug for RawGear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for RawGear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}.{}", self.owner, self.index)?;
        if self.generation != 0 {
            write!(f, "g{}", self.generation)?;
        }
        Ok(())
    }
}

/// Static facts about a data gear type: its row in the data-gear table (GearsOS `enum DataType`).
#[derive(Debug)]
pub struct DataGearInfo {
    /// The type's name.
    pub name: &'static str,
    /// `module_path!()` of its definition.
    pub module: &'static str,
    /// Its declaration, for `Context::describe` (`struct S { items: Vec<i64> }`).
    pub declaration: &'static str,
    /// Where `#[data_gear]` was written.
    pub site: Site,
}

/// A type that [`Gear`] handles can point at: a data gear (`Target = ()`) or `dyn Interface`
/// (`Target` = the implementation's API table). Implemented by `#[data_gear]` and `#[interface]`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a data gear",
    label = "`Mut<'_, T>`, `Ref<'_, T>` and `Gear<T>` need a `#[data_gear]` type",
    note = "mark the definition of `{Self}` with `#[data_gear]` (it must be `Clone + Debug + Hash + Eq + Send + Sync + 'static`)"
)]
pub trait GearTarget: 'static {
    /// What a handle carries besides the slot: nothing, or the interface's API table.
    type Target: Copy + Send + Sync + 'static;
    /// The name shown in errors and traces.
    fn gear_type_name() -> &'static str;
}

/// A data gear type: state kept in a context's heap and handed to code gears as `Mut`/`Ref`.
/// Implemented by `#[data_gear]`, which also derives what the meta level needs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a data gear",
    label = "`Mut<'_, T>`, `Ref<'_, T>` and `Gear<T>` need a `#[data_gear]` type",
    note = "mark the definition of `{Self}` with `#[data_gear]` (it must be `Clone + Debug + Hash + Eq + Send + Sync + 'static`)"
)]
pub trait DataGear: GearTarget<Target = ()> + Value + Sync {
    /// The type's row in the data-gear table.
    const INFO: &'static DataGearInfo;
}

/// Static facts about an interface: its code-gear names.
#[derive(Debug)]
pub struct InterfaceInfo {
    /// The trait's name.
    pub name: &'static str,
    /// Its type parameters as written (`<T>`), empty if it has none.
    pub generics: &'static str,
    /// `module_path!()` of its definition.
    pub module: &'static str,
    /// Its code gears (API methods) with their signatures, in declaration order.
    pub methods: &'static [(&'static str, &'static str)],
    /// Where `#[interface]` was written.
    pub site: Site,
}

/// `dyn I` for an `#[interface] trait I`: what `goto!(gear.api(..))` goes through.
pub trait Interface: GearTarget {
    /// The generated call table (one method per API code gear).
    type Calls;
    /// The generated API table type (`Target` is `&'static Api`).
    #[doc(hidden)]
    type Api: 'static;
    /// The interface's row in the interface table.
    const INFO: &'static InterfaceInfo;
    /// The calls of the implementation behind a handle.
    fn calls(gear: RawGear, api: Self::Target) -> Self::Calls;
}

/// A data gear type implementing interface `I`: generated by `#[code_gear] impl I for T`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement this interface with code gears",
    label = "no `#[code_gear] impl` of the interface for `{Self}`",
    note = "write the implementation as `#[code_gear] impl Interface for {Self} {{ .. }}`: the attribute generates the API code gears and the table that `Gear<dyn Interface>` goes through (a plain `impl` is only a Rust trait impl)"
)]
pub trait Implements<I: ?Sized + Interface>: DataGear {
    /// The implementation's API table.
    const API: I::Target;
}

/// A handle to a data gear of type `T`, or to any data gear implementing `I` when `T = dyn I`.
///
/// Handles are plain values (`Copy`, hashable): they are how code gears pass data gears along,
/// and what the model checker compares. Which gear it names is the triple heap/slot/generation;
/// a handle used with the wrong heap or after its gear is freed is a runtime error, never a
/// dangling access.
pub struct Gear<T: ?Sized + GearTarget> {
    raw: RawGear,
    target: T::Target,
    _type: PhantomData<fn() -> Box<T>>,
}

impl<T: ?Sized + GearTarget> Gear<T> {
    pub(crate) fn from_parts(raw: RawGear, target: T::Target) -> Self {
        Self {
            raw,
            target,
            _type: PhantomData,
        }
    }

    /// The untyped handle.
    pub fn raw(self) -> RawGear {
        self.raw
    }
}

impl<T: DataGear> Gear<T> {
    /// Used by generated API tables: a typed handle from the raw part of a `Gear<dyn I>`.
    #[doc(hidden)]
    pub fn __from_raw(raw: RawGear) -> Self {
        Self::from_parts(raw, ())
    }
}

impl<T: DataGear> Gear<T> {
    /// The same gear seen through interface `I`, which `T` implements.
    ///
    /// (This is `.into()` in the GearsOS-style surface; Rust's orphan rules forbid a generated
    /// `From<Gear<T>> for Gear<dyn I>`, so the conversion is a method.)
    pub fn upcast<I: ?Sized + Interface>(self) -> Gear<I>
    where
        T: Implements<I>,
    {
        Gear::from_parts(self.raw, <T as Implements<I>>::API)
    }
}

impl<I: ?Sized + Interface> Gear<I> {
    /// Used by `goto!(gear.api(..))`: the implementation's calls.
    #[doc(hidden)]
    pub fn __gears_api(&self) -> I::Calls {
        I::calls(self.raw, self.target)
    }
}

impl<T: ?Sized + GearTarget> Clone for Gear<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized + GearTarget> Copy for Gear<T> {}

impl<T: ?Sized + GearTarget> PartialEq for Gear<T> {
    fn eq(&self, other: &Self) -> bool {
        self.raw == other.raw
    }
}

impl<T: ?Sized + GearTarget> Eq for Gear<T> {}

impl<T: ?Sized + GearTarget> Hash for Gear<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raw.hash(state);
    }
}

impl<T: ?Sized + GearTarget> fmt::Debug for Gear<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", T::gear_type_name(), self.raw)
    }
}

/// Exclusive access to a data gear for the duration of one code gear, with its handle.
pub struct Mut<'a, T: DataGear> {
    value: &'a mut T,
    gear: Gear<T>,
}

impl<'a, T: DataGear> Mut<'a, T> {
    pub(crate) fn new(value: &'a mut T, gear: Gear<T>) -> Self {
        Self { value, gear }
    }

    /// Used by generated stubs.
    #[doc(hidden)]
    pub fn __new(value: &'a mut T, gear: Gear<T>) -> Self {
        Self { value, gear }
    }

    /// The handle, to pass the gear on to the next code gear.
    pub fn gear(&self) -> Gear<T> {
        self.gear
    }
}

impl<T: DataGear> Deref for Mut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
    }
}

impl<T: DataGear> DerefMut for Mut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
    }
}

impl<T: DataGear> fmt::Debug for Mut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mut({:?} = {:?})", self.gear, self.value)
    }
}

/// Shared access to a data gear for the duration of one code gear, with its handle.
pub struct Ref<'a, T: DataGear> {
    value: Arc<T>,
    gear: Gear<T>,
    _step: PhantomData<&'a T>,
}

impl<T: DataGear> Ref<'_, T> {
    pub(crate) fn new(value: Arc<T>, gear: Gear<T>) -> Self {
        Self {
            value,
            gear,
            _step: PhantomData,
        }
    }

    /// The handle, to pass the gear on to the next code gear.
    pub fn gear(&self) -> Gear<T> {
        self.gear
    }
}

impl<T: DataGear> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: DataGear> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ref({:?} = {:?})", self.gear, self.value)
    }
}
