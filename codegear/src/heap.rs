//! The data-gear heap of a context (GearsOS's `union Data` area): typed slots behind handles,
//! shared structurally between snapshots so that cloning a whole program state is cheap.

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, ErrorKind};
use crate::gear::{DataGear, DataGearInfo, Gear, GearTarget, Mut, RawGear, Ref};

/// A data gear behind the heap's type erasure.
pub trait DataGearObject: Any + Send + Sync + fmt::Debug {
    /// A copy, for copy-on-write.
    fn clone_object(&self) -> Arc<dyn DataGearObject>;
    /// Hashes the value (not its address).
    fn hash_object(&self, state: &mut dyn Hasher);
    /// Value equality with another object of any type.
    fn eq_object(&self, other: &dyn DataGearObject) -> bool;
    /// The type's row in the data-gear table.
    fn info(&self) -> &'static DataGearInfo;
}

impl<T: DataGear> DataGearObject for T {
    fn clone_object(&self) -> Arc<dyn DataGearObject> {
        Arc::new(self.clone())
    }

    fn hash_object(&self, mut state: &mut dyn Hasher) {
        self.hash(&mut state);
    }

    fn eq_object(&self, other: &dyn DataGearObject) -> bool {
        (other as &dyn Any).downcast_ref::<T>() == Some(self)
    }

    fn info(&self) -> &'static DataGearInfo {
        T::INFO
    }
}

#[derive(Clone)]
struct Slot {
    generation: u32,
    /// [`SHARED`], or the task whose private gear this is.
    owner: u32,
    value: Option<Arc<dyn DataGearObject>>,
}

/// The owner tag of a slot any task may use (every slot of a plain context).
pub(crate) const SHARED: u32 = u32::MAX;

/// `Heap::stepping` outside a task's step: every slot may be used (set-up code, checks).
pub(crate) const ANY_TASK: u32 = u32::MAX;

/// `Heap::stepping` of a probe heap: an empty heap on which a stub is run only to learn which
/// data gears its arguments make it take (see [`Heap::probe`]). Task ids stay below it.
pub(crate) const PROBE: u32 = u32::MAX - 1;

