//! The properties' side of the explorer: invariants and liveness labels of each stored state,
//! action properties of each step, symmetry keys, and the liveness analysis of the graph.

use super::*;

impl Explorer<'_> {
    /// The first action property false of the step from `before` to `after`.
    pub(super) fn failed_action(&self, before: &[u32], after: &[u32]) -> Option<String> {
        let slots = self.world.heap.slot_count();
        let (before_slots, before_tasks) = before.split_at(slots);
        let (after_slots, after_tasks) = after.split_at(slots);
        let before = View {
            layout: &self.world.heap,
            slots: before_slots,
            tasks: before_tasks,
            interned: &self.interned,
            reads: self.por.then_some(&self.reads),
        };
        let after = View {
            layout: &self.world.heap,
            slots: after_slots,
            tasks: after_tasks,
            interned: &self.interned,
            reads: self.por.then_some(&self.reads),
        };
        self.check
            .actions
            .iter()
            .find(|(_, holds)| !holds(&before, &after))
            .map(|(name, _)| name.clone())
    }

    /// What the visited set stores for a state: its fingerprint, or with symmetry reduction the
    /// user's key of its symmetry class.
    pub(super) fn class_of(&self, ids: &[u32], fingerprint: u64) -> u64 {
        match &self.check.symmetry {
            None => fingerprint,
            Some(canonical) => {
                let (slots, tasks) = ids.split_at(self.world.heap.slot_count());
                canonical(&View {
                    layout: &self.world.heap,
                    slots,
                    tasks,
                    interned: &self.interned,
                    reads: self.por.then_some(&self.reads),
                })
                .map_or(fingerprint, spread)
            }
        }
    }

    /// Checks a newly stored state, and labels it for the liveness properties.
    ///
    /// `holding`: the invariants are known to hold here, not evaluated (see
    /// [`Explorer::invariants_unchanged`]).
    pub(super) fn stored(
        &mut self,
        index: u32,
        ids: &[u32],
        fingerprint: u64,
        holding: bool,
    ) -> Option<Found> {
        let (slots, tasks) = ids.split_at(self.world.heap.slot_count());
        let gotos = &self.interned.gotos;
        // The reads are recorded also without partial-order reduction: they say which steps
        // cannot change an invariant's value.
        let view = View {
            layout: &self.world.heap,
            slots,
            tasks,
            interned: &self.interned,
            reads: Some(&self.reads),
        };
        if !holding {
            for (name, holds) in &self.check.invariants {
                if !holds(&view) {
                    return Some(Found::Always(name.clone(), index));
                }
            }
        }
        if self.por && self.reads.settle() && self.reduced > 0 {
            // A reduction relied on the reads as they were: start over with these.
            self.restart = true;
        }
        // Only the graph and the terminal states need it: not computed per state otherwise.
        let finished = || tasks.iter().all(|&id| gotos[id as usize].exit);
        if let Some(graph) = &mut self.graph {
            let mut slot = 0;
            let mut set = |slot: &mut usize, value: bool| {
                let bits = &mut graph.labels.bits[*slot];
                if bits.len() * 64 <= index as usize {
                    bits.push(0);
                }
                if value {
                    bits[index as usize / 64] |= 1 << (index % 64);
                }
                *slot += 1;
            };
            for (_, property) in &self.check.liveness {
                match property {
                    Liveness::Eventually(holds) => set(&mut slot, holds(&view)),
                    Liveness::LeadsTo(from, to) => {
                        set(&mut slot, from(&view));
                        set(&mut slot, to(&view));
                    }
                    Liveness::Finishes => set(&mut slot, finished()),
                }
            }
        }
        if self.check.panicked.get().is_some() {
            return Some(Found::PropertyPanicked(index));
        }
        if self.check.terminal_states && finished() {
            self.terminal.push(fingerprint);
        }
        None
    }

    /// Whether the invariants hold in the successor of a stored state by a step of `task` that
    /// made `writes` and spawned no task, without evaluating them there.
    ///
    /// A property is a deterministic function of what it reads through its [`View`] (the
    /// values of the gears it gets, the transitions it asks for; `View::tasks` is the number of
    /// tasks, which such a step does not change). Every evaluation so far recorded its reads in
    /// `self.reads`, the parent's too; so if the step wrote none of the gears ever read and the
    /// task's transition was never read, each invariant reads in the successor exactly what it
    /// read in the parent, takes the same branches, and gives the same value: true, as the
    /// parent was stored and checked. (A property that reads different gears in different
    /// states is covered: whatever it read in the parent is in the record.)
    pub(super) fn invariants_unchanged(&self, task: u32, writes: &[(u32, u32, u32)]) -> bool {
        !self.check.invariants.is_empty()
            && !self.reads.task_read(task as usize)
            && writes
                .iter()
                .all(|&(slot, _, _)| !self.reads.slot_read(slot as usize))
    }

    /// Analyses the complete state graph for each liveness property in turn.
    pub(super) fn liveness(&self, graph: &Graph, labels: &Labels) -> Option<Found> {
        let strong = self.check.fairness == Fairness::Strong;
        let tasks = self.world.tasks();
        let states = self.states as u32;
        let mut slot = 0;
        for (name, property) in &self.check.liveness {
            let lasso = match property {
                Liveness::Eventually(_) | Liveness::Finishes => {
                    let good = slot;
                    slot += 1;
                    liveness::find(graph, [0], &|s| !labels.get(good, s), strong, tasks)
                }
                Liveness::LeadsTo(..) => {
                    let (from, to) = (slot, slot + 1);
                    slot += 2;
                    let sources =
                        (0..states).filter(|&s| labels.get(from, s) && !labels.get(to, s));
                    liveness::find(graph, sources, &|s| !labels.get(to, s), strong, tasks)
                }
            };
            if let Some(lasso) = lasso {
                return Some(Found::Liveness(name.clone(), lasso));
            }
        }
        None
    }
}

/// A user's symmetry key spread over all 64 bits (splitmix64's finalizer, a bijection): the
/// visited table takes a key's home bucket from its high bits and stores `0` as `1`, which is
/// harmless for fingerprints but would put small keys (`0`, `1`, `2`, ..) in one bucket and
/// merge the classes `0` and `1`.
fn spread(key: u64) -> u64 {
    let mut x = key;
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
