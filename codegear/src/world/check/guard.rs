//! Properties that panic: a user's predicate is user code, and a panic in it (an `unwrap` on a
//! state the user did not expect, an index out of range) is a finding about that state, not a
//! reason to tear down the check. Each predicate is wrapped when it is added: a panic is caught,
//! its message kept in a slot the check's explorers share, and the predicate reports `false`;
//! the explorer that sees the slot filled stops and reports the state (or step) with the
//! shortest trace to it, as for a violated invariant.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};

use super::{Action, Predicate, View};

/// The first property panic of a check: which property, and its message.
#[derive(Clone, Debug)]
pub(crate) struct PropertyPanic {
    pub(crate) property: String,
    pub(crate) message: String,
}

/// Shared by every wrapped predicate of one check and by its explorers.
pub(crate) type PanicSlot = Arc<OnceLock<PropertyPanic>>;

fn record(slot: &PanicSlot, property: &str, payload: Box<dyn std::any::Any + Send>) {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string());
    // Only the first panic is reported; later ones (other properties on the same state, or
    // other workers) are the same finding or come after it.
    let _ = slot.set(PropertyPanic {
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
