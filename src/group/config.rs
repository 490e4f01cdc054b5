//! Group policy that is a runtime choice of the application.

use crate::error::ApiError;
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
    /// The most leaf positions (members, and blank leaves up to the last
    /// member) a group may span for this member: a ratchet tree wider than
    /// this (from a Welcome, a GroupInfo or out of band) is refused while it
    /// is decoded, and a commit whose Adds or external joiner would go
    /// beyond it is refused before its signatures are checked, both with
    /// [`ProtocolError::GroupTooLarge`](crate::error::ProtocolError::GroupTooLarge).
    /// This bounds the memory and work a Welcome or commit can demand. It
    /// changes what this member accepts: every member of a group should use
    /// the same value. Default 65,536 ([`GroupConfig::DEFAULT_MAX_GROUP_SIZE`]);
    /// 1 to 2^31. (Serialized configurations written before it existed
    /// get the default.)
    #[cfg_attr(feature = "serde", serde(default = "default_max_group_size"))]
    pub max_group_size: u32,
}

#[cfg(feature = "serde")]
fn default_max_group_size() -> u32 {
    GroupConfig::DEFAULT_MAX_GROUP_SIZE
}

impl GroupConfig {
    /// The default [`GroupConfig::max_group_size`].
    pub const DEFAULT_MAX_GROUP_SIZE: u32 = 1 << 16;
    /// The largest [`GroupConfig::max_group_size`]: the widest tree the tree
    /// math allows.
    pub const MAX_GROUP_SIZE: u32 = 1 << 31;

    /// Checks every value against the range the library accepts; fails with
    /// [`ApiError::ConfigOutOfRange`] naming the first one outside it (see
    /// [`SecretTreeConfig::validate`]). [`Group::create`](super::Group::create),
    /// [`Group::join`](super::Group::join),
    /// [`Group::join_external`](super::Group::join_external) and
    /// [`Group::from_bytes`](super::Group::from_bytes) call it.
    pub fn validate(&self) -> Result<(), ApiError> {
        self.secret_tree.validate()?;
        if (1..=Self::MAX_GROUP_SIZE).contains(&self.max_group_size) {
            Ok(())
        } else {
            Err(ApiError::ConfigOutOfRange {
                field: "GroupConfig.max_group_size",
                value: self.max_group_size.into(),
                min: 1,
                max: Self::MAX_GROUP_SIZE.into(),
            })
        }
    }
}

impl Default for GroupConfig {
    fn default() -> Self {
        Self {
            handshake_format: HandshakeFormat::default(),
            padding: PaddingPolicy::MultipleOf(core::num::NonZeroUsize::MIN.saturating_add(31)),
            max_past_epochs: 2,
            max_resumption_psks: 16,
            secret_tree: SecretTreeConfig::default(),
            max_group_size: Self::DEFAULT_MAX_GROUP_SIZE,
        }
    }
}
