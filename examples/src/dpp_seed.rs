//! Dining philosophers written the way the seed writes them (GearsOS's `examples/DPP2`): an
//! interface `Phils` implemented by the data gear `PhilsImpl`, and forks that are atomic data
//! gears with two continuations, `AtomicT_int.checkAndSet(old, new, next, fail)`:
//!
//! ```c
//! __code pickup_rfork(struct PhilsImpl* phils, __code next(...)) {
//!     struct AtomicT_int* right_fork = phils->Rightfork;
//!     goto right_fork->checkAndSet(-1, phils->self, pickup_lfork, pickup_rfork);
//! }
//! ```
//!
//! is here
//!
//! ```ignore
//! fn pickup_rfork(&mut self, next: Next<()>) -> Goto {
//!     goto!(self.right_fork.check_and_set(-1, self.id, next!(self.me.pickup_lfork(next)),
//!                                         next!(self.me.pickup_rfork(next))))
//! }
//! ```
//!
//! `AtomicT<T>` is a generic interface (the seed's `AtomicT_int` is its `int` instance). A fork is
//! `-1` when free, else the seat of the philosopher holding it. A philosopher who finds a fork
//! taken goes back to the code gear that tried (the `fail` continuation), so the naive order does
//! not end in a state where every step is a self-loop, as [`crate::dpp`]'s does, but in a cycle
//! through `pickup_rfork` and `check_and_set` in which every philosopher holds its left fork and
//! waits for its right one: the checker finds that state (the invariant "not all waiting for
//! their right fork" fails, with the trace). The fixed order never reaches it, never has a fork held by two, and
//! runs on the pool to the end.

use codegear::prelude::*;
use codegear::{Report, TaskId, Value, View};

/// The seed's `AtomicT`: a value changed only by compare-and-set, which goes on with `next` if
/// the value was `old` (and is now `new`), else with `fail`.
#[interface]
pub trait AtomicT<T> {
    /// `checkAndSet(old, new, next, fail)`.
    fn check_and_set(&mut self, old: T, new: T, next: Next<()>, fail: Next<()>) -> Goto;
}

/// The atomic data gear (`AtomicTImpl`); `AtomicTImpl<i64>` is the seed's `AtomicT_int`.
#[data_gear(instances(i64))]
pub struct AtomicTImpl<T> {
    /// The value.
    pub value: T,
}

#[code_gear(instances(i64))]
impl<T: Value> AtomicT<T> for AtomicTImpl<T> {
    fn check_and_set(&mut self, old: T, new: T, next: Next<()>, fail: Next<()>) -> Goto {
        if self.value == old {
            self.value = new;
            goto!(next())
        } else {
            goto!(fail())
        }
    }
}

/// The seed's `Phils` interface.
#[interface]
pub trait Phils {
    /// Thinks, then picks up the first fork (or leaves the table after the last meal).
    fn thinking(&mut self, next: Next<()>) -> Goto;
    /// Tries the left fork.
    fn pickup_lfork(&mut self, next: Next<()>) -> Goto;
    /// Tries the right fork.
    fn pickup_rfork(&mut self, next: Next<()>) -> Goto;
    /// Eats a meal.
    fn eating(&mut self, next: Next<()>) -> Goto;
    /// Puts the right fork down.
    fn putdown_rfork(&mut self, next: Next<()>) -> Goto;
    /// Puts the left fork down.
    fn putdown_lfork(&mut self, next: Next<()>) -> Goto;
}

/// A fork free to take.
pub const FREE: i64 = -1;

/// The seed's `PhilsImpl` (`int self; AtomicT_int* Leftfork; AtomicT_int* Rightfork;`), with its
/// own handle so that its code gears can name themselves as continuations.
#[data_gear]
pub struct PhilsImpl {
    /// Its seat (the seed's `self`).
    pub id: i64,
    /// Its own handle, as the interface.
    pub me: Gear<dyn Phils>,
    /// The fork on its left (fork `id`).
    pub left_fork: Gear<dyn AtomicT<i64>>,
    /// The fork on its right (fork `(id + 1) % n`).
    pub right_fork: Gear<dyn AtomicT<i64>>,
    /// Whether it picks up the left fork first.
    pub left_first: bool,
    /// Meals still to eat.
    pub meals_left: u32,
}

#[code_gear]
impl Phils for PhilsImpl {
    fn thinking(&mut self, next: Next<()>) -> Goto {
        if self.meals_left == 0 {
            goto!(next())
        } else if self.left_first {
            goto!(self.me.pickup_lfork(next))
        } else {
            goto!(self.me.pickup_rfork(next))
        }
    }

    fn pickup_lfork(&mut self, next: Next<()>) -> Goto {
        let then = if self.left_first {
            next!(self.me.pickup_rfork(next.clone()))
        } else {
            next!(self.me.eating(next.clone()))
        };
        let retry = next!(self.me.pickup_lfork(next));
        goto!(self.left_fork.check_and_set(FREE, self.id, then, retry))
    }

    fn pickup_rfork(&mut self, next: Next<()>) -> Goto {
        let then = if self.left_first {
            next!(self.me.eating(next.clone()))
        } else {
            next!(self.me.pickup_lfork(next.clone()))
        };
        let retry = next!(self.me.pickup_rfork(next));
        goto!(self.right_fork.check_and_set(FREE, self.id, then, retry))
    }

