//! Liveness under fairness on the stored state graph: fair-cycle detection by strongly
//! connected components (the Emerson-Lei / Streett approach TLC and SPIN's `-f` implement in
//! their ways), and the lasso that shows a violation.
//!
//! # The question
//!
//! A liveness property is reduced to: *is there a fair run that, from some source state, stays
//! in the "bad" states forever?* For `eventually(p)` the source is the initial state and the bad
//! states are those where `p` is false; for `leads_to(p, q)` the sources are the reachable states
//! where `p ∧ ¬q` holds and the bad states those where `q` is false; "every task finishes" is
//! `eventually(all finished)` (finishing is permanent, so that is each task finishing).
//!
//! Let `R` be the states reachable from a source through bad states only. A run stays bad
//! forever iff it ends in `R` in one of two ways:
//!
//! - it **stops**: a state of `R` with no edge at all (every task finished, or every unfinished
//!   task's step leaves the state unchanged), where it stutters forever. Stuttering there is fair:
//!   no task is enabled.
//! - it **cycles**: it eventually stays inside one strongly connected component `C` of the graph
//!   restricted to `R`, taking every edge of `C` infinitely often (a run can, since `C` is
//!   strongly connected, and taking more edges only helps fairness).
//!
//! # Fairness of a component
//!
//! Edges are the steps that change the state (a step that does not waits, as in the deadlock
//! definition), so a task is *enabled* in a state iff it has an edge out of it. With `in(t)`:
//! `t` labels an edge from `C` to `C`, `en(t)`: `t` is enabled in some state of `C`, `all(t)`: in
//! every state of `C`:
//!
//! - **weak** fairness (enabled continuously ⇒ taken infinitely often): `C` hosts a fair run iff
//!   every task has `in(t)` or not `all(t)` (the run visits a state where `t` is disabled
//!   infinitely often). A sub-component never helps: `all(t)` and not `in(t)` hold in it too.
//! - **strong** fairness (enabled infinitely often ⇒ taken infinitely often): `C` is fair iff
//!   every task with `en(t)` has `in(t)`. If some task `t` fails, no fair run of `C` may visit a
//!   state where `t` is enabled infinitely often: those states are removed and the components of
//!   the rest examined in turn (each round removes at least one state, so it ends).
//!
//! Both are exact (sound and complete) for the stored graph. Components come from an iterative
//! Tarjan (linear in states and edges); the cost is a few passes over the graph, which the check
//! already holds in memory (12 bytes per edge while exploring, then 8 bytes per edge and 4 per
//! state in compressed rows).
//!
//! # The lasso
//!
//! The prefix is the shortest path from the initial state to the source (the exploration's
//! parents), then the shortest path through `R` to the component's closest state `c`. The cycle
//! starts at `c`, walks (breadth-first, inside `C`) to one edge of every task that has one in
//! `C`, and to a state where each task without one is disabled, and returns to `c`: a run that
//! repeats it is fair and never satisfies the property.

use std::collections::{HashMap, VecDeque};

use super::explore::TASK_MASK;

const UNSEEN: u32 = u32::MAX;
const SOURCE: u32 = u32::MAX - 1;

/// The stored state graph in compressed rows: the edges out of state `s` are
/// `offsets[s]..offsets[s + 1]` of `targets` and `labels` (`task | alternative << 24`).
pub(super) struct Graph {
    offsets: Vec<u32>,
    targets: Vec<u32>,
    labels: Vec<u32>,
    /// Tasks enabled in a state but not expanded there (partial-order reduction postponed
    /// them): `postponed[postponed_offsets[s]..postponed_offsets[s + 1]]`. Fairness is about
    /// the real program's enabledness, which the reduced graph's edges alone do not show.
    postponed_offsets: Vec<u32>,
    postponed: Vec<u32>,
}

impl Graph {
    /// Rows from `(from, to, label)` edges of `states` states, in any order (a counting sort).
    #[cfg(test)]
    pub(super) fn from_edges(states: usize, edges: Vec<(u32, u32, u32)>) -> Self {
        Self::reduced(states, edges, Vec::new())
    }

