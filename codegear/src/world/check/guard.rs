//! Properties that panic: a user's predicate is user code, and a panic in it (an `unwrap` on a
//! state the user did not expect, an index out of range) is a finding about that state, not a
//! reason to tear down the check. Each predicate is wrapped when it is added: a panic is caught,
//! its message kept in a slot the check's explorers share, and the predicate reports `false`;
//! the explorer that sees the slot filled stops and reports the state (or step) with the
//! shortest trace to it, as for a violated invariant.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::{Action, Predicate, SymmetryKey, View};

/// The first property panic of a check: which property, and its message.
#[derive(Clone, Debug)]
pub(crate) struct PropertyPanic {
    pub(crate) property: String,
    pub(crate) message: String,
}

/// Shared by every wrapped predicate of one check and by its explorers.
pub(crate) type PanicSlot = Arc<PanicCell>;

/// The first property panic, settable once until cleared. Cleared when a parallel check hands
/// over to the single worker (`parallel.rs`), which must find the panic again on its own
/// exploration order.
#[derive(Debug, Default)]
pub(crate) struct PanicCell {
    /// Whether `value` holds a panic: the explorers look at this once per stored state.
    set: AtomicBool,
    value: Mutex<Option<PropertyPanic>>,
}

impl PanicCell {
    /// The recorded panic, if any.
    pub(crate) fn get(&self) -> Option<PropertyPanic> {
        if !self.set.load(Ordering::Acquire) {
            return None;
        }
        self.lock().clone()
    }

    /// Forgets the recorded panic.
    pub(crate) fn clear(&self) {
        *self.lock() = None;
        self.set.store(false, Ordering::Release);
    }

    fn set(&self, panic: PropertyPanic) {
        let mut value = self.lock();
        if value.is_none() {
            *value = Some(panic);
            self.set.store(true, Ordering::Release);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<PropertyPanic>> {
        self.value
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn record(slot: &PanicSlot, property: &str, payload: Box<dyn std::any::Any + Send>) {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    // Only the first panic is reported; later ones (other properties on the same state, or
    // other workers) are the same finding or come after it.
    slot.set(PropertyPanic {
        property: property.to_string(),
        message,
    });
}

/// `holds`, with a panic caught and recorded in `slot` (the predicate then reports `false`).
pub(crate) fn state_predicate(
    slot: &PanicSlot,
    property: String,
    holds: impl Fn(&View<'_>) -> bool + Send + Sync + 'static,
) -> Predicate {
    let slot = Arc::clone(slot);
    Box::new(
        move |view| match catch_unwind(AssertUnwindSafe(|| holds(view))) {
            Ok(value) => value,
            Err(payload) => {
                record(&slot, &property, payload);
                false
            }
        },
    )
}

/// An action predicate, with a panic caught and recorded like [`state_predicate`].
pub(crate) fn step_predicate(
    slot: &PanicSlot,
    property: String,
    holds: impl Fn(&View<'_>, &View<'_>) -> bool + Send + Sync + 'static,
) -> Action {
    let slot = Arc::clone(slot);
    Box::new(
        move |before, after| match catch_unwind(AssertUnwindSafe(|| holds(before, after))) {
            Ok(value) => value,
            Err(payload) => {
                record(&slot, &property, payload);
                false
            }
        },
    )
}

/// The name a panicking symmetry key is reported under.
pub(crate) const SYMMETRY_KEY: &str = "symmetry key";

/// A symmetry key with a panic caught and recorded like [`state_predicate`]: the key is then
/// `None`, and the explorer stores the state under its own fingerprint, so that it is a new
/// state whose check finds the recorded panic.
pub(crate) fn symmetry_key(
    slot: &PanicSlot,
    canonical: impl Fn(&View<'_>) -> u64 + Send + Sync + 'static,
) -> SymmetryKey {
    let slot = Arc::clone(slot);
    Box::new(
        move |view| match catch_unwind(AssertUnwindSafe(|| canonical(view))) {
            Ok(key) => Some(key),
            Err(payload) => {
                record(&slot, SYMMETRY_KEY, payload);
                None
            }
        },
    )
}
