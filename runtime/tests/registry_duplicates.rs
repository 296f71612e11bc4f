//! Duplicate names make the table fail to build, with every name and every site reported.
//!
//! A test binary of its own: an `inventory` collection spans the whole binary, so these
//! deliberate duplicates would break any other registry test linked with them.

use std::ptr;

use gears_runtime::registry::{Registered, Registry, RegistryError, Site, Table};

struct Dup {
    name: &'static str,
    site: Site,
}

impl Registered for Dup {
    fn name(&self) -> &str {
        self.name
    }
    fn site(&self) -> Site {
        self.site
    }
}

inventory::collect!(Dup);

static DUPS: Registry<Dup> = Registry::new("code gear");

/// Position of a registration as this file sees it, taken with the raw `file!()`, `line!()` and
/// `column!()`, independently of `site!()`.
type At = (&'static str, u32, u32);

/// Submits a `Dup` named `$name` and stores in `$at` where the invocation of `register!` is.
macro_rules! register {
    ($at:ident, $name:literal) => {
        inventory::submit! { Dup { name: $name, site: gears_runtime::site!() } }
        const $at: At = (file!(), line!(), column!());
    };
}

register!(PEEK_1, "peek");
register!(POP_1, "pop");
register!(PUSH, "push");
register!(PEEK_2, "peek");
register!(POP_2, "pop");

// Submitted directly rather than through `register!`: `site!()` is written by hand here, so the
// site is where `gears_runtime::site!` stands on this line.
inventory::submit! { Dup { name: "peek", site: gears_runtime::site!() } }
const PEEK_3_LINE: u32 = line!() - 1;

/// The position of the hand-written `site!()` above, read off this file's own text.
fn peek_3() -> At {
    let source = include_str!("registry_duplicates.rs");
    let text = source
        .lines()
        .nth(PEEK_3_LINE as usize - 1)
        .expect("the line exists");
    let offset = text
        .find("gears_runtime::site!")
        .expect("the submission is on that line");
    let column = u32::try_from(offset + 1).expect("a short line");
    (file!(), PEEK_3_LINE, column)
}

fn at(position: At) -> String {
    let (file, line, column) = position;
    format!("{file}:{line}:{column}")
}

fn registry_error() -> &'static RegistryError {
    match DUPS.table() {
        Ok(table) => panic!(
            "expected duplicates, got a table of {} entries",
            table.len()
        ),
        Err(error) => error,
    }
}

#[test]
fn registry_reports_every_duplicated_name_with_all_its_sites() {
    let error = registry_error();
    println!("{error}");

    let expected = format!(
        "duplicate code gear \"peek\": registered at {}, at {} and at {}\n\
         duplicate code gear \"pop\": registered at {} and at {}",
        at(PEEK_1),
        at(PEEK_2),
        at(peek_3()),
        at(POP_1),
        at(POP_2),
    );
    assert_eq!(error.to_string(), expected);
    // The unique name, and its site, appear nowhere.
    assert!(!error.to_string().contains("push"));
    assert!(!error.to_string().contains(&at(PUSH)));

    assert_eq!(error.kind(), "code gear");
    let names: Vec<&str> = error.duplicates().iter().map(|d| d.name()).collect();
    assert_eq!(names, ["peek", "pop"]);
    let peek_sites: Vec<String> = error.duplicates()[0]
        .sites()
        .iter()
        .map(Site::to_string)
        .collect();
    assert_eq!(peek_sites, [at(PEEK_1), at(PEEK_2), at(peek_3())]);
    assert_eq!(error.duplicates()[1].sites().len(), 2);
}

#[test]
fn the_failed_build_is_not_retried() {
    let first = registry_error();
    for _ in 0..10 {
        assert!(ptr::eq(registry_error(), first));
    }
}

#[test]
fn registry_error_is_a_std_error() {
    let error: &dyn std::error::Error = registry_error();
    assert!(error.source().is_none());
    assert!(
        error
            .to_string()
            .starts_with("duplicate code gear \"peek\"")
    );
}

/// Hand-made sites, listed out of order: numeric line order (3 before 30, 9 before 10) differs
/// from the text order of `file:line:column`.
static HAND_MADE: [Dup; 10] = [
    dup("pop", "src/b.rs", 20, 5),
    dup("zeta", "src/a.rs", 30, 2),
    dup("mid", "src/c.rs", 9, 9),
    dup("alpha", "src/a.rs", 1, 1),
    dup("pop", "src/a.rs", 10, 1),
    dup("mid", "src/b.rs", 1, 1),
    dup("zeta", "src/a.rs", 3, 7),
    dup("mid", "src/a.rs", 10, 1),
    dup("mid", "src/a.rs", 9, 4),
    dup("omega", "src/z.rs", 1, 1),
];

const fn dup(name: &'static str, file: &'static str, line: u32, column: u32) -> Dup {
    Dup {
        name,
        site: Site::new(file, line, column),
    }
}

#[test]
fn build_from_reports_every_duplicated_name_sorted_by_name_then_site() {
    let error = Table::build_from("data gear", &HAND_MADE).expect_err("duplicates");
    println!("{error}");
    assert_eq!(
        error.to_string(),
        "duplicate data gear \"mid\": registered at src/a.rs:9:4, at src/a.rs:10:1, \
         at src/b.rs:1:1 and at src/c.rs:9:9\n\
         duplicate data gear \"pop\": registered at src/a.rs:10:1 and at src/b.rs:20:5\n\
         duplicate data gear \"zeta\": registered at src/a.rs:3:7 and at src/a.rs:30:2"
    );

    // The same list in other orders gives the very same error.
    let mut reversed: Vec<&'static Dup> = HAND_MADE.iter().collect();
    reversed.reverse();
    assert_eq!(
        Table::build_from("data gear", reversed).err(),
        Some(error.clone())
    );
    let mut rotated: Vec<&'static Dup> = HAND_MADE.iter().collect();
    rotated.rotate_left(4);
    assert_eq!(Table::build_from("data gear", rotated).err(), Some(error));
}

#[test]
fn build_from_without_duplicates_succeeds() {
    let unique = HAND_MADE
        .iter()
        .filter(|dup| matches!(dup.name, "alpha" | "omega"));
    let table = Table::build_from("data gear", unique).expect("no duplicates");
    let names: Vec<&str> = table.iter().map(|(_, dup)| dup.name).collect();
    assert_eq!(names, ["alpha", "omega"]);
}
