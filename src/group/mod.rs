//! The group state machine (RFC 9420 §11, §12): the one home of protocol
//! policy. Being built.

mod config;
mod key_package;
mod proposals;
mod psk_store;

pub use config::{GroupConfig, HandshakeFormat};
pub use key_package::{Identity, KeyPackageOptions, KeyPackagePrivate, generate_key_package};
pub use proposals::CommittedProposal;
pub use psk_store::PskStore;
