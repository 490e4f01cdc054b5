//! The hpke-rs crypto backend of the default provider.
//!
//! `hpke-rs-rust-crypto` implements DHKEM(X25519), DHKEM(P-256) and
//! DHKEM(P-384) but not the DHKEM(X448) and DHKEM(P-521) of RFC 9420's
//! 256-bit suites. [`TesseraHpkeCrypto`] adds those two KEMs (RFC 9180 §7.1)
//! and delegates every other primitive (HKDF, AEAD, the other KEMs) to
//! [`HpkeRustCrypto`]. Its PRNG, [`ProviderPrng`], draws from the provider's
//! generator, so `RustCryptoProvider::with_seed` makes HPKE reproducible.
//!
//! The module also carries the DHKEM algorithms themselves, written against
//! this backend's DH: `DeriveKeyPair` (RFC 9180 §7.1.3) and a derandomized
//! `Encap` (§4.1), because hpke-rs 0.8's own DHKEM cannot derive X448 keys
//! (its `DeriveKeyPair` knows only X25519 and the NIST curves), so it can
//! neither encapsulate to an X448 key nor derive one.

use core::fmt;

use hpke_rs_crypto::error::Error;
use hpke_rs_crypto::types::{
    AeadAlgorithm, KdfAlgorithm, KemAlgorithm, SingleStageKdfAlgorithm, TwoStageKdfAlgorithm,
};
use hpke_rs_crypto::{HpkeCrypto, TryCryptoRng, TryRng};
use hpke_rs_rust_crypto::HpkeRustCrypto;
use p521::elliptic_curve::sec1::ToSec1Point;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::SharedRng;

/// `Nsk` of DHKEM(X448) (RFC 9180 §7.1).
const X448_SK_LEN: usize = 56;
/// `Npk` of DHKEM(X448).
const X448_PK_LEN: usize = 56;
/// `Nsk` of DHKEM(P-521).
const P521_SK_LEN: usize = 66;
/// `Npk` of DHKEM(P-521): an uncompressed SEC1 point.
const P521_PK_LEN: usize = 133;

/// The hpke-rs backend: [`HpkeRustCrypto`] plus DHKEM(X448) and DHKEM(P-521).
#[derive(Debug)]
pub(crate) struct TesseraHpkeCrypto;

/// The PRNG hpke-rs draws ephemeral keys and generated key pairs from: the
/// provider's shared generator itself (no copy of its state is made).
pub(crate) struct ProviderPrng(SharedRng);

impl ProviderPrng {
    /// A handle on the provider's generator.
    pub(crate) fn new(rng: &SharedRng) -> Self {
        Self(rng.clone())
    }
}

/// The provider's generator could not be used (its lock was poisoned).
#[derive(Debug)]
pub(crate) struct RngUnavailable;

impl fmt::Display for RngUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the provider's random generator is unavailable")
    }
}

impl core::error::Error for RngUnavailable {}

impl TryRng for ProviderPrng {
    type Error = RngUnavailable;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        super::fill_random(&self.0, dst).map_err(|_| RngUnavailable)
    }
}

impl TryCryptoRng for ProviderPrng {}

/// `suite_id = concat("KEM", I2OSP(kem_id, 2))` (RFC 9180 §4.1).
fn kem_suite_id(alg: KemAlgorithm) -> [u8; 5] {
    let [a, b] = (alg as u16).to_be_bytes();
    [b'K', b'E', b'M', a, b]
}

/// The KDF of a DHKEM (always an HKDF).
fn kem_kdf(alg: KemAlgorithm) -> Result<TwoStageKdfAlgorithm, Error> {
    TwoStageKdfAlgorithm::try_from(KdfAlgorithm::from(alg))
}

