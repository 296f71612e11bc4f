//! The gears tour: runs each part of gears on its built-in example and says what it did.
//!
//! `cargo run --release -p gears-examples --bin tour [-- --quick]`. Each DSL adds its section
//! when it lands.

use std::time::Instant;

use clap::Parser;
use gears_examples::workloads::{Tree, fib, fib_joins, fib_sequential, tree_sum};
use gears_runtime::cpu_list::{CpuList, parse_cpu_str};
use gears_runtime::pool::{Pool, Worker};

#[derive(Parser, Debug)]
#[command(about = "A tour of gears on built-in examples")]
struct Args {
    /// Smaller inputs (for CI).
    #[arg(long)]
    quick: bool,
    /// Workers in the pool (default: this machine's available parallelism).
    #[arg(long)]
    workers: Option<usize>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    println!("gears tour{}", if args.quick { " (quick)" } else { "" });
    pool_section(&args)?;
    cpu_list_section()?;
    gears_examples::codegear::tour()?;
    gears_examples::dpp::tour(args.quick);
    gears_examples::dpp_seed::tour(args.quick);
    offload_section(&args)?;
    gears_examples::ghost::tutorial::tour_section(args.quick)?;
    gears_examples::ghost::real_threads::tour_section(args.quick)?;
    Ok(())
}

/// The spawn/sync pool (elcore-runtime semantics) on fork-join workloads.
fn pool_section(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== spawn/sync pool (elcore-runtime semantics)");
    let mut builder = Pool::builder();
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    let pool = builder.build()?;
    println!("pool of {} workers", pool.num_workers());

    let n = if args.quick { 24 } else { 32 };
    let start = Instant::now();
    let value = pool.install(|w| fib(w, n));
    let elapsed = start.elapsed();
    assert_eq!(
        value,
        fib_sequential(n),
        "the pool computes what the plain recursion does"
    );
    println!(
        "fib({n}) = {value}: {} spawn+sync pairs, no cut-off, in {:.1} ms",
        fib_joins(n),
        elapsed.as_secs_f64() * 1e3
    );

    let depth = if args.quick { 16 } else { 22 };
    let tree = Tree::complete(depth);
    let start = Instant::now();
    let sum = pool.install(|w| tree_sum(w, &tree));
    let elapsed = start.elapsed();
    assert_eq!(sum, Tree::expected_sum(depth));
    println!(
        "sum of a {}-node binary tree = {sum} in {:.1} ms",
        (1u64 << depth) - 1,
        elapsed.as_secs_f64() * 1e3
    );

    // Who ran what: jobs spawned at the top of a wide fork are claimed by idle helpers.
    let per_worker = pool.install(|w| count_leaves_by_worker(w, if args.quick { 10 } else { 14 }));
    let shown: Vec<String> = per_worker
        .iter()
        .enumerate()
        .map(|(i, n)| format!("worker {i}: {n}"))
        .collect();
    println!(
        "leaves of a 2^{} fork, by the worker that ran them: {}",
        if args.quick { 10 } else { 14 },
        shown.join(", ")
    );

    // The panic below is the demonstration: keep the default hook from printing it.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.install(|w| w.join(|_| 1, |_| -> i32 { panic!("a job failed") }))
    }));
    std::panic::set_hook(hook);
    let message = caught
        .err()
        .and_then(|payload| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    println!("a panicking job is re-raised at sync, after its scope finished: {message:?}");
    Ok(())
}

fn count_leaves_by_worker(w: &Worker, depth: u32) -> Vec<u64> {
    if depth == 0 {
        let mut counts = vec![0; w.num_workers()];
        counts[w.index()] = 1;
        return counts;
    }
    let (a, b) = w.join(
        |w| count_leaves_by_worker(w, depth - 1),
        |w| count_leaves_by_worker(w, depth - 1),
    );
    a.iter().zip(&b).map(|(x, y)| x + y).collect()
}

