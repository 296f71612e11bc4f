//! The explorer's side of checkpoints (the file is `checkpoint.rs`): suspending a run when a
//! bound stops it, saving what it holds, restoring it, and rebuilding frontier states by
//! replaying their steps from the initial state.

use super::*;

impl Explorer<'_> {
    /// A bound stopped the expansion of state `node` (`ahead`: the next ones, already taken
    /// from the frontier for prefetching, in order): with a checkpoint path, takes back what the expansion counted and
    /// lists the states left to expand, `node` first.
    pub(super) fn suspend(
        &mut self,
        frontier: &mut Frontier,
        node: u32,
        ahead: impl IntoIterator<Item = u32>,
        mark: NodeMark,
        slots: usize,
    ) {
        if self.check.checkpoint.is_none() {
            return;
        }
        self.transitions = mark.transitions;
        if let Some(graph) = &mut self.graph {
            graph.edges.truncate(mark.edges);
            graph.postponed.truncate(mark.postponed);
        }
        let mut order = vec![node];
        order.extend(ahead);
        let mut record = Vec::new();
        while !frontier.is_empty() {
            frontier.pop(&mut record, self.check.depth_first, slots);
            order.push(header(&record).0);
        }
        self.suspended = Some(order);
    }

    /// What the file holds, `frontier` the states left to expand in order.
    pub(super) fn saved(&self, frontier: Vec<u32>) -> Saved {
        let mut keys = vec![0u64; self.states];
        if let Visited::Map(map) = &self.visited {
            for (&key, &index) in map {
                // (A key inserted just before the bound stopped the run was not stored.)
                if (index as usize) < self.states {
                    keys[index as usize] = key;
                }
            }
        }
        let parents = match &self.parents {
            Parents::Pairs(pairs) => pairs[..self.states - 1].to_vec(),
            Parents::Log(_) => unreachable!("a check with a checkpoint keeps parent pairs"),
        };
        let (read_slots, read_tasks) = self.reads.flags();
        Saved {
            program: self.world.fingerprint(),
            slots: self.world.heap.slot_count() as u32,
            tasks: self.world.tasks() as u32,
            signature: self.check.signature(),
            transitions: self.transitions,
            depth: self.depth,
            peak_frontier: self.peak_frontier as u64,
            reduced: self.reduced,
            keys,
            parents,
            frontier,
            terminal: self.terminal.clone(),
            level_first: self.level_first.clone(),
            read_slots,
            read_tasks,
            graph: self.graph.as_ref().map(|g| SavedGraph {
                edges: g.edges.clone(),
                postponed: g.postponed.clone(),
                labels: g.labels.bits.clone(),
            }),
        }
    }

    /// Takes over a checkpoint's visited set, parent links, counters and graph; `initial` is
    /// the key of this world's initial state.
    pub(super) fn restore(
        &mut self,
        saved: &Saved,
        path: &Path,
        initial: u64,
    ) -> Result<(), CheckpointError> {
        if saved.keys[0] != initial {
            return Err(CheckpointError::Diverged {
                path: path.to_path_buf(),
                state: 0,
                source: None,
            });
        }
        let corrupted = |detail: &str| CheckpointError::Corrupted {
            path: path.to_path_buf(),
            detail: detail.into(),
        };
        for (index, &key) in saved.keys.iter().enumerate() {
            if self.visited.insert(key, index as u32).is_err() {
                return Err(corrupted("a state is stored twice"));
            }
        }
        self.states = saved.keys.len();
        self.parents = Parents::Pairs(saved.parents.clone());
        self.transitions = saved.transitions;
        self.depth = saved.depth;
        self.peak_frontier = saved.peak_frontier as usize;
        self.reduced = saved.reduced;
        self.terminal = saved.terminal.clone();
        if !saved.level_first.is_empty() {
            self.level_first = saved.level_first.clone();
        }
        if let (Some(graph), Some(log)) = (&saved.graph, &mut self.graph) {
            if graph.labels.len() != log.labels.bits.len() {
                return Err(corrupted("labels for another number of properties"));
            }
            log.edges = graph.edges.clone();
            log.postponed = graph.postponed.clone();
            log.labels.bits = graph.labels.clone();
        }
        Ok(())
    }

    /// The record of the state the step labels `steps` reach from the initial record
    /// `initial` (index 0, depth the number of steps): the steps run (or are looked up in the
    /// memo) as in the exploration. `Err` if a step fails (`Some`) or a label does not fit the
    /// state (`None`).
    pub(super) fn replay_row(
        &mut self,
        initial: &[u32],
        steps: &[u32],
        scratch: &mut Scratch,
    ) -> Result<Vec<u32>, Option<Error>> {
        let slots = self.world.heap.slot_count();
        let mut row = initial.to_vec();
        let mut writes = Vec::new();
        let mut spawned = Vec::new();
        for (depth, &step_label) in steps.iter().enumerate() {
            let task = (step_label & TASK_MASK) as usize;
            let alternative = (step_label >> ALTERNATIVE_SHIFT) as usize;
            let tasks = row[4] as usize;
            if task >= tasks {
                return Err(None);
            }
            let goto_id = row[HEADER + slots + task];
            let entry = &self.interned.gotos[goto_id as usize];
            if entry.exit {
                return Err(None);
            }
            let pending_choice = entry.alternatives.is_some();
            spawned.clear();
            let next = if pending_choice {
                writes.clear();
                goto_id
            } else if self.memoized(goto_id, &row[HEADER..HEADER + slots], &mut writes) {
                self.memo_next
            } else {
                self.step(
                    scratch,
                    &row[HEADER..HEADER + slots],
                    task as u32,
                    goto_id,
                    depth as u32,
                    &mut writes,
                    &mut spawned,
                )
                .map_err(Some)?
            };
            let next = match &self.interned.gotos[next as usize].alternatives {
                None if alternative == 0 => next,
                None => return Err(None),
                Some(alternatives) => *alternatives.get(alternative).ok_or(None)?,
            };
            let mut ids: Vec<u32> = body(&row).to_vec();
            for &(slot, _, after) in &writes {
                ids[slot as usize] = after;
            }
            ids[slots + task] = next;
            for (i, first) in spawned.drain(..).enumerate() {
                let position = (tasks + i) as u32;
                let term = task_term(position, &first);
                ids.push(self.interned.goto(position, first, term));
            }
            let objects = &self.interned.objects;
            let gotos = &self.interned.gotos;
            let fingerprint = ids[..slots]
                .iter()
                .map(|&id| objects[id as usize].term)
                .chain(ids[slots..].iter().map(|&id| gotos[id as usize].term))
                .fold(0u64, u64::wrapping_add);
            row.clear();
            row.resize(HEADER, 0);
            row.extend_from_slice(&ids);
            row.push(0);
            set_header(&mut row, slots, 0, depth as u32 + 1, fingerprint);
        }
        Ok(row)
    }
}
