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

/// `LabeledExtract(salt, label, ikm)` (RFC 9180 §4) of the KEM `alg`.
fn labeled_extract(
    alg: KemAlgorithm,
    salt: &[u8],
    label: &[u8],
    ikm: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    labeled_extract_in(kem_kdf(alg)?, &kem_suite_id(alg), salt, label, ikm)
}

/// `LabeledExpand(prk, label, info, L)` (RFC 9180 §4) of the KEM `alg`.
fn labeled_expand(
    alg: KemAlgorithm,
    prk: &[u8],
    label: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    labeled_expand_in(kem_kdf(alg)?, &kem_suite_id(alg), prk, label, info, len)
}

/// `LabeledExtract(salt, label, ikm)` (RFC 9180 §4) with the KDF `kdf` and
/// the `suite_id` of a KEM (`"KEM" || kem_id`) or of HPKE
/// (`"HPKE" || kem_id || kdf_id || aead_id`).
pub(crate) fn labeled_extract_in(
    kdf: TwoStageKdfAlgorithm,
    suite_id: &[u8],
    salt: &[u8],
    label: &[u8],
    ikm: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut labeled_ikm = Zeroizing::new(Vec::with_capacity(
        7 + suite_id.len() + label.len() + ikm.len(),
    ));
    labeled_ikm.extend_from_slice(b"HPKE-v1");
    labeled_ikm.extend_from_slice(suite_id);
    labeled_ikm.extend_from_slice(label);
    labeled_ikm.extend_from_slice(ikm);
    HpkeRustCrypto::kdf_extract(kdf, salt, &labeled_ikm).map(Zeroizing::new)
}

/// `LabeledExpand(prk, label, info, L)` (RFC 9180 §4), see [`labeled_extract_in`].
pub(crate) fn labeled_expand_in(
    kdf: TwoStageKdfAlgorithm,
    suite_id: &[u8],
    prk: &[u8],
    label: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let l = u16::try_from(len).map_err(|_| Error::HpkeInvalidOutputLength)?;
    let mut labeled_info = Vec::with_capacity(2 + 7 + suite_id.len() + label.len() + info.len());
    labeled_info.extend_from_slice(&l.to_be_bytes());
    labeled_info.extend_from_slice(b"HPKE-v1");
    labeled_info.extend_from_slice(suite_id);
    labeled_info.extend_from_slice(label);
    labeled_info.extend_from_slice(info);
    HpkeRustCrypto::kdf_expand(kdf, prk, &labeled_info, len).map(Zeroizing::new)
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
    let sk = dhkem_derive_secret(alg, ikm)?;
    let pk = TesseraHpkeCrypto::secret_to_public(alg, &sk)?;
    Ok((pk, sk))
}

/// The private key of `DeriveKeyPair(ikm)` of a DHKEM (RFC 9180 §7.1.3),
/// without its public key (see [`dhkem_derive_key_pair`]).
pub(crate) fn dhkem_derive_secret(
    alg: KemAlgorithm,
    ikm: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
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
    Ok(sk)
}

/// DHKEM `Encap(pkR)` (RFC 9180 §4.1) with the ephemeral key pair derived
/// from `ikm_e` (`Nsk` random bytes); returns `(shared_secret, enc)`.
pub(crate) fn dhkem_encap_derand(
    alg: KemAlgorithm,
    pk_r: &[u8],
    ikm_e: &[u8],
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), Error> {
    let (pk_e, sk_e) = dhkem_derive_key_pair(alg, ikm_e)?;
    let shared_secret = dhkem_encap_with(alg, pk_r, &pk_e, &sk_e)?;
    Ok((shared_secret, pk_e))
}

/// DHKEM `Encap(pkR)` (RFC 9180 §4.1) with the ephemeral key pair
/// `(pk_e, sk_e)` given; returns the shared secret (`enc` is `pk_e`).
pub(crate) fn dhkem_encap_with(
    alg: KemAlgorithm,
    pk_r: &[u8],
    pk_e: &[u8],
    sk_e: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let dh = Zeroizing::new(TesseraHpkeCrypto::dh(alg, pk_r, sk_e)?);
    extract_and_expand(alg, &dh, pk_e, pk_r)
}

/// `ExtractAndExpand(dh, kem_context)` of DHKEM (RFC 9180 §4.1), with
/// `kem_context = concat(enc, pkRm)` (both already serialized).
fn extract_and_expand(
    alg: KemAlgorithm,
    dh: &[u8],
    enc: &[u8],
    pk_r: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut kem_context = Vec::with_capacity(enc.len() + pk_r.len());
    kem_context.extend_from_slice(enc);
    kem_context.extend_from_slice(pk_r);
    let eae_prk = labeled_extract(alg, &[], b"eae_prk", dh)?;
    labeled_expand(
        alg,
        &eae_prk,
        b"shared_secret",
        &kem_context,
        alg.shared_secret_len(),
    )
}

