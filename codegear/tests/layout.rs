//! Ordinary Rust layouts: an interface imported with `use`, named by path or re-exported and
//! implemented in another module; the same names in two modules, told apart in the tables,
//! traces and selectors while unique names stay short.

#![allow(unreachable_pub, missing_docs)]

use codegear::prelude::*;
use codegear::{Meta, Record, Selector, Transition};

mod api {
    use codegear::prelude::*;

    /// A counter interface, implemented in other modules.
    #[interface]
    pub trait Counter {
        fn bump(&mut self, by: u64, next: Next<(u64,)>) -> Goto;
    }

    /// A queue interface, to check how `Gear<dyn Queue>` prints.
    #[interface]
    pub trait Queue {
        fn put(&mut self, value: u64, next: Next<()>) -> Goto;
    }
}

/// The interface re-exported from elsewhere in the crate.
mod reexport {
    pub(crate) use super::api::Counter;
}

mod imp {
    use super::api::Counter;
    use codegear::prelude::*;

    #[data_gear]
    #[derive(Default)]
    pub struct Simple {
        pub total: u64,
    }

    #[code_gear]
    impl Counter for Simple {
        fn bump(&mut self, by: u64, next: Next<(u64,)>) -> Goto {
            self.total += by;
            goto!(next(self.total))
        }
    }
}

mod by_path {
    use codegear::prelude::*;

    #[data_gear]
    #[derive(Default)]
    pub struct Doubling {
        pub total: u64,
    }

    #[code_gear]
    impl super::api::Counter for Doubling {
        fn bump(&mut self, by: u64, next: Next<(u64,)>) -> Goto {
            self.total += 2 * by;
            goto!(next(self.total))
        }
    }
}

mod via_reexport {
    use super::reexport::Counter;
    use codegear::prelude::*;

    #[data_gear]
    #[derive(Default)]
    pub struct Tripling {
        pub total: u64,
    }

    #[code_gear]
    impl Counter for Tripling {
        fn bump(&mut self, by: u64, next: Next<(u64,)>) -> Goto {
            self.total += 3 * by;
            goto!(next(self.total))
        }
    }
}

/// Two modules each with a `Store` interface, a `Cell` data gear implementing it, and a `put`.
mod store_a {
    use codegear::prelude::*;

    #[interface]
    pub trait Store {
        fn put(&mut self, value: u64, next: Next<()>) -> Goto;
    }

    #[data_gear]
    #[derive(Default)]
    pub struct Cell {
        pub value: u64,
    }

    #[code_gear]
    impl Store for Cell {
        fn put(&mut self, value: u64, next: Next<()>) -> Goto {
            self.value = value;
            goto!(next())
        }
    }
}

mod store_b {
    use codegear::prelude::*;

    #[interface]
    pub trait Store {
        fn put(&mut self, value: u64, next: Next<()>) -> Goto;
    }

    #[data_gear]
    #[derive(Default)]
    pub struct Cell {
        pub value: u64,
    }

    #[code_gear]
    impl Store for Cell {
        fn put(&mut self, value: u64, next: Next<()>) -> Goto {
            self.value = value + 1000;
            goto!(next())
        }
    }
}

#[code_gear]
fn bump_twice(counter: Gear<dyn api::Counter>, next: Next<(u64,)>) -> Goto {
    goto!(counter.bump(1, next!(bump_again(counter, next))))
}

#[code_gear]
fn bump_again(counter: Gear<dyn api::Counter>, next: Next<(u64,)>, _first: u64) -> Goto {
    goto!(counter.bump(10, next))
}

#[code_gear]
fn put_both(
    a: Gear<dyn store_a::Store>,
    b: Gear<dyn store_b::Store>,
    queue: Gear<dyn api::Queue>,
    next: Next<()>,
) -> Goto {
    let _ = queue;
    goto!(a.put(1, next!(put_b(b, next))))
}

#[code_gear]
fn put_b(b: Gear<dyn store_b::Store>, next: Next<()>) -> Goto {
    goto!(b.put(2, next))
}

fn total(ctx: &mut Context, counter: Gear<dyn api::Counter>) -> u64 {
    let exit = ctx
        .run(goto!(bump_twice(counter, Next::exit())))
        .expect("runs");
    exit.outputs.take::<(u64,)>().expect("(u64,)").0
}

