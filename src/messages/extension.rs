//! Extensions (RFC 9420 §13) and the typed contents of the ones the RFC defines.
//!
//! Extension lists are kept as received ([`Extension`] holds the encoded data),
//! so re-encoding is byte-exact and unknown or GREASE (§13.5) extensions pass
//! through. Known extensions are parsed on demand with [`ExtensionList::parse`].

use super::{CredentialType, ProposalType};
use crate::codec::{Decode, Encode};
use crate::crypto::{HpkePublicKey, SignaturePublicKey};
use crate::error::{DecodeError, ProtocolError};
use crate::messages::Credential;

/// An extension type (RFC 9420 §17.3). Unknown and GREASE values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtensionType(pub u16);
crate::impl_codec_newtype!(ExtensionType(u16));

impl ExtensionType {
    /// `application_id` (§5.3.3).
    pub const APPLICATION_ID: Self = Self(1);
    /// `ratchet_tree` (§12.4.3.3).
    pub const RATCHET_TREE: Self = Self(2);
    /// `required_capabilities` (§11.1).
    pub const REQUIRED_CAPABILITIES: Self = Self(3);
    /// `external_pub` (§12.4.3.2).
    pub const EXTERNAL_PUB: Self = Self(4);
    /// `external_senders` (§12.1.8.1).
    pub const EXTERNAL_SENDERS: Self = Self(5);

    /// Whether this is one of the extension types RFC 9420 defines (1 to 5).
    /// These need not be listed in a leaf's capabilities (§7.2).
    pub fn is_default(self) -> bool {
        (1..=5).contains(&self.0)
    }

    /// Whether this is a GREASE value (§13.5): `0x_A_A` with `_` any nibble.
    pub fn is_grease(self) -> bool {
        is_grease(self.0)
    }
}

/// Whether a 16-bit code point is a GREASE value (RFC 9420 §13.5).
/// These are 0x0A0A, 0x1A1A, ..., 0xEAEA (0xFAFA is private use). Receivers
/// must treat them like any unknown value; this is for senders and tests.
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff && v != 0xfafa
}

/// One extension: `struct { ExtensionType extension_type; opaque extension_data<V>; }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// Which extension this is.
    pub extension_type: ExtensionType,
    /// Its encoded content.
    pub extension_data: Vec<u8>,
}
crate::impl_codec_struct!(Extension {
    extension_type,
    extension_data
});

impl Extension {
    /// An extension holding the encoding of a typed value.
    pub fn from_typed<T: ExtensionData>(value: &T) -> Result<Self, crate::error::ApiError> {
        Ok(Self {
            extension_type: T::TYPE,
            extension_data: value.to_bytes()?,
        })
    }
}

/// The content of an extension of a known type.
pub trait ExtensionData: Encode + Decode {
    /// The extension type that carries this content.
    const TYPE: ExtensionType;
}

/// Look-ups on a list of extensions.
pub trait ExtensionList {
    /// The extension of type `t`, if present.
    fn find(&self, t: ExtensionType) -> Option<&Extension>;

    /// The extension of type `T::TYPE`, decoded; `Ok(None)` if absent, an error if malformed.
    fn parse<T: ExtensionData>(&self) -> Result<Option<T>, DecodeError> {
        self.find(T::TYPE)
            .map(|e| T::decode_exact(&e.extension_data))
            .transpose()
    }

    /// Fails if any extension type appears twice (RFC 9420 §13.4: "MUST NOT
    /// contain more than one extension of any given ExtensionType").
    fn check_unique(&self) -> Result<(), ProtocolError>;
}

impl ExtensionList for [Extension] {
    fn find(&self, t: ExtensionType) -> Option<&Extension> {
        self.iter().find(|e| e.extension_type == t)
    }

    fn check_unique(&self) -> Result<(), ProtocolError> {
        let mut seen: Vec<u16> = self.iter().map(|e| e.extension_type.0).collect();
        seen.sort_unstable();
        match seen.windows(2).find_map(|w| match w {
            [a, b] if a == b => Some(*a),
            _ => None,
        }) {
            Some(t) => Err(ProtocolError::DuplicateExtension(t)),
            None => Ok(()),
        }
    }
}

impl ExtensionList for Vec<Extension> {
    fn find(&self, t: ExtensionType) -> Option<&Extension> {
        self.as_slice().find(t)
    }
    fn check_unique(&self) -> Result<(), ProtocolError> {
        self.as_slice().check_unique()
    }
}

/// `application_id` (RFC 9420 §5.3.3): an application-chosen identifier for a leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationId(pub Vec<u8>);
crate::impl_codec_newtype!(ApplicationId(Vec<u8>));
impl ExtensionData for ApplicationId {
    const TYPE: ExtensionType = ExtensionType::APPLICATION_ID;
}

/// `required_capabilities` (RFC 9420 §11.1).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RequiredCapabilities {
    /// Extension types every member must support.
    pub extension_types: Vec<ExtensionType>,
    /// Proposal types every member must support.
    pub proposal_types: Vec<ProposalType>,
    /// Credential types every member must support.
    pub credential_types: Vec<CredentialType>,
}
crate::impl_codec_struct!(RequiredCapabilities {
    extension_types,
    proposal_types,
    credential_types
});
impl ExtensionData for RequiredCapabilities {
    const TYPE: ExtensionType = ExtensionType::REQUIRED_CAPABILITIES;
}

/// `external_pub` (RFC 9420 §12.4.3.2): the group's external HPKE public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalPub {
    /// The public key derived from the epoch's external secret (§8.3).
    pub external_pub: HpkePublicKey,
}
crate::impl_codec_struct!(ExternalPub { external_pub });
impl ExtensionData for ExternalPub {
    const TYPE: ExtensionType = ExtensionType::EXTERNAL_PUB;
}

/// One entry of `external_senders` (RFC 9420 §12.1.8.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExternalSender {
    /// The sender's signature key.
    pub signature_key: SignaturePublicKey,
    /// The sender's credential.
    pub credential: Credential,
}
crate::impl_codec_struct!(ExternalSender {
    signature_key,
    credential
});

/// `external_senders` (RFC 9420 §12.1.8.1).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ExternalSenders(pub Vec<ExternalSender>);
crate::impl_codec_newtype!(ExternalSenders(Vec<ExternalSender>));
impl ExtensionData for ExternalSenders {
    const TYPE: ExtensionType = ExtensionType::EXTERNAL_SENDERS;
}
