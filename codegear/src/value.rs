//! Type-erased argument tuples stored inline: how a `Goto` carries a code gear's inputs without
//! allocating.
//!
//! GearsOS writes a code gear's inputs into per-interface slots of the context (`Gearef`) and
//! the stub reads them back. Here the inputs travel with the continuation itself, as one
//! [`Args`]: a tuple of values behind a vtable. A tuple of up to [`INLINE_BYTES`] bytes (and
//! alignment at most that of `usize`) is stored inline, so building, moving and consuming a
//! [`Goto`](crate::Goto) with it performs no heap allocation; a larger one is boxed.

use std::any::{TypeId, type_name};
use std::cell::Cell;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::mem::{MaybeUninit, align_of, size_of};
use std::ptr;

/// Bytes of a tuple that [`Args`] stores without allocating: enough for the usual code-gear
/// inputs, e.g. two integers, a data-gear handle and a continuation (8 + 8 + 16 + 24).
pub const INLINE_BYTES: usize = 56;

const INLINE_WORDS: usize = INLINE_BYTES / size_of::<usize>();

/// What every code-gear argument must be: the meta level clones (to explore states), hashes and
/// compares (to store visited states), prints (traces) and sends (parallel runs) them.
pub trait Value: Clone + fmt::Debug + Hash + Eq + Send + 'static {}

impl<T: Clone + fmt::Debug + Hash + Eq + Send + 'static> Value for T {}

/// The operations [`Args`] needs on its erased value, one instance per stored type.
struct VTable {
    type_id: TypeId,
    type_name: fn() -> &'static str,
    inline: bool,
    needs_drop: bool,
    drop: unsafe fn(*mut Storage),
    clone: unsafe fn(*const Storage) -> Storage,
    hash: unsafe fn(*const Storage, &mut dyn Hasher),
    eq: unsafe fn(*const Storage, *const Storage) -> bool,
    debug: unsafe fn(*const Storage, &mut fmt::Formatter<'_>) -> fmt::Result,
}

/// Raw bytes holding either a `T` (inline) or a `Box<T>` (as a pointer).
#[derive(Clone, Copy)]
#[repr(C)]
struct Storage([MaybeUninit<usize>; INLINE_WORDS]);

impl Storage {
    const fn uninit() -> Self {
        Self([MaybeUninit::uninit(); INLINE_WORDS])
    }
}

/// Where a type is stored: inline, or boxed. Separate from the vtable so that taking a value
/// out needs only the type, not all of [`Value`] (which keeps trait errors at the user's type).
trait Placement: Sized {
    const INLINE: bool =
        size_of::<Self>() <= INLINE_BYTES && align_of::<Self>() <= align_of::<Storage>();
}

impl<T> Placement for T {}

trait HasVTable: Value + Placement {
    const VTABLE: &'static VTable = &VTable {
        type_id: TypeId::of::<Self>(),
        type_name: type_name::<Self>,
        inline: Self::INLINE,
        // A boxed value always needs its box freed.
        needs_drop: std::mem::needs_drop::<Self>() || !Self::INLINE,
        drop: drop_value::<Self>,
        clone: clone_value::<Self>,
        hash: hash_value::<Self>,
        eq: eq_value::<Self>,
        debug: debug_value::<Self>,
    };
}

impl<T: Value> HasVTable for T {}

/// The stored `T`.
///
/// # Safety
/// `storage` holds a live `T` written by [`Args::new`] with `T`'s vtable (inline or boxed as
/// `T::INLINE` says), and stays borrowed for `'a`.
unsafe fn value_ref<'a, T: HasVTable>(storage: *const Storage) -> &'a T {
    if T::INLINE {
        // SAFETY: by the contract, the storage holds an initialised, aligned `T` inline.
        unsafe { &*storage.cast::<T>() }
    } else {
        // SAFETY: by the contract, the storage starts with the `*mut T` of a live `Box<T>`.
        let boxed = unsafe { *storage.cast::<*mut T>() };
        // SAFETY: that pointer came from `Box::into_raw` and the box lives for `'a`.
        unsafe { &*boxed }
    }
}

/// Moves the stored `T` out; the storage is logically uninitialised afterwards.
///
/// # Safety
/// As for [`value_ref`], and the storage must not be used as holding a `T` again.
unsafe fn take_value<T: Placement>(storage: *const Storage) -> T {
    if T::INLINE {
        // SAFETY: an initialised `T` is there and, by the contract, is read exactly once.
        unsafe { ptr::read(storage.cast::<T>()) }
    } else {
        // SAFETY: by the contract, the storage starts with the `*mut T` of a live `Box<T>`.
        let boxed = unsafe { *storage.cast::<*mut T>() };
        // SAFETY: the pointer came from `Box::into_raw` and is turned back exactly once.
        *unsafe { Box::from_raw(boxed) }
    }
}

