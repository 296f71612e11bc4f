//! The registry over entries collected with `inventory`: ordering, lookups, and a single build
//! shared by every caller and thread.

use std::ptr;
use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use gears_runtime::registry::{Id, Registered, Registry, Site, Table};

struct Gear {
    name: &'static str,
    site: Site,
    /// Distinct per entry, so that a lookup returning the wrong entry cannot go unnoticed.
    payload: u32,
}

impl Registered for Gear {
    fn name(&self) -> &str {
        self.name
    }
    fn site(&self) -> Site {
        self.site
    }
}

inventory::collect!(Gear);

static GEARS: Registry<Gear> = Registry::new("code gear");

// Submitted out of name order, and with names whose byte order differs from a case-insensitive
// or length-first order, so that only a true sort by name yields the expected ids.
inventory::submit! { Gear { name: "push", site: gears_runtime::site!(), payload: 1 } }
inventory::submit! { Gear { name: "StackPop", site: gears_runtime::site!(), payload: 2 } }
inventory::submit! { Gear { name: "pop", site: gears_runtime::site!(), payload: 3 } }
inventory::submit! { Gear { name: "alloc", site: gears_runtime::site!(), payload: 4 } }
inventory::submit! { Gear { name: "StackPush", site: gears_runtime::site!(), payload: 5 } }
inventory::submit! { Gear { name: "a", site: gears_runtime::site!(), payload: 6 } }
inventory::submit! { Gear { name: "Stack", site: gears_runtime::site!(), payload: 7 } }

/// Byte order of the names above: uppercase before lowercase, a prefix before its extensions.
const NAME_ORDER: [(&str, u32); 7] = [
    ("Stack", 7),
    ("StackPop", 2),
    ("StackPush", 5),
    ("a", 6),
    ("alloc", 4),
    ("pop", 3),
    ("push", 1),
];

fn gears() -> &'static Table<Gear> {
    GEARS
        .table()
        .unwrap_or_else(|error| panic!("unexpected registry error: {error}"))
}

fn names_and_payloads(table: &Table<Gear>) -> Vec<(&'static str, u32)> {
    table
        .iter()
        .map(|(_, gear)| (gear.name, gear.payload))
        .collect()
}