/// CPU lists as ghOSt and Linux write them.
fn cpu_list_section() -> Result<(), Box<dyn std::error::Error>> {
    println!("\n== CPU lists");
    let allowed = CpuList::current_thread_affinity()?;
    println!(
        "this thread may run on CPUs \"{allowed}\" ({} CPUs)",
        allowed.len()
    );
    let list = parse_cpu_str("4,0-1,2")?;
    println!(
        "\"4,0-1,2\" parses to \"{list}\"; minus \"1\" is \"{}\"",
        list - CpuList::single(1)?
    );
    for bad in ["3-1", "0-", "a", "0,,1", "600"] {
        if let Err(err) = parse_cpu_str(bad) {
            println!("  {err}");
        }
    }
    Ok(())
}

/// Toshokan's friend → hakase offloading: the seed's examples, with a sandboxed friend.
fn offload_section(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    use gears_examples::offload::{
        friends_contending, idle_hakase, sandboxed_friend_calls_exports, set_x_in_offloaded_block,
        the_sandbox_holds,
    };
    println!("\n== offload (Toshokan friends and hakase)");
    let hakase = offload::Hakase::new()?;
    let names: Vec<&str> = hakase
        .exports()
        .iter()
        .filter_map(|(id, _)| hakase.exports().name_of(id))
        .collect();
    println!("export table: {}", names.join(", "));
    // One friend on CPU 1 if there is one (the hakase runs here), else on CPU 0.
    let allowed = CpuList::current_thread_affinity()?;
    let friend_cpu = if allowed.contains(1) { "1" } else { "0" };

    let x = set_x_in_offloaded_block(&hakase, friend_cpu)?;
    println!(
        "friend on CPU {friend_cpu}: `let mut x = 0; offload!({{ x = 1; }});` leaves x == {x}"
    );

    println!(
        "sandboxed friend (seccomp: every system call but {} reviewed ones fails with EPERM):",
        offload::Sandbox::NoSyscalls.allowed_calls().len()
    );
    let report = sandboxed_friend_calls_exports(&hakase, friend_cpu)?;
    println!(
        "  its own println!:         panicked: {}",
        report.own_println
    );
    println!("  its own writeln!(stdout): {}", report.own_write);
    println!("  its own File::open:       {}", report.own_open);
    println!(
        "  offload!({{ exported!(hakase_func)() }}) = {}, exported!(hakase_print) printed {} bytes",
        report.func, report.printed
    );

    let hold = the_sandbox_holds(&hakase, friend_cpu)?;
    println!("  ordinary std code in it:  {}", hold.std_works);
    println!("  mprotect(hakase code, RWX): {}", hold.mprotect_rwx);
    println!("  mmap(anonymous, RWX):     {}", hold.mmap_rwx);
    println!(
        "  (abort() there ends the process with SIGABRT; OnDenied::KillProcess ends it with \
         SIGSYS and the friend and call named; the filter limits system calls, not memory)"
    );

    let sleep = std::time::Duration::from_millis(if args.quick { 50 } else { 300 });
    let (cpu, wall) = idle_hakase(&hakase, friend_cpu, sleep)?;
    println!(
        "idle hakase: {:.2} ms of CPU in {:.0} ms serving a sleeping friend ({:.2}% of a core: it \
         spins {} µs, then parks until a request wakes it)",
        cpu.as_secs_f64() * 1e3,
        wall.as_secs_f64() * 1e3,
        100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
        offload::DEFAULT_SPIN_BEFORE_PARKING.as_micros()
    );

    let (friends, requests) = (4, if args.quick { 10_000 } else { 250_000 });
    let start = Instant::now();
    let count = friends_contending(&hakase, friend_cpu, friends, requests)?;
    let elapsed = start.elapsed();
    println!(
        "{friends} friends sharing CPU {friend_cpu}, {requests} offloads each of `counter += 1` \
         (not atomic: the blocks run one at a time on the hakase): \
         counter = {count} (expected {}), {:.0} ns per request",
        friends as u64 * requests,
        elapsed.as_secs_f64() * 1e9 / (friends as u64 * requests) as f64
    );

    // Process friends (FriendConfig::process): the memory boundary the filter alone is not.
    println!(
        "two process friends on CPU {friend_cpu} (fresh processes of this binary, sandboxed, \
         sharing only a request region; the hakase holds a secret; friend 1 crashes):"
    );
    let report = gears_examples::offload::process::process_friends(&hakase, friend_cpu)?;
    for note in &report.notes {
        println!("  friend 0: {note}");
    }
    for (id, exit) in &report.exits {
        println!("  {id} {exit}");
    }
    Ok(())
}