fn store<T: HasVTable>(value: T) -> Storage {
    let mut storage = Storage::uninit();
    let slot: *mut Storage = &mut storage;
    if T::INLINE {
        // SAFETY: `T::INLINE` guarantees the storage is large and aligned enough for a `T`.
        unsafe { ptr::write(slot.cast::<T>(), value) };
    } else {
        // SAFETY: a pointer always fits the storage (INLINE_BYTES >= size_of::<usize>()) and
        // the storage is usize-aligned.
        unsafe { ptr::write(slot.cast::<*mut T>(), Box::into_raw(Box::new(value))) };
    }
    storage
}

/// # Safety
/// The storage holds a live `T` (see [`value_ref`]); it is dropped exactly once.
unsafe fn drop_value<T: HasVTable>(storage: *mut Storage) {
    // SAFETY: forwarded contract; the value is moved out and dropped here.
    drop(unsafe { take_value::<T>(storage) });
}

/// # Safety
/// The storage holds a live `T` (see [`value_ref`]).
unsafe fn clone_value<T: HasVTable>(storage: *const Storage) -> Storage {
    // SAFETY: forwarded contract.
    store(unsafe { value_ref::<T>(storage) }.clone())
}

/// # Safety
/// The storage holds a live `T` (see [`value_ref`]).
unsafe fn hash_value<T: HasVTable>(storage: *const Storage, mut state: &mut dyn Hasher) {
    // SAFETY: forwarded contract.
    unsafe { value_ref::<T>(storage) }.hash(&mut state);
}

/// # Safety
/// Both storages hold a live `T` (see [`value_ref`]).
unsafe fn eq_value<T: HasVTable>(a: *const Storage, b: *const Storage) -> bool {
    // SAFETY: forwarded contract.
    let a = unsafe { value_ref::<T>(a) };
    // SAFETY: forwarded contract.
    let b = unsafe { value_ref::<T>(b) };
    a == b
}

/// # Safety
/// The storage holds a live `T` (see [`value_ref`]).
unsafe fn debug_value<T: HasVTable>(
    storage: *const Storage,
    f: &mut fmt::Formatter<'_>,
) -> fmt::Result {
    // SAFETY: forwarded contract.
    fmt::Debug::fmt(unsafe { value_ref::<T>(storage) }, f)
}

/// One value of any [`Value`] type (in practice: a code gear's argument tuple), stored inline
/// when it fits [`INLINE_BYTES`].
///
/// Invariant: `storage` always holds a live value of the type `vtable` was made for, written by
/// [`Args::new`]; it is dropped exactly once, by `Drop` or by [`Args::take`].
pub struct Args {
    vtable: &'static VTable,
    storage: Storage,
    /// Not `Sync`: the stored `T` is only `Send`, and `&Args` reaches it (`downcast_ref`, the
    /// vtable's `clone`/`eq`/`hash`), so sharing an `Args` between threads would share a `&T`.
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: `Args::new` only accepts `T: Send`, and `Args` gives no shared access across threads
// (it is not `Sync`), so sending it sends the `T` it owns.
unsafe impl Send for Args {}

// A pending transition moves between threads (parallel runs); its arguments must too.
static_assertions::assert_impl_all!(Args: Send);
static_assertions::assert_not_impl_any!(Args: Sync);
// Inline storage is exactly `INLINE_BYTES`, word aligned; with the vtable pointer an `Args` is
// one 64-byte line.
static_assertions::const_assert_eq!(size_of::<Storage>(), INLINE_BYTES);
static_assertions::const_assert_eq!(size_of::<Args>(), INLINE_BYTES + size_of::<usize>());

/// The error when a stored value is taken as a type it does not have.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected arguments `{expected}`, found `{found}`")]
pub struct TypeMismatch {
    /// The type that was asked for.
    pub expected: &'static str,
    /// The type that was stored.
    pub found: &'static str,
}

impl Args {
    /// Stores `value`, inline if it fits.
    #[inline]
    pub fn new<T: Value>(value: T) -> Self {
        Self {
            vtable: T::VTABLE,
            storage: store(value),
            _not_sync: PhantomData,
        }
    }

    /// Whether a `T` would be stored without allocating.
    pub const fn fits_inline<T: Value>() -> bool {
        <T as Placement>::INLINE
    }

    /// Whether the stored value is a `T`.
    #[inline]
    pub fn is<T: 'static>(&self) -> bool {
        self.vtable.type_id == TypeId::of::<T>()
    }

