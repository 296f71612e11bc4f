//! The exploration loop: nodes taken from the frontier (prefetching their successors' buckets
//! of the visited table ahead), each task's step applied (memoized or run, see `step.rs`), and
//! the successors bounded, stored and queued.

use super::*;

impl Explorer<'_> {
    pub(super) fn run(&mut self) -> Option<Found> {
        let world = self.world;
        let slots = world.heap.slot_count();
        let tasks = world.tasks();
        assert!(
            tasks <= TASK_MASK as usize,
            "the checker labels steps with 24-bit task ids: at most {TASK_MASK} tasks"
        );

        // The initial state, interned.
        let mut state: Vec<u32> = vec![0; HEADER + slots + tasks + 1];
        let mut fingerprint = 0u64;
        for slot in 0..slots as u32 {
            let object = world.heap.object(slot);
            let term = slot_term(slot, object);
            state[HEADER + slot as usize] = self.interned.object(slot, object, term);
            fingerprint = fingerprint.wrapping_add(term);
        }
        for task in 0..tasks as u32 {
            let goto = world.pending[task as usize].clone();
            let term = task_term(task, &goto);
            state[HEADER + slots + task as usize] = self.interned.goto(task, goto, term);
            fingerprint = fingerprint.wrapping_add(term);
        }
        debug_assert_eq!(fingerprint, world.fingerprint());
        set_header(&mut state, slots, 0, 0, fingerprint);
        let key = self.class_of(body(&state), fingerprint);
        let resumed = self.resume.take();
        if let Some((saved, path)) = &resumed {
            if let Err(error) = self.restore(saved, path, key) {
                self.resume_error = Some(error);
                return None;
            }
        } else {
            let _ = self.visited.insert(key, 0);
            self.states = 1;
            if let Some(found) = self.stored(0, body(&state), fingerprint) {
                return Some(found);
            }
        }
        // Reads the properties make in the initial state are known before any reduction.
        self.reads.settle();

        // Runs the steps the memo has not seen.
        let mut scratch = Scratch {
            heap: world.heap.clone(),
            ids: state[HEADER..HEADER + slots].to_vec(),
        };
        let mut frontier = Frontier::new(self.check.depth_first, slots);
        match &resumed {
            None => frontier.push(&state),
            Some((saved, path)) => {
                // Depth-first, the frontier is a stack: pushed in reverse, popped in order.
                let order: Vec<u32> = if self.check.depth_first {
                    saved.frontier.iter().rev().copied().collect()
                } else {
                    // Breadth-first the frontier is the states after the last expanded one,
                    // in order, and its indices are implicit.
                    let first = saved.frontier.first().copied().unwrap_or(0);
                    if !saved.frontier.iter().zip(first..).all(|(&s, i)| s == i) {
                        self.resume_error = Some(CheckpointError::Corrupted {
                            path: path.clone(),
                            detail: "a breadth-first frontier out of order".into(),
                        });
                        return None;
                    }
                    frontier.first_index(first);
                    saved.frontier.clone()
                };
                for index in order {
                    let steps = self.path(index);
                    let row = match self.replay_row(&state, &steps, &mut scratch) {
                        Ok(row)
                            if self.class_of(body(&row), header(&row).2)
                                == saved.keys[index as usize] =>
                        {
                            row
                        }
                        other => {
                            self.resume_error = Some(CheckpointError::Diverged {
                                path: path.clone(),
                                state: index,
                                source: other.err().flatten(),
                            });
                            return None;
                        }
                    };
                    let mut row = row;
                    let len = row.len();
                    row[0] = index;
                    row[len - 1] = len as u32;
                    frontier.push(&row);
                }
                self.peak_frontier = self.peak_frontier.max(frontier.len());
            }
        }
        let mut node: Vec<u32> = Vec::with_capacity(state.len());
        let mut next_state: Vec<u32> = Vec::with_capacity(state.len());
        // (slot, object id before, after) of the gears the current step wrote.
        let mut writes: Vec<(u32, u32, u32)> = Vec::new();
        // The tasks the current step spawned, and their ids and terms in the successor.
        let mut spawned: Vec<Goto> = Vec::new();
        let mut spawned_ids: Vec<u32> = Vec::new();
        // Per task of the node being expanded: its memoized step (`Learnt::UNKNOWN` if it has
        // to run), found in a first pass that prefetches the successors' slots of the visited
        // table.
        let mut pre: Vec<Learnt> = Vec::new();
        let prefetching = matches!(self.visited, Visited::Set(_)) && !self.symmetry;
        let mut last_progress = Instant::now();
        let mut expanded: u64 = 0;
        let mut cut = false;
        let always_build = self.symmetry || !self.check.actions.is_empty();
        let mut first = true;
        // Breadth-first, the nodes after the one being expanded are taken from the frontier
        // early and their successors' buckets of the visited table prefetched then,
        // [`LOOKAHEAD`] expansions ahead of their insertions (prefetching at the start of the
        // same expansion was too late to hide the miss, which was a third of the check's
        // time). Depth-first, the next node is one this expansion pushes, so there is no
        // lookahead.
        let lookahead = prefetching && !self.check.depth_first;
        let mut window: VecDeque<Ahead> = VecDeque::with_capacity(LOOKAHEAD + 1);
        let mut spare: Vec<Ahead> = Vec::with_capacity(LOOKAHEAD + 1);
        while !window.is_empty() || !frontier.is_empty() {
            // The previous node is done (breadth-first parent links count children per node).
            if !first {
                self.parents.expanded();
            }
            first = false;
            if lookahead {
                while window.len() <= LOOKAHEAD && !frontier.is_empty() {
                    let mut ahead = spare.pop().unwrap_or_default();
                    frontier.pop(&mut ahead.node, false, slots);
                    let (_, _, fingerprint) = header(&ahead.node);
                    let tasks = ahead.node[4] as usize;
                    self.prefetch_successors(
                        &ahead.node,
                        slots,
                        tasks,
                        fingerprint,
                        &mut ahead.pre,
                    );
                    window.push_back(ahead);
                }
                let mut current = window.pop_front().expect("a node is waiting");
                std::mem::swap(&mut node, &mut current.node);
                std::mem::swap(&mut pre, &mut current.pre);
                spare.push(current);
            } else {
                frontier.pop(&mut node, self.check.depth_first, slots);
            }
            let (index, depth, fingerprint) = header(&node);
            let tasks = node[4] as usize;
            let mark = NodeMark {
                transitions: self.transitions,
                edges: self.graph.as_ref().map_or(0, |g| g.edges.len()),
                postponed: self.graph.as_ref().map_or(0, |g| g.postponed.len()),
            };
            expanded += 1;
            if self.check.progress && expanded.is_multiple_of(1 << 14) {
                self.progress(&mut last_progress, frontier.len());
            }
            let gotos = &self.interned.gotos;
            let task_ids = HEADER + slots..HEADER + slots + tasks;
            if node[task_ids.clone()]
                .iter()
                .all(|&id| gotos[id as usize].exit)
            {
                continue;
            }
            if depth >= self.check.max_depth {
                cut = true;
                continue;
            }
            if prefetching && !lookahead {
                self.prefetch_successors(&node, slots, tasks, fingerprint, &mut pre);
            }
            let mut all_self_loops = true;
            // With an ample set, its tasks come first; the rest only if the reduction fails.
            let ample = if self.por {
                self.ample_set(&node, slots, tasks)
            } else {
                None
            };
            let mut reduction_holds = true;
            // With liveness properties, the tasks a reduced state postpones are still probed:
            // whether each is enabled is recorded for the fairness analysis, nothing stored.
            let mut probing = false;
            for position in 0..tasks {
                if ample == Some(position) && reduction_holds {
                    self.reduced += 1;
                    if self.graph.is_none() {
                        break;
                    }
                    probing = true;
                }
                let task = if ample.is_some() {
                    self.ample.order[position]
                } else {
                    position as u32
                };
                let goto_id = node[HEADER + slots + task as usize];
                let entry = &self.interned.gotos[goto_id as usize];
                if entry.exit {
                    continue;
                }
                if !probing {
                    self.transitions += 1;
                }
                spawned.clear();
                // A step memoized in the first pass leaves its writes to be rebuilt only if a
                // successor needs them (`lazy`): most successors are self-loops or visited.
                let mut lazy = None;
                let (next, mut base) = if entry.alternatives.is_some() {
                    // A choice pending from the start: resolving it is the step.
                    writes.clear();
                    (goto_id, fingerprint.wrapping_sub(entry.term))
                } else if let Some(learnt) = pre.get(task as usize)
                    && learnt.outputs.next != NONE
                {
                    lazy = Some(*learnt);
                    (learnt.outputs.next, fingerprint.wrapping_add(learnt.delta))
                } else {
                    let next = if self.memoized(goto_id, &node[HEADER..HEADER + slots], &mut writes)
                    {
                        self.memo_next
                    } else {
                        match self.step(
                            &mut scratch,
                            &node[HEADER..HEADER + slots],
                            task,
                            goto_id,
                            depth,
                            &mut writes,
                            &mut spawned,
                        ) {
                            Ok(next) => next,
                            Err(error) => return Some(Found::Error(error, index, task)),
                        }
                    };
                    (
                        next,
                        step::base(&self.interned, fingerprint, goto_id, &writes),
                    )
                };
                spawned_ids.clear();
                if probing {
                    if !spawned.is_empty() || self.changes_state(next, base, fingerprint) {
                        let graph = self.graph.as_mut().expect("probing only with the graph");
                        graph.postponed.push((index, task));
                    }
                    continue;
                }
                if !spawned.is_empty() {
                    reduction_holds = false;
                    if tasks + spawned.len() > TASK_MASK as usize {
                        let error = crate::error::Error::from(crate::error::ErrorKind::Stopped {
                            reason: format!(
                                "the checker labels steps with 24-bit task ids: at most {TASK_MASK} tasks"
                            ),
                        });
                        return Some(Found::Error(error, index, task));
                    }
                    for (i, first) in spawned.drain(..).enumerate() {
                        let position = (tasks + i) as u32;
                        let term = task_term(position, &first);
                        spawned_ids.push(self.interned.goto(position, first, term));
                        base = base.wrapping_add(term);
                    }
                }
                let choices = match &self.interned.gotos[next as usize].alternatives {
                    None => 1,
                    Some(alternatives) if alternatives.is_empty() => {
                        let error = crate::world::choice::no_alternative()
                            .at(
                                self.interned.gotos[goto_id as usize].goto.code_gear().name,
                                u64::from(depth),
                            )
                            .in_task(task);
                        return Some(Found::Error(error, index, task));
                    }
                    Some(alternatives) => alternatives.len().min(MAX_ALTERNATIVES),
                };
                for alternative in 0..choices {
                    let next = match &self.interned.gotos[next as usize].alternatives {
                        None => next,
                        Some(alternatives) => alternatives[alternative],
                    };
                    let successor = base.wrapping_add(self.interned.gotos[next as usize].term);
                    if successor == fingerprint && spawned_ids.is_empty() {
                        // A waiting step is a disabled transition: no reduction through it.
                        reduction_holds = false;
                        continue;
                    }
                    all_self_loops = false;
                    let step_label = label(task, alternative);
                    let mut build = |next_state: &mut Vec<u32>, interned: &Interned| {
                        if let Some(learnt) = lazy.take() {
                            learnt.writes(
                                interned,
                                goto_id,
                                &node[HEADER..HEADER + slots],
                                &mut writes,
                            );
                        }
                        step::build_successor(
                            next_state,
                            &node,
                            slots,
                            &writes,
                            task,
                            next,
                            &spawned_ids,
                        );
                    };
                    if always_build {
                        build(&mut next_state, &self.interned);
                        set_header(&mut next_state, slots, 0, depth + 1, successor);
                        if let Some(name) = self.failed_action(body(&node), body(&next_state)) {
                            return Some(Found::Action(name, index, step_label));
                        }
                        if self.por && self.reads.settle() && self.reduced > 0 {
                            self.restart = true;
                            return None;
                        }
                    }
                    let key = if self.symmetry {
                        self.class_of(body(&next_state), successor)
                    } else {
                        successor
                    };
                    let new_index = self.states as u32;
                    self.uncounted += 1;
                    if self.uncounted >= 4096 || self.visited.near_growth() {
                        self.uncounted = 0;
                        // Counted before the tables grow: a check ends with a verdict, not
                        // with the allocator failing.
                        let now = self.memory(&frontier);
                        self.peak_bytes = self.peak_bytes.max(now);
                        let growth = self.visited.growth_bytes() + frontier.capacity_bytes();
                        let bound = if now + growth > self.check.max_memory {
                            Some(Bound::MaxMemory(self.check.max_memory))
                        } else if let Some(limit) = self.check.max_time
                            && self.started.elapsed() >= limit
                        {
                            Some(Bound::MaxTime(limit))
                        } else if let Some(flag) = &self.check.stop
                            && flag.load(Ordering::Relaxed)
                        {
                            Some(Bound::Stopped)
                        } else {
                            None
                        };
                        if let Some(bound) = bound {
                            self.suspend(
                                &mut frontier,
                                index,
                                window.iter().map(|ahead| header(&ahead.node).0),
                                mark,
                                slots,
                            );
                            return Some(Found::Bound(bound));
                        }
                    }
                    if let Err(existing) = self.visited.insert(key, new_index) {
                        if let Some(graph) = &mut self.graph {
                            graph.edges.push((index, existing, step_label));
                        }
                        // The cycle proviso: a reduced edge must not close a cycle. Breadth-
                        // first, an edge to a state of the next level (discovered from this
                        // level) cannot: every cycle has an edge that does not go one level
                        // down, and that edge is one of a fully expanded state.
                        let next_level = self.level_first.get(depth as usize + 1).copied();
                        if self.check.depth_first || next_level.is_none_or(|first| existing < first)
                        {
                            reduction_holds = false;
                        }
                        continue;
                    }
                    if !always_build {
                        build(&mut next_state, &self.interned);
                    }
                    if self.states >= self.check.max_states {
                        self.suspend(
                            &mut frontier,
                            index,
                            window.iter().map(|ahead| header(&ahead.node).0),
                            mark,
                            slots,
                        );
                        return Some(Found::Bound(Bound::MaxStates(self.check.max_states)));
                    }
                    self.parents.child(index, step_label);
                    self.states += 1;
                    if self.level_first.len() == depth as usize + 1 {
                        self.level_first.push(new_index);
                    }
                    if let Some(graph) = &mut self.graph {
                        graph.edges.push((index, new_index, step_label));
                    }
                    set_header(&mut next_state, slots, new_index, depth + 1, successor);
                    if let Some(found) = self.stored(new_index, body(&next_state), successor) {
                        return Some(found);
                    }
                    if self.restart {
                        return None;
                    }
                    self.depth = self.depth.max(depth + 1);
                    frontier.push(&next_state);
                    // Waiting: in the frontier, and taken ahead of their expansion (decoded,
                    // as plain words).
                    let waiting = frontier.len() + window.len();
                    if waiting > self.peak_frontier {
                        self.peak_frontier = waiting;
                        self.peak_frontier_bytes = frontier.used_bytes()
                            + window.iter().map(|a| a.node.len() * 4).sum::<usize>();
                    }
                }
            }
            if all_self_loops && self.check.deadlocks {
                return Some(Found::Deadlock(index));
            }
        }
        cut.then_some(Found::Bound(Bound::MaxDepth(self.check.max_depth)))
    }

    /// Whether a step whose successor is `base` plus the term of transition `next` (or, for a
    /// choice, of one of its alternatives) leaves the state with fingerprint `fingerprint`.
    fn changes_state(&self, next: u32, base: u64, fingerprint: u64) -> bool {
        let gotos = &self.interned.gotos;
        match &gotos[next as usize].alternatives {
            None => base.wrapping_add(gotos[next as usize].term) != fingerprint,
            Some(alternatives) => alternatives
                .iter()
                .any(|&a| base.wrapping_add(gotos[a as usize].term) != fingerprint),
        }
    }

    /// The first pass over a node's tasks: looks up each step in the memo, records it in
    /// `pre` (`Learnt::UNKNOWN` if it has to run), and prefetches where each successor's
    /// fingerprint would be in the visited table.
    pub(super) fn prefetch_successors(
        &mut self,
        node: &[u32],
        slots: usize,
        tasks: usize,
        fingerprint: u64,
        pre: &mut Vec<Learnt>,
    ) {
        pre.clear();
        let slot_ids = &node[HEADER..HEADER + slots];
        for &goto_id in &node[HEADER + slots..HEADER + slots + tasks] {
            let gotos = &self.interned.gotos;
            let entry = &gotos[goto_id as usize];
            let learnt = if entry.exit || entry.alternatives.is_some() {
                None
            } else {
                step::memo_key(&self.interned, goto_id, slot_ids)
                    .and_then(|inputs| self.memo.get(&inputs))
            };
            let Some(learnt) = learnt else {
                pre.push(Learnt::UNKNOWN);
                continue;
            };
            pre.push(learnt);
            let gotos = &self.interned.gotos;
            let base = fingerprint.wrapping_add(learnt.delta);
            let next = &gotos[learnt.outputs.next as usize];
            match &next.alternatives {
                None => self.visited.prefetch(base.wrapping_add(next.term)),
                Some(alternatives) => {
                    for &alternative in alternatives.iter() {
                        self.visited
                            .prefetch(base.wrapping_add(gotos[alternative as usize].term));
                    }
                }
            }
        }
    }

    /// Whether the memo has the step of transition `goto_id` from a state with object ids
    /// `slot_ids`; if so, its writes are in `writes` and its next transition in `memo_next`.
    #[inline]
    pub(super) fn memoized(
        &mut self,
        goto_id: u32,
        slot_ids: &[u32],
        writes: &mut Vec<(u32, u32, u32)>,
    ) -> bool {
        let Some(inputs) = step::memo_key(&self.interned, goto_id, slot_ids) else {
            return false;
        };
        let Some(learnt) = self.memo.get(&inputs) else {
            return false;
        };
        self.memo_next = step::memo_hit(&self.interned, &inputs, &learnt.outputs, writes);
        true
    }

    /// Runs the step of `task` (transition `goto_id`) on the scratch heap, interns what it
    /// produced, fills `writes`, memoizes it if it can, and returns the next transition's id.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn step(
        &mut self,
        scratch: &mut Scratch,
        slot_ids: &[u32],
        task: u32,
        goto_id: u32,
        depth: u32,
        writes: &mut Vec<(u32, u32, u32)>,
        spawned: &mut Vec<Goto>,
    ) -> Result<u32, Error> {
        let metas = &self.world.metas;
        let fresh = step::run_step(
            scratch,
            &mut self.interned,
            slot_ids,
            task,
            goto_id,
            depth,
            writes,
            spawned,
            // Metas installed with `World::observe_meta` see the step (issue 13's hook).
            |seen, next| metas.observe(task, u64::from(depth), seen, next),
        )?;
        match fresh {
            Fresh::Next(next, memo) => {
                if let Some((inputs, outputs)) = memo {
                    self.memo.insert(&self.interned, inputs, outputs);
                }
                Ok(next)
            }
            Fresh::Unknown => unreachable!("the single worker's tables give every value an id"),
        }
    }
}
