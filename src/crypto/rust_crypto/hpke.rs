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
use hpke_rs_crypto::types::TwoStageKdfAlgorithm;
use zeroize::{Zeroize, Zeroizing};

use super::hpke_backend::{self, ProviderPrng, TesseraHpkeCrypto};
use super::{AeadAlg, Algorithms, HashAlg, KemAlg, SharedRng, fill_random, left_pad_scalar};
use crate::crypto::{HpkeCiphertext, HpkePrivateKey, HpkePublicKey, Secret};
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

/// `SetupBaseS(pkR, info)` (RFC 9180 §5.1.1): the encapsulated key and the
/// sender's context. For DHKEM(X448) the `Encap` is ours (see the module
/// documentation) and hpke-rs runs the key schedule.
fn setup_sender(
    algs: &Algorithms,
    rng: &SharedRng,
    pk: &HpkePublicKey,
    info: &[u8],
) -> Result<(Vec<u8>, hpke_rs::Context<TesseraHpkeCrypto>), CryptoError> {
    check_public_key(algs.kem, pk)?;
    let mut hpke = hpke(algs, rng);
    match algs.kem {
        KemAlg::X448 => {
            let id = kem_id(algs.kem);
            let mut ikm_e = Zeroizing::new(vec![0u8; id.private_key_len()]);
            fill_random(rng, &mut ikm_e)?;
            let (shared_secret, enc) = hpke_backend::dhkem_encap_derand(id, pk.as_bytes(), &ikm_e)
                .map_err(|_| CryptoError::InvalidPublicKey)?;
            let context = hpke
                .key_schedule(&shared_secret, info, &[], &[])
                .map_err(|_| CryptoError::Other("HPKE key schedule failed"))?;
            Ok((enc, context))
        }
        _ => hpke
            .setup_sender(
                &hpke_rs::HpkePublicKey::new(pk.as_bytes().to_vec()),
                info,
                None,
                None,
                None,
            )
            .map_err(seal_error),
    }
}

/// `SetupBaseR(enc, skR, info)` (RFC 9180 §5.1.1). With a valid private key,
/// a failure means `enc` is not a valid encapsulated key.
fn setup_receiver(
    algs: &Algorithms,
    rng: &SharedRng,
    sk: &HpkePrivateKey,
    enc: &[u8],
    info: &[u8],
) -> Result<hpke_rs::Context<TesseraHpkeCrypto>, CryptoError> {
    let sk = hpke_rs::HpkePrivateKey::new(private_key(algs.kem, sk)?.to_vec());
    hpke(algs, rng)
        .setup_receiver(enc, &sk, info, None, None, None)
        .map_err(|_| CryptoError::InvalidPublicKey)
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
    let (kem_output, mut context) = setup_sender(algs, rng, pk, info)?;
    let ciphertext = context
        .seal(aad, pt)
        .map_err(|_| CryptoError::Other("HPKE encryption failed"))?;
    Ok(HpkeCiphertext {
        kem_output,
        ciphertext,
    })
}

/// `suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2),
/// I2OSP(aead_id, 2))` (RFC 9180 §5.1) and the suite's HKDF.
fn hpke_suite(algs: &Algorithms) -> ([u8; 10], TwoStageKdfAlgorithm) {
    let (kdf_id, kdf): (u16, _) = match algs.hash {
        HashAlg::Sha256 => (0x0001, TwoStageKdfAlgorithm::HkdfSha256),
        HashAlg::Sha384 => (0x0002, TwoStageKdfAlgorithm::HkdfSha384),
        HashAlg::Sha512 => (0x0003, TwoStageKdfAlgorithm::HkdfSha512),
    };
    let aead_id: u16 = match algs.aead {
        AeadAlg::Aes128Gcm => 0x0001,
        AeadAlg::Aes256Gcm => 0x0002,
        AeadAlg::ChaCha20Poly1305 => 0x0003,
    };
    let [k0, k1] = (kem_id(algs.kem) as u16).to_be_bytes();
    let [d0, d1] = kdf_id.to_be_bytes();
    let [a0, a1] = aead_id.to_be_bytes();
    ([b'H', b'P', b'K', b'E', k0, k1, d0, d1, a0, a1], kdf)
}

/// The base-mode key schedule of RFC 9180 §5.1 for one `info`:
/// `key_schedule_context = mode || psk_id_hash || info_hash` (which hashes
/// all of `info`) computed once, then each shared secret's AEAD key and base
/// nonce.
struct BaseSchedule {
    suite_id: [u8; 10],
    kdf: TwoStageKdfAlgorithm,
    context: Vec<u8>,
    nk: usize,
}

