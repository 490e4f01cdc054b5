//! Wire formats (RFC 9420 §6, §17.2).

/// A wire format: how an [`MlsMessage`](super::MlsMessage) body is to be read
/// (RFC 9420 §6, `uint16 WireFormat`, values from the "MLS Wire Formats" registry, §17.2).
///
/// Other values are representable (the registry is open), but an
/// [`MlsMessage`](super::MlsMessage) only decodes with the five defined here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WireFormat(pub u16);
crate::impl_codec_newtype!(WireFormat(u16));

impl WireFormat {
    /// `mls_public_message` (§6.2).
    pub const PUBLIC_MESSAGE: Self = Self(1);
    /// `mls_private_message` (§6.3).
    pub const PRIVATE_MESSAGE: Self = Self(2);
    /// `mls_welcome` (§12.4.3.1).
    pub const WELCOME: Self = Self(3);
    /// `mls_group_info` (§12.4.3).
    pub const GROUP_INFO: Self = Self(4);
    /// `mls_key_package` (§10).
    pub const KEY_PACKAGE: Self = Self(5);
}
