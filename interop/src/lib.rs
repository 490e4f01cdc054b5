//! Live interop tests of Tessera with openmls 0.9 and mls-rs 0.57.
//!
//! The library is empty: everything is in `tests/interop/`, one adapter per
//! implementation behind a common trait (`harness.rs`), driven through bytes
//! only, and the scenarios (`scenarios.rs`). See `README.md` for what is
//! tested, the results and the peers' behaviours the tests assert. Run with
//! `cargo test --release --workspace --test interop`.