    /// Rows from `(from, to, label)` edges and from `(state, task)` pairs of tasks enabled in a
    /// state whose step there was not expanded (partial-order reduction), in any order.
    pub(super) fn reduced(
        states: usize,
        edges: Vec<(u32, u32, u32)>,
        postponed: Vec<(u32, u32)>,
    ) -> Self {
        let mut postponed_offsets = vec![0u32; states + 1];
        for &(state, _) in &postponed {
            postponed_offsets[state as usize + 1] += 1;
        }
        for s in 0..states {
            postponed_offsets[s + 1] += postponed_offsets[s];
        }
        let mut fill: Vec<u32> = postponed_offsets[..states].to_vec();
        let mut postponed_tasks = vec![0u32; postponed.len()];
        for (state, task) in postponed {
            postponed_tasks[fill[state as usize] as usize] = task;
            fill[state as usize] += 1;
        }
        let mut offsets = vec![0u32; states + 1];
        for &(from, _, _) in &edges {
            offsets[from as usize + 1] += 1;
        }
        for s in 0..states {
            offsets[s + 1] += offsets[s];
        }
        let mut fill: Vec<u32> = offsets[..states].to_vec();
        let mut targets = vec![0u32; edges.len()];
        let mut labels = vec![0u32; edges.len()];
        for (from, to, label) in edges {
            let at = fill[from as usize] as usize;
            fill[from as usize] += 1;
            targets[at] = to;
            labels[at] = label;
        }
        Self {
            offsets,
            targets,
            labels,
            postponed_offsets,
            postponed: postponed_tasks,
        }
    }

    /// The tasks enabled in `state` whose steps there are not edges of the graph.
    fn postponed(&self, state: u32) -> &[u32] {
        let (from, to) = (
            self.postponed_offsets[state as usize] as usize,
            self.postponed_offsets[state as usize + 1] as usize,
        );
        &self.postponed[from..to]
    }

    /// Whether `task` is enabled in `state`: it has an edge out of it, or was postponed there.
    fn enabled(&self, state: u32, task: usize) -> bool {
        self.edges(state)
            .any(|e| (self.labels[e] & TASK_MASK) as usize == task)
            || self.postponed(state).contains(&(task as u32))
    }

    fn edges(&self, state: u32) -> std::ops::Range<usize> {
        self.offsets[state as usize] as usize..self.offsets[state as usize + 1] as usize
    }

    fn states(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        (self.offsets.capacity()
            + self.targets.capacity()
            + self.labels.capacity()
            + self.postponed_offsets.capacity()
            + self.postponed.capacity())
            * 4
    }
}

/// A fair run that never leaves the bad states: from `source`, the steps `to_cycle`, then
/// `cycle` forever (empty: the run stops in the last state).
pub(super) struct Lasso {
    pub(super) source: u32,
    pub(super) to_cycle: Vec<u32>,
    pub(super) cycle: Vec<u32>,
}

/// Looks for a fair run that starts at one of `sources` and stays in `bad` states forever.
pub(super) fn find(
    graph: &Graph,
    sources: impl IntoIterator<Item = u32>,
    bad: &dyn Fn(u32) -> bool,
    strong: bool,
    tasks: usize,
) -> Option<Lasso> {
    let n = graph.states();
    // R: reachable from a source through bad states, breadth-first (shortest paths).
    let mut parent = vec![UNSEEN; n];
    let mut via = vec![0u32; n];
    let mut order: Vec<u32> = Vec::new();
    let mut queue = VecDeque::new();
    for source in sources {
        if bad(source) && parent[source as usize] == UNSEEN {
            parent[source as usize] = SOURCE;
            queue.push_back(source);
        }
    }
    while let Some(state) = queue.pop_front() {
        order.push(state);
        for e in graph.edges(state) {
            let to = graph.targets[e];
            if parent[to as usize] == UNSEEN && bad(to) {
                parent[to as usize] = state;
                via[to as usize] = graph.labels[e];
                queue.push_back(to);
            }
        }
    }
    let to_state = |state: u32| -> (u32, Vec<u32>) {
        let mut labels = Vec::new();
        let mut at = state;
        while parent[at as usize] != SOURCE {
            labels.push(via[at as usize]);
            at = parent[at as usize];
        }
        labels.reverse();
        (at, labels)
    };
    // A run that stops in R: the closest such state.
    if let Some(&stop) = order
        .iter()
        .find(|&&s| graph.edges(s).is_empty() && graph.postponed(s).is_empty())
    {
        let (source, to_cycle) = to_state(stop);
        return Some(Lasso {
            source,
            to_cycle,
            cycle: Vec::new(),
        });
    }
    // The rank of each state of R in breadth-first order: the closest component wins.
    let mut rank = vec![UNSEEN; n];
    for (i, &s) in order.iter().enumerate() {
        rank[s as usize] = i as u32;
    }
    let mut analysis = Analysis {
        graph,
        strong,
        tasks,
        tarjan: Tarjan::new(n),
        mark: vec![0; n],
        stamp: 0,
    };
    let in_r = |s: u32| rank[s as usize] != UNSEEN;
    let mut best: Option<(u32, Vec<u32>)> = None;
    for component in analysis.tarjan.components(graph, &order, &in_r) {
        if let Some(fair) = analysis.fair(component) {
            let closest = *fair
                .iter()
                .min_by_key(|&&s| rank[s as usize])
                .expect("a component has states");
            if best
                .as_ref()
                .is_none_or(|(entry, _)| rank[closest as usize] < rank[*entry as usize])
            {
                best = Some((closest, fair));
            }
        }
    }
    let (entry, component) = best?;
    let cycle = analysis.cycle(entry, &component);
    let (source, to_cycle) = to_state(entry);
    Some(Lasso {
        source,
        to_cycle,
        cycle,
    })
}

