//! The offload surface compiles as documented: the seed's example, declarations shared by both
//! sides with a checked implementation, lifetimes in exported signatures, `crate = path`, `move`
//! blocks.

use offload::prelude::*;

mod shared {
    offload::declare_exports! {
        /// Prints on the hakase.
        pub fn hakase_print(msg: &str) -> usize;
    }
}

#[export_symbol(declared_in = shared)]
pub fn hakase_print(msg: &str) -> usize {
    println!("{msg}");
    msg.len()
}

#[export_symbol(crate = ::offload)]
pub fn hakase_concat<'a>(a: &'a str, b: &'a str) -> String {
    format!("{a}{b}")
}

use shared::hakase_print;

fn main() -> Result<(), offload::Error> {
    let hakase = Hakase::new()?;
    let friends = hakase.spawn_friends(FriendConfig::cpus("0")?, |_| {
        let mut x = 0;
        let n = offload!({
            x = 1;
            exported!(hakase_print)("Hello World!")
        });
        let s = offload!(crate = ::offload, { exported!(hakase_concat)("a", "b") });
        let (a, b) = (20u64, 22u64);
        let sum = offload!(move { a + b });
        assert_eq!((x, n, s.as_str(), sum), (1, 12, "ab", 42));
    })?;
    while !friends.finished() {
        hakase.try_receive();
    }
    friends.join()
}
