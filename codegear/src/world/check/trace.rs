//! Counterexamples: the recorded steps replayed from the initial state, each printed with the
//! alternative it took and the data gears it changed (only the fields that differ).

use super::*;

impl Explorer<'_> {
    /// Replays `path` (step labels) from the initial state, printing each step with what it
    /// chose and changed.
    fn replay(&self, path: &[u32]) -> (Vec<TraceStep>, Heap, Vec<Goto>) {
        let mut heap = self.world.heap.clone();
        let mut pending = self.world.pending.clone();
        let mut trace = Vec::with_capacity(path.len());
        let mut taken = Vec::new();
        for (step, &label) in path.iter().enumerate() {
            let task = label & TASK_MASK;
            let alternative = (label >> ALTERNATIVE_SHIFT) as usize;
            let goto = pending[task as usize].clone();
            let shown = format!("{goto:?}");
            taken.clear();
            taken_gears(&goto, &mut taken);
            let written: Vec<u32> = taken
                .iter()
                .filter(|(raw, is_mut)| {
                    *is_mut
                        && raw.owner() == heap.id()
                        && (raw.index() as usize) < heap.slot_count()
                })
                .map(|(raw, _)| raw.index())
                .collect();
            let before: Vec<String> = written
                .iter()
                .map(|&slot| format!("{:?}", heap.object(slot)))
                .collect();
            let mut spawned = Vec::new();
            let next = if goto.alternatives().is_some() {
                goto
            } else {
                step_task(&mut heap, task, goto, step as u64, &mut spawned)
                    .expect("a recorded step replays as it ran (code gears are deterministic)")
            };
            let (next, chose) = match next.alternatives() {
                None => (next, None),
                Some(alternatives) => {
                    let chosen = alternatives[alternative].clone();
                    let chose = format!(
                        "alternative {} of {}: {chosen:?}",
                        alternative + 1,
                        alternatives.len()
                    );
                    (chosen, Some(chose))
                }
            };
            let mut changes = Vec::new();
            for (i, &slot) in written.iter().enumerate() {
                if written[..i].contains(&slot) {
                    continue;
                }
                let after = format!("{:?}", heap.object(slot));
                if after != before[i] {
                    let name = heap.object(slot).map_or("gear", |o| o.info().name);
                    changes.push(format!(
                        "{name}#{}.{slot}: {}",
                        heap.id(),
                        describe_change(strip_some(&before[i]), strip_some(&after))
                    ));
                }
            }
            for first in spawned {
                changes.push(format!("started task {}: {first:?}", pending.len()));
                pending.push(first);
            }
            trace.push(TraceStep {
                task: task as usize,
                goto: shown,
                chose,
                changes,
            });
            pending[task as usize] = next;
        }
        (trace, heap, pending)
    }

    fn stuck(pending: &[Goto]) -> Vec<TraceStep> {
        pending
            .iter()
            .enumerate()
            .filter(|(_, goto)| !goto.is_exit())
            .map(|(task, goto)| TraceStep {
                task,
                goto: format!("{goto:?}"),
                chose: None,
                changes: Vec::new(),
            })
            .collect()
    }

    pub(super) fn counterexample(&self, found: Found) -> Violation {
        let mut violation = self.counterexample_of(found);
        if let Some(panic) = self.check.panicked.get() {
            violation.kind = ViolationKind::PropertyPanicked {
                property: panic.property.clone(),
                message: panic.message.clone(),
            };
        }
        violation
    }

    fn counterexample_of(&self, found: Found) -> Violation {
        let plain = |kind, trace| Violation {
            kind,
            trace,
            cycle: Vec::new(),
            stuck: Vec::new(),
        };
        match found {
            Found::PropertyPanicked(index) => plain(
                // Replaced by the panic in `counterexample`.
                ViolationKind::Always(String::new()),
                self.replay(&self.path(index)).0,
            ),
            Found::Always(name, index) => plain(
                ViolationKind::Always(name),
                self.replay(&self.path(index)).0,
            ),
            Found::Action(name, index, label) => {
                let mut path = self.path(index);
                path.push(label);
                plain(ViolationKind::Action(name), self.replay(&path).0)
            }
            Found::Error(error, index, task) => {
                let (mut trace, _, pending) = self.replay(&self.path(index));
                trace.push(TraceStep {
                    task: task as usize,
                    goto: format!("{:?}", pending[task as usize]),
                    chose: None,
                    changes: Vec::new(),
                });
                plain(ViolationKind::Error(error), trace)
            }
            Found::Deadlock(index) => {
                let (trace, _, pending) = self.replay(&self.path(index));
                Violation {
                    stuck: Self::stuck(&pending),
                    ..plain(ViolationKind::Deadlock, trace)
                }
            }
            Found::Liveness(name, lasso) => {
                let mut path = self.path(lasso.source);
                path.extend(&lasso.to_cycle);
                let prefix = path.len();
                path.extend(&lasso.cycle);
                let (mut trace, _, pending) = self.replay(&path);
                let cycle = trace.split_off(prefix);
                let stuck = if cycle.is_empty() {
                    Self::stuck(&pending)
                } else {
                    Vec::new()
                };
                Violation {
                    kind: ViolationKind::Liveness(name),
                    trace,
                    cycle,
                    stuck,
                }
            }
            Found::Bound(_) => unreachable!("bounds are not counterexamples"),
        }
    }
}