struct Analysis<'g> {
    graph: &'g Graph,
    strong: bool,
    tasks: usize,
    tarjan: Tarjan,
    /// `mark[s] == stamp`: `s` is in the component being examined.
    mark: Vec<u32>,
    stamp: u32,
}

/// Per task, over one component: whether it labels an edge inside it, in how many of its
/// states it is enabled, and one state where it is disabled.
struct TaskFacts {
    inside: Vec<Option<(u32, u32, u32)>>,
    enabled_in: Vec<u32>,
    disabled_at: Vec<Option<u32>>,
}

impl Analysis<'_> {
    fn enter(&mut self, component: &[u32]) {
        self.stamp += 1;
        for &s in component {
            self.mark[s as usize] = self.stamp;
        }
    }

    fn facts(&self, component: &[u32]) -> TaskFacts {
        let mut facts = TaskFacts {
            inside: vec![None; self.tasks],
            enabled_in: vec![0; self.tasks],
            disabled_at: vec![None; self.tasks],
        };
        let mut seen_at = vec![UNSEEN; self.tasks];
        for &s in component {
            for e in self.graph.edges(s) {
                let label = self.graph.labels[e];
                let task = (label & TASK_MASK) as usize;
                if seen_at[task] != s {
                    seen_at[task] = s;
                    facts.enabled_in[task] += 1;
                }
                let to = self.graph.targets[e];
                if facts.inside[task].is_none() && self.mark[to as usize] == self.stamp {
                    facts.inside[task] = Some((s, label, to));
                }
            }
            for &task in self.graph.postponed(s) {
                let task = task as usize;
                if seen_at[task] != s {
                    seen_at[task] = s;
                    facts.enabled_in[task] += 1;
                }
            }
            for (task, seen) in seen_at.iter().enumerate() {
                if *seen != s && facts.disabled_at[task].is_none() {
                    facts.disabled_at[task] = Some(s);
                }
            }
        }
        facts
    }

    /// The fair part of a component that hosts a fair run, if any (the component itself under
    /// weak fairness; possibly a sub-component under strong).
    fn fair(&mut self, component: Vec<u32>) -> Option<Vec<u32>> {
        self.enter(&component);
        let facts = self.facts(&component);
        let size = component.len() as u32;
        if !self.strong {
            let fair =
                (0..self.tasks).all(|t| facts.inside[t].is_some() || facts.enabled_in[t] < size);
            return fair.then_some(component);
        }
        let unfair: Vec<usize> = (0..self.tasks)
            .filter(|&t| facts.enabled_in[t] > 0 && facts.inside[t].is_none())
            .collect();
        if unfair.is_empty() {
            return Some(component);
        }
        // No fair run visits a state where an unfair task is enabled infinitely often.
        let keep: Vec<u32> = component
            .iter()
            .copied()
            .filter(|&s| !unfair.iter().any(|&t| self.graph.enabled(s, t)))
            .collect();
        self.enter(&keep);
        let stamp = self.stamp;
        let mark = std::mem::take(&mut self.mark);
        let parts = self
            .tarjan
            .components(self.graph, &keep, &|s| mark[s as usize] == stamp);
        self.mark = mark;
        parts.into_iter().find_map(|part| self.fair(part))
    }

    /// A cycle from `entry` through `component` (marked) that a fair run can repeat: it takes
    /// an edge of every task that has one inside, and passes a state where each other task
    /// enabled in the component is disabled. Targets the walk already met are skipped.
    fn cycle(&mut self, entry: u32, component: &[u32]) -> Vec<u32> {
        self.enter(component);
        let facts = self.facts(component);
        let mut steps: Vec<(u32, u32)> = Vec::new();
        let mut at = entry;
        let disabled = |state: u32, task: usize| !self.graph.enabled(state, task);
        for task in 0..self.tasks {
            let took = |steps: &[(u32, u32)]| {
                steps
                    .iter()
                    .any(|&(label, _)| (label & TASK_MASK) as usize == task)
            };
            if let Some((from, label, to)) = facts.inside[task] {
                if !took(&steps) {
                    steps.extend(self.path(at, from));
                    steps.push((label, to));
                    at = to;
                }
            } else if facts.enabled_in[task] > 0
                && let Some(target) = facts.disabled_at[task]
            {
                let passed =
                    disabled(entry, task) || steps.iter().any(|&(_, state)| disabled(state, task));
                if !passed {
                    steps.extend(self.path(at, target));
                    at = target;
                }
            }
        }
        steps.extend(self.path(at, entry));
        steps.into_iter().map(|(label, _)| label).collect()
    }

    /// A shortest path from `from` to `to` inside the marked component: each step's label and
    /// the state it reaches.
    fn path(&self, from: u32, to: u32) -> Vec<(u32, u32)> {
        if from == to {
            return Vec::new();
        }
        let mut came: HashMap<u32, (u32, u32)> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        came.insert(from, (UNSEEN, 0));
        while let Some(s) = queue.pop_front() {
            for e in self.graph.edges(s) {
                let next = self.graph.targets[e];
                if self.mark[next as usize] != self.stamp || came.contains_key(&next) {
                    continue;
                }
                came.insert(next, (s, self.graph.labels[e]));
                if next == to {
                    let mut steps = Vec::new();
                    let mut at = to;
                    while at != from {
                        let (prev, label) = came[&at];
                        steps.push((label, at));
                        at = prev;
                    }
                    steps.reverse();
                    return steps;
                }
                queue.push_back(next);
            }
        }
        unreachable!("a strongly connected component connects its states")
    }
}

