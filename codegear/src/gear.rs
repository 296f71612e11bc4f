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

/// A type that [`Gear`] handles can point at: any sized `'static` type (`Target = ()`, which
/// only a data gear can be allocated as), or `dyn Interface` (`Target` = the implementation's API
/// table, implemented by `#[interface]`).
///
/// Every sized type has it, so that a mistake such as `Mut<'_, NotADataGear>` is reported once,
/// where the type must be a [`DataGear`], and not again at every generated mention of
/// `Gear<NotADataGear>`.
pub trait GearTarget: 'static {
    /// What a handle carries besides the slot: nothing, or the interface's API table.
    type Target: Copy + Send + Sync + 'static;
    /// The name shown in errors and traces.
    fn gear_type_name() -> &'static str;
}

impl<T: 'static> GearTarget for T {
    type Target = ();
    fn gear_type_name() -> &'static str {
        crate::tables::data_gear_display_of::<T>()
    }
}

/// A data gear type: state kept in a context's heap and handed to code gears as `Mut`/`Ref`.
/// Implemented by `#[data_gear]`, which also derives what the meta level needs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a data gear",
    label = "`{Self}` must be a `#[data_gear]` type here",
    note = "add `#[data_gear]` to the definition of `{Self}` (it must be `Clone + Debug + Hash + Eq + Send + Sync + 'static`)"
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
    /// The generated continuation table (one method per API code gear, all arguments bound).
    type Continuations;
    /// The continuations of the implementation behind a handle.
    fn continuations(gear: RawGear, api: Self::Target) -> Self::Continuations;
}

/// A data gear type implementing interface `I`: generated by `#[code_gear] impl I for T`.
///
/// (That `T` is a [`DataGear`] is asserted once by the generated code, at the user's `T`, rather
/// than as a supertrait, which would repeat the error at every generated mention.)
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement this interface with code gears",
    label = "no `#[code_gear] impl` of the interface for `{Self}`",
    note = "write the implementation as `#[code_gear] impl Interface for {Self} {{ .. }}`: the attribute generates the API code gears and the table that `Gear<dyn Interface>` goes through (a plain `impl` is only a Rust trait impl)"
)]
pub trait Implements<I: ?Sized + Interface>: 'static {
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

impl<T: 'static> Gear<T> {
    /// Used by generated API tables: a typed handle from the raw part of a `Gear<dyn I>`.
    #[doc(hidden)]
    pub fn __from_raw(raw: RawGear) -> Self {
        Self::from_parts(raw, ())
    }
}

// `T: 'static` rather than `T: DataGear` (which `Implements` asserts where it is generated): a
// type that is not a data gear is reported there, once, not again at each `upcast`.
impl<T: 'static> Gear<T> {
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
    /// The code gears of the implementation behind the handle: `gear.api().push(1, next)` is
    /// what `goto!(gear.push(1, next))` expands to.
    pub fn api(&self) -> CodeGears<I> {
        CodeGears {
            calls: I::calls(self.raw, self.target),
        }
    }

    /// The continuations of the implementation's code gears: `gear.continuations().pop()` is
    /// what `next!(gear.pop())` expands to.
    pub fn continuations(&self) -> Continuations<I> {
        Continuations {
            next: I::continuations(self.raw, self.target),
        }
    }
}

/// The code gears of the data gear behind a [`Gear<dyn I>`](Gear) ([`Gear::api`]): one method
/// per code gear of interface `I` (through `Deref`), each the transition to the
/// implementation's code gear. An unknown one is rustc's "no method named `x` found for struct
/// `CodeGears<dyn I>`".
pub struct CodeGears<I: ?Sized + Interface> {
    calls: I::Calls,
}

impl<I: ?Sized + Interface> Deref for CodeGears<I> {
    type Target = I::Calls;
    fn deref(&self) -> &I::Calls {
        &self.calls
    }
}

/// The continuations of the code gears of the data gear behind a [`Gear<dyn I>`](Gear)
/// ([`Gear::continuations`]): one method per code gear of `I` (through `Deref`), each the
/// [`Next`](crate::Next) that goes there with all its arguments bound.
pub struct Continuations<I: ?Sized + Interface> {
    next: I::Continuations,
}

impl<I: ?Sized + Interface> Deref for Continuations<I> {
    type Target = I::Continuations;
    fn deref(&self) -> &I::Continuations {
        &self.next
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
pub struct Mut<'a, T: 'static> {
    value: &'a mut T,
    gear: Gear<T>,
}

impl<'a, T: 'static> Mut<'a, T> {
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

impl<T: 'static> Deref for Mut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value
    }
}

impl<T: 'static> DerefMut for Mut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value
    }
}

impl<T: fmt::Debug + 'static> fmt::Debug for Mut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mut({:?} = {:?})", self.gear, self.value)
    }
}

/// Shared access to a data gear for the duration of one code gear, with its handle.
pub struct Ref<'a, T: 'static> {
    value: Arc<T>,
    gear: Gear<T>,
    _step: PhantomData<&'a T>,
}

impl<T: 'static> Ref<'_, T> {
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

impl<T: 'static> Deref for Ref<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: fmt::Debug + 'static> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ref({:?} = {:?})", self.gear, self.value)
    }
}
