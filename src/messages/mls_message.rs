//! MLSMessage, the top-level message (RFC 9420 §6).

use super::{
    GroupInfo, KeyPackage, PrivateMessage, ProtocolVersion, PublicMessage, Welcome, WireFormat,
};
use crate::codec::{Decode, Encode, Reader};
use crate::error::{ApiError, DecodeError};

/// Any message MLS sends (RFC 9420 §6): a protocol version, a wire format and
/// the body that goes with it.
///
/// The version is always `mls10`: the RFC fixes the field
/// (`ProtocolVersion version = mls10`) and defines the body only for that
/// version, so it is not stored, and decoding any other version fails with
/// [`DecodeError::InvalidValue`]. So does a wire format other than the five here.
/// (A KeyPackage's own `version` must also be `mls10` (§10), which is for
/// its validation to check.)
///
/// ```
/// use tessera::codec::{Decode, Encode};
/// use tessera::messages::{MlsMessage, WireFormat};
/// // version mls10, wire format mls_welcome, suite 1, no secrets, empty group info.
/// let bytes = [0, 1, 0, 3, 0, 1, 0, 0];
/// let msg = MlsMessage::decode_exact(&bytes).unwrap();
/// assert_eq!(msg.wire_format(), WireFormat::WELCOME);
/// assert_eq!(msg.to_bytes().unwrap(), bytes);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MlsMessage {
    /// `mls_public_message`.
    PublicMessage(PublicMessage),
    /// `mls_private_message`.
    PrivateMessage(PrivateMessage),
    /// `mls_welcome`.
    Welcome(Welcome),
    /// `mls_group_info`.
    GroupInfo(GroupInfo),
    /// `mls_key_package`.
    KeyPackage(KeyPackage),
}

impl MlsMessage {
    /// The protocol version every MLSMessage carries.
    pub const VERSION: ProtocolVersion = ProtocolVersion::MLS10;

    /// The wire format this message is encoded with.
    pub fn wire_format(&self) -> WireFormat {
        match self {
            Self::PublicMessage(_) => WireFormat::PUBLIC_MESSAGE,
            Self::PrivateMessage(_) => WireFormat::PRIVATE_MESSAGE,
            Self::Welcome(_) => WireFormat::WELCOME,
            Self::GroupInfo(_) => WireFormat::GROUP_INFO,
            Self::KeyPackage(_) => WireFormat::KEY_PACKAGE,
        }
    }
}

impl Encode for MlsMessage {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        Self::VERSION.encode(out)?;
        self.wire_format().encode(out)?;
        match self {
            Self::PublicMessage(m) => m.encode(out),
            Self::PrivateMessage(m) => m.encode(out),
            Self::Welcome(m) => m.encode(out),
            Self::GroupInfo(m) => m.encode(out),
            Self::KeyPackage(m) => m.encode(out),
        }
    }
}

impl Decode for MlsMessage {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        if ProtocolVersion::decode(r)? != Self::VERSION {
            return Err(DecodeError::InvalidValue("MLSMessage.version"));
        }
        Ok(match WireFormat::decode(r)? {
            WireFormat::PUBLIC_MESSAGE => Self::PublicMessage(PublicMessage::decode(r)?),
            WireFormat::PRIVATE_MESSAGE => Self::PrivateMessage(PrivateMessage::decode(r)?),
            WireFormat::WELCOME => Self::Welcome(Welcome::decode(r)?),
            WireFormat::GROUP_INFO => Self::GroupInfo(GroupInfo::decode(r)?),
            WireFormat::KEY_PACKAGE => Self::KeyPackage(KeyPackage::decode(r)?),
            _ => return Err(DecodeError::InvalidValue("WireFormat")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::test_support::{messages, round_trip};
    use proptest::prelude::*;

    #[test]
    fn every_wire_format_round_trips() {
        for m in messages() {
            let bytes = round_trip(&m);
            assert_eq!(bytes[..2], [0, 1]);
            assert_eq!(
                WireFormat(u16::from_be_bytes([bytes[2], bytes[3]])),
                m.wire_format()
            );
        }
    }

    #[test]
    fn rejects_versions_other_than_mls10() {
        // RFC 9420 §6: `ProtocolVersion version = mls10`.
        for m in messages() {
            let mut bytes = m.to_bytes().unwrap();
            for v in [0u16, 2, 0x0a0a, 0xffff] {
                bytes[..2].copy_from_slice(&v.to_be_bytes());
                assert_eq!(
                    MlsMessage::decode_exact(&bytes),
                    Err(DecodeError::InvalidValue("MLSMessage.version"))
                );
            }
        }
    }

    #[test]
    fn rejects_unknown_wire_formats() {
        for m in messages() {
            let mut bytes = m.to_bytes().unwrap();
            for wf in [0u16, 6, 0x0a0a, 0xffff] {
                bytes[2..4].copy_from_slice(&wf.to_be_bytes());
                assert_eq!(
                    MlsMessage::decode_exact(&bytes),
                    Err(DecodeError::InvalidValue("WireFormat"))
                );
            }
        }
    }

    #[test]
    fn reading_a_body_as_another_wire_format_fails() {
        // A commit's encoding is not, say, a Welcome: whatever decodes must
        // still span the input exactly, which it does not here.
        for m in messages() {
            let bytes = m.to_bytes().unwrap();
            for wf in 1u16..=5 {
                if WireFormat(wf) == m.wire_format() {
                    continue;
                }
                let mut other = bytes.clone();
                other[2..4].copy_from_slice(&wf.to_be_bytes());
                if let Ok(d) = MlsMessage::decode_exact(&other) {
                    assert_eq!(d.to_bytes().unwrap(), other);
                }
            }
        }
    }

    /// Decoding must not panic, and whatever decodes re-encodes to the same bytes.
    fn check_canonical(bytes: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(m) = MlsMessage::decode_exact(bytes) {
            prop_assert_eq!(m.to_bytes().unwrap(), bytes);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            check_canonical(&bytes)?;
            // Also behind a valid header, so the bodies' decoders see the bytes.
            for wf in 1u8..=5 {
                let mut framed = vec![0, 1, 0, wf];
                framed.extend_from_slice(&bytes);
                check_canonical(&framed)?;
            }
        }

        #[test]
        fn mutated_messages_never_panic(
            which in any::<proptest::sample::Index>(),
            edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<proptest::sample::Index>(),
        ) {
            let all = messages();
            let mut bytes = all[which.index(all.len())].to_bytes().unwrap();
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            check_canonical(&bytes)?;
            bytes.truncate(cut.index(bytes.len() + 1));
            check_canonical(&bytes)?;
        }
    }
}