/// Iterative Tarjan over a subset of the graph; its per-state arrays are reset after each call.
struct Tarjan {
    index: Vec<u32>,
    low: Vec<u32>,
    on_stack: Vec<bool>,
}

impl Tarjan {
    fn new(states: usize) -> Self {
        Self {
            index: vec![UNSEEN; states],
            low: vec![0; states],
            on_stack: vec![false; states],
        }
    }

    /// The components of more than one state of the graph restricted to `member`, reached from
    /// `nodes` (all members).
    fn components(
        &mut self,
        graph: &Graph,
        nodes: &[u32],
        member: &dyn Fn(u32) -> bool,
    ) -> Vec<Vec<u32>> {
        let mut found = Vec::new();
        let mut counter = 0u32;
        let mut stack: Vec<u32> = Vec::new();
        let mut calls: Vec<(u32, usize)> = Vec::new();
        let mut touched: Vec<u32> = Vec::new();
        for &root in nodes {
            if self.index[root as usize] != UNSEEN {
                continue;
            }
            self.open(root, &mut counter, &mut stack, &mut touched);
            calls.push((root, graph.edges(root).start));
            while let Some(&mut (v, ref mut at)) = calls.last_mut() {
                if *at < graph.edges(v).end {
                    let w = graph.targets[*at];
                    *at += 1;
                    if !member(w) {
                        continue;
                    }
                    if self.index[w as usize] == UNSEEN {
                        self.open(w, &mut counter, &mut stack, &mut touched);
                        calls.push((w, graph.edges(w).start));
                    } else if self.on_stack[w as usize] {
                        self.low[v as usize] = self.low[v as usize].min(self.index[w as usize]);
                    }
                    continue;
                }
                calls.pop();
                if let Some(&(u, _)) = calls.last() {
                    self.low[u as usize] = self.low[u as usize].min(self.low[v as usize]);
                }
                if self.low[v as usize] == self.index[v as usize] {
                    let mut component = Vec::new();
                    loop {
                        let w = stack.pop().expect("v is on the stack");
                        self.on_stack[w as usize] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        found.push(component);
                    }
                }
            }
        }
        for s in touched {
            self.index[s as usize] = UNSEEN;
        }
        found
    }

