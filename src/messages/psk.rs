//! Pre-shared key identifiers (RFC 9420 §8.4).

use crate::codec::{Decode, Encode, Reader};
use crate::error::{ApiError, DecodeError};

/// How a PSK was provisioned (RFC 9420 §8.4, `PSKType`, a `uint8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PskType {
    /// Provided by the application.
    External,
    /// The `resumption_psk` of an earlier epoch (§8.6).
    Resumption,
}

impl PskType {
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::External => 1,
            Self::Resumption => 2,
        }
    }

    /// The type of a wire value; `reserved(0)` and unknown values are `None`.
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::External),
            2 => Some(Self::Resumption),
            _ => None,
        }
    }
}

impl Encode for PskType {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        out.push(self.to_u8());
        Ok(())
    }
}

impl Decode for PskType {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::from_u8(r.read_u8()?).ok_or(DecodeError::InvalidValue("PSKType"))
    }
}

/// Why a resumption PSK is injected (RFC 9420 §8.4, `ResumptionPSKUsage`, a `uint8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResumptionPskUsage {
    /// Ordinary use within the group (§8.6).
    Application,
    /// Reinitializing the group (§11.2).
    Reinit,
    /// Branching a subgroup (§11.3).
    Branch,
}

impl ResumptionPskUsage {
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Application => 1,
            Self::Reinit => 2,
            Self::Branch => 3,
        }
    }

    /// The usage of a wire value; `reserved(0)` and unknown values are `None`.
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Application),
            2 => Some(Self::Reinit),
            3 => Some(Self::Branch),
            _ => None,
        }
    }
}

impl Encode for ResumptionPskUsage {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        out.push(self.to_u8());
        Ok(())
    }
}

impl Decode for ResumptionPskUsage {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::from_u8(r.read_u8()?).ok_or(DecodeError::InvalidValue("ResumptionPSKUsage"))
    }
}

/// The identity of a resumption PSK: which group and epoch it comes from (RFC 9420 §8.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResumptionPsk {
    /// Why the PSK is used.
    pub usage: ResumptionPskUsage,
    /// The group whose `resumption_psk` is used.
    pub psk_group_id: Vec<u8>,
    /// The epoch whose `resumption_psk` is used.
    pub psk_epoch: u64,
}
crate::impl_codec_struct!(ResumptionPsk {
    usage,
    psk_group_id,
    psk_epoch
});

/// The type-specific part of a [`PreSharedKeyId`] (RFC 9420 §8.4).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Psk {
    /// `psktype = external`: an application-chosen identifier.
    External {
        /// The identifier the application knows the PSK by.
        psk_id: Vec<u8>,
    },
    /// `psktype = resumption`: the `resumption_psk` of a group and epoch.
    Resumption(ResumptionPsk),
}

impl Psk {
    /// The `PSKType` this variant is encoded with.
    pub fn psk_type(&self) -> PskType {
        match self {
            Self::External { .. } => PskType::External,
            Self::Resumption(_) => PskType::Resumption,
        }
    }
}

impl Encode for Psk {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.psk_type().encode(out)?;
        match self {
            Self::External { psk_id } => psk_id.encode(out),
            Self::Resumption(r) => r.encode(out),
        }
    }
}

impl Decode for Psk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match PskType::decode(r)? {
            PskType::External => Self::External {
                psk_id: Vec::decode(r)?,
            },
            PskType::Resumption => Self::Resumption(ResumptionPsk::decode(r)?),
        })
    }
}

/// `PreSharedKeyID` (RFC 9420 §8.4): which PSK, and the fresh nonce of this injection.
///
/// ```
/// use tessera::codec::{Decode, Encode};
/// use tessera::messages::{PreSharedKeyId, Psk};
/// let id = PreSharedKeyId { psk: Psk::External { psk_id: b"id".to_vec() }, psk_nonce: vec![7; 4] };
/// let bytes = id.to_bytes().unwrap();
/// assert_eq!(bytes, [1, 2, b'i', b'd', 4, 7, 7, 7, 7]);
/// assert_eq!(PreSharedKeyId::decode_exact(&bytes).unwrap(), id);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PreSharedKeyId {
    /// The type and type-specific identity (`psktype` and its `select`).
    pub psk: Psk,
    /// A fresh random value of length `KDF.Nh` for each injection.
    pub psk_nonce: Vec<u8>,
}
crate::impl_codec_struct!(PreSharedKeyId { psk, psk_nonce });

#[cfg(test)]
mod tests {
    use super::*;

    fn resumption() -> PreSharedKeyId {
        PreSharedKeyId {
            psk: Psk::Resumption(ResumptionPsk {
                usage: ResumptionPskUsage::Branch,
                psk_group_id: b"group".to_vec(),
                psk_epoch: 0x0102_0304_0506_0708,
            }),
            psk_nonce: vec![0xaa; 32],
        }
    }

    #[test]
    fn round_trips() {
        let ext = PreSharedKeyId {
            psk: Psk::External {
                psk_id: vec![1, 2, 3],
            },
            psk_nonce: vec![],
        };
        for id in [ext, resumption()] {
            let bytes = id.to_bytes().unwrap();
            assert_eq!(PreSharedKeyId::decode_exact(&bytes).unwrap(), id);
        }
        let bytes = resumption().to_bytes().unwrap();
        // psktype 2, usage 3, opaque group id, uint64 epoch, opaque nonce.
        assert_eq!(&bytes[..8], [2, 3, 5, b'g', b'r', b'o', b'u', b'p']);
        assert_eq!(&bytes[8..16], [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(bytes[16], 32);
        assert_eq!(bytes.len(), 17 + 32);
    }

    #[test]
    fn rejects_bad_enum_values() {
        for bad in [0u8, 3, 255] {
            let bytes = [bad, 0, 0];
            assert_eq!(
                PreSharedKeyId::decode_exact(&bytes),
                Err(DecodeError::InvalidValue("PSKType"))
            );
        }
        let mut bytes = resumption().to_bytes().unwrap();
        for bad in [0u8, 4, 255] {
            bytes[1] = bad;
            assert_eq!(
                PreSharedKeyId::decode_exact(&bytes),
                Err(DecodeError::InvalidValue("ResumptionPSKUsage"))
            );
        }
    }

    #[test]
    fn rejects_truncation_and_trailing_bytes() {
        let bytes = resumption().to_bytes().unwrap();
        for cut in 0..bytes.len() {
            assert!(PreSharedKeyId::decode_exact(&bytes[..cut]).is_err());
        }
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            PreSharedKeyId::decode_exact(&long),
            Err(DecodeError::TrailingBytes(1))
        );
    }
}
