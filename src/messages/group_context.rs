//! The group context (RFC 9420 §8.1).

use super::Extension;
use crate::crypto::CipherSuite;

/// A protocol version (RFC 9420 §6). Only `mls10` is defined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProtocolVersion(pub u16);

impl ProtocolVersion {
    /// MLS 1.0.
    pub const MLS10: Self = Self(1);
}

crate::impl_codec_newtype!(ProtocolVersion(u16));

/// The state every member agrees on in an epoch (RFC 9420 §8.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupContext {
    /// Always [`ProtocolVersion::MLS10`].
    pub version: ProtocolVersion,
    /// The group's cipher suite.
    pub cipher_suite: CipherSuite,
    /// The application-chosen group identifier.
    pub group_id: Vec<u8>,
    /// The epoch number.
    pub epoch: u64,
    /// The tree hash of the ratchet tree's root (§7.8).
    pub tree_hash: Vec<u8>,
    /// The confirmed transcript hash (§8.2).
    pub confirmed_transcript_hash: Vec<u8>,
    /// The group context extensions.
    pub extensions: Vec<Extension>,
}
crate::impl_codec_struct!(GroupContext {
    version,
    cipher_suite,
    group_id,
    epoch,
    tree_hash,
    confirmed_transcript_hash,
    extensions
});

impl GroupContext {
    /// The provisional context of the next epoch (RFC 9420 §12.4.1,
    /// §12.4.2): the epoch plus one and `extensions`, everything else as now;
    /// the caller then sets the new tree hash and confirmed transcript hash.
    /// Fails with [`ProtocolError::EpochExhausted`](crate::error::ProtocolError::EpochExhausted) after epoch 2^64 - 1.
    pub fn next_epoch(
        &self,
        extensions: Vec<Extension>,
    ) -> Result<GroupContext, crate::error::ProtocolError> {
        Ok(GroupContext {
            epoch: self
                .epoch
                .checked_add(1)
                .ok_or(crate::error::ProtocolError::EpochExhausted)?,
            extensions,
            ..self.clone()
        })
    }
}
