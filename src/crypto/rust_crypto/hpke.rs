//! HPKE base mode (RFC 9180) for `EncryptWithLabel`/`DecryptWithLabel`
//! (RFC 9420 §5.1.3) and for node and external keys derived from secrets
//! (`DeriveKeyPair`, RFC 9420 §7.4, §8).
//!
//! hpke-rs does the work, on the backend of [`super::hpke_backend`], with one
//! exception: hpke-rs 0.8 cannot derive X448 key pairs, so for DHKEM(X448)
//! `DeriveKeyPair` and the sender's `Encap` are done by the backend module
//! and hpke-rs runs the key schedule and the AEAD. (Receiving, `Decap`, needs
//! only DH and works in hpke-rs for every KEM.)
//!
//! Keys are the `SerializePublicKey`/`SerializePrivateKey` encodings of
//! RFC 9180 §7.1.1-7.1.2. A NIST-curve private key shorter than `Nsk` (a
//! big-endian scalar with its leading zero bytes stripped, as some
//! implementations write 65-byte P-521 keys) is accepted and left-padded, see
//! [`left_pad_scalar`].
//!
//! An `Hpke` object costs nothing to build here (its PRNG is a handle on the
//! provider's generator), so each call builds exactly one.

use hpke_rs::hpke_types::{AeadAlgorithm, KdfAlgorithm, KemAlgorithm};
use hpke_rs::{Hpke, HpkeError, Mode};
use zeroize::Zeroizing;

use super::hpke_backend::{self, ProviderPrng, TesseraHpkeCrypto};
use super::{AeadAlg, Algorithms, HashAlg, KemAlg, SharedRng, fill_random, left_pad_scalar};
use crate::crypto::{HpkeCiphertext, HpkePrivateKey, HpkePublicKey};
use crate::error::CryptoError;

/// The hpke-rs identifier of a KEM.
fn kem_id(kem: KemAlg) -> KemAlgorithm {
    match kem {
        KemAlg::X25519 => KemAlgorithm::DhKem25519,
        KemAlg::P256 => KemAlgorithm::DhKemP256,
        KemAlg::X448 => KemAlgorithm::DhKem448,
        KemAlg::P384 => KemAlgorithm::DhKemP384,
        KemAlg::P521 => KemAlgorithm::DhKemP521,
    }
}

/// The HPKE configuration of a suite (RFC 9420 §17.1), base mode.
fn hpke(algs: &Algorithms, rng: &SharedRng) -> Hpke<TesseraHpkeCrypto> {
    let kdf = match algs.hash {
        HashAlg::Sha256 => KdfAlgorithm::HkdfSha256,
        HashAlg::Sha384 => KdfAlgorithm::HkdfSha384,
        HashAlg::Sha512 => KdfAlgorithm::HkdfSha512,
    };
    let aead = match algs.aead {
        AeadAlg::Aes128Gcm => AeadAlgorithm::Aes128Gcm,
        AeadAlg::Aes256Gcm => AeadAlgorithm::Aes256Gcm,
        AeadAlg::ChaCha20Poly1305 => AeadAlgorithm::ChaCha20Poly1305,
    };
    Hpke::new_with_rng(
        Mode::Base,
        kem_id(algs.kem),
        kdf,
        aead,
        ProviderPrng::new(rng),
    )
}

/// `Npk`, the length of a serialized public key (RFC 9180 §7.1): raw
/// X25519/X448 keys and uncompressed SEC1 points.
fn public_key_len(kem: KemAlg) -> usize {
    match kem {
        KemAlg::X25519 => 32,
        KemAlg::P256 => 65,
        KemAlg::X448 => 56,
        KemAlg::P384 => 97,
        KemAlg::P521 => 133,
    }
}

/// Checks the length of a serialized public key (`Npk`); whether it is a
/// usable point is found out by the DH that uses it.
fn check_public_key(kem: KemAlg, pk: &HpkePublicKey) -> Result<(), CryptoError> {
    if pk.as_bytes().len() == public_key_len(kem) {
        Ok(())
    } else {
        Err(CryptoError::InvalidPublicKey)
    }
}

/// The private key in its canonical `Nsk`-byte form, validated.
fn private_key(kem: KemAlg, sk: &HpkePrivateKey) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let id = kem_id(kem);
    let nsk = id.private_key_len();
    let sk = match kem {
        KemAlg::X25519 | KemAlg::X448 if sk.as_bytes().len() == nsk => {
            Zeroizing::new(sk.as_bytes().to_vec())
        }
        KemAlg::X25519 | KemAlg::X448 => return Err(CryptoError::InvalidPrivateKey),
        KemAlg::P256 | KemAlg::P384 | KemAlg::P521 => left_pad_scalar(sk.as_bytes(), nsk)?,
    };
    // X25519 and X448 accept any Nsk bytes; the NIST curves need a scalar in range.
    if matches!(kem, KemAlg::P256 | KemAlg::P384 | KemAlg::P521) {
        use hpke_rs_crypto::HpkeCrypto;
        TesseraHpkeCrypto::dh_validate_sk(id, &sk).map_err(|_| CryptoError::InvalidPrivateKey)?;
    }
    Ok(sk)
}

