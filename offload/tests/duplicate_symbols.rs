//! Two `#[export_symbol]` functions of one name: `Hakase::new()` lists the name with both sites
//! (a test binary of its own: the export table is global to the binary).

mod one {
    #[offload::export_symbol]
    pub(crate) fn hakase_log(msg: &str) -> usize {
        msg.len()
    }
}

mod other {
    #[offload::export_symbol]
    pub(crate) fn hakase_log(msg: &str) -> usize {
        msg.len() * 2
    }
}

#[offload::export_symbol]
/// A name exported once.
pub fn unique() {}

mod shared {
    offload::declare_exports! {
        pub fn unique();
        pub fn declared_only(x: u8);
        pub fn hakase_log(msg: &str) -> u32;
    }
}

#[test]
fn duplicates_are_reported_with_every_site() {
    let error = offload::Hakase::new().unwrap_err();
    let offload::Error::Symbols(symbols) = &error else {
        panic!("expected a symbol error, got {error}");
    };
    // The duplicate hides nothing else: the one missing declaration is reported at its own
    // line, both implementations of the duplicated name differ from its declaration, and the
    // declaration that is implemented once is fine.
    assert_eq!(symbols.duplicated(), ["hakase_log"]);
    assert_eq!(symbols.missing(), ["declared_only"]);
    assert_eq!(symbols.mismatched(), ["hakase_log", "hakase_log"]);
    let file = file!();
    let text = error.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(
        lines[..2].join("\n"),
        format!(
            "duplicate exported symbol \"hakase_log\": registered at {file}:5:5 and at \
             {file}:12:5\n  (each exported name must have one #[export_symbol] function; rename \
             or remove the others)"
        )
    );
    assert!(
        lines[2].starts_with(&format!(
            "missing exported symbol \"declared_only\": declared at {file}:25:16 "
        )),
        "{text}"
    );
    assert!(lines[3].contains("\"hakase_log\" is declared at"), "{text}");
    // The functions themselves are fine.
    assert_eq!((one::hakase_log("ab"), other::hakase_log("ab")), (2, 4));
}