/// `LabeledExtract(salt, label, ikm)` (RFC 9180 §4).
fn labeled_extract(
    alg: KemAlgorithm,
    salt: &[u8],
    label: &[u8],
    ikm: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut labeled_ikm = Zeroizing::new(Vec::with_capacity(7 + 5 + label.len() + ikm.len()));
    labeled_ikm.extend_from_slice(b"HPKE-v1");
    labeled_ikm.extend_from_slice(&kem_suite_id(alg));
    labeled_ikm.extend_from_slice(label);
    labeled_ikm.extend_from_slice(ikm);
    HpkeRustCrypto::kdf_extract(kem_kdf(alg)?, salt, &labeled_ikm).map(Zeroizing::new)
}

/// `LabeledExpand(prk, label, info, L)` (RFC 9180 §4).
fn labeled_expand(
    alg: KemAlgorithm,
    prk: &[u8],
    label: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let l = u16::try_from(len).map_err(|_| Error::HpkeInvalidOutputLength)?;
    let mut labeled_info = Vec::with_capacity(2 + 7 + 5 + label.len() + info.len());
    labeled_info.extend_from_slice(&l.to_be_bytes());
    labeled_info.extend_from_slice(b"HPKE-v1");
    labeled_info.extend_from_slice(&kem_suite_id(alg));
    labeled_info.extend_from_slice(label);
    labeled_info.extend_from_slice(info);
    HpkeRustCrypto::kdf_expand(kem_kdf(alg)?, prk, &labeled_info, len).map(Zeroizing::new)
}

/// Whether `alg` is one of the DH-based KEMs of RFC 9180 §7.1.
fn is_dhkem(alg: KemAlgorithm) -> bool {
    matches!(
        alg,
        KemAlgorithm::DhKem25519
            | KemAlgorithm::DhKem448
            | KemAlgorithm::DhKemP256
            | KemAlgorithm::DhKemP384
            | KemAlgorithm::DhKemP521
    )
}

/// `DeriveKeyPair(ikm)` of a DHKEM (RFC 9180 §7.1.3); returns `(pk, sk)`.
///
/// X25519 and X448 take `Nsk` bytes of `LabeledExpand(dkp_prk, "sk", "", Nsk)`
/// as the private key. The NIST curves sample
/// `LabeledExpand(dkp_prk, "candidate", I2OSP(counter, 1), Nsk)`, masking the
/// first byte with `0x01` for P-521 (`0xFF` otherwise), until the value is a
/// valid scalar (non-zero and below the group order).
pub(crate) fn dhkem_derive_key_pair(
    alg: KemAlgorithm,
    ikm: &[u8],
) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), Error> {
    if !is_dhkem(alg) {
        return Err(Error::UnsupportedKemOperation);
    }
    let nsk = alg.private_key_len();
    let dkp_prk = labeled_extract(alg, &[], b"dkp_prk", ikm)?;
    let sk = match alg {
        KemAlgorithm::DhKem25519 | KemAlgorithm::DhKem448 => {
            labeled_expand(alg, &dkp_prk, b"sk", &[], nsk)?
        }
        _ => {
            let bitmask = if alg == KemAlgorithm::DhKemP521 {
                0x01
            } else {
                0xff
            };
            let mut found = None;
            for counter in 0..=u8::MAX {
                let mut candidate = labeled_expand(alg, &dkp_prk, b"candidate", &[counter], nsk)?;
                if let Some(first) = candidate.first_mut() {
                    *first &= bitmask;
                }
                if TesseraHpkeCrypto::dh_validate_sk(alg, &candidate).is_ok() {
                    found = Some(candidate);
                    break;
                }
            }
            // RFC 9180 §7.1.3: DeriveKeyPairError after 256 rejections.
            found.ok_or(Error::CryptoLibraryError("DeriveKeyPairError".into()))?
        }
    };
    let pk = TesseraHpkeCrypto::secret_to_public(alg, &sk)?;
    Ok((pk, sk))
}