#[test]
fn interfaces_implemented_through_use_path_and_reexport() {
    let mut ctx = Context::new();
    let simple = ctx.alloc(imp::Simple::default());
    let doubling = ctx.alloc(by_path::Doubling::default());
    let tripling = ctx.alloc(via_reexport::Tripling::default());
    assert_eq!(total(&mut ctx, simple.upcast()), 11);
    assert_eq!(total(&mut ctx, doubling.upcast()), 22);
    assert_eq!(total(&mut ctx, tripling.upcast()), 33);
    let described = ctx.describe();
    assert!(
        described.contains("} Counter;  // implemented by: Doubling, Simple, Tripling"),
        "{described}"
    );
}

fn line_with<'a>(described: &'a str, needle: &str) -> Vec<&'a str> {
    described.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn homonyms_are_qualified_and_unique_names_stay_short() {
    let ctx = Context::new();
    let described = ctx.describe();
    // Each `Store` lists its own `Cell`, qualified; each `Cell::put` and `D_Cell` once.
    assert!(
        described.contains("} store_a::Store;  // implemented by: store_a::Cell"),
        "{described}"
    );
    assert!(
        described.contains("} store_b::Store;  // implemented by: store_b::Cell"),
        "{described}"
    );
    for needle in [
        "C_store_a_Cell_put",
        "C_store_b_Cell_put",
        "D_store_a_Cell",
        "D_store_b_Cell",
    ] {
        assert_eq!(
            line_with(&described, needle).len(),
            1,
            "{needle}: {described}"
        );
    }
    // Unique names stay short.
    assert_eq!(
        line_with(&described, "    C_bump_twice = ").len(),
        1,
        "{described}"
    );
    assert_eq!(
        line_with(&described, "    D_Simple = ").len(),
        1,
        "{described}"
    );
    assert!(described.contains("} Queue;"), "{described}");
    // Types print as written.
    assert!(
        described.contains("queue: Gear<dyn api::Queue>"),
        "{described}"
    );
    assert!(!described.contains("dynQueue"), "{described}");
}

#[test]
fn handles_print_their_data_gears_display_name() {
    // A handle's `Debug` finds its type's row by type id: qualified where two modules define a
    // `Cell`, short where the name is unique.
    let mut ctx = Context::new();
    let a = ctx.alloc(store_a::Cell::default());
    let b = ctx.alloc(store_b::Cell::default());
    let simple = ctx.alloc(imp::Simple::default());
    assert!(format!("{a:?}").starts_with("store_a::Cell#"), "{a:?}");
    assert!(format!("{b:?}").starts_with("store_b::Cell#"), "{b:?}");
    assert!(format!("{simple:?}").starts_with("Simple#"), "{simple:?}");
}

#[test]
fn traces_and_selectors_tell_homonyms_apart() {
    let mut ctx = Context::new();
    let a = ctx.alloc(store_a::Cell::default());
    let b = ctx.alloc(store_b::Cell::default());
    let queue_stub = ctx.alloc(store_a::Cell::default());
    let _ = queue_stub;
    let record = Record::default();
    let covered = ctx.replace_meta(Selector::interface("store_b::Store"), record.clone());
    assert_eq!(covered, 1, "only store_b's Cell::put");
    let all = Record::default();
    assert_eq!(
        Context::new().replace_meta(Selector::interface("Store"), all),
        2,
        "an unqualified name selects both"
    );
    // A queue handle is needed by the signature only.
    let queue: Gear<dyn api::Queue> = ctx.alloc(QueueImpl::default()).upcast();
    ctx.run(goto!(put_both(a.upcast(), b.upcast(), queue, Next::exit())))
        .expect("runs");
    assert_eq!(ctx.get(a).unwrap().value, 1);
    assert_eq!(ctx.get(b).unwrap().value, 1002);
    let lines = record.lines.lock().unwrap().clone();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("0: store_b::Cell::put("), "{lines:?}");

    // Globs and regular expressions on qualified names.
    assert_eq!(
        Context::new().replace_meta(Selector::name("store_a::Cell::*"), Record::default()),
        1
    );
    assert_eq!(
        Context::new().replace_meta(
            Selector::regex(r"^store_.::Cell::put$").unwrap(),
            Record::default()
        ),
        2
    );
    assert_eq!(
        Context::new().replace_meta(Selector::regex("Cell").unwrap(), Record::default()),
        2
    );
    let error = Selector::regex("(unclosed").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`(unclosed` is not a regular expression"),
        "{error}"
    );
}