    fn open(&mut self, v: u32, counter: &mut u32, stack: &mut Vec<u32>, touched: &mut Vec<u32>) {
        self.index[v as usize] = *counter;
        self.low[v as usize] = *counter;
        *counter += 1;
        stack.push(v);
        self.on_stack[v as usize] = true;
        touched.push(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(states: usize, edges: &[(u32, u32, u32)]) -> Graph {
        Graph::from_edges(states, edges.to_vec())
    }

    #[test]
    fn components_of_a_small_graph() {
        // 0 -> 1 <-> 2, 2 -> 3 <-> 4, 5 alone.
        let g = graph(
            6,
            &[
                (0, 1, 0),
                (1, 2, 0),
                (2, 1, 1),
                (2, 3, 0),
                (3, 4, 0),
                (4, 3, 1),
            ],
        );
        let mut tarjan = Tarjan::new(6);
        let mut parts: Vec<Vec<u32>> = tarjan
            .components(&g, &[0, 1, 2, 3, 4, 5], &|_| true)
            .into_iter()
            .map(|mut c| {
                c.sort();
                c
            })
            .collect();
        parts.sort();
        assert_eq!(parts, vec![vec![1, 2], vec![3, 4]]);
        // Restricted to {1, 3, 4}: only 3 <-> 4.
        let parts = tarjan.components(&g, &[1, 3, 4], &|s| [1, 3, 4].contains(&s));
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].len(), 2);
    }

    #[test]
    fn weak_and_strong_fairness_differ_on_a_task_enabled_now_and_then() {
        // Task 0 loops 0 -> 1 -> 0; in state 1 task 1 is enabled and leaves to 2 (good).
        // Task 1 is enabled only in state 1: weakly fair to pass it over, strongly not.
        let g = graph(3, &[(0, 1, 0), (1, 0, 0), (1, 2, 1)]);
        let bad = |s: u32| s != 2;
        let weak = find(&g, [0], &bad, false, 2).expect("weakly fair lasso");
        assert!(weak.to_cycle.is_empty());
        assert_eq!(weak.cycle.len(), 2);
        assert!(find(&g, [0], &bad, true, 2).is_none());
        // Task 1 enabled in both states of the cycle: unfair under weak fairness too.
        let g = graph(3, &[(0, 1, 0), (1, 0, 0), (1, 2, 1), (0, 2, 1)]);
        assert!(find(&g, [0], &bad, false, 2).is_none());
    }

    #[test]
    fn a_state_without_edges_is_a_run_that_stops() {
        let g = graph(3, &[(0, 1, 0), (1, 2, 0)]);
        let lasso = find(&g, [0], &|s| s != 5, false, 1).unwrap();
        assert_eq!(lasso.to_cycle, vec![0, 0]);
        assert!(lasso.cycle.is_empty());
        assert!(find(&g, [0], &|s| s != 2, false, 1).is_none());
    }

    /// Brute force: a fair run staying in `bad` exists iff a bad state reachable through bad
    /// states has no edge, or some set of such states with an edge is strongly connected (in
    /// the induced graph) and satisfies the fairness condition on its induced edges.
    fn oracle(g: &Graph, bad: &dyn Fn(u32) -> bool, strong: bool, tasks: usize) -> bool {
        let n = g.states();
        let mut reach = vec![false; n];
        let mut stack = vec![];
        if bad(0) {
            reach[0] = true;
            stack.push(0u32);
        }
        while let Some(s) = stack.pop() {
            for e in g.edges(s) {
                let t = g.targets[e];
                if bad(t) && !reach[t as usize] {
                    reach[t as usize] = true;
                    stack.push(t);
                }
            }
        }
        if (0..n as u32)
            .any(|s| reach[s as usize] && g.edges(s).is_empty() && g.postponed(s).is_empty())
        {
            return true;
        }
        for set in 1u32..(1 << n) {
            let inside = |s: u32| set & (1 << s) != 0;
            if (0..n as u32).any(|s| inside(s) && !reach[s as usize]) {
                continue;
            }
            // Strongly connected in the induced graph, with at least one edge.
            let members: Vec<u32> = (0..n as u32).filter(|&s| inside(s)).collect();
            let reaches = |from: u32| {
                let mut seen = 1u32 << from;
                let mut stack = vec![from];
                let mut moved = false;
                while let Some(s) = stack.pop() {
                    for e in g.edges(s) {
                        let t = g.targets[e];
                        if inside(t) {
                            moved = true;
                            if seen & (1 << t) == 0 {
                                seen |= 1 << t;
                                stack.push(t);
                            }
                        }
                    }
                }
                (seen, moved)
            };
            if !members.iter().all(|&m| {
                let (seen, moved) = reaches(m);
                moved && seen & set == set
            }) {
                continue;
            }
            let fair = (0..tasks).all(|task| {
                let enabled = |s: u32| g.enabled(s, task);
                let taken = members.iter().any(|&s| {
                    g.edges(s)
                        .any(|e| (g.labels[e] & TASK_MASK) as usize == task && inside(g.targets[e]))
                });
                if strong {
                    taken || !members.iter().any(|&s| enabled(s))
                } else {
                    taken || !members.iter().all(|&s| enabled(s))
                }
            });
            if fair {
                return true;
            }
        }
        false
    }

