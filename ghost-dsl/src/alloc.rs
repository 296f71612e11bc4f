//! [`TaskAllocator`]: the scheduler's per-task state, found by [`Gtid`] (ghOSt's `TaskAllocator`).

use crate::Gtid;

/// Per-task state of a scheduler, keyed by [`Gtid`]: ghOSt's `TaskAllocator<Task>`, which
/// `BasicDispatchScheduler` uses to create a task on `MSG_TASK_NEW` and free it on
/// `MSG_TASK_DEAD` / `MSG_TASK_DEPARTED`.
///
/// Slots are indexed by the gtid's tid (dense from 1 in the simulator), so lookups are one bounds
/// check and one compare of the full gtid (a recycled tid with another generation is a different
/// task); memory grows with the largest tid seen and is reused after [`remove`](Self::remove).
#[derive(Clone, Debug)]
pub struct TaskAllocator<T> {
    slots: Vec<Option<(Gtid, T)>>,
    live: usize,
}

impl<T> Default for TaskAllocator<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            live: 0,
        }
    }
}

impl<T> TaskAllocator<T> {
    /// An empty allocator.
    pub fn new() -> Self {
        Self::default()
    }

    /// The task state of `gtid`, if it is allocated.
    #[inline]
    pub fn get(&self, gtid: Gtid) -> Option<&T> {
        match self.slots.get(gtid.tid() as usize) {
            Some(Some((g, t))) if *g == gtid => Some(t),
            _ => None,
        }
    }

    /// The task state of `gtid`, mutably, if it is allocated.
    #[inline]
    pub fn get_mut(&mut self, gtid: Gtid) -> Option<&mut T> {
        match self.slots.get_mut(gtid.tid() as usize) {
            Some(Some((g, t))) if *g == gtid => Some(t),
            _ => None,
        }
    }

    /// Allocates `gtid` with `task`; returns the previous state if `gtid` was already allocated,
    /// or an error with `task` back if its tid is held by a live task of another generation.
    ///
    /// # Errors
    ///
    /// `Err(task)` when another generation of the tid is still allocated.
    pub fn insert(&mut self, gtid: Gtid, task: T) -> Result<Option<T>, T> {
        let idx = gtid.tid() as usize;
        if self.slots.len() <= idx {
            self.slots.resize_with(idx + 1, || None);
        }
        match &mut self.slots[idx] {
            Some((g, old)) if *g == gtid => Ok(Some(std::mem::replace(old, task))),
            Some(_) => Err(task),
            slot @ None => {
                *slot = Some((gtid, task));
                self.live += 1;
                Ok(None)
            }
        }
    }

    /// Frees `gtid`, returning its state.
    pub fn remove(&mut self, gtid: Gtid) -> Option<T> {
        let slot = self.slots.get_mut(gtid.tid() as usize)?;
        match slot {
            Some((g, _)) if *g == gtid => {
                self.live -= 1;
                slot.take().map(|(_, t)| t)
            }
            _ => None,
        }
    }

    /// Whether `gtid` is allocated.
    pub fn contains(&self, gtid: Gtid) -> bool {
        self.get(gtid).is_some()
    }

    /// The number of allocated tasks.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether no task is allocated.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The allocated tasks in tid order.
    pub fn iter(&self) -> impl Iterator<Item = (Gtid, &T)> {
        self.slots.iter().flatten().map(|(g, t)| (*g, t))
    }
}

#[cfg(test)]
mod tests {
    use super::TaskAllocator;
    use crate::Gtid;

    #[test]
    fn insert_get_remove_and_generations() {
        let mut tasks = TaskAllocator::new();
        let a = Gtid::new(3, 1);
        let a_next = Gtid::new(3, 2);
        assert_eq!(tasks.insert(a, "a"), Ok(None));
        assert_eq!(tasks.insert(a, "a2"), Ok(Some("a")));
        assert_eq!(
            tasks.insert(a_next, "other generation"),
            Err("other generation")
        );
        assert_eq!(tasks.get(a), Some(&"a2"));
        assert_eq!(tasks.get(a_next), None);
        assert_eq!(tasks.get(Gtid::new(99, 1)), None);
        *tasks.get_mut(a).unwrap() = "a3";
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks.remove(a_next), None);
        assert_eq!(tasks.remove(a), Some("a3"));
        assert!(tasks.is_empty());
        assert_eq!(tasks.insert(a_next, "b"), Ok(None));
        assert_eq!(tasks.insert(Gtid::new(1, 1), "c"), Ok(None));
        let all: Vec<_> = tasks.iter().map(|(g, t)| (g.tid(), *t)).collect();
        assert_eq!(all, [(1, "c"), (3, "b")]);
        assert!(tasks.contains(a_next) && !tasks.contains(a));
    }
}