#[data_gear]
#[derive(Default)]
pub struct QueueImpl {
    items: Vec<u64>,
}

#[code_gear]
impl api::Queue for QueueImpl {
    fn put(&mut self, value: u64, next: Next<()>) -> Goto {
        self.items.push(value);
        goto!(next())
    }
}

/// A meta that sees every transition (to check the names in `Transition`'s `Debug`).
struct Names(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl Meta for Names {
    fn before(&mut self, t: &Transition<'_>) -> Result<(), codegear::Stop> {
        self.0.lock().unwrap().push(format!("{t:?}"));
        Ok(())
    }
}

#[test]
fn transition_debug_uses_display_names() {
    let mut ctx = Context::new();
    let a = ctx.alloc(store_a::Cell::default());
    let b = ctx.alloc(store_b::Cell::default());
    let queue: Gear<dyn api::Queue> = ctx.alloc(QueueImpl::default()).upcast();
    let seen = std::sync::Arc::default();
    ctx.replace_meta(Selector::All, Names(std::sync::Arc::clone(&seen)));
    ctx.run(goto!(put_both(a.upcast(), b.upcast(), queue, Next::exit())))
        .expect("runs");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [
            "0: put_both(dyn store_a::Store#H.0, dyn store_b::Store#H.1, dyn Queue#H.2, exit)",
            "0: store_a::Cell::put(store_a::Cell#H.0, 1, put_b(dyn store_b::Store#H.1, exit, ..))",
            "0: put_b(dyn store_b::Store#H.1, exit)",
            "0: store_b::Cell::put(store_b::Cell#H.1, 2, exit)",
        ]
        .map(|line| line.replace('H', &a.raw().owner().to_string()))
    );
}

/// An interface whose code gears have the same shape, implemented in another order than the
/// declaration's: each call must reach the code gear of its own name (the API table is
/// positional, so a table built in the impl's order would swap them silently).
mod reordered {
    use codegear::prelude::*;

    #[interface]
    pub trait Account {
        fn deposit(&mut self, amount: i64, next: Next<()>) -> Goto;
        fn withdraw(&mut self, amount: i64, next: Next<()>) -> Goto;
        fn double(&mut self, next: Next<()>) -> Goto;
    }

    #[data_gear]
    #[derive(Default)]
    pub struct Ledger {
        pub balance: i64,
        pub log: Vec<String>,
    }

    #[code_gear]
    impl Account for Ledger {
        fn double(&mut self, next: Next<()>) -> Goto {
            self.balance *= 2;
            self.log.push("double".into());
            goto!(next())
        }
        fn withdraw(&mut self, amount: i64, next: Next<()>) -> Goto {
            self.balance -= amount;
            self.log.push(format!("withdraw {amount}"));
            goto!(next())
        }
        fn deposit(&mut self, amount: i64, next: Next<()>) -> Goto {
            self.balance += amount;
            self.log.push(format!("deposit {amount}"));
            goto!(next())
        }
    }
}

#[code_gear]
fn deposit_then_withdraw(account: Gear<dyn reordered::Account>, next: Next<()>) -> Goto {
    goto!(account.deposit(10, next!(account.withdraw(3, next!(account.double(next))))))
}

#[test]
fn an_impl_may_list_its_code_gears_in_any_order() {
    let mut ctx = Context::new();
    let ledger = ctx.alloc(reordered::Ledger::default());
    ctx.run(goto!(deposit_then_withdraw(ledger.upcast(), Next::exit())))
        .expect("runs");
    let ledger = ctx.get(ledger).unwrap();
    assert_eq!(ledger.log, ["deposit 10", "withdraw 3", "double"]);
    assert_eq!(ledger.balance, 14);
    // The tables name each API code gear by its own name.
    let names: Vec<&str> = ctx.code_gears().map(|g| g.display_name()).collect();
    for name in ["Ledger::deposit", "Ledger::withdraw", "Ledger::double"] {
        assert!(names.contains(&name), "{name}: {names:?}");
    }
}
