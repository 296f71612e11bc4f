//! Empty: the cases are in `tests/`. This package's dependencies on codegear, offload and
//! ghost-dsl are renamed (`cg`, `off`, `gh`), so in its tests only the `crate = path` overrides
//! can make the generated code resolve.