    #[test]
    fn find_agrees_with_brute_force_on_random_graphs() {
        let mut rng = 0x1234_5678_u64;
        let mut next = |bound: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % bound
        };
        let mut violations = [0, 0];
        for round in 0..3000 {
            let n = 1 + next(7) as usize;
            let tasks = 1 + next(3) as usize;
            let mut edges = Vec::new();
            for from in 0..n as u32 {
                for task in 0..tasks as u32 {
                    // Each task has 0-2 edges out of each state, never a self-loop.
                    for alternative in 0..next(3) as u32 {
                        let to = next(n as u64) as u32;
                        if to != from {
                            edges.push((from, to, task | (alternative << 24)));
                        }
                    }
                }
            }
            // A third of the graphs as partial-order reduction leaves them: some states
            // have tasks enabled whose steps are not edges.
            let mut postponed = Vec::new();
            if round % 3 == 0 {
                for state in 0..n as u32 {
                    for task in 0..tasks as u32 {
                        if next(4) == 0 {
                            postponed.push((state, task));
                        }
                    }
                }
            }
            let g = Graph::reduced(n, edges, postponed);
            let good_mask = next(1 << n) as u32;
            let bad = |s: u32| good_mask & (1 << s) == 0;
            for (i, strong) in [false, true].into_iter().enumerate() {
                let expected = oracle(&g, &bad, strong, tasks);
                let lasso = find(&g, [0], &bad, strong, tasks);
                assert_eq!(lasso.is_some(), expected, "round {round}, strong {strong}");
                if let Some(lasso) = lasso {
                    violations[i] += 1;
                    check_lasso(&g, &lasso, &bad, strong, tasks);
                }
            }
        }
        // Both outcomes were exercised, and the fairness notions differ on some graphs.
        assert!(violations[0] > 100 && violations[1] > 100, "{violations:?}");
        assert!(violations[0] > violations[1], "{violations:?}");
    }

    /// The lasso is a path of real edges through bad states whose cycle returns to its start
    /// and is fair (labels name edges exactly: one per task and alternative, as in a world).
    fn check_lasso(
        g: &Graph,
        lasso: &Lasso,
        bad: &dyn Fn(u32) -> bool,
        strong: bool,
        tasks: usize,
    ) {
        let step = |at: u32, label: u32| {
            let e = g
                .edges(at)
                .find(|&e| g.labels[e] == label)
                .expect("a real edge");
            let to = g.targets[e];
            assert!(bad(to), "the lasso leaves the bad states");
            to
        };
        assert_eq!(lasso.source, 0);
        assert!(bad(lasso.source));
        let entry = lasso.to_cycle.iter().fold(0, |at, &l| step(at, l));
        if lasso.cycle.is_empty() {
            assert!(
                g.edges(entry).is_empty() && g.postponed(entry).is_empty(),
                "a run that stops has no step"
            );
            return;
        }
        let mut states = vec![entry];
        let mut at = entry;
        for &label in &lasso.cycle {
            at = step(at, label);
            states.push(at);
        }
        assert_eq!(at, entry, "the cycle returns to its start");
        for task in 0..tasks {
            let steps = lasso
                .cycle
                .iter()
                .any(|&l| (l & TASK_MASK) as usize == task);
            let enabled = |s: &u32| g.enabled(*s, task);
            if strong {
                assert!(steps || !states.iter().any(enabled), "task {task} starves");
            } else {
                assert!(steps || !states.iter().all(enabled), "task {task} starves");
            }
        }
    }
}