/// `old → new`; for two values printed as the same struct (`Name { a: .., b: .. }`), only the
/// fields that differ: `b: old → new`.
fn describe_change(before: &str, after: &str) -> String {
    match (struct_fields(before), struct_fields(after)) {
        (Some((name_a, a)), Some((name_b, b))) if name_a == name_b && a.len() == b.len() => {
            let changed: Vec<String> = a
                .iter()
                .zip(&b)
                .filter(|(x, y)| x != y)
                .map(|(x, y)| match (x.split_once(": "), y.split_once(": ")) {
                    (Some((field, old)), Some((same, new))) if field == same => {
                        format!("{field}: {old} → {new}")
                    }
                    _ => format!("{x} → {y}"),
                })
                .collect();
            if changed.is_empty() {
                format!("{before} → {after}")
            } else {
                changed.join(", ")
            }
        }
        _ => format!("{before} → {after}"),
    }
}

/// `Name { a: x, b: y }` split into `Name` and its top-level fields.
fn struct_fields(shown: &str) -> Option<(&str, Vec<&str>)> {
    let (name, rest) = shown.split_once(" { ")?;
    let inner = rest.strip_suffix(" }")?;
    let mut fields = Vec::new();
    let (mut depth, mut start, mut quoted, mut escaped) = (0i32, 0usize, false, false);
    for (i, c) in inner.char_indices() {
        if quoted {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => quoted = false,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                fields.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    fields.push(inner[start..].trim());
    (depth == 0 && !quoted).then_some((name, fields))
}

/// `Some(x)` printed as `x`: slots hold live gears in traces.
fn strip_some(shown: &str) -> &str {
    shown
        .strip_prefix("Some(")
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or(shown)
}

#[cfg(test)]
mod tests {
    use super::describe_change;

    #[test]
    fn a_change_shows_the_fields_that_differ() {
        assert_eq!(
            describe_change(
                "Phil { id: 0, left: Fork#5.0, holds: [false, true], name: \"a, b\" }",
                "Phil { id: 0, left: Fork#5.0, holds: [true, true], name: \"a, b\" }"
            ),
            "holds: [false, true] → [true, true]"
        );
        assert_eq!(
            describe_change("Cell { v: 1, w: 2 }", "Cell { v: 2, w: 3 }"),
            "v: 1 → 2, w: 2 → 3"
        );
        assert_eq!(describe_change("7", "8"), "7 → 8");
        assert_eq!(
            describe_change("A { x: 1 }", "B { x: 1 }"),
            "A { x: 1 } → B { x: 1 }"
        );
    }
}
