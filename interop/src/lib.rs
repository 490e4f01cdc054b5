//! Live interop tests of Tessera with openmls 0.9 and mls-rs 0.57.
//!
//! Everything is in `tests/interop/`: one adapter per implementation behind a
//! common trait (`harness.rs`), driven through bytes only, and the scenarios
//! (`scenarios.rs`). Run with `cargo test --release -p tessera-interop`.
