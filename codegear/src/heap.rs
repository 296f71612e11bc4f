//! The data-gear heap of a context (GearsOS's `union Data` area): typed slots behind handles,
//! shared structurally between snapshots so that cloning a whole program state is cheap.

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::error::{Error, ErrorKind};
use crate::gear::{DataGear, DataGearInfo, Gear, Mut, RawGear, Ref};

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
    value: Option<Arc<dyn DataGearObject>>,
}

/// Heaps get distinct owner ids so that a handle from one is recognised in another.
static NEXT_HEAP_ID: AtomicU32 = AtomicU32::new(1);

/// Data gears of one context (or the shared gears of a world), addressed by [`Gear`] handles.
///
/// Cloning a heap is cheap: slots share their data gears (`Arc`) and a gear is copied only when
/// a clone writes it (`Mut` on a shared gear copies it first). Equality and hashing are by value,
/// slot by slot, so two heaps reached by different paths compare equal when their gears do.
#[derive(Clone)]
pub struct Heap {
    id: u32,
    slots: Vec<Slot>,
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
        let index = u32::try_from(self.slots.len()).expect("more than 2^32 data gears in one heap");
        self.slots.push(Slot {
            generation: 0,
            value: Some(Arc::new(value)),
        });
        Gear::from_parts(RawGear::new(self.id, index, 0), ())
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

    fn slot(
        &self,
        raw: RawGear,
        type_name: &'static str,
    ) -> Result<&Arc<dyn DataGearObject>, Error> {
        if raw.owner() != self.id {
            return Err(ErrorKind::ForeignHandle {
                data_gear: type_name,
                gear: raw,
                heap: self.id,
            }
            .into());
        }
        match self.slots.get(raw.index() as usize) {
            Some(Slot {
                generation,
                value: Some(value),
            }) if *generation == raw.generation() => Ok(value),
            _ => Err(ErrorKind::StaleHandle {
                data_gear: type_name,
                gear: raw,
            }
            .into()),
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
        let object = Arc::clone(self.slot(gear.raw(), T::INFO.name)?);
        let found = object.info().name;
        let any: Arc<dyn Any + Send + Sync> = object;
        let value = any.downcast::<T>().map_err(|_| ErrorKind::WrongType {
            expected: T::INFO.name,
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
        self.slot(gear.raw(), T::INFO.name)?;
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
        let mut indices = [0usize; N];
        for (i, (raw, type_name)) in gears.iter().enumerate() {
            self.slot(*raw, type_name)?;
            if gears[..i].iter().any(|(earlier, _)| earlier == raw) {
                return Err(ErrorKind::AliasedMut {
                    data_gear: type_name,
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
        for (i, (raw, is_mut, type_name)) in params.iter().enumerate() {
            for (other, other_mut, _) in &params[..i] {
                if raw == other && (*is_mut || *other_mut) {
                    return Err(ErrorKind::AliasedMut {
                        data_gear: type_name,
                        gear: *raw,
                    }
                    .into());
                }
            }
        }
        Ok(())
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
pub fn downcast_mut<T: DataGear>(object: &mut dyn DataGearObject) -> Result<&mut T, Error> {
    let found = object.info().name;
    (object as &mut dyn Any).downcast_mut::<T>().ok_or_else(|| {
        ErrorKind::WrongType {
            expected: T::INFO.name,
            found,
        }
        .into()
    })
}

fn downcast_ref<T: DataGear>(object: &dyn DataGearObject) -> Result<&T, Error> {
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