std::thread_local! {
    /// What the stub asked a probe heap for: `(handle, Some(is_mut))` from its aliasing check
    /// (every gear, in parameter order), or `(handle, None)` from its one borrow.
    static PROBED: std::cell::RefCell<Vec<(RawGear, Option<bool>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Heaps get distinct owner ids so that a handle from one is recognised in another.
static NEXT_HEAP_ID: AtomicU32 = AtomicU32::new(1);

/// Data gears of one context (or the shared gears of a world), addressed by [`Gear`] handles.
///
/// Cloning a heap is cheap: slots share their data gears (`Arc`) and a gear is copied only when
/// a clone writes it (`Mut` on a shared gear copies it first). Equality and hashing are by value,
/// slot by slot, so two heaps reached by different paths compare equal when their gears do.
///
/// In a [`World`](crate::World) a slot may be private to one task: only that task's code gears
/// can take it ([`ErrorKind::PrivateGear`] otherwise). The heap knows which task is stepping.
#[derive(Clone)]
pub struct Heap {
    id: u32,
    slots: Vec<Slot>,
    /// The task whose code gear is running, or [`ANY_TASK`].
    stepping: u32,
}

impl Default for Heap {
    fn default() -> Self {
        Self::new()
    }
}

impl Heap {
    /// An empty heap with a fresh owner id.
    pub fn new() -> Self {
        Self {
            id: NEXT_HEAP_ID.fetch_add(1, Ordering::Relaxed),
            slots: Vec::new(),
            stepping: ANY_TASK,
        }
    }

    /// This heap's owner id, as its handles carry it.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Number of live data gears.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.value.is_some()).count()
    }

    /// Whether no data gear is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores `value` and returns its handle.
    pub fn alloc<T: DataGear>(&mut self, value: T) -> Gear<T> {
        self.alloc_owned(value, SHARED)
    }

    /// Stores the value `make` builds from the handle it will have: for a data gear that holds
    /// its own handle (an interface implementation that passes itself on in continuations,
    /// `next!(me.api(..))`).
    pub fn alloc_with<T: DataGear>(&mut self, make: impl FnOnce(Gear<T>) -> T) -> Gear<T> {
        self.alloc_owned_with(make, SHARED)
    }

    /// As [`Heap::alloc_with`], private to task `owner` (or [`SHARED`]).
    pub(crate) fn alloc_owned_with<T: DataGear>(
        &mut self,
        make: impl FnOnce(Gear<T>) -> T,
        owner: u32,
    ) -> Gear<T> {
        let index = u32::try_from(self.slots.len()).expect("more than 2^32 data gears in one heap");
        let gear = Gear::from_parts(RawGear::new(self.id, index, 0), ());
        let value = make(gear);
        // `make` cannot reach this heap, so the slot it was promised is still the next one.
        self.alloc_owned(value, owner)
    }

    /// Stores `value` as private to task `owner` (or [`SHARED`]).
    pub(crate) fn alloc_owned<T: DataGear>(&mut self, value: T, owner: u32) -> Gear<T> {
        let index = u32::try_from(self.slots.len()).expect("more than 2^32 data gears in one heap");
        self.slots.push(Slot {
            generation: 0,
            owner,
            value: Some(Arc::new(value)),
        });
        Gear::from_parts(RawGear::new(self.id, index, 0), ())
    }

    /// An empty heap that records what a stub asks of it instead of lending gears.
    ///
    /// The generated stub of a code gear with data-gear parameters first takes its arguments,
    /// then either checks aliasing over all its gears (two or more: `check_aliasing` sees every
    /// handle with its `Mut`-ness, in parameter order) or borrows its one gear; on a probe heap
    /// both fail before the body runs, after recording the handles. So running the stub on a
    /// probe tells which gears a step takes without running it; [`Heap::take_probed`] returns
    /// them.
    pub(crate) fn probe() -> Self {
        PROBED.with(|probed| probed.borrow_mut().clear());
        Self {
            id: 0,
            slots: Vec::new(),
            stepping: PROBE,
        }
    }

    /// What the stub run on a [`Heap::probe`] asked for.
    pub(crate) fn take_probed() -> Vec<(RawGear, Option<bool>)> {
        PROBED.with(|probed| std::mem::take(&mut *probed.borrow_mut()))
    }

    /// Which task's code gear runs now ([`ANY_TASK`] outside steps).
    pub(crate) fn set_stepping(&mut self, task: u32) {
        self.stepping = task;
    }

    /// The task a slot is private to, if it is private.
    pub(crate) fn owner_of(&self, index: u32) -> Option<u32> {
        self.slots
            .get(index as usize)
            .map(|slot| slot.owner)
            .filter(|&owner| owner != SHARED)
    }

    /// Number of slots, live or freed (the bound of slot indices).
    pub(crate) fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// Moves the gear of slot `index` out (parallel runs lend shared gears to a task's heap).
    pub(crate) fn take_object(&mut self, index: u32) -> Option<Arc<dyn DataGearObject>> {
        self.slots.get_mut(index as usize)?.value.take()
    }

    /// Puts a gear (back) into slot `index`.
    pub(crate) fn put_object(&mut self, index: u32, object: Option<Arc<dyn DataGearObject>>) {
        self.slots[index as usize].value = object;
    }

    /// The object of slot `index`, if live.
    pub(crate) fn object(&self, index: u32) -> Option<&Arc<dyn DataGearObject>> {
        self.slots.get(index as usize)?.value.as_ref()
    }

    /// A heap with this one's id and slot layout but only the gears whose owner `keep` selects (the rest
    /// empty): a task's own view in a parallel run.
    pub(crate) fn view(&self, mut keep: impl FnMut(u32) -> bool) -> Heap {
        Heap {
            id: self.id,
            slots: self
                .slots
                .iter()
                .map(|slot| Slot {
                    generation: slot.generation,
                    owner: slot.owner,
                    value: if keep(slot.owner) {
                        slot.value.clone()
                    } else {
                        None
                    },
                })
                .collect(),
            stepping: ANY_TASK,
        }
    }

    /// Removes the gear and returns its value; the handle (and its copies) become stale.
    ///
    /// # Errors
    /// As [`Heap::get`].
    pub fn free<T: DataGear>(&mut self, gear: Gear<T>) -> Result<T, Error> {
        self.get::<T>(gear)?;
        let slot = &mut self.slots[gear.raw().index() as usize];
        slot.generation = slot.generation.wrapping_add(1);
        let object = slot.value.take().expect("checked by get");
        let any: Arc<dyn Any + Send + Sync> = object;
        let value = any.downcast::<T>().expect("checked by get");
        Ok(Arc::try_unwrap(value).unwrap_or_else(|shared| (*shared).clone()))
    }

    #[inline]
    pub(crate) fn slot(
        &self,
        raw: RawGear,
        type_name: &'static str,
    ) -> Result<&Arc<dyn DataGearObject>, Error> {
        self.slot_named(raw, || type_name)
    }

    /// Whether [`Heap::slot`] would give `raw`'s value: a live gear of this heap that the task
    /// stepping (if any) may take. The checker's [`View`](crate::View) validates each handle
    /// with this and builds the error only when it is false.
    #[inline]
    pub(crate) fn readable(&self, raw: RawGear) -> bool {
        matches!(self.slots.get(raw.index() as usize), Some(Slot {
                generation,
                owner,
                value: Some(_),
            }) if raw.owner() == self.id
                && *generation == raw.generation()
                && (self.stepping == ANY_TASK || *owner == SHARED || *owner == self.stepping))
    }

    /// [`Heap::slot`] with the type's name computed only on the (cold) error path: the stubs'
    /// type-erased borrows name the type through [`GearTarget::gear_type_name`], a table
    /// lookup.
    #[inline]
    pub(crate) fn slot_named(
        &self,
        raw: RawGear,
        type_name: impl FnOnce() -> &'static str,
    ) -> Result<&Arc<dyn DataGearObject>, Error> {
        // One branch on the hot path: this heap's live, shared (or own-task) slot.
        if let Some(Slot {
            generation,
            owner,
            value: Some(value),
        }) = self.slots.get(raw.index() as usize)
            && raw.owner() == self.id
            && *generation == raw.generation()
            && (*owner == SHARED || *owner == self.stepping || self.stepping == ANY_TASK)
        {
            return Ok(value);
        }
        Err(self.slot_error(raw, type_name()))
    }

    /// Why `raw` does not name a slot this step may use.
    #[cold]
    fn slot_error(&self, raw: RawGear, type_name: &'static str) -> Error {
        if self.stepping == PROBE {
            PROBED.with(|probed| probed.borrow_mut().push((raw, None)));
        }
        if raw.owner() != self.id {
            return ErrorKind::ForeignHandle {
                data_gear: type_name,
                gear: raw,
                heap: self.id,
            }
            .into();
        }
        match self.slots.get(raw.index() as usize) {
            Some(slot)
                if slot.generation == raw.generation()
                    && slot.owner != SHARED
                    && slot.owner != self.stepping =>
            {
                ErrorKind::PrivateGear {
                    data_gear: type_name,
                    gear: raw,
                    owner: slot.owner,
                    task: self.stepping,
                }
                .into()
            }
            // Freed, never allocated, or (in a parallel run's task view) a shared gear this
            // step did not declare.
            _ => ErrorKind::StaleHandle {
                data_gear: type_name,
                gear: raw,
            }
            .into(),
        }
    }

    /// The data gear behind `gear`.
    ///
    /// # Errors
    /// [`ErrorKind::ForeignHandle`] for a handle of another heap, [`ErrorKind::StaleHandle`] for
    /// a freed gear, [`ErrorKind::WrongType`] if the slot holds another type.
    pub fn get<T: DataGear>(&self, gear: Gear<T>) -> Result<&T, Error> {
        let object = self.slot(gear.raw(), T::INFO.name)?;
        downcast_ref(&**object)
    }

    /// Shared access for a code gear's `Ref` parameter.
    ///
    /// # Errors
    /// As [`Heap::get`].
    pub fn borrow_ref<'r, T: DataGear>(&self, gear: Gear<T>) -> Result<Ref<'r, T>, Error> {
        self.stub_borrow_ref(gear)
    }

    /// [`Heap::borrow_ref`] as generated stubs call it: without the `DataGear` bound, which the
    /// code gear asserts once at the user's type (so that a mistake there is not reported again
    /// here). A `T` that is not a data gear is never in a heap: the downcast fails.
    #[doc(hidden)]
    pub fn stub_borrow_ref<'r, T: Send + Sync + 'static>(
        &self,
        gear: Gear<T>,
    ) -> Result<Ref<'r, T>, Error> {
        let object = Arc::clone(self.slot_named(gear.raw(), T::gear_type_name)?);
        let found = object.info().name;
        let any: Arc<dyn Any + Send + Sync> = object;
        let value = any.downcast::<T>().map_err(|_| ErrorKind::WrongType {
            expected: T::gear_type_name(),
            found,
        })?;
        Ok(Ref::new(value, gear))
    }

    /// Exclusive access for a code gear's `Mut` parameter (copying the gear first if a snapshot
    /// shares it).
    ///
    /// # Errors
    /// As [`Heap::get`].
    pub fn borrow_mut<T: DataGear>(&mut self, gear: Gear<T>) -> Result<Mut<'_, T>, Error> {
        self.stub_borrow_mut(gear)
    }

    /// [`Heap::borrow_mut`] as generated stubs call it (see [`Heap::stub_borrow_ref`]).
    #[doc(hidden)]
    pub fn stub_borrow_mut<T: 'static>(&mut self, gear: Gear<T>) -> Result<Mut<'_, T>, Error> {
        self.slot_named(gear.raw(), T::gear_type_name)?;
        let object = self.slots[gear.raw().index() as usize]
            .value
            .as_mut()
            .expect("checked by slot");
        Ok(Mut::new(downcast_mut(make_mut(object))?, gear))
    }

    /// Exclusive access to `N` distinct gears at once, for a code gear with several `Mut`
    /// parameters; `types` name them for errors.
    ///
    /// # Errors
    /// [`ErrorKind::AliasedMut`] if two handles name the same gear; otherwise as [`Heap::get`].
    pub fn borrow_many<const N: usize>(
        &mut self,
        gears: [(RawGear, &'static str); N],
    ) -> Result<[&mut dyn DataGearObject; N], Error> {
        self.stub_borrow_many(gears.map(|(raw, name)| (raw, move || name)))
    }

    /// [`Heap::borrow_many`] with names computed only for an error (generated stubs pass
    /// [`GearTarget::gear_type_name`], a table lookup, which the hot path must not pay).
    #[doc(hidden)]
    pub fn stub_borrow_many<const N: usize, F: Fn() -> &'static str>(
        &mut self,
        gears: [(RawGear, F); N],
    ) -> Result<[&mut dyn DataGearObject; N], Error> {
        let mut indices = [0usize; N];
        for (i, (raw, type_name)) in gears.iter().enumerate() {
            self.slot_named(*raw, type_name)?;
            if gears[..i].iter().any(|(earlier, _)| earlier == raw) {
                return Err(ErrorKind::AliasedMut {
                    data_gear: type_name(),
                    gear: *raw,
                }
                .into());
            }
            indices[i] = raw.index() as usize;
        }
        let slots = self
            .slots
            .get_disjoint_mut(indices)
            .expect("indices were checked to be live and distinct");
        Ok(slots.map(|slot| make_mut(slot.value.as_mut().expect("checked by slot"))))
    }

    /// Reports a gear taken twice by one code gear with at least one `Mut` (`(handle, is_mut)`
    /// per data-gear parameter).
    ///
    /// # Errors
    /// [`ErrorKind::AliasedMut`].
    pub fn check_aliasing(&self, params: &[(RawGear, bool, &'static str)]) -> Result<(), Error> {
        let named: Vec<(RawGear, bool, _)> = params
            .iter()
            .map(|&(raw, is_mut, name)| (raw, is_mut, move || name))
            .collect();
        self.stub_check_aliasing(&named)
    }

    /// [`Heap::check_aliasing`] with names computed only for an error (see
    /// [`Heap::stub_borrow_many`]).
    #[doc(hidden)]
    pub fn stub_check_aliasing<F: Fn() -> &'static str>(
        &self,
        params: &[(RawGear, bool, F)],
    ) -> Result<(), Error> {
        if self.stepping == PROBE {
            return Err(self.probed(params.iter().map(|(raw, is_mut, _)| (*raw, *is_mut))));
        }
        for (i, (raw, is_mut, type_name)) in params.iter().enumerate() {
            for (other, other_mut, _) in &params[..i] {
                if raw == other && (*is_mut || *other_mut) {
                    return Err(ErrorKind::AliasedMut {
                        data_gear: type_name(),
                        gear: *raw,
                    }
                    .into());
                }
            }
        }
        Ok(())
    }

    #[cold]
    fn probed(&self, params: impl Iterator<Item = (RawGear, bool)>) -> Error {
        PROBED.with(|probed| {
            let mut probed = probed.borrow_mut();
            probed.clear();
            probed.extend(params.map(|(raw, is_mut)| (raw, Some(is_mut))));
        });
        ErrorKind::Stopped {
            reason: "probed".into(),
        }
        .into()
    }

    /// Live gears in slot order, with their handles.
    pub fn iter(&self) -> impl Iterator<Item = (RawGear, &dyn DataGearObject)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(index, slot)| {
                let value = slot.value.as_deref()?;
                Some((RawGear::new(self.id, index as u32, slot.generation), value))
            })
    }
}