    /// The name of the stored type.
    pub fn type_name(&self) -> &'static str {
        (self.vtable.type_name)()
    }

    /// Whether the stored value lives inline (no allocation).
    pub fn is_inline(&self) -> bool {
        self.vtable.inline
    }

    /// Moves the stored value out, if it is a `T`.
    ///
    /// # Errors
    /// [`TypeMismatch`] (and the value is dropped) if it is not a `T`.
    pub fn take<T: Value>(self) -> Result<T, TypeMismatch> {
        if !self.is::<T>() {
            return Err(TypeMismatch {
                expected: type_name::<T>(),
                found: self.type_name(),
            });
        }
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: the type was checked above, so the storage holds a live `T` with `T`'s
        // layout choice; `ManuallyDrop` keeps `Drop` from touching it after the move.
        Ok(unsafe { take_value::<T>(&this.storage) })
    }

    /// Moves the stored value out, if it is a `T`, leaving `()` in its place: how a stub takes
    /// its arguments out of the pending `Goto` without copying the `Goto` around.
    ///
    /// # Errors
    /// [`TypeMismatch`] (and nothing is moved) if it is not a `T`.
    #[inline]
    pub fn take_in_place<T: Send + 'static>(&mut self) -> Result<T, TypeMismatch> {
        if !self.is::<T>() {
            return Err(TypeMismatch {
                expected: type_name::<T>(),
                found: self.type_name(),
            });
        }
        // SAFETY: the type was checked, so the storage holds a live `T`; the vtable is switched
        // to `()`'s right after, so the moved-out value is never used or dropped again (`()` is
        // a ZST: its storage is never read).
        let value = unsafe { take_value::<T>(&self.storage) };
        self.vtable = <() as HasVTable>::VTABLE;
        Ok(value)
    }

    /// A reference to the stored value, if it is a `T`.
    pub fn downcast_ref<T: Value>(&self) -> Option<&T> {
        // SAFETY: the type was checked; the reference borrows `self`.
        self.is::<T>()
            .then(|| unsafe { value_ref::<T>(&self.storage) })
    }
}

impl Drop for Args {
    #[inline]
    fn drop(&mut self) {
        if self.vtable.needs_drop {
            // SAFETY: the invariant: the storage holds a live value of the vtable's type,
            // dropped only here (`take` bypasses this with ManuallyDrop).
            unsafe { (self.vtable.drop)(&mut self.storage) }
        }
    }
}

impl Clone for Args {
    fn clone(&self) -> Self {
        Self {
            vtable: self.vtable,
            // SAFETY: the invariant: the storage holds a live value of the vtable's type.
            storage: unsafe { (self.vtable.clone)(&self.storage) },
            _not_sync: PhantomData,
        }
    }
}

impl PartialEq for Args {
    fn eq(&self, other: &Self) -> bool {
        self.vtable.type_id == other.vtable.type_id
            // SAFETY: both hold a live value of the same type (checked just before).
            && unsafe { (self.vtable.eq)(&self.storage, &other.storage) }
    }
}

impl Eq for Args {}

impl Hash for Args {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // SAFETY: the invariant: the storage holds a live value of the vtable's type.
        unsafe { (self.vtable.hash)(&self.storage, state) }
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // SAFETY: the invariant: the storage holds a live value of the vtable's type.
        unsafe { (self.vtable.debug)(&self.storage, f) }
    }
}

/// What a data gear's fields must be: `Clone + Debug + Hash + Eq + Send + Sync + 'static`.
/// `#[data_gear]` asserts it at each field's type, so that a field that is not is one error
/// there, with this trait's message (not one error per missing derive).
#[diagnostic::on_unimplemented(
    message = "data gear field of type `{Self}` cannot be cloned, compared, hashed or printed",
    label = "this field's type must be `Clone + Debug + Hash + Eq + Send + Sync + 'static`",
    note = "if `{Self}` is your type, add `#[derive(Clone, Debug, PartialEq, Eq, Hash)]` to it (its fields must allow it, and be `Send + Sync`)",
    note = "the meta level clones, hashes and compares data gears to explore and store program states; use a type that derives them (floats are not `Eq`/`Hash`: store bits or a fixed-point integer)"
)]
pub trait DataGearField {
    /// What the generated assertion names: a projection, so that rustc's error carries no
    /// "required by a bound in" note pointing into this crate.
    #[doc(hidden)]
    const CHECKED: () = ();

    /// The field's part of the data gear's `Clone` (`#[data_gear]` writes the data gear's
    /// `Clone`, `Debug`, `PartialEq` and `Hash` through these, so that a field type lacking one
    /// is this trait's one error, not one error per derive).
    #[doc(hidden)]
    fn clone_field(&self) -> Self
    where
        Self: Sized;
    /// The field's part of the data gear's `Debug`.
    #[doc(hidden)]
    fn debug_field(&self) -> &dyn fmt::Debug;
    /// The field's part of the data gear's `PartialEq`.
    #[doc(hidden)]
    fn eq_field(&self, other: &Self) -> bool;
    /// The field's part of the data gear's `Hash`.
    #[doc(hidden)]
    fn hash_field<H: Hasher>(&self, state: &mut H);
}

