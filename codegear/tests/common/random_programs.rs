//! Random code-gear programs (shared and private cells, reads, writes, waits, loops, choices)
//! for the differential tests: partial-order reduction against the full search (`por.rs`) and
//! several workers against one (`check_parallel.rs`).
#![allow(dead_code, reason = "each test binary uses a different part")]

use std::sync::Arc;

use codegear::prelude::*;

#[data_gear]
#[derive(Default)]
pub(crate) struct Cell {
    pub(crate) v: u8,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) enum Op {
    /// `cell[g] = (cell[g] + k) % 3`.
    Add(usize, u8),
    /// `cell[g] = v`.
    Set(usize, u8),
    /// Waits (retries, state unchanged) until `cell[g] == v`.
    WaitEq(usize, u8),
    /// Goes to `to` unless `cell[g] == v`.
    JumpUnless(usize, u8, u8),
    /// Goes on at `a` or at `b`, nondeterministically (reads `cell[g]`, changes nothing).
    Choose(usize, u8, u8),
}

impl Op {
    pub(crate) fn gear(&self) -> usize {
        match *self {
            Op::Add(g, _)
            | Op::Set(g, _)
            | Op::WaitEq(g, _)
            | Op::JumpUnless(g, _, _)
            | Op::Choose(g, _, _) => g,
        }
    }

    pub(crate) fn writes(&self) -> bool {
        matches!(self, Op::Add(..) | Op::Set(..))
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub(crate) struct Prog {
    pub(crate) ops: Arc<Vec<Op>>,
    /// The gears the ops name by index.
    pub(crate) gears: Arc<Vec<Gear<Cell>>>,
}

/// The transition to instruction `pc` (or the exit past the end).
pub(crate) fn at(prog: Prog, pc: u8, next: Next<()>) -> Goto {
    let Some(op) = prog.ops.get(pc as usize) else {
        return goto!(next());
    };
    let gear = prog.gears[op.gear()];
    if op.writes() {
        goto!(write_op(gear, prog, pc, next))
    } else {
        goto!(read_op(gear, prog, pc, next))
    }
}

#[code_gear]
pub(crate) fn write_op(cell: Mut<'_, Cell>, prog: Prog, pc: u8, next: Next<()>) -> Goto {
    let mut cell = cell;
    match prog.ops[pc as usize] {
        Op::Add(_, k) => cell.v = (cell.v + k) % 3,
        Op::Set(_, v) => cell.v = v,
        _ => unreachable!("a read op"),
    }
    at(prog, pc + 1, next)
}

#[code_gear]
pub(crate) fn read_op(cell: Ref<'_, Cell>, prog: Prog, pc: u8, next: Next<()>) -> Goto {
    match prog.ops[pc as usize] {
        Op::WaitEq(_, v) if cell.v != v => goto!(read_op(cell.gear(), prog, pc, next)),
        Op::JumpUnless(_, v, to) if cell.v != v => at(prog, to, next),
        Op::Choose(_, a, b) => choose!(at(prog.clone(), a, next.clone()), at(prog, b, next)),
        _ => at(prog, pc + 1, next),
    }
}

pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

/// A random program: 2-3 tasks over 2 shared cells and one private cell each.
pub(crate) fn random_world(rng: &mut Rng) -> (World, Vec<Gear<Cell>>) {
    let mut world = World::new();
    let shared: Vec<Gear<Cell>> = (0..2)
        .map(|_| world.alloc_shared(Cell::default()))
        .collect();
    let tasks = 2 + rng.below(2) as usize;
    let mut all = shared.clone();
    for _ in 0..tasks {
        let task = world.reserve_task();
        let own = world.alloc_private(task, Cell::default());
        all.push(own);
        let gears = Arc::new(vec![shared[0], shared[1], own]);
        let len = 2 + rng.below(3) as u8;
        let ops: Vec<Op> = (0..len)
            .map(|pc| {
                // Private gear half the time, so that some steps are independent.
                let g = if rng.below(2) == 0 {
                    2
                } else {
                    rng.below(2) as usize
                };
                let v = rng.below(3) as u8;
                match rng.below(8) {
                    0 | 1 => Op::Add(g, 1 + rng.below(2) as u8),
                    2 | 3 => Op::Set(g, v),
                    4 => Op::WaitEq(g, v),
                    5 => Op::JumpUnless(g, v, rng.below(u64::from(pc) + 1) as u8),
                    6 => Op::Choose(g, rng.below(u64::from(len) + 1) as u8, pc + 1),
                    _ => Op::Add(2, 1),
                }
            })
            .collect();
        let prog = Prog {
            ops: Arc::new(ops),
            gears,
        };
        world.start(task, at(prog, 0, Next::exit()));
    }
    (world, all)
}
