//! Dining philosophers in the GearsOS style: each philosopher is a task whose code gears go
//! thinking → pick up one fork → pick up the other → eating → put down both → thinking, the
//! forks are shared data gears, and a philosopher who finds a fork taken retries (busy-waits).
//!
//! A philosopher's own record ([`Phil`]) is a data gear private to its task. The naive order
//! (everyone picks up the left fork first) deadlocks: the checker finds the state where every
//! philosopher holds one fork and every step is a retry that changes nothing. The fixed order
//! (the last philosopher picks up the right fork first) is deadlock-free, and the invariant
//! "no fork held by two philosophers" holds. The same world then runs on the pool.

use std::fmt;
use std::hash::{Hash, Hasher};

use codegear::prelude::*;
use codegear::{Report, TaskId, View};

/// A fork: free, or held by one philosopher.
#[data_gear]
#[derive(Default)]
pub struct Fork {
    /// The philosopher holding it.
    pub holder: Option<u32>,
}

/// A philosopher's own state (GearsOS's `PhilsImpl`), private to its task.
#[data_gear]
pub struct Phil {
    /// Its seat, 0..n.
    pub id: u32,
    /// The fork on its left (fork `id`).
    pub left: Gear<Fork>,
    /// The fork on its right (fork `(id + 1) % n`).
    pub right: Gear<Fork>,
    /// Whether it picks up the left fork first.
    pub left_first: bool,
    /// Meals still to eat before it leaves the table.
    pub meals_left: u32,
    /// Whether it believes it holds its left fork (set when it took it).
    pub holds_left: bool,
    /// Whether it believes it holds its right fork.
    pub holds_right: bool,
}

/// Picks up the first fork, or leaves the table when no meal is left.
#[code_gear]
pub fn thinking(phil: Ref<'_, Phil>, next: Next<()>) -> Goto {
    if phil.meals_left == 0 {
        goto!(next())
    } else if phil.left_first {
        goto!(pickup_lfork(phil.gear(), phil.left, next))
    } else {
        goto!(pickup_rfork(phil.gear(), phil.right, next))
    }
}

/// Takes the left fork if it is free; otherwise retries (the same transition again).
#[code_gear]
pub fn pickup_lfork(phil: Mut<'_, Phil>, fork: Mut<'_, Fork>, next: Next<()>) -> Goto {
    let (mut phil, mut fork) = (phil, fork);
    if fork.holder.is_some() {
        return goto!(pickup_lfork(phil.gear(), fork.gear(), next));
    }
    fork.holder = Some(phil.id);
    phil.holds_left = true;
    if phil.left_first {
        goto!(pickup_rfork(phil.gear(), phil.right, next))
    } else {
        goto!(eating(phil.gear(), next))
    }
}

/// Takes the right fork if it is free; otherwise retries.
#[code_gear]
pub fn pickup_rfork(phil: Mut<'_, Phil>, fork: Mut<'_, Fork>, next: Next<()>) -> Goto {
    let (mut phil, mut fork) = (phil, fork);
    if fork.holder.is_some() {
        return goto!(pickup_rfork(phil.gear(), fork.gear(), next));
    }
    fork.holder = Some(phil.id);
    phil.holds_right = true;
    if phil.left_first {
        goto!(eating(phil.gear(), next))
    } else {
        goto!(pickup_lfork(phil.gear(), phil.left, next))
    }
}

/// Eats one meal with both forks.
#[code_gear]
pub fn eating(phil: Mut<'_, Phil>, next: Next<()>) -> Goto {
    let mut phil = phil;
    phil.meals_left -= 1;
    goto!(putdown_rfork(phil.gear(), phil.right, next))
}

/// Puts the right fork down.
#[code_gear]
pub fn putdown_rfork(phil: Mut<'_, Phil>, fork: Mut<'_, Fork>, next: Next<()>) -> Goto {
    let (mut phil, mut fork) = (phil, fork);
    fork.holder = None;
    phil.holds_right = false;
    goto!(putdown_lfork(phil.gear(), phil.left, next))
}

/// Puts the left fork down and goes back to thinking.
#[code_gear]
pub fn putdown_lfork(phil: Mut<'_, Phil>, fork: Mut<'_, Fork>, next: Next<()>) -> Goto {
    let (mut phil, mut fork) = (phil, fork);
    fork.holder = None;
    phil.holds_left = false;
    goto!(thinking(phil.gear(), next))
}

/// Who picks up which fork first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Order {
    /// Everyone left first: deadlocks.
    Naive,
    /// Everyone left first except the last philosopher: deadlock-free.
    Fixed,
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Naive => "naive (everyone left first)",
            Self::Fixed => "fixed (the last philosopher right first)",
        })
    }
}

/// A table of philosophers: the world and the handles to look into it.
#[derive(Clone, Debug)]
pub struct Table {
    /// The world: one task per philosopher.
    pub world: World,
    /// The forks, fork `i` left of philosopher `i`.
    pub forks: Vec<Gear<Fork>>,
    /// The philosophers' records.
    pub phils: Vec<Gear<Phil>>,
    /// The philosophers' tasks.
    pub tasks: Vec<TaskId>,
}

