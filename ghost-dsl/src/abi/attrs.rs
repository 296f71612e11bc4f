//! [`TaskAttrs`]: what a policy may know about a task beyond its messages.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// Attributes given to a task when it is created (a simulated workload task's
/// [`TaskSpec::attrs`](crate::sim::TaskSpec::attrs), a managed thread's spawn options), read by
/// the policy through [`AgentEnclave::task_attrs`](crate::AgentEnclave::task_attrs) or, in a
/// generated scheduler, `task.attrs()`.
///
/// ghOSt itself passes none of these through its ABI (a real agent reads `nice` or a shared
/// table); they are here so that priority, weighted and deadline policies can be written and
/// tested against both backends. The kernel side never interprets them.
///
/// Cheap to clone: the user value is shared.
#[derive(Clone)]
pub struct TaskAttrs {
    /// Priority; the meaning (higher first, or lower first) is the policy's. Default 0.
    pub priority: i32,
    /// Weight for proportional-share policies. Default 1.
    pub weight: u32,
    /// Absolute deadline, ns since the enclave started, for deadline policies.
    pub deadline_ns: Option<u64>,
    /// Any value of the user's own type; read with [`user`](Self::user).
    pub user: Option<Arc<dyn Any + Send + Sync>>,
}

impl TaskAttrs {
    /// Priority 0, weight 1, no deadline, no user value.
    pub const fn new() -> Self {
        Self {
            priority: 0,
            weight: 1,
            deadline_ns: None,
            user: None,
        }
    }

    /// Whether these are the defaults of [`new`](Self::new) (no user value).
    pub(crate) fn is_default(&self) -> bool {
        self.priority == 0 && self.weight == 1 && self.deadline_ns.is_none() && self.user.is_none()
    }

    /// With `priority`.
    #[must_use]
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// With `weight`.
    #[must_use]
    pub fn with_weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// With a deadline.
    #[must_use]
    pub fn with_deadline_ns(mut self, deadline_ns: u64) -> Self {
        self.deadline_ns = Some(deadline_ns);
        self
    }

    /// With a value of the user's type `T`.
    #[must_use]
    pub fn with_user<T: Any + Send + Sync>(mut self, value: T) -> Self {
        self.user = Some(Arc::new(value));
        self
    }

    /// The user value, if there is one of type `T`.
    pub fn user<T: Any>(&self) -> Option<&T> {
        self.user.as_deref()?.downcast_ref()
    }
}

impl Default for TaskAttrs {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for TaskAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskAttrs")
            .field("priority", &self.priority)
            .field("weight", &self.weight)
            .field("deadline_ns", &self.deadline_ns)
            .field("user", &self.user.as_ref().map(|_| ".."))
            .finish()
    }
}

impl PartialEq for TaskAttrs {
    /// Equal numbers, and the same user value (the same allocation: user types need not be
    /// comparable).
    fn eq(&self, other: &Self) -> bool {
        self.priority == other.priority
            && self.weight == other.weight
            && self.deadline_ns == other.deadline_ns
            && match (&self.user, &other.user) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for TaskAttrs {}
