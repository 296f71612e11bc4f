//! Fork-join workloads written once for every pool they run on: ours and the anchor (rayon).

use std::hint::black_box;

use gears_runtime::pool::Worker;

/// Fibonacci by naive recursion, no cut-off: one spawn+sync per call with `n >= 2`.
pub fn fib(w: &Worker, n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    w.spawn(
        |w| fib(w, n - 1),
        |w, first| {
            let second = fib(w, n - 2);
            first.sync() + second
        },
    )
}

/// The same recursion over `rayon::join` (the anchor).
pub fn fib_rayon(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let (a, b) = rayon::join(|| fib_rayon(n - 1), || fib_rayon(n - 2));
    a + b
}

/// The same recursion without any pool: the baseline per-join overheads are measured against.
pub fn fib_sequential(n: u64) -> u64 {
    if black_box(n) < 2 {
        return n;
    }
    fib_sequential(n - 1) + fib_sequential(n - 2)
}

/// How many spawn+sync pairs (joins) `fib(n)` makes.
pub fn fib_joins(n: u64) -> u64 {
    // joins(n) = 1 + joins(n-1) + joins(n-2) = fib(n+1) - 1
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..=n {
        (a, b) = (b, a + b);
    }
    a - 1
}

/// A node of a complete binary tree.
#[derive(Debug)]
pub struct Tree {
    value: u64,
    children: Option<Box<(Tree, Tree)>>,
}

impl Tree {
    /// A complete tree with `2^depth - 1` nodes; node values are their breadth-first numbers.
    pub fn complete(depth: u32) -> Tree {
        fn build(index: u64, depth: u32) -> Tree {
            let children = (depth > 1)
                .then(|| Box::new((build(2 * index, depth - 1), build(2 * index + 1, depth - 1))));
            Tree {
                value: index,
                children,
            }
        }
        build(1, depth)
    }

    /// How many joins a sum over the tree makes (one per inner node).
    pub fn joins(depth: u32) -> u64 {
        (1u64 << (depth - 1)) - 1
    }

    /// The expected sum: 1 + 2 + ... + (2^depth - 1).
    pub fn expected_sum(depth: u32) -> u64 {
        let n = (1u64 << depth) - 1;
        n * (n + 1) / 2
    }
}

/// Sums the tree, one spawn+sync per inner node.
pub fn tree_sum(w: &Worker, tree: &Tree) -> u64 {
    match &tree.children {
        None => tree.value,
        Some(children) => {
            let (left, right) = w.join(|w| tree_sum(w, &children.0), |w| tree_sum(w, &children.1));
            tree.value + left + right
        }
    }
}

/// The same sum over `rayon::join`.
pub fn tree_sum_rayon(tree: &Tree) -> u64 {
    match &tree.children {
        None => tree.value,
        Some(children) => {
            let (left, right) = rayon::join(
                || tree_sum_rayon(&children.0),
                || tree_sum_rayon(&children.1),
            );
            tree.value + left + right
        }
    }
}

/// The same sum without a pool.
pub fn tree_sum_sequential(tree: &Tree) -> u64 {
    match &tree.children {
        None => tree.value,
        Some(children) => {
            tree.value + tree_sum_sequential(&children.0) + tree_sum_sequential(&children.1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gears_runtime::pool::Pool;

    #[test]
    fn workloads_agree_with_their_closed_forms() {
        let pool = Pool::new(2).unwrap();
        let rayon = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        assert_eq!(fib_joins(2), 1);
        assert_eq!(fib_joins(3), 2); // fib(3) joins, fib(2) joins
        assert_eq!(fib_joins(10), 88);
        for n in [0, 1, 2, 3, 20] {
            let expected = fib_sequential(n);
            assert_eq!(pool.install(|w| fib(w, n)), expected);
            assert_eq!(rayon.install(|| fib_rayon(n)), expected);
        }
        for depth in [1, 2, 10] {
            let tree = Tree::complete(depth);
            let expected = Tree::expected_sum(depth);
            assert_eq!(tree_sum_sequential(&tree), expected);
            assert_eq!(pool.install(|w| tree_sum(w, &tree)), expected);
            assert_eq!(rayon.install(|| tree_sum_rayon(&tree)), expected);
        }
        assert_eq!(Tree::joins(10), 511);
    }
}
