//! The explorer: breadth-first (or depth-first) over collapse-compressed states, with memoized
//! steps, and the replay of counterexamples.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Check;
use super::intern::{FingerprintSet, Interned, MAX_TAKEN, NONE, StepInputs, StepOutputs};
use super::report::{Bound, Report, TraceStep, Verdict, Violation, ViolationKind};
use super::view::View;
use crate::code::Goto;
use crate::error::Error;
use crate::heap::Heap;
use crate::world::fingerprint::{FpHasher, slot_term, task_term};
use crate::world::{World, step_task};

const NO_PARENT: u32 = u32::MAX;

/// Words of a frontier record before the component ids: index, depth, fingerprint (2).
const HEADER: usize = 4;

struct Explorer<'w> {
    world: &'w World,
    check: Check,
    visited: FingerprintSet,
    /// Per stored state: (parent index, task that stepped).
    parents: Vec<(u32, u32)>,
    transitions: u64,
    depth: u32,
    peak_frontier: usize,
    terminal: Vec<u64>,
    interned: Interned,
    memo: HashMap<StepInputs, StepOutputs, BuildHasherDefault<FpHasher>>,
    /// The next transition of the last memo hit.
    memo_next: u32,
}

enum Found {
    /// Invariant `name` is false in stored state `index`.
    Always(String, u32),
    /// Task `task`'s step from state `index` failed.
    Error(Error, u32, u32),
    /// State `index` is a deadlock.
    Deadlock(u32),
    Bound(Bound),
}

pub(in crate::world) fn explore(world: &World, check: Check) -> Report {
    let started = Instant::now();
    let mut explorer = Explorer {
        world,
        check,
        visited: FingerprintSet::default(),
        parents: Vec::new(),
        transitions: 0,
        depth: 0,
        peak_frontier: 0,
        terminal: Vec::new(),
        interned: Interned {
            heap_id: world.heap.id(),
            slots: world.heap.slot_count(),
            objects: Vec::new(),
            object_ids: HashMap::default(),
            gotos: Vec::new(),
            goto_ids: HashMap::default(),
        },
        memo: HashMap::default(),
        memo_next: NONE,
    };
    let found = explorer.run();
    let verdict = match found {
        None => Verdict::Holds,
        Some(Found::Bound(bound)) => Verdict::Incomplete(bound),
        Some(found) => Verdict::Violated(explorer.counterexample(found)),
    };
    let states = explorer.parents.len() as u64;
    let stored = explorer.visited.capacity() * (size_of::<u64>() + 1)
        + explorer.parents.capacity() * size_of::<(u32, u32)>();
    explorer.terminal.sort_unstable();
    Report {
        tasks: world.tasks(),
        states,
        transitions: explorer.transitions,
        depth: explorer.depth,
        elapsed: started.elapsed(),
        bytes_per_state: stored as f64 / states.max(1) as f64,
        peak_frontier: explorer.peak_frontier,
        frontier_bytes_per_state: (HEADER + world.heap.slot_count() + world.tasks())
            * size_of::<u32>(),
        interned: (
            explorer.interned.objects.len() + explorer.interned.gotos.len(),
            explorer.interned.bytes(),
        ),
        verdict,
        invariants: explorer
            .check
            .invariants
            .iter()
            .map(|(name, _)| name.clone())
            .collect(),
        deadlocks: explorer.check.deadlocks,
        terminal: explorer.terminal,
    }
}

fn set_header(record: &mut [u32], index: u32, depth: u32, fingerprint: u64) {
    record[0] = index;
    record[1] = depth;
    record[2] = fingerprint as u32;
    record[3] = (fingerprint >> 32) as u32;
}

fn header(record: &[u32]) -> (u32, u32, u64) {
    (
        record[0],
        record[1],
        u64::from(record[2]) | (u64::from(record[3]) << 32),
    )
}