/// The errors of a sender: with a checked configuration, the only input that
/// can make `SealBase` fail is the recipient's public key.
fn seal_error(e: HpkeError) -> CryptoError {
    match e {
        HpkeError::InsufficientRandomness => CryptoError::Rng,
        _ => CryptoError::InvalidPublicKey,
    }
}

/// `SealBase(pkR, info, aad, pt)` (RFC 9180 §6.1).
pub(super) fn seal(
    algs: &Algorithms,
    rng: &SharedRng,
    pk: &HpkePublicKey,
    info: &[u8],
    aad: &[u8],
    pt: &[u8],
) -> Result<HpkeCiphertext, CryptoError> {
    check_public_key(algs.kem, pk)?;
    let mut hpke = hpke(algs, rng);
    let (kem_output, ciphertext) = match algs.kem {
        KemAlg::X448 => {
            // SetupBaseS with our Encap (see the module documentation).
            let id = kem_id(algs.kem);
            let mut ikm_e = Zeroizing::new(vec![0u8; id.private_key_len()]);
            fill_random(rng, &mut ikm_e)?;
            let (shared_secret, enc) = hpke_backend::dhkem_encap_derand(id, pk.as_bytes(), &ikm_e)
                .map_err(|_| CryptoError::InvalidPublicKey)?;
            let mut context = hpke
                .key_schedule(&shared_secret, info, &[], &[])
                .map_err(|_| CryptoError::Other("HPKE key schedule failed"))?;
            let ct = context
                .seal(aad, pt)
                .map_err(|_| CryptoError::Other("HPKE encryption failed"))?;
            (enc, ct)
        }
        _ => hpke
            .seal(
                &hpke_rs::HpkePublicKey::new(pk.as_bytes().to_vec()),
                info,
                aad,
                pt,
                None,
                None,
                None,
            )
            .map_err(seal_error)?,
    };
    Ok(HpkeCiphertext {
        kem_output,
        ciphertext,
    })
}

/// `OpenBase(enc, skR, info, aad, ct)` (RFC 9180 §6.1). Any failure after the
/// private key was found valid (a bad `enc`, a tampered ciphertext, the wrong
/// key) is [`CryptoError::HpkeOpenFailed`].
pub(super) fn open(
    algs: &Algorithms,
    rng: &SharedRng,
    sk: &HpkePrivateKey,
    ct: &HpkeCiphertext,
    info: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let sk = hpke_rs::HpkePrivateKey::new(private_key(algs.kem, sk)?.to_vec());
    hpke(algs, rng)
        .open(
            &ct.kem_output,
            &sk,
            info,
            aad,
            &ct.ciphertext,
            None,
            None,
            None,
        )
        .map_err(|_| CryptoError::HpkeOpenFailed)
}

/// `DeriveKeyPair(ikm)` (RFC 9180 §7.1.3).
pub(super) fn derive_key_pair(
    algs: &Algorithms,
    rng: &SharedRng,
    ikm: &[u8],
) -> Result<(HpkePrivateKey, HpkePublicKey), CryptoError> {
    const FAILED: CryptoError = CryptoError::Other("HPKE DeriveKeyPair failed");
    match algs.kem {
        KemAlg::X448 => {
            let (pk, sk) =
                hpke_backend::dhkem_derive_key_pair(kem_id(algs.kem), ikm).map_err(|_| FAILED)?;
            Ok((HpkePrivateKey::new(sk.to_vec()), HpkePublicKey(pk)))
        }
        _ => {
            let (sk, pk) = hpke(algs, rng)
                .derive_key_pair(ikm)
                .map_err(|_| FAILED)?
                .into_keys();
            Ok((
                HpkePrivateKey::new(sk.as_slice().to_vec()),
                HpkePublicKey(pk.as_slice().to_vec()),
            ))
        }
    }
}

/// `GenerateKeyPair()`: `DeriveKeyPair` of `Nsk` bytes from the provider's generator.
pub(super) fn generate_key_pair(
    algs: &Algorithms,
    rng: &SharedRng,
) -> Result<(HpkePrivateKey, HpkePublicKey), CryptoError> {
    let (sk, pk) = hpke(algs, rng)
        .generate_key_pair()
        .map_err(|e| match e {
            HpkeError::InsufficientRandomness => CryptoError::Rng,
            _ => CryptoError::Other("HPKE key generation failed"),
        })?
        .into_keys();
    Ok((
        HpkePrivateKey::new(sk.as_slice().to_vec()),
        HpkePublicKey(pk.as_slice().to_vec()),
    ))
}

/// The public key of a private key: `SerializePublicKey(pk(skX))`.
pub(super) fn public_key(
    algs: &Algorithms,
    sk: &HpkePrivateKey,
) -> Result<HpkePublicKey, CryptoError> {
    use hpke_rs_crypto::HpkeCrypto;
    let sk = private_key(algs.kem, sk)?;
    TesseraHpkeCrypto::secret_to_public(kem_id(algs.kem), &sk)
        .map(HpkePublicKey)
        .map_err(|_| CryptoError::InvalidPrivateKey)
}
