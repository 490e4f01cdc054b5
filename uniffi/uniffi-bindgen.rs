//! The UniFFI bindings generator, built from the same UniFFI version as the
//! library so the generated code always matches its scaffolding.
//!
//! ```text
//! cargo run -p tessera-uniffi --features bindgen --bin uniffi-bindgen -- generate \
//!     --library target/release/libtessera_uniffi.so --language kotlin --out-dir out/
//! ```

fn main() {
    uniffi::uniffi_bindgen_main()
}