// Reported as one `DataGearField` error with the message above, instead of one error per
// missing `Clone`/`Debug`/`Hash`/`Eq` behind the blanket impl.
#[diagnostic::do_not_recommend]
impl<T: Clone + fmt::Debug + Hash + Eq + Send + Sync + 'static> DataGearField for T {
    #[inline]
    fn clone_field(&self) -> Self {
        self.clone()
    }
    #[inline]
    fn debug_field(&self) -> &dyn fmt::Debug {
        self
    }
    #[inline]
    fn eq_field(&self, other: &Self) -> bool {
        self == other
    }
    #[inline]
    fn hash_field<H: Hasher>(&self, state: &mut H) {
        self.hash(state);
    }
}

/// What a code gear's value parameter must be: a [`Value`]. `#[code_gear]` asserts it at each
/// parameter's type (one error there, with this trait's message).
#[diagnostic::on_unimplemented(
    message = "code-gear parameter of type `{Self}` is not a value",
    label = "a value parameter must be `Clone + Debug + Hash + Eq + Send + 'static`",
    note = "if `{Self}` is your type, add `#[derive(Clone, Debug, PartialEq, Eq, Hash)]` to it (its fields must allow it, and be `Send`)",
    note = "the meta level stores arguments in continuations, clones and compares them (model checking) and sends them between workers; pass owned data, a `Gear<T>` handle, or take a data gear as `Mut<'_, T>`/`Ref<'_, T>`"
)]
pub trait CodeGearValue {
    /// As [`DataGearField::CHECKED`].
    #[doc(hidden)]
    const CHECKED: () = ();
}

// As for `DataGearField`.
#[diagnostic::do_not_recommend]
impl<T: Value> CodeGearValue for T {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn hash_of(v: &impl Hash) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    #[test]
    fn small_tuples_are_inline_and_large_ones_boxed() {
        assert!(Args::fits_inline::<[u64; 7]>());
        assert!(!Args::fits_inline::<([u64; 7], u8)>());
        assert!(!Args::fits_inline::<u128>() || align_of::<u128>() <= align_of::<usize>());
        let big = Args::new([7u64; 9]);
        assert!(!big.is_inline());
        assert_eq!(big.take::<[u64; 9]>().unwrap(), [7; 9]);
    }

    #[test]
    fn take_in_place_leaves_unit_behind() {
        let mut args = Args::new((String::from("moved"), 2u8));
        assert!(args.take_in_place::<(u8,)>().is_err());
        assert_eq!(args.take_in_place::<(String, u8)>().unwrap().0, "moved");
        assert!(args.is::<()>());
        assert_eq!(format!("{args:?}"), "()");
    }

    #[test]
    fn take_checks_the_type() {
        let args = Args::new((1i64, String::from("x")));
        let err = args.clone().take::<(i64,)>().unwrap_err();
        assert_eq!(err.found, type_name::<(i64, String)>());
        assert_eq!(args.take::<(i64, String)>().unwrap(), (1, "x".into()));
    }

    #[test]
    fn clone_eq_hash_and_debug_agree_with_the_value() {
        for value in [(1u8, vec![1, 2, 3]), (2u8, vec![0; 40])] {
            let a = Args::new(value.clone());
            let b = a.clone();
            assert_eq!(a, b);
            assert_eq!(hash_of(&a), hash_of(&value));
            assert_eq!(format!("{a:?}"), format!("{value:?}"));
            assert_ne!(a, Args::new((9u8, vec![1])));
            assert_ne!(a, Args::new(1u32), "different types never compare equal");
        }
    }

    #[test]
    fn every_stored_value_is_dropped_exactly_once() {
        let counter = std::sync::Arc::new(());
        #[derive(Clone, Debug)]
        struct Tracked(
            #[allow(dead_code)] std::sync::Arc<()>,
            #[allow(dead_code)] [u64; 8],
        );
        impl PartialEq for Tracked {
            fn eq(&self, _: &Self) -> bool {
                true
            }
        }
        impl Eq for Tracked {}
        impl Hash for Tracked {
            fn hash<H: Hasher>(&self, _: &mut H) {}
        }
        {
            let inline = Args::new((std::sync::Arc::clone(&counter),));
            let boxed = Args::new(Tracked(std::sync::Arc::clone(&counter), [0; 8]));
            let _copies = (inline.clone(), boxed.clone());
            let taken = boxed.take::<Tracked>().unwrap();
            assert_eq!(std::sync::Arc::strong_count(&counter), 5);
            drop(taken);
        }
        assert_eq!(std::sync::Arc::strong_count(&counter), 1);
    }
}
