//! `dpp [N] [--meals M] [--order naive|fixed|both] [--workers W] [--max-states S] [--dfs]
//! [--progress] [--symmetry] [--check-workers C]`: model-checks the dining philosophers (codegear `World`) and runs the fixed
//! order on the pool.

use clap::{Parser, ValueEnum};
use codegear::{Check, Parallel};
use gears_examples::dpp::{Order, table};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Which {
    Naive,
    Fixed,
    Both,
}

#[derive(Parser, Debug)]
#[command(
    about = "Dining philosophers: model check both fork orders, run the fixed one in parallel"
)]
struct Args {
    /// Philosophers (and forks) at the table, at least 2.
    #[arg(default_value_t = 5, value_parser = clap::value_parser!(u32).range(2..=64))]
    n: u32,
    /// Meals each philosopher eats before leaving the table.
    #[arg(long, default_value_t = 1)]
    meals: u32,
    /// Which fork order to check.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    order: Which,
    /// Worker threads for the parallel run (0: skip it).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Meals per philosopher in the parallel run.
    #[arg(long, default_value_t = 1000)]
    run_meals: u32,
    /// Bound on stored states (the verdict is "incomplete" beyond it).
    #[arg(long, default_value_t = Check::DEFAULT_MAX_STATES)]
    max_states: usize,
    /// Depth-first instead of breadth-first (traces are then not the shortest).
    #[arg(long)]
    dfs: bool,
    /// A progress line on stderr every second.
    #[arg(long)]
    progress: bool,
    /// Store one state per rotation class of the philosophers (symmetry reduction).
    #[arg(long)]
    symmetry: bool,
    /// Workers of the model checker (`Check::workers`).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=256))]
    check_workers: u64,
}

fn main() {
    let args = Args::parse();
    let n = args.n as usize;
    let orders: &[Order] = match args.order {
        Which::Naive => &[Order::Naive],
        Which::Fixed => &[Order::Fixed],
        Which::Both => &[Order::Naive, Order::Fixed],
    };
    for &order in orders {
        let table = table(n, args.meals, order);
        let mut check = Check::new()
            .max_states(args.max_states)
            .progress(args.progress)
            .workers(args.check_workers as usize);
        if args.dfs {
            check = check.depth_first();
        }
        if args.symmetry {
            check = check.symmetry(table.rotation_symmetry());
        }
        println!("== {n} philosophers, {} meal(s) each, {order}", args.meals);
        print!("{}", table.check(check));
    }
    if args.workers > 0 {
        let mut table = table(n, args.run_meals, Order::Fixed);
        match table.world.run(Parallel::new(args.workers)) {
            Ok(stats) => println!(
                "== parallel run, fixed order, {} meals each on {} workers: {} steps in {:.2?}, \
                 meals eaten {:?}",
                args.run_meals,
                stats.workers,
                stats.steps,
                stats.elapsed,
                table.meals_eaten(args.run_meals)
            ),
            Err(error) => {
                eprintln!("parallel run failed: {error}");
                std::process::exit(1);
            }
        }
    }
}
