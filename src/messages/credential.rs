//! Credentials (RFC 9420 §5.3).

use crate::codec::{Decode, Encode, Reader};
use crate::error::{ApiError, DecodeError};

/// A credential type (RFC 9420 §17.5). Unknown and GREASE values are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CredentialType(pub u16);
crate::impl_codec_newtype!(CredentialType(u16));

impl CredentialType {
    /// `basic`: a bare identity.
    pub const BASIC: Self = Self(1);
    /// `x509`: a certificate chain.
    pub const X509: Self = Self(2);
}

/// A member's credential (RFC 9420 §5.3).
///
/// Types other than `basic` and `x509` are carried as one opaque vector, the
/// convention for credential types defined outside RFC 9420.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Credential {
    /// `basic`: `opaque identity<V>`.
    Basic(Vec<u8>),
    /// `x509`: `Certificate certificates<V>`, each `opaque cert_data<V>`, leaf first.
    X509(Vec<Vec<u8>>),
    /// Any other type, with its content as an opaque vector.
    Other {
        /// The credential type.
        credential_type: CredentialType,
        /// The content.
        data: Vec<u8>,
    },
}

impl Credential {
    /// A basic credential with this identity.
    pub fn basic(identity: impl Into<Vec<u8>>) -> Self {
        Self::Basic(identity.into())
    }

    /// The credential type.
    pub fn credential_type(&self) -> CredentialType {
        match self {
            Self::Basic(_) => CredentialType::BASIC,
            Self::X509(_) => CredentialType::X509,
            Self::Other {
                credential_type, ..
            } => *credential_type,
        }
    }
}

impl Encode for Credential {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.credential_type().encode(out)?;
        match self {
            Self::Basic(id) => id.encode(out),
            Self::X509(certs) => certs.encode(out),
            Self::Other { data, .. } => data.encode(out),
        }
    }
}

impl Decode for Credential {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let t = CredentialType::decode(r)?;
        Ok(match t {
            CredentialType::BASIC => Self::Basic(Decode::decode(r)?),
            CredentialType::X509 => Self::X509(Decode::decode(r)?),
            credential_type => Self::Other {
                credential_type,
                data: Decode::decode(r)?,
            },
        })
    }
}
