//! Plain values that cross the boundary: cipher suites, credentials,
//! members, commit outputs and what processing a message gave.

use tessera::crypto::CipherSuite as CoreSuite;
use tessera::messages::{Credential as CoreCredential, CredentialType};

/// The seven cipher suites of RFC 9420 (§17.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum CipherSuite {
    /// 0x0001: DHKEM(X25519), AES-128-GCM, SHA-256, Ed25519. The usual choice.
    Mls128Dhkemx25519Aes128gcmSha256Ed25519,
    /// 0x0002: DHKEM(P-256), AES-128-GCM, SHA-256, ECDSA P-256.
    Mls128Dhkemp256Aes128gcmSha256P256,
    /// 0x0003: DHKEM(X25519), ChaCha20-Poly1305, SHA-256, Ed25519.
    Mls128Dhkemx25519Chacha20poly1305Sha256Ed25519,
    /// 0x0004: DHKEM(X448), AES-256-GCM, SHA-512, Ed448.
    Mls256Dhkemx448Aes256gcmSha512Ed448,
    /// 0x0005: DHKEM(P-521), AES-256-GCM, SHA-512, ECDSA P-521.
    Mls256Dhkemp521Aes256gcmSha512P521,
    /// 0x0006: DHKEM(X448), ChaCha20-Poly1305, SHA-512, Ed448.
    Mls256Dhkemx448Chacha20poly1305Sha512Ed448,
    /// 0x0007: DHKEM(P-384), AES-256-GCM, SHA-384, ECDSA P-384.
    Mls256Dhkemp384Aes256gcmSha384P384,
}

impl From<CipherSuite> for CoreSuite {
    fn from(s: CipherSuite) -> Self {
        match s {
            CipherSuite::Mls128Dhkemx25519Aes128gcmSha256Ed25519 => {
                CoreSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519
            }
            CipherSuite::Mls128Dhkemp256Aes128gcmSha256P256 => {
                CoreSuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256
            }
            CipherSuite::Mls128Dhkemx25519Chacha20poly1305Sha256Ed25519 => {
                CoreSuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519
            }
            CipherSuite::Mls256Dhkemx448Aes256gcmSha512Ed448 => {
                CoreSuite::MLS_256_DHKEMX448_AES256GCM_SHA512_ED448
            }
            CipherSuite::Mls256Dhkemp521Aes256gcmSha512P521 => {
                CoreSuite::MLS_256_DHKEMP521_AES256GCM_SHA512_P521
            }
            CipherSuite::Mls256Dhkemx448Chacha20poly1305Sha512Ed448 => {
                CoreSuite::MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_ED448
            }
            CipherSuite::Mls256Dhkemp384Aes256gcmSha384P384 => {
                CoreSuite::MLS_256_DHKEMP384_AES256GCM_SHA384_P384
            }
        }
    }
}

impl CipherSuite {
    /// The bindings' suite for a core suite, if it is one of the seven.
    pub(crate) fn from_core(s: CoreSuite) -> Option<Self> {
        [
            Self::Mls128Dhkemx25519Aes128gcmSha256Ed25519,
            Self::Mls128Dhkemp256Aes128gcmSha256P256,
            Self::Mls128Dhkemx25519Chacha20poly1305Sha256Ed25519,
            Self::Mls256Dhkemx448Aes256gcmSha512Ed448,
            Self::Mls256Dhkemp521Aes256gcmSha512P521,
            Self::Mls256Dhkemx448Chacha20poly1305Sha512Ed448,
            Self::Mls256Dhkemp384Aes256gcmSha384P384,
        ]
        .into_iter()
        .find(|b| CoreSuite::from(*b) == s)
    }
}

/// A member's credential (RFC 9420 §5.3), as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum Credential {
    /// `basic`: an identity the application interprets (a user id, an email).
    Basic {
        /// The identity bytes.
        identity: Vec<u8>,
    },
    /// `x509`: a certificate chain, leaf first, each DER-encoded.
    X509 {
        /// The certificates.
        certificates: Vec<Vec<u8>>,
    },
    /// Any other credential type, its content as one opaque vector.
    Other {
        /// The credential type code point.
        credential_type: u16,
        /// The content.
        data: Vec<u8>,
    },
}