/// DHKEM `Encap(pkR)` (RFC 9180 §4.1) with the ephemeral key pair derived
/// from `ikm_e` (`Nsk` random bytes); returns `(shared_secret, enc)`.
pub(crate) fn dhkem_encap_derand(
    alg: KemAlgorithm,
    pk_r: &[u8],
    ikm_e: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), Error> {
    let (pk_e, sk_e) = dhkem_derive_key_pair(alg, ikm_e)?;
    let dh = Zeroizing::new(TesseraHpkeCrypto::dh(alg, pk_r, &sk_e)?);
    // kem_context = concat(enc, pkRm); public keys are already serialized.
    let mut kem_context = Vec::with_capacity(pk_e.len() + pk_r.len());
    kem_context.extend_from_slice(&pk_e);
    kem_context.extend_from_slice(pk_r);
    let eae_prk = labeled_extract(alg, &[], b"eae_prk", &dh)?;
    let shared_secret = labeled_expand(
        alg,
        &eae_prk,
        b"shared_secret",
        &kem_context,
        alg.shared_secret_len(),
    )?;
    Ok((shared_secret, pk_e))
}

/// An X448 private key (RFC 7748 §5: any 56 bytes; clamped when used).
fn x448_secret(sk: &[u8]) -> Result<x448::StaticSecret, Error> {
    let bytes: &[u8; X448_SK_LEN] = sk.try_into().map_err(|_| Error::KemInvalidSecretKey)?;
    Ok(x448::StaticSecret::from(*bytes))
}

/// A P-521 private key: exactly `Nsk` big-endian bytes, a valid scalar.
fn p521_secret(sk: &[u8]) -> Result<p521::SecretKey, Error> {
    if sk.len() != P521_SK_LEN {
        return Err(Error::KemInvalidSecretKey);
    }
    p521::SecretKey::from_slice(sk).map_err(|_| Error::KemInvalidSecretKey)
}

/// A P-521 public key: an uncompressed SEC1 point on the curve (RFC 9180 §7.1.1).
fn p521_public(pk: &[u8]) -> Result<p521::PublicKey, Error> {
    if pk.len() != P521_PK_LEN || pk.first() != Some(&0x04) {
        return Err(Error::KemInvalidPublicKey);
    }
    p521::PublicKey::from_sec1_bytes(pk).map_err(|_| Error::KemInvalidPublicKey)
}

impl HpkeCrypto for TesseraHpkeCrypto {
    type HpkePrng = ProviderPrng;

    fn name() -> String {
        "Tessera (RustCrypto with X448 and P-521)".into()
    }

    fn supports_kdf(alg: KdfAlgorithm) -> Result<(), Error> {
        HpkeRustCrypto::supports_kdf(alg)
    }

    fn supports_kem(alg: KemAlgorithm) -> Result<(), Error> {
        match alg {
            KemAlgorithm::DhKem448 | KemAlgorithm::DhKemP521 => Ok(()),
            _ => HpkeRustCrypto::supports_kem(alg),
        }
    }

    fn supports_aead(alg: AeadAlgorithm) -> Result<(), Error> {
        HpkeRustCrypto::supports_aead(alg)
    }

    fn kdf_extract(alg: TwoStageKdfAlgorithm, salt: &[u8], ikm: &[u8]) -> Result<Vec<u8>, Error> {
        HpkeRustCrypto::kdf_extract(alg, salt, ikm)
    }

    fn kdf_expand(
        alg: TwoStageKdfAlgorithm,
        prk: &[u8],
        info: &[u8],
        output_size: usize,
    ) -> Result<Vec<u8>, Error> {
        HpkeRustCrypto::kdf_expand(alg, prk, info, output_size)
    }

    fn kdf_derive(alg: SingleStageKdfAlgorithm, ikm: &[u8], l: usize) -> Result<Vec<u8>, Error> {
        HpkeRustCrypto::kdf_derive(alg, ikm, l)
    }