/// DHKEM `Decap(enc, skR)` (RFC 9180 §4.1) with the recipient's serialized
/// public key `pk_r` given instead of recomputed from `sk_r`; returns the
/// shared secret. `enc` is validated as `DeserializePublicKey` and `DH`
/// require (an invalid or low-order point fails).
pub(crate) fn dhkem_decap_with(
    alg: KemAlgorithm,
    enc: &[u8],
    sk_r: &[u8],
    pk_r: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if !is_dhkem(alg) {
        return Err(Error::UnsupportedKemOperation);
    }
    let dh = Zeroizing::new(TesseraHpkeCrypto::dh(alg, enc, sk_r)?);
    extract_and_expand(alg, &dh, enc, pk_r)
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

#[cfg(test)]
mod tests {
    use super::*;
    use hpke_rs::{Hpke, Mode};
    use std::sync::{Arc, Mutex};

    /// Hex with spaces allowed.
    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    // RFC 9180 Appendix A test vectors (DeriveKeyPair of ikmE/ikmR and the
    // base-mode Encap), and for X448 the CFRG HPKE test-vector file.
    const X25519_IKME: &str = "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234";
    const X25519_SKE: &str = "52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736";
    const X25519_PKE: &str = "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431";
    const X25519_PKR: &str = "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d";
    const X25519_SKR: &str = "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8";
    const X25519_SECRET: &str = "fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc";

    const P256_IKME: &str = "4270e54ffd08d79d5928020af4686d8f6b7d35dbe470265f1f5aa22816ce860e";
    const P256_SKE: &str = "4995788ef4b9d6132b249ce59a77281493eb39af373d236a1fe415cb0c2d7beb";
    const P256_PKE: &str = "04a92719c6195d5085104f469a8b9814d5838ff72b60501e2c4466e5e67b325ac9
        8536d7b61a1af4b78e5b7f951c0900be863c403ce65c9bfcb9382657222d18c4";
    const P256_IKMR: &str = "668b37171f1072f3cf12ea8a236a45df23fc13b82af3609ad1e354f6ef817550";
    const P256_SKR: &str = "f3ce7fdae57e1a310d87f1ebbde6f328be0a99cdbcadf4d6589cf29de4b8ffd2";
    const P256_PKR: &str = "04fe8c19ce0905191ebc298a9245792531f26f0cece2460639e8bc39cb7f706a82
        6a779b4cf969b8a0e539c7f62fb3d30ad6aa8f80e30f1d128aafd68a2ce72ea0";
    const P256_SECRET: &str = "c0d26aeab536609a572b07695d933b589dcf363ff9d93c93adea537aeabb8cb8";

    const P521_IKME: &str = "7f06ab8215105fc46aceeb2e3dc5028b44364f960426eb0d8e4026c2f8b5d7e7
        a986688f1591abf5ab753c357a5d6f0440414b4ed4ede71317772ac98d9239f70904";
    const P521_SKE: &str = "014784c692da35df6ecde98ee43ac425dbdd0969c0c72b42f2e708ab9d535415
        a8569bdacfcc0a114c85b8e3f26acf4d68115f8c91a66178cdbd03b7bcc5291e374b";
    const P521_PKE: &str = "040138b385ca16bb0d5fa0c0665fbbd7e69e3ee29f63991d3e9b5fa740aab8900a
        aeed46ed73a49055758425a0ce36507c54b29cc5b85a5cee6bae0cf1c21f2731ece2013dc3fb7c8d21654bb1
        61b463962ca19e8c654ff24c94dd2898de12051f1ed0692237fb02b2f8d1dc1c73e9b366b529eb436e98a996
        ee522aef863dd5739d2f29b0";
    const P521_SKR: &str = "01462680369ae375e4b3791070a7458ed527842f6a98a79ff5e0d4cbde83c271
        96a3916956655523a6a2556a7af62c5cadabe2ef9da3760bb21e005202f7b2462847";
    const P521_PKR: &str = "0401b45498c1714e2dce167d3caf162e45e0642afc7ed435df7902ccae0e84ba0f
        7d373f646b7738bbbdca11ed91bdeae3cdcba3301f2457be452f271fa6837580e661012af49583a62e48d44b
        ed350c7118c0d8dc861c238c72a2bda17f64704f464b57338e7f40b60959480c0e58e6559b190d81663ed816
        e523b6b6a418f66d2451ec64";
    const P521_SECRET: &str = "776ab421302f6eff7d7cb5cb1adaea0cd50872c71c2d63c30c4f1d5e43653336
        fef33b103c67e7a98add2d3b66e2fda95b5b2a667aa9dac7e59cc1d46d30e818";

    const X448_IKMR: &str = "d45d1652df74920abf94a2883c83050f502ff512ffb56f07b6d833ec8dda74b6
        a1c1cc4d42a22641c0963d3c21ed8261f344dc9e0501a81c";
    const X448_SKR: &str = "27a4354608f3bdd38f1f5af305f3e0682efe4e25808249d8fcb55927f6a9f446
        b8dc1d0a2c3b8cb133a5673b59a6d55ce754ec0c9a555401";
    const X448_PKR: &str = "145d083ea7a6379dbb32dcbd8aff4c206ea5d069b75e96c6dd2a3e38f441471a
        c97adca641fdad66685a96f32b7c3e064635fab3cc89234e";

    #[test]
    fn derive_key_pair_matches_rfc9180() {
        let cases = [
            (
                KemAlgorithm::DhKem25519,
                X25519_IKME,
                X25519_SKE,
                X25519_PKE,
            ),
            (KemAlgorithm::DhKemP256, P256_IKME, P256_SKE, P256_PKE),
            (KemAlgorithm::DhKemP256, P256_IKMR, P256_SKR, P256_PKR),
            (KemAlgorithm::DhKemP521, P521_IKME, P521_SKE, P521_PKE),
            (KemAlgorithm::DhKem448, X448_IKMR, X448_SKR, X448_PKR),
        ];
        for (alg, ikm, sk, pk) in cases {
            let (got_pk, got_sk) = dhkem_derive_key_pair(alg, &h(ikm)).unwrap();
            assert_eq!(hex::encode(&*got_sk), hex::encode(h(sk)), "{alg:?} sk");
            assert_eq!(hex::encode(got_pk), hex::encode(h(pk)), "{alg:?} pk");
            let again = TesseraHpkeCrypto::secret_to_public(alg, &h(sk)).unwrap();
            assert_eq!(again, h(pk), "{alg:?} secret_to_public");
        }
    }

    #[test]
    fn decap_with_known_public_key_matches_rfc9180() {
        // Decap(enc, skR) of RFC 9180 A.1.1, A.3.1 and A.6.1, with pkRm given.
        for (alg, enc, sk, pk, secret) in [
            (
                KemAlgorithm::DhKem25519,
                X25519_PKE,
                X25519_SKR,
                X25519_PKR,
                X25519_SECRET,
            ),
            (
                KemAlgorithm::DhKemP256,
                P256_PKE,
                P256_SKR,
                P256_PKR,
                P256_SECRET,
            ),
            (
                KemAlgorithm::DhKemP521,
                P521_PKE,
                P521_SKR,
                P521_PKR,
                P521_SECRET,
            ),
        ] {
            let got = dhkem_decap_with(alg, &h(enc), &h(sk), &h(pk)).unwrap();
            assert_eq!(*got, h(secret), "{alg:?}");
            // Another pkRm gives another secret.
            let other = dhkem_decap_with(alg, &h(enc), &h(sk), &h(enc)).unwrap();
            assert_ne!(*other, h(secret), "{alg:?}");
        }
        // An encapsulated key that is not a valid point fails.
        assert!(
            dhkem_decap_with(
                KemAlgorithm::DhKem25519,
                &[0; 32],
                &h(X25519_SKR),
                &h(X25519_PKR)
            )
            .is_err()
        );
        assert!(
            dhkem_decap_with(
                KemAlgorithm::DhKem25519,
                &[9; 31],
                &h(X25519_SKR),
                &h(X25519_PKR)
            )
            .is_err()
        );
        assert!(
            dhkem_decap_with(
                KemAlgorithm::DhKemP256,
                &h(P256_PKE)[1..],
                &h(P256_SKR),
                &h(P256_PKR)
            )
            .is_err()
        );
    }

    #[test]
    fn encap_matches_rfc9180() {
        // The recipients' key pairs of the vectors are consistent.
        for (alg, sk, pk) in [
            (KemAlgorithm::DhKem25519, X25519_SKR, X25519_PKR),
            (KemAlgorithm::DhKemP521, P521_SKR, P521_PKR),
        ] {
            assert_eq!(
                TesseraHpkeCrypto::secret_to_public(alg, &h(sk)).unwrap(),
                h(pk)
            );
        }

        let cases = [
            (
                KemAlgorithm::DhKem25519,
                X25519_IKME,
                X25519_PKR,
                X25519_PKE,
                X25519_SECRET,
            ),
            (
                KemAlgorithm::DhKemP256,
                P256_IKME,
                P256_PKR,
                P256_PKE,
                P256_SECRET,
            ),
            (
                KemAlgorithm::DhKemP521,
                P521_IKME,
                P521_PKR,
                P521_PKE,
                P521_SECRET,
            ),
        ];
        for (alg, ikm_e, pk_r, enc, secret) in cases {
            let (got_secret, got_enc) = dhkem_encap_derand(alg, &h(pk_r), &h(ikm_e)).unwrap();
            assert_eq!(hex::encode(got_enc), hex::encode(h(enc)), "{alg:?} enc");
            assert_eq!(
                hex::encode(&*got_secret),
                hex::encode(h(secret)),
                "{alg:?} secret"
            );
        }
    }

    fn hpke_for(alg: KemAlgorithm) -> Hpke<TesseraHpkeCrypto> {
        let rng: SharedRng = Arc::new(Mutex::new(rand::SeedableRng::from_seed([3; 32])));
        Hpke::new_with_rng(
            Mode::Base,
            alg,
            KdfAlgorithm::HkdfSha512,
            AeadAlgorithm::Aes256Gcm,
            ProviderPrng::new(&rng),
        )
    }

    #[test]
    fn derive_key_pair_agrees_with_hpke_rs() {
        for alg in [
            KemAlgorithm::DhKem25519,
            KemAlgorithm::DhKemP256,
            KemAlgorithm::DhKemP384,
            KemAlgorithm::DhKemP521,
        ] {
            for ikm in [&[0u8; 32][..], &[0xa5; 66], b"tessera"] {
                let (pk, sk) = dhkem_derive_key_pair(alg, ikm).unwrap();
                let (their_sk, their_pk) = hpke_for(alg).derive_key_pair(ikm).unwrap().into_keys();
                assert_eq!(their_sk.as_slice(), &sk[..], "{alg:?}");
                assert_eq!(their_pk.as_slice(), &pk[..], "{alg:?}");
            }
        }
    }

    #[test]
    fn x448_rejects_low_order_points() {
        let (_, sk) = dhkem_derive_key_pair(KemAlgorithm::DhKem448, b"x448").unwrap();
        let mut one = [0u8; 56];
        one[0] = 1;
        let mut p_minus_one = [0xffu8; 56];
        p_minus_one[0] = 0xfe;
        p_minus_one[28] = 0xfe;
        for pk in [[0u8; 56], one, p_minus_one] {
            assert!(matches!(
                TesseraHpkeCrypto::dh(KemAlgorithm::DhKem448, &pk, &sk),
                Err(Error::KemInvalidPublicKey)
            ));
        }
        for pk in [&[][..], &[9; 55], &[9; 57]] {
            assert!(TesseraHpkeCrypto::dh(KemAlgorithm::DhKem448, pk, &sk).is_err());
        }
        assert!(TesseraHpkeCrypto::dh(KemAlgorithm::DhKem448, &h(X448_PKR), &sk[1..]).is_err());
    }

    #[test]
    fn p521_rejects_malformed_keys() {
        let alg = KemAlgorithm::DhKemP521;
        let (pk, sk) = dhkem_derive_key_pair(alg, b"p521").unwrap();
        let mut off_curve = pk.clone();
        off_curve[100] ^= 1;
        let mut compressed = vec![0x02 | (pk[132] & 1)];
        compressed.extend_from_slice(&pk[1..67]);
        for bad in [&off_curve[..], &compressed, &pk[..132], &[0u8; 133], &[]] {
            assert!(matches!(
                TesseraHpkeCrypto::dh(alg, bad, &sk),
                Err(Error::KemInvalidPublicKey)
            ));
        }
        // The scalar must be exactly Nsk bytes, non-zero and below the order.
        let mut above_order = vec![0xffu8; 66];
        above_order[0] = 0x01;
        for bad in [&[0u8; 66][..], &above_order, &sk[1..], &[1u8; 67]] {
            assert!(TesseraHpkeCrypto::dh_validate_sk(alg, bad).is_err());
            assert!(TesseraHpkeCrypto::secret_to_public(alg, bad).is_err());
        }
        assert_eq!(
            TesseraHpkeCrypto::dh_validate_sk(alg, &sk).unwrap(),
            &sk[..]
        );
    }

    #[test]
    fn key_generation_draws_from_the_provider_rng() {
        let gen_with = |seed: u8| {
            let rng: SharedRng = Arc::new(Mutex::new(rand::SeedableRng::from_seed([seed; 32])));
            let mut prng = ProviderPrng::new(&rng);
            TesseraHpkeCrypto::kem_key_gen(KemAlgorithm::DhKem448, &mut prng).unwrap()
        };
        assert_eq!(gen_with(1), gen_with(1));
        assert_ne!(gen_with(1), gen_with(2));
        let (pk, sk) = gen_with(1);
        assert_eq!(
            TesseraHpkeCrypto::secret_to_public(KemAlgorithm::DhKem448, &sk).unwrap(),
            pk
        );
    }
}
