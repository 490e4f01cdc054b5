//! Group policy that is a runtime choice of the application.

use crate::framing::PaddingPolicy;
use crate::secret_tree::SecretTreeConfig;

/// How this member sends its Proposals and Commits (RFC 9420 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum HandshakeFormat {
    /// As PublicMessage: signed and MACed but readable by the delivery service.
    #[default]
    Public,
    /// As PrivateMessage: encrypted to the group.
    Private,
}

/// The application's choices for a group. Every member may choose its own;
/// none of them changes what the member accepts from others except where noted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GroupConfig {
    /// The wire format of Proposals and Commits this member sends.
    pub handshake_format: HandshakeFormat,
    /// How PrivateMessage content is zero-padded to hide its exact length (RFC 9420 §6.3).
    pub padding: PaddingPolicy,
    /// How many past epochs keep their secret trees so that application
    /// messages delayed across a commit can still be decrypted. 0 deletes an
    /// epoch's keys as soon as the next one starts (the most forward secrecy).
    pub max_past_epochs: usize,
    /// How many past epochs' resumption PSKs are kept (RFC 9420 §8.6).
    pub max_resumption_psks: usize,
    /// Bounds of the secret tree: how far ahead a sender may jump and how many
    /// skipped keys are kept for out-of-order messages (RFC 9420 §9).
    pub secret_tree: SecretTreeConfig,
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            handshake_format: HandshakeFormat::default(),
            padding: PaddingPolicy::MultipleOf(core::num::NonZeroUsize::MIN.saturating_add(31)),
            max_past_epochs: 2,
            max_resumption_psks: 16,
            secret_tree: SecretTreeConfig::default(),
        }
    }
}