/// The typed view of an object taken from a `Mut` slot.
///
/// # Errors
/// [`ErrorKind::WrongType`].
pub fn downcast_mut<T: 'static>(object: &mut dyn DataGearObject) -> Result<&mut T, Error> {
    let found = object.info().name;
    (object as &mut dyn Any).downcast_mut::<T>().ok_or_else(|| {
        ErrorKind::WrongType {
            expected: T::gear_type_name(),
            found,
        }
        .into()
    })
}

pub(crate) fn downcast_ref<T: DataGear>(object: &dyn DataGearObject) -> Result<&T, Error> {
    (object as &dyn Any).downcast_ref::<T>().ok_or_else(|| {
        ErrorKind::WrongType {
            expected: T::INFO.name,
            found: object.info().name,
        }
        .into()
    })
}

/// `Arc::make_mut` for the erased object: copies it first if a snapshot shares it.
fn make_mut(object: &mut Arc<dyn DataGearObject>) -> &mut dyn DataGearObject {
    if Arc::get_mut(object).is_none() {
        *object = object.clone_object();
    }
    Arc::get_mut(object).expect("a fresh copy is unique")
}

impl PartialEq for Heap {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
            && self.slots.len() == other.slots.len()
            && self.slots.iter().zip(&other.slots).all(|(a, b)| {
                a.generation == b.generation
                    && a.owner == b.owner
                    && match (&a.value, &b.value) {
                        (None, None) => true,
                        (Some(x), Some(y)) => Arc::ptr_eq(x, y) || x.eq_object(&**y),
                        _ => false,
                    }
            })
    }
}

impl Eq for Heap {}

impl Hash for Heap {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
        self.slots.len().hash(state);
        for slot in &self.slots {
            slot.generation.hash(state);
            match &slot.value {
                None => 0u8.hash(state),
                Some(value) => {
                    1u8.hash(state);
                    value.hash_object(state);
                }
            }
        }
    }
}

impl fmt::Debug for Heap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}