impl From<&CoreCredential> for Credential {
    fn from(c: &CoreCredential) -> Self {
        match c {
            CoreCredential::Basic(identity) => Self::Basic {
                identity: identity.clone(),
            },
            CoreCredential::X509(certificates) => Self::X509 {
                certificates: certificates.clone(),
            },
            CoreCredential::Other {
                credential_type,
                data,
            } => Self::Other {
                credential_type: credential_type.0,
                data: data.clone(),
            },
        }
    }
}

impl From<Credential> for CoreCredential {
    fn from(c: Credential) -> Self {
        match c {
            Credential::Basic { identity } => Self::Basic(identity),
            Credential::X509 { certificates } => Self::X509(certificates),
            Credential::Other {
                credential_type,
                data,
            } => Self::Other {
                credential_type: CredentialType(credential_type),
                data,
            },
        }
    }
}

/// A member of a group: its leaf and its credential.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Member {
    /// The member's leaf index in the ratchet tree.
    pub leaf_index: u32,
    /// The member's credential.
    pub credential: Credential,
}

/// What a commit sent by this member produced, to hand to the delivery
/// service. The commit stays pending until
/// [`merge_pending_commit`](crate::group::MlsGroup::merge_pending_commit)
/// (the delivery service accepted it) or
/// [`discard_pending_commit`](crate::group::MlsGroup::discard_pending_commit).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CommitBundle {
    /// The commit (an MLSMessage), for every current member.
    pub commit: Vec<u8>,
    /// The Welcome (an MLSMessage) for the members it adds, if any.
    pub welcome: Option<Vec<u8>>,
}

/// What a merged commit changed.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CommitSummary {
    /// The epoch the commit started.
    pub epoch: u64,
    /// The committer's leaf, or none for an external committer.
    pub committer_leaf: Option<u32>,
    /// Members added (for an external commit, the joiner last).
    pub added: Vec<Member>,
    /// Members removed, with the credential they had.
    pub removed: Vec<Member>,
    /// Leaves whose member replaced its leaf node by an Update.
    pub updated: Vec<u32>,
}

impl From<&tessera::group::CommitSummary> for CommitSummary {
    fn from(s: &tessera::group::CommitSummary) -> Self {
        let members = |list: &[(tessera::tree_math::LeafIndex, CoreCredential)]| {
            list.iter()
                .map(|(leaf, credential)| Member {
                    leaf_index: leaf.0,
                    credential: credential.into(),
                })
                .collect()
        };
        Self {
            epoch: s.new_epoch,
            committer_leaf: match s.committer {
                tessera::messages::Sender::Member(leaf) => Some(leaf),
                _ => None,
            },
            added: members(&s.added),
            removed: members(&s.removed),
            updated: s.updated.iter().map(|l| l.0).collect(),
        }
    }
}

/// What processing one received message gave.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Received {
    /// Application data from a member.
    Application {
        /// The sender: its leaf and its credential as of the epoch the
        /// message was sent in (the leaf may hold someone else since).
        sender: Member,
        /// The epoch the message was sent in (it may be a past epoch kept
        /// for late messages).
        epoch: u64,
        /// The plaintext.
        data: Vec<u8>,
        /// The sender's authenticated, unencrypted data.
        authenticated_data: Vec<u8>,
    },
    /// A commit, validated and merged: the group is in `summary.epoch` now.
    Commit {
        /// What it changed.
        summary: CommitSummary,
    },
    /// A commit that removes this member. The group is inactive from now
    /// on: sending and committing fail with `ApiMisuse`.
    Removed {
        /// What the commit changed.
        summary: CommitSummary,
    },
    /// A proposal, kept until a commit covers it or the epoch ends.
    Proposal {
        /// The proposal type code point (RFC 9420 §17.4).
        proposal_type: u16,
        /// The proposal's reference (RFC 9420 §5.2).
        reference: Vec<u8>,
    },
    /// This member's own message echoed back by the delivery service
    /// (other than its pending commit, which is merged and reported as
    /// `Commit`): nothing changed.
    OwnMessage,
}