/// An AEAD key or nonce of the HPKE key schedule.
type AeadKey = Zeroizing<Vec<u8>>;

const SCHEDULE_FAILED: CryptoError = CryptoError::Other("HPKE key schedule failed");

impl BaseSchedule {
    fn new(algs: &Algorithms, info: &[u8]) -> Result<Self, CryptoError> {
        let (suite_id, kdf) = hpke_suite(algs);
        // Base mode: psk = psk_id = "" (RFC 9180 §5.1).
        let psk_id_hash =
            hpke_backend::labeled_extract_in(kdf, &suite_id, &[], b"psk_id_hash", &[])
                .map_err(|_| SCHEDULE_FAILED)?;
        let info_hash = hpke_backend::labeled_extract_in(kdf, &suite_id, &[], b"info_hash", info)
            .map_err(|_| SCHEDULE_FAILED)?;
        let mut context = Vec::with_capacity(1 + psk_id_hash.len() + info_hash.len());
        context.push(0x00); // mode_base
        context.extend_from_slice(&psk_id_hash);
        context.extend_from_slice(&info_hash);
        let nk = match algs.aead {
            AeadAlg::Aes128Gcm => 16,
            AeadAlg::Aes256Gcm | AeadAlg::ChaCha20Poly1305 => 32,
        };
        Ok(Self {
            suite_id,
            kdf,
            context,
            nk,
        })
    }

    /// `(key, base_nonce)` of the context set up with `shared_secret`; a
    /// single-shot seal or open uses the base nonce (sequence number 0).
    fn key_and_nonce(&self, shared_secret: &[u8]) -> Result<(AeadKey, AeadKey), CryptoError> {
        let (suite_id, kdf) = (&self.suite_id, self.kdf);
        let secret = hpke_backend::labeled_extract_in(kdf, suite_id, shared_secret, b"secret", &[])
            .map_err(|_| SCHEDULE_FAILED)?;
        let key =
            hpke_backend::labeled_expand_in(kdf, suite_id, &secret, b"key", &self.context, self.nk)
                .map_err(|_| SCHEDULE_FAILED)?;
        let nonce = hpke_backend::labeled_expand_in(
            kdf,
            suite_id,
            &secret,
            b"base_nonce",
            &self.context,
            12,
        )
        .map_err(|_| SCHEDULE_FAILED)?;
        Ok((key, nonce))
    }
}

/// `SealBase(pkR, info, aad, pt)` (RFC 9180 §6.1) for several recipients
/// and plaintexts under one `info`: the same ciphertexts as [`seal`] for
/// each pair, but the base-mode key schedule's `key_schedule_context`
/// (`mode || psk_id_hash || info_hash`, RFC 9180 §5.1), which hashes all of
/// `info`, is computed once. A Welcome's `info` holds the whole encrypted
/// GroupInfo, so hashing it once per new member would make a large add
/// quadratic. The ephemeral keys are drawn from the provider's generator in
/// order, then the recipients are encapsulated to and encrypted for in
/// parallel (crate feature `parallel`).
pub(super) fn seal_many(
    algs: &Algorithms,
    rng: &SharedRng,
    info: &[u8],
    aad: &[u8],
    recipients: &[(&HpkePublicKey, &[u8])],
) -> Result<Vec<HpkeCiphertext>, CryptoError> {
    let kem = kem_id(algs.kem);
    let mut ikms = Vec::with_capacity(recipients.len());
    for &(pk, _) in recipients {
        check_public_key(algs.kem, pk)?;
        let mut ikm_e = Zeroizing::new(vec![0u8; kem.private_key_len()]);
        fill_random(rng, &mut ikm_e)?;
        ikms.push(ikm_e);
    }
    let ephemeral = raw_key_pairs(algs, &ikms)?;
    let jobs: Vec<_> = recipients
        .iter()
        .zip(ephemeral)
        .map(|(&(pk, pt), (pk_e, sk_e))| (pk, pt, pk_e, sk_e))
        .collect();
    let schedule = BaseSchedule::new(algs, info)?;
    type Job<'a> = (&'a HpkePublicKey, &'a [u8], Vec<u8>, Zeroizing<Vec<u8>>);
    let seal_one = |(pk, pt, enc, sk_e): &Job<'_>| {
        let shared_secret = hpke_backend::dhkem_encap_with(kem, pk.as_bytes(), enc, sk_e)
            .map_err(|_| CryptoError::InvalidPublicKey)?;
        let (key, nonce) = schedule.key_and_nonce(&shared_secret)?;
        let ciphertext = super::aead_op(algs.aead, &key, &nonce, aad, pt, true)
            .map_err(|_| CryptoError::Other("HPKE encryption failed"))?;
        Ok(HpkeCiphertext {
            kem_output: enc.clone(),
            ciphertext,
        })
    };
    crate::parallel::map(&jobs, seal_one).into_iter().collect()
}

