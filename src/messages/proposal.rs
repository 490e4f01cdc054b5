//! Proposals (RFC 9420 §12.1).

use super::{Extension, KeyPackage, LeafNode, PreSharedKeyId, ProtocolVersion};
use crate::codec::{Decode, Encode, Reader};
use crate::crypto::CipherSuite;
use crate::error::{ApiError, DecodeError};

/// A proposal type (RFC 9420 §17.4). Unknown and GREASE values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProposalType(pub u16);
crate::impl_codec_newtype!(ProposalType(u16));

impl ProposalType {
    /// `add` (§12.1.1).
    pub const ADD: Self = Self(1);
    /// `update` (§12.1.2).
    pub const UPDATE: Self = Self(2);
    /// `remove` (§12.1.3).
    pub const REMOVE: Self = Self(3);
    /// `psk` (§12.1.4).
    pub const PSK: Self = Self(4);
    /// `reinit` (§12.1.5).
    pub const REINIT: Self = Self(5);
    /// `external_init` (§12.1.6).
    pub const EXTERNAL_INIT: Self = Self(6);
    /// `group_context_extensions` (§12.1.7).
    pub const GROUP_CONTEXT_EXTENSIONS: Self = Self(7);

    /// Whether this is one of the proposal types RFC 9420 defines (1 to 7).
    /// These need not be listed in a leaf's capabilities (§7.2).
    pub fn is_default(self) -> bool {
        (1..=7).contains(&self.0)
    }
}

/// `Add` (RFC 9420 §12.1.1): add the client of a KeyPackage to the group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Add {
    /// The new member's KeyPackage.
    pub key_package: KeyPackage,
}
crate::impl_codec_struct!(Add { key_package });

/// `Update` (RFC 9420 §12.1.2): replace the sender's leaf node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The sender's new leaf node (source `update`).
    pub leaf_node: LeafNode,
}
crate::impl_codec_struct!(Update { leaf_node });

/// `Remove` (RFC 9420 §12.1.3): remove the member at a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Remove {
    /// The leaf index of the member to remove.
    pub removed: u32,
}
crate::impl_codec_struct!(Remove { removed });

/// `PreSharedKey` (RFC 9420 §12.1.4): inject a PSK into the next epoch's key schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreSharedKey {
    /// Which PSK, with a fresh nonce.
    pub psk: PreSharedKeyId,
}
crate::impl_codec_struct!(PreSharedKey { psk });

/// `ReInit` (RFC 9420 §12.1.5): reinitialize the group with new parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReInit {
    /// The identifier of the new group.
    pub group_id: Vec<u8>,
    /// The protocol version of the new group.
    pub version: ProtocolVersion,
    /// The cipher suite of the new group.
    pub cipher_suite: CipherSuite,
    /// The group context extensions of the new group.
    pub extensions: Vec<Extension>,
}
crate::impl_codec_struct!(ReInit {
    group_id,
    version,
    cipher_suite,
    extensions
});

/// `ExternalInit` (RFC 9420 §12.1.6): the KEM output of an external joiner (§8.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalInit {
    /// The KEM output that encapsulates the new epoch's `init_secret`.
    pub kem_output: Vec<u8>,
}
crate::impl_codec_struct!(ExternalInit { kem_output });

/// `GroupContextExtensions` (RFC 9420 §12.1.7): replace the group context extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupContextExtensions {
    /// The new extension list (a wholesale replacement).
    pub extensions: Vec<Extension>,
}
crate::impl_codec_struct!(GroupContextExtensions { extensions });

/// A proposal (RFC 9420 §12.1): `ProposalType proposal_type` and its body.
///
/// The body of a proposal carries no length, so a proposal of a type this
/// library does not know cannot be skipped or carried: it fails to decode
/// with [`DecodeError::InvalidValue`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proposal {
    /// `add(1)`.
    Add(Add),
    /// `update(2)`.
    Update(Update),
    /// `remove(3)`.
    Remove(Remove),
    /// `psk(4)`.
    PreSharedKey(PreSharedKey),
    /// `reinit(5)`.
    ReInit(ReInit),
    /// `external_init(6)`.
    ExternalInit(ExternalInit),
    /// `group_context_extensions(7)`.
    GroupContextExtensions(GroupContextExtensions),
}

impl Proposal {
    /// The proposal type this proposal is encoded with.
    pub fn proposal_type(&self) -> ProposalType {
        match self {
            Self::Add(_) => ProposalType::ADD,
            Self::Update(_) => ProposalType::UPDATE,
            Self::Remove(_) => ProposalType::REMOVE,
            Self::PreSharedKey(_) => ProposalType::PSK,
            Self::ReInit(_) => ProposalType::REINIT,
            Self::ExternalInit(_) => ProposalType::EXTERNAL_INIT,
            Self::GroupContextExtensions(_) => ProposalType::GROUP_CONTEXT_EXTENSIONS,
        }
    }
}

impl Encode for Proposal {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.proposal_type().encode(out)?;
        match self {
            Self::Add(p) => p.encode(out),
            Self::Update(p) => p.encode(out),
            Self::Remove(p) => p.encode(out),
            Self::PreSharedKey(p) => p.encode(out),
            Self::ReInit(p) => p.encode(out),
            Self::ExternalInit(p) => p.encode(out),
            Self::GroupContextExtensions(p) => p.encode(out),
        }
    }
}

impl Decode for Proposal {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match ProposalType::decode(r)? {
            ProposalType::ADD => Self::Add(Add::decode(r)?),
            ProposalType::UPDATE => Self::Update(Update::decode(r)?),
            ProposalType::REMOVE => Self::Remove(Remove::decode(r)?),
            ProposalType::PSK => Self::PreSharedKey(PreSharedKey::decode(r)?),
            ProposalType::REINIT => Self::ReInit(ReInit::decode(r)?),
            ProposalType::EXTERNAL_INIT => Self::ExternalInit(ExternalInit::decode(r)?),
            ProposalType::GROUP_CONTEXT_EXTENSIONS => {
                Self::GroupContextExtensions(GroupContextExtensions::decode(r)?)
            }
            _ => return Err(DecodeError::InvalidValue("ProposalType")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::test_support::{proposals, round_trip};

    #[test]
    fn every_proposal_type_round_trips_with_its_code_point() {
        for (i, p) in proposals().iter().enumerate() {
            let bytes = round_trip(p);
            let code = u16::from_be_bytes([bytes[0], bytes[1]]);
            assert_eq!(code, i as u16 + 1);
            assert_eq!(p.proposal_type(), ProposalType(code));
        }
        // Remove is the type followed by a bare uint32.
        let remove = Proposal::Remove(Remove {
            removed: 0x0102_0304,
        });
        assert_eq!(remove.to_bytes().unwrap(), [0, 3, 1, 2, 3, 4]);
    }

    #[test]
    fn rejects_unknown_proposal_types() {
        // reserved(0), the first unassigned value, a GREASE value, private use.
        for t in [0u16, 8, 0x0a0a, 0xf000] {
            let mut bytes = t.to_be_bytes().to_vec();
            bytes.extend([0, 0, 0, 0]);
            assert_eq!(
                Proposal::decode_exact(&bytes),
                Err(DecodeError::InvalidValue("ProposalType"))
            );
        }
    }
}
