//! `Hakase::new()` lists every declared symbol that nothing implements and every implementation
//! whose signature differs from its declaration (a test binary of its own: the declarations are
//! global to the binary).

mod shared {
    offload::declare_exports! {
        pub fn never_implemented(x: u32) -> u32;
        pub fn also_missing();
        pub fn implemented_differently(x: u32) -> u32;
        pub fn implemented(x: u32) -> u32;
    }
}

/// Implemented without `declared_in`, so the compiler cannot compare; `Hakase::new` does.
#[offload::export_symbol]
pub fn implemented_differently(x: u64) -> u64 {
    x
}

#[offload::export_symbol(declared_in = shared)]
/// Implements its declaration.
pub fn implemented(x: u32) -> u32 {
    x
}

#[test]
fn missing_and_mismatched_symbols_are_all_reported() {
    let error = offload::Hakase::new().unwrap_err();
    let offload::Error::Symbols(symbols) = &error else {
        panic!("expected a symbol error, got {error}");
    };
    assert_eq!(symbols.missing(), ["also_missing", "never_implemented"]);
    assert_eq!(symbols.mismatched(), ["implemented_differently"]);
    assert!(symbols.duplicated().is_empty());
    let text = error.to_string();
    let file = file!();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(&format!(
            "missing exported symbol \"also_missing\": declared at {file}:"
        )),
        "{text}"
    );
    assert!(lines[0].ends_with(
        "as `fn also_missing()`, but no linked crate implements it (add `#[export_symbol]` to a \
         hakase function of that name, and make sure its crate is linked)"
    ), "{text}");
    // Each points at its own declaration's line (7 and 8), not at the `declare_exports!`.
    assert!(
        lines[0].starts_with(&format!(
            "missing exported symbol \"also_missing\": declared at {file}:8:16 "
        )),
        "{text}"
    );
    assert!(
        lines[1].starts_with(&format!(
            "missing exported symbol \"never_implemented\": declared at {file}:7:16 "
        )),
        "{text}"
    );
    assert!(
        lines[2].contains("as `fn implemented_differently(x: u32) -> u32` but implemented at"),
        "{text}"
    );
    assert!(
        lines[2].contains("as `fn implemented_differently(x: u64) -> u64`"),
        "{text}"
    );
}