    fn dh(alg: KemAlgorithm, pk: &[u8], sk: &[u8]) -> Result<Vec<u8>, Error> {
        match alg {
            KemAlgorithm::DhKem448 => {
                // from_bytes rejects a wrong length and the low-order points.
                let pk = x448::PublicKey::from_bytes(pk).ok_or(Error::KemInvalidPublicKey)?;
                let shared = x448_secret(sk)?.diffie_hellman(&pk);
                // RFC 9180 §7.1.4: an all-zero DH output must abort.
                if bool::from(shared.as_bytes().ct_eq(&[0u8; X448_PK_LEN])) {
                    return Err(Error::KemInvalidPublicKey);
                }
                Ok(shared.as_bytes().to_vec())
            }
            KemAlgorithm::DhKemP521 => {
                let pk = p521_public(pk)?;
                let sk = p521_secret(sk)?;
                // The x-coordinate of the shared point, Ndh = 66 bytes.
                let shared = p521::ecdh::diffie_hellman(sk.to_nonzero_scalar(), pk.as_affine());
                Ok(shared.raw_secret_bytes().to_vec())
            }
            _ => HpkeRustCrypto::dh(alg, pk, sk),
        }
    }

    fn secret_to_public(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, Error> {
        match alg {
            KemAlgorithm::DhKem448 => {
                Ok(x448::PublicKey::from(&x448_secret(sk)?).as_bytes().to_vec())
            }
            KemAlgorithm::DhKemP521 => Ok(p521_secret(sk)?
                .public_key()
                .to_sec1_point(false)
                .as_bytes()
                .to_vec()),
            _ => HpkeRustCrypto::secret_to_public(alg, sk),
        }
    }

    /// `GenerateKeyPair()` as `DeriveKeyPair(random(Nsk))`, which RFC 9180 §4
    /// allows, for every DHKEM: the randomness comes from the provider's PRNG.
    fn kem_key_gen(
        alg: KemAlgorithm,
        prng: &mut Self::HpkePrng,
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        if !is_dhkem(alg) {
            return Err(Error::UnsupportedKemOperation);
        }
        let mut ikm = Zeroizing::new(vec![0u8; alg.private_key_len()]);
        prng.try_fill_bytes(&mut ikm)
            .map_err(|_| Error::InsufficientRandomness)?;
        let (pk, sk) = dhkem_derive_key_pair(alg, &ikm)?;
        Ok((pk, sk.to_vec()))
    }

    /// `DeriveKeyPair(seed)` for the DHKEMs; other KEMs are delegated.
    fn kem_key_gen_derand(alg: KemAlgorithm, seed: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
        if is_dhkem(alg) {
            let (pk, sk) = dhkem_derive_key_pair(alg, seed)?;
            Ok((pk, sk.to_vec()))
        } else {
            HpkeRustCrypto::kem_key_gen_derand(alg, seed)
        }
    }

    fn kem_encaps(
        _alg: KemAlgorithm,
        _pk_r: &[u8],
        _prng: &mut Self::HpkePrng,
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        // Only non-DH KEMs come here, and none is supported.
        Err(Error::UnsupportedKemOperation)
    }

    fn kem_encaps_derand(
        alg: KemAlgorithm,
        pk_r: &[u8],
        randomness: &[u8],
    ) -> Result<(Vec<u8>, Vec<u8>), Error> {
        HpkeRustCrypto::kem_encaps_derand(alg, pk_r, randomness)
    }

    fn kem_decaps(alg: KemAlgorithm, ct: &[u8], sk_r: &[u8]) -> Result<Vec<u8>, Error> {
        HpkeRustCrypto::kem_decaps(alg, ct, sk_r)
    }

    fn dh_validate_sk(alg: KemAlgorithm, sk: &[u8]) -> Result<Vec<u8>, Error> {
        match alg {
            KemAlgorithm::DhKem448 => x448_secret(sk).map(|_| sk.to_vec()),
            KemAlgorithm::DhKemP521 => p521_secret(sk).map(|_| sk.to_vec()),
            _ => HpkeRustCrypto::dh_validate_sk(alg, sk),
        }
    }

    fn aead_seal(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        HpkeRustCrypto::aead_seal(alg, key, nonce, aad, msg)
    }

    fn aead_open(
        alg: AeadAlgorithm,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
    ) -> Result<Vec<u8>, Error> {
        HpkeRustCrypto::aead_open(alg, key, nonce, aad, msg)
    }
}
