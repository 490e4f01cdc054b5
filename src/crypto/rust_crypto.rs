//! The default provider: pure Rust, all seven RFC 9420 cipher suites.
//! (Being written; see the crypto task.)

/// The default pure-Rust crypto provider.
#[derive(Debug)]
pub struct RustCryptoProvider;
