//! Extensions (RFC 9420 §13): a type and opaque data.

use crate::codec::{Decode, Encode, Reader};
use crate::error::{ApiError, DecodeError};

/// An extension type (RFC 9420 §17.3). Unknown and GREASE values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtensionType(pub u16);

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
}

impl Encode for ExtensionType {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.0.encode(out)
    }
}

impl Decode for ExtensionType {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        u16::decode(r).map(Self)
    }
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