impl Explorer<'_> {
    fn run(&mut self) -> Option<Found> {
        let world = self.world;
        let slots = world.heap.slot_count();
        let tasks = world.tasks();
        let stride = HEADER + slots + tasks;

        // The initial state, interned.
        let mut state: Vec<u32> = vec![0; stride];
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
        set_header(&mut state, 0, 0, fingerprint);
        self.visited
            .insert(self.class_of(&state[HEADER..], fingerprint));
        self.parents.push((NO_PARENT, 0));
        if let Some(found) = self.stored(0, &state[HEADER..], fingerprint) {
            return Some(found);
        }

        // Runs the steps the memo has not seen; holds the object of `scratch_ids` per slot.
        let mut scratch = world.heap.clone();
        let mut scratch_ids: Vec<u32> = state[HEADER..HEADER + slots].to_vec();
        let mut frontier: VecDeque<u32> = VecDeque::new();
        frontier.extend(&state);
        let mut node: Vec<u32> = vec![0; stride];
        let mut next_state: Vec<u32> = vec![0; stride];
        // (slot, object id before, after) of the gears the current step wrote.
        let mut writes: Vec<(u32, u32, u32)> = Vec::new();
        let mut last_progress = Instant::now();
        let mut expanded: u64 = 0;
        let mut cut = false;
        while !frontier.is_empty() {
            if self.check.depth_first {
                let at = frontier.len() - stride;
                for (word, value) in node.iter_mut().zip(frontier.drain(at..)) {
                    *word = value;
                }
            } else {
                for (word, value) in node.iter_mut().zip(frontier.drain(..stride)) {
                    *word = value;
                }
            }
            let (index, depth, fingerprint) = header(&node);
            expanded += 1;
            if self.check.progress && expanded.is_multiple_of(1 << 14) {
                self.progress(&mut last_progress, frontier.len() / stride);
            }
            let gotos = &self.interned.gotos;
            if node[HEADER + slots..]
                .iter()
                .all(|&id| gotos[id as usize].exit)
            {
                continue;
            }
            if depth >= self.check.max_depth {
                cut = true;
                continue;
            }
            let mut all_self_loops = true;
            for task in 0..tasks as u32 {
                let goto_id = node[HEADER + slots + task as usize];
                if self.interned.gotos[goto_id as usize].exit {
                    continue;
                }
                self.transitions += 1;
                let next = if self.memoized(goto_id, &node[HEADER..HEADER + slots], &mut writes) {
                    self.memo_next
                } else {
                    match self.step(
                        &mut scratch,
                        &mut scratch_ids,
                        &node[HEADER..HEADER + slots],
                        task,
                        goto_id,
                        depth,
                        &mut writes,
                    ) {
                        Ok(next) => next,
                        Err(error) => return Some(Found::Error(error, index, task)),
                    }
                };
                let mut successor = fingerprint
                    .wrapping_sub(self.interned.gotos[goto_id as usize].term)
                    .wrapping_add(self.interned.gotos[next as usize].term);
                for &(_, before, after) in &writes {
                    successor = successor
                        .wrapping_sub(self.interned.objects[before as usize].term)
                        .wrapping_add(self.interned.objects[after as usize].term);
                }
                if successor == fingerprint {
                    continue;
                }
                all_self_loops = false;
                let build = |next_state: &mut [u32]| {
                    next_state.copy_from_slice(&node);
                    for &(slot, _, after) in &writes {
                        next_state[HEADER + slot as usize] = after;
                    }
                    next_state[HEADER + slots + task as usize] = next;
                };
                if self.check.symmetry.is_some() {
                    build(&mut next_state);
                    if !self
                        .visited
                        .insert(self.class_of(&next_state[HEADER..], successor))
                    {
                        continue;
                    }
                } else {
                    if !self.visited.insert(successor) {
                        continue;
                    }
                    build(&mut next_state);
                }
                if self.parents.len() >= self.check.max_states {
                    return Some(Found::Bound(Bound::MaxStates(self.check.max_states)));
                }
                let new_index = self.parents.len() as u32;
                self.parents.push((index, task));
                set_header(&mut next_state, new_index, depth + 1, successor);
                if let Some(found) = self.stored(new_index, &next_state[HEADER..], successor) {
                    return Some(found);
                }
                self.depth = self.depth.max(depth + 1);
                frontier.extend(&next_state);
                self.peak_frontier = self.peak_frontier.max(frontier.len() / stride);
            }
            if all_self_loops && self.check.deadlocks {
                return Some(Found::Deadlock(index));
            }
        }
        cut.then_some(Found::Bound(Bound::MaxDepth(self.check.max_depth)))
    }

    /// What the visited set stores for a state: its fingerprint, or with symmetry reduction the
    /// user's key of its symmetry class.
    fn class_of(&self, ids: &[u32], fingerprint: u64) -> u64 {
        match &self.check.symmetry {
            None => fingerprint,
            Some(canonical) => {
                let (slots, tasks) = ids.split_at(self.world.heap.slot_count());
                canonical(&View {
                    layout: &self.world.heap,
                    slots,
                    tasks,
                    interned: &self.interned,
                })
            }
        }
    }

    /// Whether the memo has the step of transition `goto_id` from a state with object ids
    /// `slot_ids`; if so, its writes are in `writes` and its next transition in `memo_next`.
    #[inline]
    fn memoized(
        &mut self,
        goto_id: u32,
        slot_ids: &[u32],
        writes: &mut Vec<(u32, u32, u32)>,
    ) -> bool {
        let entry = &self.interned.gotos[goto_id as usize];
        if !entry.memoizable {
            return false;
        }
        let mut inputs = StepInputs {
            goto: goto_id,
            taken: [NONE; MAX_TAKEN],
        };
        for (i, &(slot, _)) in entry.taken.iter().enumerate() {
            inputs.taken[i] = slot_ids[slot as usize];
        }
        let Some(outputs) = self.memo.get(&inputs) else {
            return false;
        };
        writes.clear();
        for (i, &(slot, is_mut)) in entry.taken.iter().enumerate() {
            if is_mut && inputs.taken[i] != outputs.taken[i] {
                writes.push((slot, inputs.taken[i], outputs.taken[i]));
            }
        }
        self.memo_next = outputs.next;
        true
    }

    /// Runs the step of `task` (transition `goto_id`) on the scratch heap, interns what it
    /// produced, fills `writes`, memoizes it if it can, and returns the next transition's id.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        scratch: &mut Heap,
        scratch_ids: &mut [u32],
        slot_ids: &[u32],
        task: u32,
        goto_id: u32,
        depth: u32,
        writes: &mut Vec<(u32, u32, u32)>,
    ) -> Result<u32, Error> {
        // The scratch heap becomes this state (only the slots that differ are replaced).
        for (slot, (&want, have)) in slot_ids.iter().zip(scratch_ids.iter_mut()).enumerate() {
            if want != *have {
                scratch.put_object(
                    slot as u32,
                    self.interned.objects[want as usize].object.clone(),
                );
                *have = want;
            }
        }
        let entry = &self.interned.gotos[goto_id as usize];
        let goto = entry.goto.clone();
        let next = step_task(scratch, task, goto, u64::from(depth))?;
        let next_term = task_term(task, &next);
        let next_id = self.interned.goto(task, next, next_term);
        let entry = &self.interned.gotos[goto_id as usize];
        let taken = entry.taken.clone();
        let memoizable = entry.memoizable;
        let mut inputs = StepInputs {
            goto: goto_id,
            taken: [NONE; MAX_TAKEN],
        };
        let mut outputs = StepOutputs {
            next: next_id,
            taken: [NONE; MAX_TAKEN],
        };
        writes.clear();
        for (i, &(slot, is_mut)) in taken.iter().enumerate() {
            let before = slot_ids[slot as usize];
            let mut after = before;
            if is_mut && !writes.iter().any(|&(written, _, _)| written == slot) {
                let object = scratch.object(slot);
                let unchanged = match (&self.interned.objects[before as usize].object, object) {
                    (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                    (None, None) => true,
                    _ => false,
                };
                if !unchanged {
                    after = self.interned.object(slot, object, slot_term(slot, object));
                    writes.push((slot, before, after));
                }
            }
            if i < MAX_TAKEN {
                inputs.taken[i] = before;
                outputs.taken[i] = after;
            }
        }
        // Back to the state being expanded, for the next task.
        for &(slot, before, _) in writes.iter() {
            scratch.put_object(slot, self.interned.objects[before as usize].object.clone());
        }
        writes.retain(|&(_, before, after)| before != after);
        if memoizable {
            self.memo.insert(inputs, outputs);
        }
        Ok(next_id)
    }

    /// Checks a newly stored state.
    fn stored(&mut self, index: u32, ids: &[u32], fingerprint: u64) -> Option<Found> {
        let (slots, tasks) = ids.split_at(self.world.heap.slot_count());
        let gotos = &self.interned.gotos;
        let view = View {
            layout: &self.world.heap,
            slots,
            tasks,
            interned: &self.interned,
        };
        for (name, holds) in &self.check.invariants {
            if !holds(&view) {
                return Some(Found::Always(name.clone(), index));
            }
        }
        if self.check.terminal_states && tasks.iter().all(|&id| gotos[id as usize].exit) {
            self.terminal.push(fingerprint);
        }
        None
    }

    fn progress(&self, last: &mut Instant, frontier: usize) {
        if last.elapsed() >= Duration::from_secs(1) {
            *last = Instant::now();
            eprintln!(
                "check: {} states, {} transitions, depth {}, frontier {}",
                self.parents.len(),
                self.transitions,
                self.depth,
                frontier
            );
        }
    }

    /// The task choices from the initial state to stored state `index`.
    fn path(&self, mut index: u32) -> Vec<u32> {
        let mut tasks = Vec::new();
        while let Some(&(parent, task)) = self.parents.get(index as usize) {
            if parent == NO_PARENT {
                break;
            }
            tasks.push(task);
            index = parent;
        }
        tasks.reverse();
        tasks
    }

    /// Replays `path` from the initial state, printing each step.
    fn replay(&self, path: &[u32]) -> (Vec<TraceStep>, Heap, Vec<Goto>) {
        let mut heap = self.world.heap.clone();
        let mut pending = self.world.pending.clone();
        let mut trace = Vec::with_capacity(path.len());
        for (step, &task) in path.iter().enumerate() {
            let goto = pending[task as usize].clone();
            trace.push(TraceStep {
                task: task as usize,
                goto: format!("{goto:?}"),
            });
            pending[task as usize] = step_task(&mut heap, task, goto, step as u64)
                .expect("a recorded step replays as it ran (code gears are deterministic)");
        }
        (trace, heap, pending)
    }

    fn counterexample(&self, found: Found) -> Violation {
        match found {
            Found::Always(name, index) => Violation {
                kind: ViolationKind::Always(name),
                trace: self.replay(&self.path(index)).0,
                stuck: Vec::new(),
            },
            Found::Error(error, index, task) => {
                let (mut trace, _, pending) = self.replay(&self.path(index));
                trace.push(TraceStep {
                    task: task as usize,
                    goto: format!("{:?}", pending[task as usize]),
                });
                Violation {
                    kind: ViolationKind::Error(error),
                    trace,
                    stuck: Vec::new(),
                }
            }
            Found::Deadlock(index) => {
                let (trace, _, pending) = self.replay(&self.path(index));
                let stuck = pending
                    .iter()
                    .enumerate()
                    .filter(|(_, goto)| !goto.is_exit())
                    .map(|(task, goto)| TraceStep {
                        task,
                        goto: format!("{goto:?}"),
                    })
                    .collect();
                Violation {
                    kind: ViolationKind::Deadlock,
                    trace,
                    stuck,
                }
            }
            Found::Bound(_) => unreachable!("bounds are not counterexamples"),
        }
    }
}