#[test]
fn table_holds_every_entry_with_ids_in_name_order() {
    let table = gears();
    assert_eq!(table.len(), NAME_ORDER.len());
    assert!(!table.is_empty());
    assert_eq!(names_and_payloads(table), NAME_ORDER);

    let ids: Vec<u32> = table.iter().map(|(id, _)| id.as_u32()).collect();
    assert_eq!(ids, (0..NAME_ORDER.len() as u32).collect::<Vec<_>>());
    assert_eq!(table.iter().len(), NAME_ORDER.len());
    // Debug needs nothing from the entry type: names by id.
    assert!(format!("{table:?}").starts_with(r#"{0: "Stack", 1: "StackPop", 2: "StackPush""#));
    assert_eq!(
        table.iter().next_back().map(|(_, gear)| gear.name),
        Some("push")
    );
}

#[test]
fn lookups_by_name_and_by_id_agree() {
    let table = gears();
    for (id, gear) in table.iter() {
        let (found_id, found) = table.get(gear.name).expect("every listed name resolves");
        assert_eq!(found_id, id);
        assert!(
            ptr::eq(found, gear),
            "get({:?}) returned another entry",
            gear.name
        );
        assert_eq!(table.id_of(gear.name), Some(id));
        assert!(ptr::eq(
            table.by_id(id).expect("every listed id resolves"),
            gear
        ));
        assert_eq!(
            table.by_id(Id::new(id.as_u32())).map(|g| g.payload),
            Some(gear.payload)
        );
        assert_eq!(table.name_of(id), Some(gear.name));
    }
    let (id, pop) = table.get("pop").expect("pop is registered");
    assert_eq!((id.as_u32(), id.index(), pop.payload), (5, 5, 3));
}

#[test]
fn unknown_names_and_ids_give_none() {
    let table = gears();
    for name in ["", "Pop", "pop ", "stack", "StackPu", "pushes", "\u{0}"] {
        assert!(table.get(name).is_none(), "{name:?} should be unknown");
        assert_eq!(table.id_of(name), None, "{name:?} should be unknown");
    }
    let past_end = Id::new(table.len() as u32);
    assert!(table.by_id(past_end).is_none());
    assert!(table.name_of(past_end).is_none());
    assert!(table.by_id(Id::new(u32::MAX)).is_none());
}

#[test]
fn ids_do_not_depend_on_registration_order() {
    let collected: Vec<&'static Gear> = inventory::iter::<Gear>.into_iter().collect();
    let mut reversed = collected.clone();
    reversed.reverse();
    let mut rotated = collected.clone();
    rotated.rotate_left(3);

    for order in [collected, reversed, rotated] {
        let table = Table::build_from("code gear", order).expect("no duplicates");
        assert_eq!(names_and_payloads(&table), NAME_ORDER);
        for (id, gear) in table.iter() {
            assert_eq!(gears().id_of(gear.name), Some(id));
        }
    }
}

#[test]
fn site_points_at_the_submission_in_this_file() {
    let table = gears();
    for (_, gear) in table.iter() {
        assert_eq!(gear.site.file, file!());
        assert!(gear.site.line > 0 && gear.site.line < line!());
    }
    let lines: Vec<u32> = ["push", "StackPop", "pop"]
        .into_iter()
        .map(|name| table.get(name).expect("registered").1.site.line)
        .collect();
    // Submitted on consecutive lines, in this order.
    assert_eq!(lines, [lines[0], lines[0] + 1, lines[0] + 2]);
}

#[test]
fn site_displays_as_file_line_column() {
    let site = Site::new("src/a.rs", 10, 1);
    assert_eq!(site.to_string(), "src/a.rs:10:1");

    const HERE: Site = gears_runtime::site!();
    let line = line!() - 1;
    assert_eq!(
        HERE.to_string(),
        format!("{}:{line}:{}", file!(), HERE.column)
    );
}

#[test]
fn repeated_calls_return_the_same_table() {
    let first = gears();
    for _ in 0..100 {
        assert!(ptr::eq(gears(), first));
    }
}

/// An entry type of its own, used by one test only, so that the count of `name()` calls it keeps
/// is not disturbed by other tests running in parallel.
struct Raced {
    name: &'static str,
}

/// `name()` calls on `Raced` entries. A table calls `name()` exactly once per entry while it is
/// built and never afterwards, so this counts entries processed by builds.
static RACED_NAME_CALLS: AtomicUsize = AtomicUsize::new(0);

impl Registered for Raced {
    fn name(&self) -> &str {
        RACED_NAME_CALLS.fetch_add(1, Ordering::Relaxed);
        self.name
    }
    fn site(&self) -> Site {
        gears_runtime::site!()
    }
}

inventory::collect!(Raced);

static RACED: Registry<Raced> = Registry::new("raced entry");

inventory::submit! { Raced { name: "one" } }
inventory::submit! { Raced { name: "two" } }
inventory::submit! { Raced { name: "three" } }

#[test]
fn threads_racing_on_first_use_share_one_build() {
    const THREADS: usize = 8;
    let entries = inventory::iter::<Raced>.into_iter().count();
    assert_eq!(entries, 3);
    assert_eq!(
        RACED_NAME_CALLS.load(Ordering::Relaxed),
        0,
        "built too early"
    );

    let start = Barrier::new(THREADS);
    let tables: Vec<usize> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    let table = RACED.table().expect("no duplicates");
                    ptr::from_ref(table) as usize
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("thread panicked"))
            .collect()
    });

    assert!(tables.windows(2).all(|pair| pair[0] == pair[1]));
    // One build: each entry's name was read once, not once per racing thread.
    assert_eq!(RACED_NAME_CALLS.load(Ordering::Relaxed), entries);

    let table = RACED.table().expect("no duplicates");
    assert_eq!(ptr::from_ref(table) as usize, tables[0]);
    let names: Vec<&str> = table.iter().map(|(_, entry)| entry.name).collect();
    assert_eq!(names, ["one", "three", "two"]);
    assert_eq!(table.get("two").map(|(id, _)| id.as_u32()), Some(2));
    // Neither later calls nor lookups rebuild or call back into the entries.
    assert_eq!(RACED_NAME_CALLS.load(Ordering::Relaxed), entries);
}

/// Collected, but never submitted.
struct Unused;

impl Registered for Unused {
    fn name(&self) -> &str {
        "unused"
    }
    fn site(&self) -> Site {
        gears_runtime::site!()
    }
}

inventory::collect!(Unused);

static UNUSED: Registry<Unused> = Registry::new("unused entry");

#[test]
fn a_registry_without_submissions_is_empty() {
    assert_eq!(UNUSED.kind(), "unused entry");
    let table = UNUSED.table().expect("nothing to collide");
    assert!(table.is_empty());
    assert_eq!(table.len(), 0);
    assert!(table.get("unused").is_none());
    assert!(table.by_id(Id::new(0)).is_none());
    assert_eq!(table.iter().count(), 0);
    assert_eq!(
        format!("{UNUSED:?}"),
        r#"Registry { kind: "unused entry", table: Some(Ok({})) }"#
    );
}