/// `(pk, sk)`: a serialized public key and its private key.
type RawKeyPair = (Vec<u8>, Zeroizing<Vec<u8>>);

/// `DeriveKeyPair(ikm)` (RFC 9180 §7.1.3) of each of `ikms`, in order, for
/// a DHKEM: the key pairs of a direct path, or the ephemeral keys of a batch
/// of encapsulations (§4.1). For X25519 the public keys are computed in one
/// batch ([`x25519_public_keys`]); the same keys as one by one.
fn raw_key_pairs<I: AsRef<[u8]>>(
    algs: &Algorithms,
    ikms: &[I],
) -> Result<Vec<RawKeyPair>, CryptoError> {
    const FAILED: CryptoError = CryptoError::Other("HPKE DeriveKeyPair failed");
    let kem = kem_id(algs.kem);
    if !matches!(algs.kem, KemAlg::X25519) || ikms.len() < 2 {
        return ikms
            .iter()
            .map(|ikm| hpke_backend::dhkem_derive_key_pair(kem, ikm.as_ref()).map_err(|_| FAILED))
            .collect();
    }
    let secrets = ikms
        .iter()
        .map(|ikm| hpke_backend::dhkem_derive_secret(kem, ikm.as_ref()).map_err(|_| FAILED))
        .collect::<Result<Vec<_>, _>>()?;
    let publics = x25519_public_keys(&secrets)?;
    Ok(publics.into_iter().zip(secrets).collect())
}

/// `X25519(sk, 9)` of each of `secrets` (32 bytes each): `clamp(sk)·B` on
/// the Edwards curve (what x25519-dalek does for one key; in parallel with
/// the crate feature `parallel`), then every point converted to Montgomery
/// `u` with one field inversion for the batch (Montgomery's trick, constant
/// time, in curve25519-dalek) instead of one per key.
fn x25519_public_keys(secrets: &[Zeroizing<Vec<u8>>]) -> Result<Vec<Vec<u8>>, CryptoError> {
    const FAILED: CryptoError = CryptoError::Other("HPKE DeriveKeyPair failed");
    let mut points = crate::parallel::map(secrets, |sk| {
        let bytes: [u8; 32] = sk.as_slice().try_into().map_err(|_| FAILED)?;
        let bytes = Zeroizing::new(bytes);
        Ok(curve25519_dalek::EdwardsPoint::mul_base_clamped(*bytes))
    })
    .into_iter()
    .collect::<Result<Vec<_>, CryptoError>>()?;
    let publics = curve25519_dalek::EdwardsPoint::to_montgomery_batch(&points);
    points.zeroize();
    Ok(publics
        .into_iter()
        .map(|pk| pk.to_bytes().to_vec())
        .collect())
}

/// `SetupBaseS(pkR, info)` then `Context.Export(exporter_context, L)`
/// (RFC 9180 §5.1.1, §5.3): the encapsulated key and the exported secret.
pub(super) fn export_sender(
    algs: &Algorithms,
    rng: &SharedRng,
    pk: &HpkePublicKey,
    info: &[u8],
    exporter_context: &[u8],
    len: usize,
) -> Result<(Vec<u8>, Secret), CryptoError> {
    let (kem_output, context) = setup_sender(algs, rng, pk, info)?;
    let secret = context
        .export(exporter_context, len)
        .map_err(|_| CryptoError::KdfOutputTooLong(len))?;
    Ok((kem_output, Secret::from(secret)))
}

