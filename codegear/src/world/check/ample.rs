//! The ample-set search of partial-order reduction (the rules are in `por.rs`): each task's
//! reach from the handles in its transition and in the gears it reaches, and the closure of a
//! set of tasks under "its footprint meets another task's reach".

use super::*;

impl Explorer<'_> {
    /// The slots of the handles in object `id` / transition `id`, computed once.
    fn ensure_handles(&mut self, node: &[u32], slots: usize, tasks: usize) {
        let heap_id = self.interned.heap_id;
        let to_slots = |raws: Vec<crate::gear::RawGear>| -> Box<[u32]> {
            let mut out: Vec<u32> = raws
                .into_iter()
                .filter(|raw| raw.owner() == heap_id && (raw.index() as usize) < slots)
                .map(|raw| raw.index())
                .collect();
            out.sort_unstable();
            out.dedup();
            out.into()
        };
        for &id in &node[HEADER..HEADER + slots] {
            let id = id as usize;
            if self.object_handles.len() <= id {
                self.object_handles
                    .resize(self.interned.objects.len().max(id + 1), None);
            }
            if self.object_handles[id].is_none() {
                let object = self.interned.objects[id].object.clone();
                let raws = handles_in(|| {
                    if let Some(object) = &object {
                        let mut hasher = FpHasher::default();
                        object.hash_object(&mut hasher);
                    }
                });
                self.object_handles[id] = Some(to_slots(raws));
            }
        }
        for &id in &node[HEADER + slots..HEADER + slots + tasks] {
            let id = id as usize;
            if self.goto_handles.len() <= id {
                self.goto_handles
                    .resize(self.interned.gotos.len().max(id + 1), None);
            }
            if self.goto_handles[id].is_none() {
                let goto = &self.interned.gotos[id].goto;
                let raws = handles_in(|| {
                    let mut hasher = FpHasher::default();
                    std::hash::Hash::hash(goto, &mut hasher);
                });
                self.goto_handles[id] = Some(to_slots(raws));
            }
        }
    }

    /// Looks for an ample set at `node` (see `por.rs`); if one is found, `ample.order` lists
    /// its tasks first and then the others, and the set's size is returned.
    pub(super) fn ample_set(&mut self, node: &[u32], slots: usize, tasks: usize) -> Option<usize> {
        let unfinished = node[HEADER + slots..HEADER + slots + tasks]
            .iter()
            .filter(|&&id| !self.interned.gotos[id as usize].exit)
            .count();
        if unfinished < 2 {
            return None;
        }
        self.ensure_handles(node, slots, tasks);
        let a = &mut self.ample;
        if a.seen.len() < slots {
            a.seen.resize(slots, 0);
        }
        // Each unfinished task's reach.
        a.reach.clear();
        a.offsets.clear();
        for task in 0..tasks {
            a.offsets.push(a.reach.len());
            let goto_id = node[HEADER + slots + task] as usize;
            if self.interned.gotos[goto_id].exit {
                continue;
            }
            a.stamp = a.stamp.wrapping_add(1);
            if a.stamp == 0 {
                a.seen.fill(0);
                a.stamp = 1;
            }
            a.queue.clear();
            let start = self.goto_handles[goto_id].as_deref().unwrap_or(&[]);
            for &slot in start {
                if a.seen[slot as usize] != a.stamp {
                    a.seen[slot as usize] = a.stamp;
                    a.queue.push(slot);
                }
            }
            while let Some(slot) = a.queue.pop() {
                a.reach.push(slot);
                let object = node[HEADER + slot as usize] as usize;
                for &inner in self.object_handles[object].as_deref().unwrap_or(&[]) {
                    if a.seen[inner as usize] != a.stamp {
                        a.seen[inner as usize] = a.stamp;
                        a.queue.push(inner);
                    }
                }
            }
        }
        a.offsets.push(a.reach.len());
        a.in_set.clear();
        a.in_set.resize(tasks, false);
        a.best.clear();
        let gotos = &self.interned.gotos;
        let reads = &self.reads;
        let goto_of = |task: usize| &gotos[node[HEADER + slots + task] as usize];
        // Whether a task's current step may be in an ample set at all.
        let invisible = |task: usize| {
            let entry = goto_of(task);
            !entry.exit
                && !reads.task_read(task)
                && entry.memoizable
                && entry
                    .taken
                    .iter()
                    .all(|&(slot, is_mut)| !is_mut || !reads.slot_read(slot as usize))
        };
        for seed in 0..tasks {
            if !invisible(seed) {
                continue;
            }
            a.set.clear();
            a.set.push(seed as u32);
            for flag in a.in_set.iter_mut() {
                *flag = false;
            }
            a.in_set[seed] = true;
            // Footprint of the set so far, marked in `seen`.
            a.stamp = a.stamp.wrapping_add(1);
            if a.stamp == 0 {
                a.seen.fill(0);
                a.stamp = 1;
            }
            for &(slot, _) in goto_of(seed).taken.iter() {
                a.seen[slot as usize] = a.stamp;
            }
            let mut ok = true;
            let mut grew = true;
            while ok && grew {
                grew = false;
                for u in 0..tasks {
                    if a.in_set[u] || goto_of(u).exit {
                        continue;
                    }
                    let reach = &a.reach[a.offsets[u]..a.offsets[u + 1]];
                    if !reach.iter().any(|&slot| a.seen[slot as usize] == a.stamp) {
                        continue;
                    }
                    if !invisible(u) {
                        ok = false;
                        break;
                    }
                    a.in_set[u] = true;
                    a.set.push(u as u32);
                    for &(slot, _) in goto_of(u).taken.iter() {
                        a.seen[slot as usize] = a.stamp;
                    }
                    grew = true;
                }
                if a.set.len() >= unfinished || (!a.best.is_empty() && a.set.len() >= a.best.len())
                {
                    ok = false;
                }
            }
            if ok {
                std::mem::swap(&mut a.best, &mut a.set);
                if a.best.len() == 1 {
                    break;
                }
            }
        }
        if a.best.is_empty() {
            return None;
        }
        a.order.clear();
        a.order.extend_from_slice(&a.best);
        for flag in a.in_set.iter_mut() {
            *flag = false;
        }
        for &t in &a.best {
            a.in_set[t as usize] = true;
        }
        for task in 0..tasks as u32 {
            if !a.in_set[task as usize] {
                a.order.push(task);
            }
        }
        Some(a.best.len())
    }
}
