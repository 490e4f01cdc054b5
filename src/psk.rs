//! The PSK secret: every pre-shared key injected by a Commit, chained into
//! one input for the key schedule (RFC 9420 §8.4).
//!
//! ```text
//! psk_extracted_[i] = KDF.Extract(0, psk_[i])
//! psk_input_[i]     = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, KDF.Nh)
//! psk_secret_[0]    = 0
//! psk_secret_[i]    = KDF.Extract(psk_input_[i-1], psk_secret_[i-1])
//! ```

use crate::codec::Encode;
use crate::crypto::labeled::{expand_with_label, nh};
use crate::crypto::{CipherSuiteProvider, Secret};
use crate::error::{ProtocolError, Result};
use crate::messages::PreSharedKeyId;

/// The chained secret of all PSKs of a Commit, `psk_secret` (RFC 9420 §8.4).
///
/// With no PSK it is the all-zero vector of length `KDF.Nh`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PskSecret(Secret);

impl PskSecret {
    /// `psk_secret` when no PSK is injected: `KDF.Nh` zero bytes (RFC 9420 §8.4).
    pub fn zero(cs: &dyn CipherSuiteProvider) -> Self {
        Self(Secret::zero(cs.kdf_len()))
    }

    /// Wraps an already computed `psk_secret`.
    pub fn from_secret(secret: Secret) -> Self {
        Self(secret)
    }

    /// The secret, as input to `KDF.Extract` in the key schedule.
    pub fn as_secret(&self) -> &Secret {
        &self.0
    }

    /// Chains the PSKs in the order the Commit (or GroupSecrets) lists them
    /// (RFC 9420 §8.4). Each item is the PSK's id and its value.
    ///
    /// Fails with [`ProtocolError::TooManyPsks`] if there are more than 65535,
    /// the most `PSKLabel.count` can express.
    pub fn compute<'a, I>(cs: &dyn CipherSuiteProvider, psks: I) -> Result<Self>
    where
        I: IntoIterator<Item = (&'a PreSharedKeyId, &'a Secret)>,
        I::IntoIter: ExactSizeIterator,
    {
        let psks = psks.into_iter();
        let count =
            u16::try_from(psks.len()).map_err(|_| ProtocolError::TooManyPsks(psks.len()))?;
        let nh_len = nh(cs)?;
        let zero = Secret::zero(cs.kdf_len());
        let mut psk_secret = zero.clone();
        // `index < count <= u16::MAX`, so the zip never truncates.
        for (index, (id, psk)) in (0..count).zip(psks) {
            let extracted = cs.kdf_extract(zero.as_bytes(), psk.as_bytes())?;
            let mut label = Vec::new();
            id.encode(&mut label)?;
            index.encode(&mut label)?;
            count.encode(&mut label)?;
            let input =
                expand_with_label(cs, extracted.as_bytes(), b"derived psk", &label, nh_len)?;
            psk_secret = cs.kdf_extract(input.as_bytes(), psk_secret.as_bytes())?;
        }
        Ok(Self(psk_secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{CipherSuite, RustCryptoProvider};
    use crate::messages::Psk;

    #[test]
    fn no_psk_is_the_zero_vector_and_order_matters() {
        let cs = RustCryptoProvider::new()
            .suite(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
            .unwrap();
        let none = PskSecret::compute(&cs, core::iter::empty()).unwrap();
        assert_eq!(none, PskSecret::zero(&cs));
        assert_eq!(none.as_secret().as_bytes(), [0u8; 32]);
        let id = |b: u8| PreSharedKeyId {
            psk: Psk::External { psk_id: vec![b] },
            psk_nonce: vec![b; 32],
        };
        let (a, b) = (id(1), id(2));
        let (sa, sb) = (Secret::from(vec![1; 32]), Secret::from(vec![2; 32]));
        let ab = PskSecret::compute(&cs, [(&a, &sa), (&b, &sb)]).unwrap();
        let ba = PskSecret::compute(&cs, [(&b, &sb), (&a, &sa)]).unwrap();
        assert_ne!(ab, ba);
        assert_ne!(ab, none);
    }
}