/// `n` philosophers (at least 2) who each eat `meals` times, in `order`.
pub fn table(n: usize, meals: u32, order: Order) -> Table {
    assert!(n >= 2, "dining philosophers need at least two seats");
    let mut world = World::new();
    let forks: Vec<Gear<Fork>> = (0..n)
        .map(|_| world.alloc_shared(Fork::default()))
        .collect();
    let mut phils = Vec::with_capacity(n);
    let mut tasks = Vec::with_capacity(n);
    for id in 0..n {
        let task = world.reserve_task();
        let phil = world.alloc_private(
            task,
            Phil {
                id: id as u32,
                left: forks[id],
                right: forks[(id + 1) % n],
                left_first: order == Order::Naive || id + 1 < n,
                meals_left: meals,
                holds_left: false,
                holds_right: false,
            },
        );
        world.start(task, goto!(thinking(phil, Next::exit())));
        phils.push(phil);
        tasks.push(task);
    }
    Table {
        world,
        forks,
        phils,
        tasks,
    }
}

impl Table {
    /// The invariant "no fork held by two philosophers", from the philosophers' own records:
    /// fork `i` is believed held by philosopher `i` (left hand) and by `i - 1` (right hand).
    pub fn no_fork_held_by_two(&self) -> impl Fn(&View<'_>) -> bool + 'static {
        let phils = self.phils.clone();
        move |view| {
            let n = phils.len();
            (0..n).all(|i| {
                let left_hand = view.get(phils[i]).holds_left;
                let right_hand = view.get(phils[(i + n - 1) % n]).holds_right;
                !(left_hand && right_hand)
            })
        }
    }

    /// A symmetry key for [`Check::symmetry`]: philosophers are identical up to their seat, so
    /// rotating every philosopher's local state (where it is in its cycle, meals left, which
    /// forks it holds, which fork it takes first) gives an equivalent state. The key hashes the
    /// least rotation. Under the fixed order the reversed philosopher breaks the symmetry; it
    /// is part of the local state, so no two distinct states share a key there (sound, just
    /// no reduction).
    pub fn rotation_symmetry(&self) -> impl Fn(&View<'_>) -> u64 + 'static {
        let phils = self.phils.clone();
        let tasks = self.tasks.clone();
        move |view| {
            let local: Vec<(&'static str, u32, bool, bool, bool)> = phils
                .iter()
                .zip(&tasks)
                .map(|(&phil, &task)| {
                    let p = view.get(phil);
                    let pc = view.pending(task).code_gear().name;
                    (pc, p.meals_left, p.holds_left, p.holds_right, p.left_first)
                })
                .collect();
            let n = local.len();
            let least = (0..n)
                .min_by(|&a, &b| {
                    (0..n)
                        .map(|i| local[(a + i) % n])
                        .cmp((0..n).map(|i| local[(b + i) % n]))
                })
                .unwrap_or(0);
            let mut hasher = std::hash::DefaultHasher::new();
            for i in 0..n {
                local[(least + i) % n].hash(&mut hasher);
            }
            hasher.finish()
        }
    }

    /// Checks the table: deadlocks, and the no-fork-held-by-two invariant.
    pub fn check(&self, check: Check) -> Report {
        self.world.check(check.always(
            "no fork held by two philosophers",
            self.no_fork_held_by_two(),
        ))
    }

    /// Meals eaten so far by each philosopher, given the meals each was to eat.
    pub fn meals_eaten(&self, meals: u32) -> Vec<u32> {
        self.phils
            .iter()
            .map(|&phil| meals - self.world.get(phil).expect("a live record").meals_left)
            .collect()
    }
}

/// The tour's section: both orders checked, the fixed one run on the pool.
pub fn tour(quick: bool) {
    let n = if quick { 4 } else { 5 };
    let meals = if quick { 1 } else { 2 };
    println!("\n== codegear World: dining philosophers ({n} seats, {meals} meal(s) each)");
    for order in [Order::Naive, Order::Fixed] {
        let table = table(n, meals, order);
        let report = table.check(Check::new());
        println!("model check, {order}:");
        print!("{}", indent(&report.to_string()));
    }
    // The same program, unchanged, on threads: more meals, so that the tasks really overlap.
    let run_meals = if quick { 200 } else { 5000 };
    let mut fixed = table(n, run_meals, Order::Fixed);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    match fixed.world.run(Parallel::new(workers).step_limit(1 << 26)) {
        Ok(stats) => println!(
            "parallel run, fixed order, {run_meals} meals each on {} workers: {} steps in {:.2?}; \
             meals eaten {:?}; every fork free: {}",
            stats.workers,
            stats.steps,
            stats.elapsed,
            fixed.meals_eaten(run_meals),
            fixed
                .forks
                .iter()
                .all(|&fork| fixed.world.get(fork).is_ok_and(|f| f.holder.is_none()))
        ),
        Err(error) => println!("parallel run failed: {error}"),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}
