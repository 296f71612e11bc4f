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

#[test]
fn duplicates_are_reported_with_every_site() {
    let error = offload::Hakase::new().unwrap_err();
    let offload::Error::Symbols(symbols) = &error else {
        panic!("expected a symbol error, got {error}");
    };
    assert_eq!(symbols.duplicated(), ["hakase_log"]);
    assert!(symbols.missing().is_empty() && symbols.mismatched().is_empty());
    let file = file!();
    assert_eq!(
        error.to_string(),
        format!(
            "duplicate exported symbol \"hakase_log\": registered at {file}:5:5 and at \
             {file}:12:5\n  (each exported name must have one #[export_symbol] function; rename \
             or remove the others)"
        )
    );
    // The functions themselves are fine.
    assert_eq!((one::hakase_log("ab"), other::hakase_log("ab")), (2, 4));
}