/// `SetupBaseR(enc, skR, info)` then `Context.Export(exporter_context, L)`
/// (RFC 9180 §5.1.1, §5.3). A malformed `enc` is
/// [`CryptoError::InvalidPublicKey`]; a well-formed but foreign one gives a
/// different secret (HPKE's export is not authenticated).
pub(super) fn export_receiver(
    algs: &Algorithms,
    rng: &SharedRng,
    sk: &HpkePrivateKey,
    enc: &[u8],
    info: &[u8],
    exporter_context: &[u8],
    len: usize,
) -> Result<Secret, CryptoError> {
    let context = setup_receiver(algs, rng, sk, enc, info)?;
    let secret = context
        .export(exporter_context, len)
        .map_err(|_| CryptoError::KdfOutputTooLong(len))?;
    Ok(Secret::from(secret))
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

/// [`open`] when the recipient's public key `pk` is known (the key of the
/// tree node the private key belongs to): DHKEM `Decap` (RFC 9180 §4.1)
/// needs `pkRm` for its `kem_context`, and taking it as given saves the
/// scalar multiplication that recomputes it from `sk`. The result is that
/// of [`open`] whenever `pk` is `sk`'s public key; otherwise the shared
/// secret differs and the AEAD fails ([`CryptoError::HpkeOpenFailed`]).
pub(super) fn open_with_public(
    algs: &Algorithms,
    sk: &HpkePrivateKey,
    pk: &HpkePublicKey,
    ct: &HpkeCiphertext,
    info: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    const FAILED: CryptoError = CryptoError::HpkeOpenFailed;
    let sk = private_key(algs.kem, sk)?;
    check_public_key(algs.kem, pk).map_err(|_| FAILED)?;
    let shared_secret =
        hpke_backend::dhkem_decap_with(kem_id(algs.kem), &ct.kem_output, &sk, pk.as_bytes())
            .map_err(|_| FAILED)?;
    let (key, nonce) = BaseSchedule::new(algs, info)?.key_and_nonce(&shared_secret)?;
    super::aead_op(algs.aead, &key, &nonce, aad, &ct.ciphertext, false).map_err(|_| FAILED)
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

/// `DeriveKeyPair` of each of `ikms` (RFC 9180 §7.1.3): the same pairs as
/// [`derive_key_pair`] one by one ([`raw_key_pairs`]).
pub(super) fn derive_key_pairs(
    algs: &Algorithms,
    ikms: &[&[u8]],
) -> Result<Vec<(HpkePrivateKey, HpkePublicKey)>, CryptoError> {
    Ok(raw_key_pairs(algs, ikms)?
        .into_iter()
        .map(|(pk, sk)| (HpkePrivateKey::new(sk.to_vec()), HpkePublicKey(pk)))
        .collect())
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

#[cfg(test)]
mod tests {
    use crate::crypto::{
        CipherSuite, CipherSuiteProvider, HpkeCiphertext, HpkePrivateKey, HpkePublicKey,
        RustCryptoProvider,
    };
    use crate::error::CryptoError;

    fn suites(seed: u8) -> Vec<super::super::RustCryptoSuite> {
        let p = RustCryptoProvider::with_seed([seed; 32]);
        CipherSuite::ALL
            .iter()
            .map(|&cs| p.suite(cs).unwrap())
            .collect()
    }

    /// `(Nsk, Npk)` of the suite's KEM (RFC 9180 §7.1).
    fn sizes(cs: &dyn CipherSuiteProvider) -> (usize, usize) {
        match cs.cipher_suite().0 {
            1 | 3 => (32, 32),
            2 => (32, 65),
            4 | 6 => (56, 56),
            5 => (66, 133),
            7 => (48, 97),
            _ => unreachable!(),
        }
    }

    /// `hpke_seal_many` runs its own base-mode key schedule (to hash `info`
    /// once); what it seals must open with hpke-rs's `OpenBase`, for every
    /// suite, recipient and plaintext, and nothing else must.
    #[test]
    fn seal_many_opens_with_open_base_every_suite() {
        for cs in suites(3) {
            let keys: Vec<_> = (0..5)
                .map(|_| cs.hpke_generate_key_pair().unwrap())
                .collect();
            let pts: Vec<Vec<u8>> = (0..5).map(|i| vec![i as u8; i * 40]).collect();
            let info = vec![0x5a; 5000];
            let recipients: Vec<(&HpkePublicKey, &[u8])> = keys
                .iter()
                .zip(&pts)
                .map(|((_, pk), pt)| (pk, pt.as_slice()))
                .collect();
            let cts = cs.hpke_seal_many(&info, b"aad", &recipients).unwrap();
            assert_eq!(cts.len(), 5);
            for (i, ((sk, _), ct)) in keys.iter().zip(&cts).enumerate() {
                assert_eq!(
                    cs.hpke_open(sk, ct, &info, b"aad").unwrap(),
                    pts[i],
                    "{cs:?}"
                );
                assert!(cs.hpke_open(sk, ct, &info[1..], b"aad").is_err(), "{cs:?}");
                assert!(cs.hpke_open(sk, ct, &info, b"aax").is_err(), "{cs:?}");
                let other = &keys[(i + 1) % 5].0;
                assert!(cs.hpke_open(other, ct, &info, b"aad").is_err(), "{cs:?}");
            }
            // Fresh ephemeral keys for each recipient, even for one key twice.
            let twice = cs
                .hpke_seal_many(&info, b"", &[recipients[0], recipients[0]])
                .unwrap();
            assert_ne!(twice[0].kem_output, twice[1].kem_output, "{cs:?}");
            assert!(cs.hpke_seal_many(&info, b"", &[]).unwrap().is_empty());
            // A malformed key anywhere fails the whole call.
            let bad = HpkePublicKey(vec![1; 3]);
            assert_eq!(
                cs.hpke_seal_many(&info, b"", &[recipients[0], (&bad, b"x")]),
                Err(CryptoError::InvalidPublicKey),
                "{cs:?}"
            );
        }
    }

    #[test]
    fn seal_open_round_trip_every_suite() {
        for cs in suites(1) {
            let (sk, pk) = cs.hpke_generate_key_pair().unwrap();
            let (nsk, npk) = sizes(&cs);
            assert_eq!(
                (sk.as_bytes().len(), pk.as_bytes().len()),
                (nsk, npk),
                "{cs:?}"
            );
            assert_eq!(cs.hpke_public_key(&sk).unwrap(), pk, "{cs:?}");
            for pt in [&b""[..], b"hello", &[7u8; 1000]] {
                let ct = cs.hpke_seal(&pk, b"info", b"aad", pt).unwrap();
                assert_eq!(ct.kem_output.len(), npk, "{cs:?}: enc is a public key");
                assert_eq!(ct.ciphertext.len(), pt.len() + 16, "{cs:?}: AEAD tag");
                assert_eq!(
                    cs.hpke_open(&sk, &ct, b"info", b"aad").unwrap(),
                    pt,
                    "{cs:?}"
                );
            }
        }
    }

    #[test]
    fn open_fails_on_any_mismatch() {
        for cs in suites(2) {
            let (sk, pk) = cs.hpke_generate_key_pair().unwrap();
            let (other_sk, _) = cs.hpke_generate_key_pair().unwrap();
            let ct = cs.hpke_seal(&pk, b"info", b"aad", b"secret").unwrap();
            let fail = |sk: &HpkePrivateKey, ct: &HpkeCiphertext, info: &[u8], aad: &[u8]| {
                assert_eq!(
                    cs.hpke_open(sk, ct, info, aad),
                    Err(CryptoError::HpkeOpenFailed),
                    "{cs:?}"
                );
                // The same verdict with the recipient's public key given.
                assert_eq!(
                    cs.hpke_open_with_public(sk, &pk, ct, info, aad),
                    Err(CryptoError::HpkeOpenFailed),
                    "{cs:?}"
                );
            };
            fail(&sk, &ct, b"infx", b"aad");
            fail(&sk, &ct, b"info", b"aax");
            fail(&other_sk, &ct, b"info", b"aad");
            for i in 0..ct.ciphertext.len() {
                let mut bad = ct.clone();
                bad.ciphertext[i] ^= 0x80;
                fail(&sk, &bad, b"info", b"aad");
            }
            let mut bad = ct.clone();
            bad.ciphertext.truncate(15);
            fail(&sk, &bad, b"info", b"aad");
            // A tampered, truncated or foreign encapsulated key.
            for i in [0, ct.kem_output.len() / 2, ct.kem_output.len() - 1] {
                let mut bad = ct.clone();
                bad.kem_output[i] ^= 0x01;
                fail(&sk, &bad, b"info", b"aad");
            }
            for kem_output in [
                vec![],
                ct.kem_output[1..].to_vec(),
                vec![0; ct.kem_output.len()],
            ] {
                let bad = HpkeCiphertext {
                    kem_output,
                    ciphertext: ct.ciphertext.clone(),
                };
                fail(&sk, &bad, b"info", b"aad");
            }
        }
    }

    #[test]
    fn seal_rejects_malformed_public_keys() {
        for cs in suites(3) {
            let (_, pk) = cs.hpke_generate_key_pair().unwrap();
            let pk = pk.as_bytes();
            let mut bad_keys = vec![
                vec![],
                pk[1..].to_vec(),
                [pk, &[0]].concat(),
                // The all-zero value: a low-order point for X25519/X448, not a
                // SEC1 encoding for the NIST curves.
                vec![0; pk.len()],
            ];
            if pk.len() > 56 {
                // A NIST point moved off the curve.
                let mut off = pk.to_vec();
                off[pk.len() - 1] ^= 1;
                bad_keys.push(off);
            }
            for bad in bad_keys {
                assert_eq!(
                    cs.hpke_seal(&HpkePublicKey(bad.clone()), b"", b"", b"m"),
                    Err(CryptoError::InvalidPublicKey),
                    "{cs:?}: {bad:02x?}"
                );
            }
        }
    }

    #[test]
    fn malformed_private_keys_are_rejected() {
        for cs in suites(4) {
            let (sk, pk) = cs.hpke_generate_key_pair().unwrap();
            let ct = cs.hpke_seal(&pk, b"", b"", b"m").unwrap();
            let n = sk.as_bytes().len();
            let mut bad_keys = vec![vec![], vec![1; n + 1]];
            if matches!(cs.cipher_suite().0, 2 | 5 | 7) {
                // Zero and a value above the group order are not scalars.
                bad_keys.push(vec![0; n]);
                bad_keys.push(vec![0xff; n]);
            } else {
                bad_keys.push(vec![1; n - 1]);
            }
            for bad in bad_keys {
                let bad = HpkePrivateKey::new(bad);
                assert_eq!(
                    cs.hpke_public_key(&bad),
                    Err(CryptoError::InvalidPrivateKey),
                    "{cs:?}"
                );
                assert_eq!(
                    cs.hpke_open(&bad, &ct, b"", b""),
                    Err(CryptoError::InvalidPrivateKey),
                    "{cs:?}"
                );
            }
        }
    }

    #[test]
    fn derive_key_pair_is_deterministic() {
        for (a, b) in suites(5).into_iter().zip(suites(6)) {
            let (sk1, pk1) = a.hpke_derive_key_pair(b"path secret").unwrap();
            let (sk2, pk2) = b.hpke_derive_key_pair(b"path secret").unwrap();
            assert_eq!((&sk1, &pk1), (&sk2, &pk2), "{a:?}: RNG plays no part");
            assert_eq!(a.hpke_public_key(&sk1).unwrap(), pk1, "{a:?}");
            let (sk3, pk3) = a.hpke_derive_key_pair(b"path secreu").unwrap();
            assert_ne!(sk1, sk3, "{a:?}");
            assert_ne!(pk1, pk3, "{a:?}");
            let (nsk, npk) = sizes(&a);
            assert_eq!((sk1.as_bytes().len(), pk1.as_bytes().len()), (nsk, npk));
            // The derived pair works.
            let ct = a.hpke_seal(&pk1, b"i", b"a", b"m").unwrap();
            assert_eq!(a.hpke_open(&sk1, &ct, b"i", b"a").unwrap(), b"m");
        }
    }

    #[test]
    fn derive_key_pairs_match_one_by_one() {
        // X25519 batches the public keys' conversion; every suite must give
        // exactly the pairs of DeriveKeyPair one at a time, for any count.
        let ikms: Vec<Vec<u8>> = (0..17u8).map(|i| vec![i; 32]).collect();
        for cs in suites(9) {
            for n in [0usize, 1, 2, 3, 10, 17] {
                let refs: Vec<&[u8]> = ikms[..n].iter().map(Vec::as_slice).collect();
                let batch = cs.hpke_derive_key_pairs(&refs).unwrap();
                let single: Vec<_> = refs
                    .iter()
                    .map(|ikm| cs.hpke_derive_key_pair(ikm).unwrap())
                    .collect();
                assert_eq!(batch, single, "{cs:?}, {n} keys");
            }
            // The X25519 public key of RFC 9180 Appendix A.1.1 (ikmR -> pkRm).
            if cs.cipher_suite().0 == 1 {
                let hex = |s: &str| hex::decode(s).unwrap();
                let ikm_r = hex("6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037");
                let ikm_e = hex("7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234");
                let pairs = cs.hpke_derive_key_pairs(&[&ikm_e, &ikm_r]).unwrap();
                assert_eq!(
                    pairs[1].1.0,
                    hex("3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d")
                );
                assert_eq!(
                    pairs[1].0.as_bytes(),
                    hex("4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8")
                );
                assert_eq!(
                    pairs[0].1.0,
                    hex("37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431")
                );
            }
        }
    }

    #[test]
    fn seeded_providers_produce_identical_ciphertexts() {
        for suite in CipherSuite::ALL {
            // Fresh providers per suite: one provider's suites share a generator.
            let with_seed = |seed| RustCryptoProvider::with_seed(seed).suite(suite).unwrap();
            let (a, b, c) = (with_seed([7; 32]), with_seed([7; 32]), with_seed([8; 32]));
            let (_, pk) = a.hpke_derive_key_pair(b"recipient").unwrap();
            let ct_a = a.hpke_seal(&pk, b"info", b"aad", b"plaintext").unwrap();
            let ct_b = b.hpke_seal(&pk, b"info", b"aad", b"plaintext").unwrap();
            assert_eq!(ct_a, ct_b, "{suite:?}");
            let ct_c = c.hpke_seal(&pk, b"info", b"aad", b"plaintext").unwrap();
            assert_ne!(ct_a.kem_output, ct_c.kem_output, "{suite:?}: other seed");
            // Key generation is reproducible too.
            assert_eq!(
                a.hpke_generate_key_pair().unwrap(),
                b.hpke_generate_key_pair().unwrap()
            );
            // And a second encryption uses a fresh ephemeral key.
            let again = a.hpke_seal(&pk, b"info", b"aad", b"plaintext").unwrap();
            assert_ne!(again.kem_output, ct_a.kem_output, "{suite:?}");
        }
    }

    #[test]
    fn export_sender_and_receiver_agree_every_suite() {
        for cs in suites(10) {
            let (sk, pk) = cs.hpke_generate_key_pair().unwrap();
            let (_, npk) = sizes(&cs);
            for len in [0, 32, cs.kdf_len(), 100] {
                let (enc, s) = cs.hpke_export_sender(&pk, b"info", b"ctx", len).unwrap();
                assert_eq!(enc.len(), npk, "{cs:?}: enc is a public key");
                assert_eq!(s.as_bytes().len(), len, "{cs:?}");
                let r = cs
                    .hpke_export_receiver(&sk, &enc, b"info", b"ctx", len)
                    .unwrap();
                assert_eq!(r, s, "{cs:?}: receiver derives the sender's secret");
            }
            let (enc, s) = cs.hpke_export_sender(&pk, b"", b"ctx", 32).unwrap();
            // Every input changes the secret.
            let other = |sk: &HpkePrivateKey, info: &[u8], ctx: &[u8]| {
                cs.hpke_export_receiver(sk, &enc, info, ctx, 32).unwrap()
            };
            assert_eq!(other(&sk, b"", b"ctx"), s, "{cs:?}");
            assert_ne!(other(&sk, b"x", b"ctx"), s, "{cs:?}: info");
            assert_ne!(other(&sk, b"", b"ctx2"), s, "{cs:?}: exporter context");
            let (other_sk, _) = cs.hpke_generate_key_pair().unwrap();
            assert_ne!(other(&other_sk, b"", b"ctx"), s, "{cs:?}: key");
            // A fresh encapsulation gives a fresh secret.
            let (enc2, s2) = cs.hpke_export_sender(&pk, b"", b"ctx", 32).unwrap();
            assert_ne!((enc2, s2), (enc.clone(), s.clone()), "{cs:?}");
            // A malformed encapsulated key is refused; a tampered one
            // (another valid point) gives another secret or is refused.
            for bad in [vec![], enc[1..].to_vec(), vec![0; enc.len()]] {
                assert_eq!(
                    cs.hpke_export_receiver(&sk, &bad, b"", b"ctx", 32),
                    Err(CryptoError::InvalidPublicKey),
                    "{cs:?}: {bad:02x?}"
                );
            }
            let mut tampered = enc.clone();
            let last = tampered.len() - 1;
            tampered[last] ^= 1;
            match cs.hpke_export_receiver(&sk, &tampered, b"", b"ctx", 32) {
                Ok(t) => assert_ne!(t, s, "{cs:?}"),
                Err(e) => assert_eq!(e, CryptoError::InvalidPublicKey, "{cs:?}"),
            }
        }
    }

    #[test]
    fn open_with_public_is_open() {
        for cs in suites(13) {
            let (sk, pk) = cs.hpke_generate_key_pair().unwrap();
            let (_, other_pk) = cs.hpke_generate_key_pair().unwrap();
            for pt in [&b""[..], b"secret", &[7u8; 100]] {
                let ct = cs.hpke_seal(&pk, b"info", b"aad", pt).unwrap();
                let want = cs.hpke_open(&sk, &ct, b"info", b"aad").unwrap();
                assert_eq!(want, pt, "{cs:?}");
                assert_eq!(
                    cs.hpke_open_with_public(&sk, &pk, &ct, b"info", b"aad"),
                    Ok(want),
                    "{cs:?}"
                );
                // A public key that is not the private key's fails.
                assert_eq!(
                    cs.hpke_open_with_public(&sk, &other_pk, &ct, b"info", b"aad"),
                    Err(CryptoError::HpkeOpenFailed),
                    "{cs:?}"
                );
                let short = HpkePublicKey(pk.as_bytes()[1..].to_vec());
                assert_eq!(
                    cs.hpke_open_with_public(&sk, &short, &ct, b"info", b"aad"),
                    Err(CryptoError::HpkeOpenFailed),
                    "{cs:?}"
                );
            }
            // A malformed private key is refused as by `hpke_open`.
            let ct = cs.hpke_seal(&pk, b"info", b"aad", b"x").unwrap();
            let bad_sk = HpkePrivateKey::new(vec![1; 3]);
            assert_eq!(
                cs.hpke_open_with_public(&bad_sk, &pk, &ct, b"info", b"aad"),
                cs.hpke_open(&bad_sk, &ct, b"info", b"aad"),
                "{cs:?}"
            );
        }
    }

    #[test]
    fn export_receiver_matches_rfc9180_a11() {
        // RFC 9180 A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
        // AES-128-GCM, base mode — MLS suite 1.
        let h = |s: &str| hex::decode(s).unwrap();
        let cs = RustCryptoProvider::new()
            .suite(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
            .unwrap();
        let sk = HpkePrivateKey::new(h(
            "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8",
        ));
        let enc = h("37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431");
        let info = h("4f6465206f6e2061204772656369616e2055726e");
        for (ctx, exported) in [
            (
                "",
                "3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee",
            ),
            (
                "00",
                "2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5",
            ),
            (
                "54657374436f6e74657874",
                "e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931",
            ),
        ] {
            let got = cs
                .hpke_export_receiver(&sk, &enc, &info, &h(ctx), 32)
                .unwrap();
            assert_eq!(hex::encode(got.as_bytes()), exported, "context {ctx}");
        }
    }

    #[test]
    fn export_rejects_malformed_keys() {
        for cs in suites(11) {
            let (sk, pk) = cs.hpke_generate_key_pair().unwrap();
            let bad_pk = HpkePublicKey(pk.as_bytes()[1..].to_vec());
            assert_eq!(
                cs.hpke_export_sender(&bad_pk, b"", b"", 32).map(|_| ()),
                Err(CryptoError::InvalidPublicKey),
                "{cs:?}"
            );
            let (enc, _) = cs.hpke_export_sender(&pk, b"", b"", 32).unwrap();
            let bad_sk = HpkePrivateKey::new(vec![1; sk.as_bytes().len() + 1]);
            assert_eq!(
                cs.hpke_export_receiver(&bad_sk, &enc, b"", b"", 32),
                Err(CryptoError::InvalidPrivateKey),
                "{cs:?}"
            );
        }
    }

    #[test]
    fn seeded_export_is_reproducible() {
        for suite in CipherSuite::ALL {
            let with_seed = |seed| RustCryptoProvider::with_seed(seed).suite(suite).unwrap();
            let (a, b) = (with_seed([12; 32]), with_seed([12; 32]));
            let (_, pk) = a.hpke_derive_key_pair(b"external").unwrap();
            assert_eq!(
                a.hpke_export_sender(&pk, b"", b"label", 48).unwrap(),
                b.hpke_export_sender(&pk, b"", b"label", 48).unwrap(),
                "{suite:?}"
            );
        }
    }

    #[test]
    fn short_p521_private_key_is_left_padded() {
        let cs = RustCryptoProvider::with_seed([9; 32])
            .suite(CipherSuite::MLS_256_DHKEMP521_AES256GCM_SHA512_P521)
            .unwrap();
        // About half of all P-521 scalars have a zero first byte.
        let (sk, pk) = (0..64)
            .map(|_| cs.hpke_generate_key_pair().unwrap())
            .find(|(sk, _)| sk.as_bytes()[0] == 0)
            .unwrap();
        let short = HpkePrivateKey::new(sk.as_bytes()[1..].to_vec());
        assert_eq!(cs.hpke_public_key(&short).unwrap(), pk);
        let ct = cs.hpke_seal(&pk, b"", b"", b"m").unwrap();
        assert_eq!(cs.hpke_open(&short, &ct, b"", b"").unwrap(), b"m");
    }
}
