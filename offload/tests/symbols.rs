//! Exported symbols end to end: `#[export_symbol]`, `declare_exports!` with an implementation
//! checked against it (`declared_in`), `exported!` inside `offload!`, and the export table.

use offload::prelude::*;

/// What both sides share (Toshokan's `shared.h`).
mod shared {
    offload::declare_exports! {
        /// Adds on the hakase.
        pub fn hakase_add(a: i64, b: i64) -> i64;
        pub fn hakase_greeting(name: &str) -> String;
    }
}

mod hakase_side {
    use offload::export_symbol;

    #[export_symbol(declared_in = crate::shared)]
    pub(crate) fn hakase_add(a: i64, b: i64) -> i64 {
        a + b
    }

    #[export_symbol(declared_in = crate::shared)]
    pub(crate) fn hakase_greeting(name: &str) -> String {
        format!("hello, {name}, from {:?}", std::thread::current().name())
    }

    /// Exported without a declaration: its own symbol type is defined here.
    #[export_symbol]
    pub(crate) fn hakase_thread_name() -> Option<String> {
        std::thread::current().name().map(str::to_owned)
    }
}

use hakase_side::hakase_thread_name;
use shared::{hakase_add, hakase_greeting};

#[test]
fn friends_call_exported_functions_by_name_on_the_hakase() {
    let hakase = Hakase::new().unwrap();
    let names: Vec<&str> = hakase
        .exports()
        .iter()
        .map(|(id, _)| hakase.exports().name_of(id).unwrap())
        .collect();
    assert_eq!(
        names,
        ["hakase_add", "hakase_greeting", "hakase_thread_name"]
    );
    let (_, add) = hakase.exports().get("hakase_add").unwrap();
    assert_eq!(add.signature(), "fn hakase_add(a: i64, b: i64) -> i64");
    assert_eq!(
        add.function::<fn(i64, i64) -> i64>().map(|f| f(2, 3)),
        Some(5)
    );

    std::thread::Builder::new()
        .name("the-hakase".into())
        .spawn(|| {
            let hakase = Hakase::new().unwrap();
            let friends = hakase
                .spawn_friends(FriendConfig::cpus("0").unwrap().count(2), |id| {
                    let a = id.0 as i64;
                    let (sum, greeting, thread) = offload!({
                        (
                            exported!(hakase_add)(a, 40),
                            offload::exported!(hakase_greeting)("friend"),
                            exported!(hakase_thread_name)(),
                        )
                    });
                    assert_eq!(sum, a + 40);
                    assert_eq!(greeting, "hello, friend, from Some(\"the-hakase\")");
                    assert_eq!(thread.as_deref(), Some("the-hakase"));
                })
                .unwrap();
            hakase.serve_until(|| friends.finished());
            friends.join().unwrap();
        })
        .unwrap()
        .join()
        .unwrap();
}