    fn eating(&mut self, next: Next<()>) -> Goto {
        self.meals_left -= 1;
        goto!(self.me.putdown_rfork(next))
    }

    fn putdown_rfork(&mut self, next: Next<()>) -> Goto {
        // Only the holder puts a fork down, so the compare always succeeds; `fail` would retry.
        let then = next!(self.me.putdown_lfork(next.clone()));
        let retry = next!(self.me.putdown_rfork(next));
        goto!(self.right_fork.check_and_set(self.id, FREE, then, retry))
    }

    fn putdown_lfork(&mut self, next: Next<()>) -> Goto {
        let then = next!(self.me.thinking(next.clone()));
        let retry = next!(self.me.putdown_lfork(next));
        goto!(self.left_fork.check_and_set(self.id, FREE, then, retry))
    }
}

pub use crate::dpp::Order;

/// A table of philosophers in the seed's style.
#[derive(Clone, Debug)]
pub struct Table {
    /// The world: one task per philosopher (`par goto phils_i->thinking(exit_code)`).
    pub world: World,
    /// The forks.
    pub forks: Vec<Gear<AtomicTImpl<i64>>>,
    /// The philosophers.
    pub phils: Vec<Gear<PhilsImpl>>,
    /// Their tasks.
    pub tasks: Vec<TaskId>,
}

/// `n` philosophers (at least 2) who each eat `meals` times, in `order`.
pub fn table(n: usize, meals: u32, order: Order) -> Table {
    assert!(n >= 2, "dining philosophers need at least two seats");
    let mut world = World::new();
    let forks: Vec<Gear<AtomicTImpl<i64>>> = (0..n)
        .map(|_| world.alloc_shared(AtomicTImpl { value: FREE }))
        .collect();
    let mut phils = Vec::with_capacity(n);
    let mut tasks = Vec::with_capacity(n);
    for id in 0..n {
        let task = world.reserve_task();
        let phil = world.alloc_private_with(task, |me: Gear<PhilsImpl>| PhilsImpl {
            id: id as i64,
            me: me.upcast(),
            left_fork: forks[id].upcast(),
            right_fork: forks[(id + 1) % n].upcast(),
            left_first: order == Order::Naive || id + 1 < n,
            meals_left: meals,
        });
        let phils_i: Gear<dyn Phils> = phil.upcast();
        world.start(task, goto!(phils_i.thinking(Next::exit())));
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
    /// "Not every philosopher holds its left fork while waiting for its right one": false exactly
    /// in the naive order's stuck configuration. (Holding the left fork alone is not enough: the
    /// reversed philosopher holds only its left fork for a step while putting its forks down.)
    pub fn not_stuck(&self) -> impl Fn(&View<'_>) -> bool + 'static {
        let forks = self.forks.clone();
        let tasks = self.tasks.clone();
        move |view| {
            let all_left_held = forks
                .iter()
                .enumerate()
                .all(|(i, &fork)| view.get(fork).value == i as i64);
            let all_picking = tasks.iter().all(|&task| {
                let pending = format!("{:?}", view.pending(task));
                pending.starts_with("PhilsImpl::pickup_rfork(")
                    || (pending.starts_with("AtomicTImpl<i64>::check_and_set(")
                        && pending.split(", ").nth(1) == Some("-1"))
            });
            !(all_left_held && all_picking)
        }
    }

    /// "No fork held by two philosophers": every fork is free or held by one of its two
    /// neighbours (a compare-and-set cannot give it to both).
    pub fn forks_held_by_neighbours(&self) -> impl Fn(&View<'_>) -> bool + 'static {
        let forks = self.forks.clone();
        move |view| {
            let n = forks.len() as i64;
            forks.iter().enumerate().all(|(i, &fork)| {
                let holder = view.get(fork).value;
                holder == FREE || holder == i as i64 || holder == (i as i64 + n - 1) % n
            })
        }
    }

    /// Checks both properties (and deadlocks).
    pub fn check(&self, check: Check) -> Report {
        self.world.check(
            check
                .always("not all waiting for their right fork", self.not_stuck())
                .always("forks held by neighbours", self.forks_held_by_neighbours()),
        )
    }
}

/// The tour's section: both orders checked, the fixed one run on the pool.
pub fn tour(quick: bool) {
    let n = if quick { 3 } else { 4 };
    println!(
        "\n== codegear: dining philosophers in the seed's style ({n} seats; interface Phils, \
         AtomicT<i64>.check_and_set(old, new, next, fail))"
    );
    for order in [Order::Naive, Order::Fixed] {
        let report = table(n, 1, order).check(Check::new());
        println!("model check, {order}:");
        for line in report.to_string().lines() {
            println!("  {line}");
        }
    }
    let meals = if quick { 100 } else { 2000 };
    let mut fixed = table(n, meals, Order::Fixed);
    match fixed.world.run(Parallel::new(2).step_limit(1 << 26)) {
        Ok(stats) => println!(
            "parallel run, fixed order, {meals} meals each: {} steps; every fork free: {}",
            stats.steps,
            fixed
                .forks
                .iter()
                .all(|&fork| fixed.world.get(fork).is_ok_and(|f| f.value == FREE))
        ),
        Err(error) => println!("parallel run failed: {error}"),
    }
}
