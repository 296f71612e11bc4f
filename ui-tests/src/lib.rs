//! Holds no code: the cases live in `tests/ui/` and run through `tests/ui.rs` (trybuild).
