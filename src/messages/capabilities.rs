//! Capabilities and lifetimes of leaf nodes (RFC 9420 §7.2).

use super::{CredentialType, ExtensionType, ProposalType, ProtocolVersion};
use crate::crypto::CipherSuite;

/// What a client supports (RFC 9420 §7.2). GREASE values (§13.5) may appear
/// in every list and are carried like any other value.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Supported protocol versions.
    pub versions: Vec<ProtocolVersion>,
    /// Supported cipher suites.
    pub cipher_suites: Vec<CipherSuite>,
    /// Supported non-default extension types.
    pub extensions: Vec<ExtensionType>,
    /// Supported non-default proposal types.
    pub proposals: Vec<ProposalType>,
    /// Supported credential types.
    pub credentials: Vec<CredentialType>,
}
crate::impl_codec_struct!(Capabilities {
    versions,
    cipher_suites,
    extensions,
    proposals,
    credentials
});

/// The validity period of a KeyPackage's leaf, in seconds since the Unix epoch
/// (RFC 9420 §7.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Lifetime {
    /// Not valid before this time.
    pub not_before: u64,
    /// Not valid after this time.
    pub not_after: u64,
}
crate::impl_codec_struct!(Lifetime {
    not_before,
    not_after
});

impl Lifetime {
    /// Whether `now` lies within the lifetime (both ends inclusive).
    pub fn contains(&self, now: u64) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}
