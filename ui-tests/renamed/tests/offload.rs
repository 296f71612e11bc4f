#![allow(missing_docs)]
//! offload's macros with `crate = off`, in a package where `::offload` does not resolve:
//! `#[export_symbol]`, `declare_exports!`, `offload!` and `exported!` inside it. A friend then
//! offloads through them.

use off::{FriendConfig, Hakase};

mod shared {
    off::declare_exports! {
        crate = off;
        /// Adds on the hakase.
        pub fn renamed_add(a: u64, b: u64) -> u64;
    }
}

#[off::export_symbol(declared_in = shared, crate = off)]
pub fn renamed_add(a: u64, b: u64) -> u64 {
    a + b
}

#[off::export_symbol(crate = off)]
pub fn renamed_greet(name: &str) -> String {
    format!("hello, {name}")
}

use shared::renamed_add;

#[test]
fn a_friend_offloads_through_the_renamed_crate() {
    let hakase = Hakase::new().unwrap();
    let friends = hakase
        .spawn_friends(FriendConfig::cpus("0").unwrap(), |_| {
            let mut seen = 0;
            let sum = off::offload!(crate = off, {
                seen = 1;
                off::exported!(renamed_add)(20, 22)
            });
            let greeting =
                off::offload!(crate = off, move { off::exported!(renamed_greet)("gears") });
            assert_eq!((seen, sum, greeting.as_str()), (1, 42, "hello, gears"));
        })
        .unwrap();
    hakase.serve_until(|| friends.finished());
    friends.join().unwrap();
}

/// `#[derive(Wire)]` with `#[wire(crate = off)]`.
#[derive(Debug, PartialEq, off::process::Wire)]
#[wire(crate = off)]
enum Renamed {
    One(u8),
    Two { a: String },
}

#[test]
fn a_type_derives_wire_through_the_renamed_crate() {
    use off::process::{Reader, Wire, Writer};
    let mut out = Writer::new();
    Renamed::Two { a: "x".into() }.encode(&mut out);
    let mut input = Reader::new(out.as_bytes());
    assert_eq!(
        Renamed::decode(&mut input),
        Ok(Renamed::Two { a: "x".into() })
    );
    input.finish().unwrap();
    assert!(Renamed::decode(&mut Reader::new(&[0])).is_err());
    let _ = Renamed::One(1);
}
