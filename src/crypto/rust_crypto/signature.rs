//! Signatures (RFC 9420 §5.1.2, §17.1): Ed25519 and Ed448 (RFC 8032, pure
//! mode, no context) and ECDSA over P-256/SHA-256, P-384/SHA-384 and
//! P-521/SHA-512.
//!
//! Key and signature encodings follow TLS 1.3, as RFC 9420 does:
//! - EdDSA: private key = the raw RFC 8032 seed (32 or 57 bytes), public key =
//!   the raw encoded point, signature = the raw 64 or 114 bytes.
//! - ECDSA: private key = the big-endian scalar (a shorter encoding with the
//!   leading zero bytes stripped is accepted and left-padded, see
//!   [`left_pad_scalar`]), public key = the uncompressed SEC1 point, signature
//!   = the ASN.1 DER `Ecdsa-Sig-Value` (RFC 8446 §4.2.3). The published
//!   vectors use DER (e.g. 70-72 byte P-256 signatures starting with `0x30`).
//!
//! Randomness: EdDSA is deterministic. ECDSA is *hedged*: the nonce is derived
//! as in RFC 6979 with extra random input (RFC 6979 §3.6) drawn from the
//! provider's generator, so a seeded provider signs reproducibly and a weak
//! generator never leads to nonce reuse.
//!
//! Verification accepts exactly these encodings; anything malformed is an
//! error ([`CryptoError::InvalidPublicKey`] or [`CryptoError::InvalidSignature`]),
//! never a panic.

use ed25519_dalek::Signer as _;
use zeroize::Zeroizing;

use super::{SharedRng, SigAlg, fill_random, left_pad_scalar};
use crate::crypto::{SignaturePrivateKey, SignaturePublicKey};
use crate::error::CryptoError;

/// Ed25519 seed length (RFC 8032 §5.1.5).
const ED25519_SEED_LEN: usize = 32;
/// Ed448 seed length (RFC 8032 §5.2.5).
const ED448_SEED_LEN: usize = 57;

/// Signs `msg` with the suite's scheme.
pub(super) fn sign(
    alg: SigAlg,
    rng: &SharedRng,
    private: &SignaturePrivateKey,
    msg: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let key = private.as_bytes();
    match alg {
        SigAlg::Ed25519 => {
            // The signing key with its public key, derived once per key.
            let sk = private.prepared(ed25519_key)?;
            Ok(sk.sign(msg).to_bytes().to_vec())
        }
        SigAlg::Ed448 => {
            let sk = ed448_key(key)?;
            let sig: ed448_goldilocks::Signature = ed448_sign(&sk, msg)?;
            Ok(sig.to_bytes().to_vec())
        }
        SigAlg::EcdsaP256 => ecdsa_p256::sign(rng, key, msg),
        SigAlg::EcdsaP384 => ecdsa_p384::sign(rng, key, msg),
        SigAlg::EcdsaP521 => ecdsa_p521::sign(rng, key, msg),
    }
}

/// Ed448 signing through the `signature` traits (no panicking path).
fn ed448_sign(
    sk: &ed448_goldilocks::SigningKey,
    msg: &[u8],
) -> Result<ed448_goldilocks::Signature, CryptoError> {
    use ed448_goldilocks::signature::Signer;
    sk.try_sign(msg)
        .map_err(|_| CryptoError::Other("Ed448 signing failed"))
}

/// Verifies several signatures (see `CipherSuiteProvider::verify_many`):
/// each one exactly as [`verify`] verifies it alone, in parallel with the
/// crate feature `parallel`.
///
/// Ed25519 signatures are deliberately not checked with a batch equation.
/// The batch form of RFC 8032 §5.1.7 (as `ed25519_dalek::verify_batch`
/// computes it) checks `Σ zᵢ·([sᵢ]B − Rᵢ − [kᵢ]Aᵢ) = 0` for random `zᵢ`: a
/// signature whose `R` (or key) carries a small torsion component `T`
/// (`R = [r]B + T`, which single verification rejects) passes it whenever
/// its coefficient happens to kill `T`, one time in eight for `T` of order
/// eight, and several such signatures can cancel each other. The verdict
/// would then depend on the random coefficients and on how the list is cut
/// into batches (which depends on the thread count): two members could
/// disagree on one KeyPackage and fork the group. Guaranteeing the single
/// verdict in a batch needs every `R` and key proven torsion-free, which
/// costs about a verification each; so every signature is verified on its
/// own, the cost spread over threads instead.
pub(super) fn verify_many(
    alg: SigAlg,
    items: &[(&SignaturePublicKey, &[u8], &[u8])],
) -> Result<(), (usize, CryptoError)> {
    crate::parallel::map(items, |(key, msg, sig)| verify(alg, key, msg, sig).err())
        .into_iter()
        .enumerate()
        .find_map(|(i, error)| error.map(|e| (i, e)))
        .map_or(Ok(()), Err)
}

/// Decompressed Ed25519 public keys by their encoding, so that a member's
/// key is decompressed (a square root in the field, about a tenth of a
/// verification) once rather than for every message it signs. Public data
/// only; bounded: emptied when it reaches [`VerifyingKeyCache::CAPACITY`].
#[derive(Default)]
pub(crate) struct VerifyingKeyCache(
    std::sync::Mutex<std::collections::HashMap<[u8; 32], ed25519_dalek::VerifyingKey>>,
);

impl VerifyingKeyCache {
    /// Most keys kept (about 230 bytes each).
    const CAPACITY: usize = 4096;

    /// The decompressed key of `bytes` (RFC 8032 §5.1.3), from the cache or
    /// decompressed and added to it.
    fn ed25519(&self, bytes: &[u8]) -> Result<ed25519_dalek::VerifyingKey, CryptoError> {
        let bytes = <&[u8; 32]>::try_from(bytes).map_err(|_| CryptoError::InvalidPublicKey)?;
        if let Some(key) = self.0.lock().ok().and_then(|m| m.get(bytes).copied()) {
            return Ok(key);
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| CryptoError::InvalidPublicKey)?;
        // Small-order keys verify nothing (and are not kept).
        if key.is_weak() {
            return Err(CryptoError::InvalidSignature);
        }
        if let Ok(mut m) = self.0.lock() {
            if m.len() >= Self::CAPACITY {
                m.clear();
            }
            m.insert(*bytes, key);
        }
        Ok(key)
    }
}

/// [`verify`] of the message `parts` (concatenated), with Ed25519 keys
/// taken from `cache`.
pub(super) fn verify_cached(
    alg: SigAlg,
    cache: &VerifyingKeyCache,
    key: &SignaturePublicKey,
    parts: &[&[u8]],
    sig: &[u8],
) -> Result<(), CryptoError> {
    match alg {
        SigAlg::Ed25519 => {
            let pk = cache.ed25519(key.as_bytes())?;
            ed25519_verify_equation(&pk, parts, sig)
        }
        _ => verify_parts(alg, key, parts, sig),
    }
}

/// Strict Ed25519 verification (RFC 8032 §5.1.7, cofactorless): the
/// equation checked on the canonical encoding of `R` (as RFC 8032 §5.1.3
/// decoding requires, so a non-canonical `R` fails), a canonical `s`, and
/// neither the key nor `R` of small order. Its verdict is that of
/// ed25519-dalek's `verify_strict` on every input (a property test checks
/// it), at the cost of `verify`: `R` is compared as bytes, not
/// decompressed. Like `verify_strict` it is cofactorless: a mixed-order `R`
/// (`[r]B + T`, `T` of small order) fails, and so does a mixed-order key
/// unless the challenge kills its torsion.
///
/// The message is `parts`, concatenated (hashed one after the other).
fn ed25519_verify(
    pk: &ed25519_dalek::VerifyingKey,
    parts: &[&[u8]],
    sig: &[u8],
) -> Result<(), CryptoError> {
    if pk.is_weak() {
        return Err(CryptoError::InvalidSignature);
    }
    ed25519_verify_equation(pk, parts, sig)
}

/// [`ed25519_verify`] for a key known not to be of small order.
fn ed25519_verify_equation(
    pk: &ed25519_dalek::VerifyingKey,
    parts: &[&[u8]],
    sig: &[u8],
) -> Result<(), CryptoError> {
    use ed25519_dalek::ed25519::signature::MultipartVerifier as _;
    let sig =
        ed25519_dalek::Signature::from_slice(sig).map_err(|_| CryptoError::InvalidSignature)?;
    if !ed25519_r_acceptable(sig.r_bytes()) {
        return Err(CryptoError::InvalidSignature);
    }
    // `verify` is `multipart_verify` of one part: the same equation.
    pk.multipart_verify(parts, &sig)
        .map_err(|_| CryptoError::InvalidSignature)
}

/// Whether `r` is the canonical encoding (RFC 8032 §5.1.2) of a point not
/// of small order, as far as bytes tell: `y < p`, no sign bit on a point
/// with `x = 0` (`y = ±1`), and not one of the eight small-order points.
/// Whether `r` is on the curve at all is left to the equation.
fn ed25519_r_acceptable(r: &[u8; 32]) -> bool {
    let mut y = *r;
    let sign = y[31] >> 7;
    y[31] &= 0x7f;
    // p = 2^255 - 19: y >= p only for 0x7fff..ffed..0x7fff..ffff.
    let at_least_p = y[31] == 0x7f && y[1..31].iter().all(|&b| b == 0xff) && y[0] >= 0xed;
    let mut one = [0u8; 32];
    one[0] = 1;
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    let x_is_zero = y == one || y == minus_one;
    let signed_zero_x = sign == 1 && x_is_zero;
    !(at_least_p || signed_zero_x || ed25519_small_order_encodings().contains(r))
}

/// The canonical encodings of the eight points of small order: the
/// multiples of a point of order 8, `[l]P` for a point `P` whose torsion
/// component has order 8 (computed once).
fn ed25519_small_order_encodings() -> &'static [[u8; 32]; 8] {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use curve25519_dalek::traits::{Identity, IsIdentity};
    use curve25519_dalek::{EdwardsPoint, Scalar};
    static ENCODINGS: std::sync::OnceLock<[[u8; 32]; 8]> = std::sync::OnceLock::new();
    ENCODINGS.get_or_init(|| {
        // [l]P = [l-1]P + P: the torsion component of P (l-1 is a scalar).
        let torsion = |p: EdwardsPoint| p * (Scalar::ZERO - Scalar::ONE) + p;
        let mut t = EdwardsPoint::identity();
        for y in 2u8..=u8::MAX {
            let mut enc = [0u8; 32];
            enc[0] = y;
            if let Some(p) = CompressedEdwardsY(enc).decompress() {
                let candidate = torsion(p);
                // Order 8 exactly: [4]T is not the identity.
                let four = candidate + candidate;
                if !(four + four).is_identity() {
                    t = candidate;
                    break;
                }
            }
        }
        let mut out = [[0u8; 32]; 8];
        let mut m = EdwardsPoint::identity();
        for e in &mut out {
            *e = m.compress().to_bytes();
            m += t;
        }
        out
    })
}

/// Verifies `sig` over `msg` under `key`.
pub(super) fn verify(
    alg: SigAlg,
    key: &SignaturePublicKey,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    verify_parts(alg, key, &[msg], sig)
}

/// Verifies `sig` over the concatenation of `parts` under `key`, without
/// forming it (Ed448 excepted: its verifier takes one message).
pub(super) fn verify_parts(
    alg: SigAlg,
    key: &SignaturePublicKey,
    parts: &[&[u8]],
    sig: &[u8],
) -> Result<(), CryptoError> {
    let key = key.as_bytes();
    match alg {
        SigAlg::Ed25519 => {
            let pk = <&[u8; 32]>::try_from(key).map_err(|_| CryptoError::InvalidPublicKey)?;
            let pk = ed25519_dalek::VerifyingKey::from_bytes(pk)
                .map_err(|_| CryptoError::InvalidPublicKey)?;
            ed25519_verify(&pk, parts, sig)
        }
        SigAlg::Ed448 => {
            let pk = <&[u8; 57]>::try_from(key).map_err(|_| CryptoError::InvalidPublicKey)?;
            let pk = ed448_goldilocks::VerifyingKey::from_bytes(pk)
                .map_err(|_| CryptoError::InvalidPublicKey)?;
            let sig = ed448_goldilocks::Signature::from_slice(sig)
                .map_err(|_| CryptoError::InvalidSignature)?;
            pk.verify_raw(&sig, &parts.concat())
                .map_err(|_| CryptoError::InvalidSignature)
        }
        SigAlg::EcdsaP256 => ecdsa_p256::verify(key, parts, sig),
        SigAlg::EcdsaP384 => ecdsa_p384::verify(key, parts, sig),
        SigAlg::EcdsaP521 => ecdsa_p521::verify(key, parts, sig),
    }
}

/// A fresh key pair from the provider's generator.
pub(super) fn generate_key_pair(
    alg: SigAlg,
    rng: &SharedRng,
) -> Result<(SignaturePrivateKey, SignaturePublicKey), CryptoError> {
    let (sk, pk) = match alg {
        SigAlg::Ed25519 => {
            // RFC 8032 §5.1.5: the private key is 32 random bytes.
            let mut seed = Zeroizing::new(vec![0u8; ED25519_SEED_LEN]);
            fill_random(rng, &mut seed)?;
            let pk = ed25519_key(&seed)?.verifying_key().to_bytes().to_vec();
            (seed, pk)
        }
        SigAlg::Ed448 => {
            // RFC 8032 §5.2.5: the private key is 57 random bytes.
            let mut seed = Zeroizing::new(vec![0u8; ED448_SEED_LEN]);
            fill_random(rng, &mut seed)?;
            let pk = ed448_key(&seed)?.verifying_key().to_bytes().to_vec();
            (seed, pk)
        }
        SigAlg::EcdsaP256 => ecdsa_p256::generate(rng)?,
        SigAlg::EcdsaP384 => ecdsa_p384::generate(rng)?,
        SigAlg::EcdsaP521 => ecdsa_p521::generate(rng)?,
    };
    Ok((
        SignaturePrivateKey::new(sk.to_vec()),
        SignaturePublicKey(pk),
    ))
}

/// The public key of a private key.
pub(super) fn public_key(
    alg: SigAlg,
    key: &SignaturePrivateKey,
) -> Result<SignaturePublicKey, CryptoError> {
    let key = key.as_bytes();
    let pk = match alg {
        SigAlg::Ed25519 => ed25519_key(key)?.verifying_key().to_bytes().to_vec(),
        SigAlg::Ed448 => ed448_key(key)?.verifying_key().to_bytes().to_vec(),
        SigAlg::EcdsaP256 => ecdsa_p256::public_key(key)?,
        SigAlg::EcdsaP384 => ecdsa_p384::public_key(key)?,
        SigAlg::EcdsaP521 => ecdsa_p521::public_key(key)?,
    };
    Ok(SignaturePublicKey(pk))
}

fn ed25519_key(seed: &[u8]) -> Result<ed25519_dalek::SigningKey, CryptoError> {
    let seed =
        <&[u8; ED25519_SEED_LEN]>::try_from(seed).map_err(|_| CryptoError::InvalidPrivateKey)?;
    Ok(ed25519_dalek::SigningKey::from_bytes(seed))
}

fn ed448_key(seed: &[u8]) -> Result<ed448_goldilocks::SigningKey, CryptoError> {
    if seed.len() != ED448_SEED_LEN {
        return Err(CryptoError::InvalidPrivateKey);
    }
    ed448_goldilocks::SigningKey::try_from(seed).map_err(|_| CryptoError::InvalidPrivateKey)
}

/// ECDSA for one curve: `$curve` is the RustCrypto crate, `$scalar_len` the
/// scalar (and field element) size, `$point_len` the uncompressed SEC1 size.
macro_rules! ecdsa_curve {
    ($module:ident, $curve:ident, $scalar_len:expr, $point_len:expr) => {
        mod $module {
            use $curve::ecdsa::signature::{MultipartVerifier, RandomizedSigner};
            use $curve::ecdsa::{DerSignature, SigningKey, VerifyingKey};
            use $curve::elliptic_curve::Generate;
            use zeroize::Zeroizing;

            use super::left_pad_scalar;
            use crate::crypto::rust_crypto::SharedRng;
            use crate::error::CryptoError;

            /// Size of a scalar (private key) in bytes.
            pub(super) const SCALAR_LEN: usize = $scalar_len;
            /// Size of an uncompressed SEC1 point (public key) in bytes.
            pub(super) const POINT_LEN: usize = $point_len;

            fn signing_key(key: &[u8]) -> Result<SigningKey, CryptoError> {
                let key = left_pad_scalar(key, SCALAR_LEN)?;
                SigningKey::from_slice(&key).map_err(|_| CryptoError::InvalidPrivateKey)
            }

            fn encode_point(vk: &VerifyingKey) -> Vec<u8> {
                vk.to_sec1_point(false).as_bytes().to_vec()
            }

            pub(super) fn sign(
                rng: &SharedRng,
                key: &[u8],
                msg: &[u8],
            ) -> Result<Vec<u8>, CryptoError> {
                let sk = signing_key(key)?;
                let mut g = rng.lock().map_err(|_| CryptoError::Rng)?;
                let sig: DerSignature = sk
                    .try_sign_with_rng(&mut *g, msg)
                    .map_err(|_| CryptoError::Other("ECDSA signing failed"))?;
                Ok(sig.as_bytes().to_vec())
            }

            /// Verifies `sig` over the concatenation of `parts`.
            pub(super) fn verify(
                key: &[u8],
                parts: &[&[u8]],
                sig: &[u8],
            ) -> Result<(), CryptoError> {
                // Only the uncompressed form (0x04 || x || y) is a valid MLS key.
                if key.len() != POINT_LEN || key.first() != Some(&0x04) {
                    return Err(CryptoError::InvalidPublicKey);
                }
                let vk = VerifyingKey::from_sec1_bytes(key)
                    .map_err(|_| CryptoError::InvalidPublicKey)?;
                let sig =
                    DerSignature::from_bytes(sig).map_err(|_| CryptoError::InvalidSignature)?;
                vk.multipart_verify(parts, &sig)
                    .map_err(|_| CryptoError::InvalidSignature)
            }

            pub(super) fn generate(
                rng: &SharedRng,
            ) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), CryptoError> {
                let sk = {
                    let mut g = rng.lock().map_err(|_| CryptoError::Rng)?;
                    SigningKey::generate_from_rng(&mut *g)
                };
                let pk = encode_point(sk.verifying_key());
                Ok((Zeroizing::new(sk.to_bytes().to_vec()), pk))
            }

            pub(super) fn public_key(key: &[u8]) -> Result<Vec<u8>, CryptoError> {
                Ok(encode_point(signing_key(key)?.verifying_key()))
            }
        }
    };
}

ecdsa_curve!(ecdsa_p256, p256, 32, 65);
ecdsa_curve!(ecdsa_p384, p384, 48, 97);
ecdsa_curve!(ecdsa_p521, p521, 66, 133);

#[cfg(test)]
mod tests {
    use crate::crypto::{
        CipherSuite, CipherSuiteProvider, RustCryptoProvider, SignaturePrivateKey,
        SignaturePublicKey,
    };
    use crate::error::CryptoError;

    fn suites(seed: u8) -> Vec<super::super::RustCryptoSuite> {
        let p = RustCryptoProvider::with_seed([seed; 32]);
        CipherSuite::ALL
            .iter()
            .map(|&cs| p.suite(cs).unwrap())
            .collect()
    }

    /// Many signatures (more than the threads, more than the old batches
    /// of 2048): the first bad one is reported, by its index in the list.
    #[test]
    fn ed25519_first_failure_found_among_many() {
        use ed25519_dalek::Signer;
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let pk = SignaturePublicKey::from(sk.verifying_key().to_bytes().to_vec());
        let msg = b"leaf node".as_slice();
        let good = sk.sign(msg).to_bytes().to_vec();
        let mut bad = good.clone();
        bad[40] ^= 1;
        let n = 4101;
        let items_with = |wrong: &[usize]| -> Vec<(&SignaturePublicKey, &[u8], &[u8])> {
            (0..n)
                .map(|i| {
                    let sig = if wrong.contains(&i) { &bad } else { &good };
                    (&pk, msg, sig.as_slice())
                })
                .collect()
        };
        for wrong in [&[0, 2047, 2048, n - 1][..], &[2049, 4000], &[n - 1]] {
            assert_eq!(
                super::verify_many(super::SigAlg::Ed25519, &items_with(wrong)),
                Err((wrong[0], CryptoError::InvalidSignature))
            );
        }
        assert_eq!(
            super::verify_many(super::SigAlg::Ed25519, &items_with(&[])),
            Ok(())
        );
    }

    /// `verify_many` gives what `verify` gives for the first failure, in
    /// every suite, whether the bad items are in one batch or several.
    #[test]
    fn verify_many_reports_the_first_failure_every_suite() {
        for cs in suites(4) {
            let n = if cs.cipher_suite() == CipherSuite(1) {
                150
            } else {
                12
            };
            let keys: Vec<_> = (0..n)
                .map(|_| cs.signature_generate_key_pair().unwrap())
                .collect();
            let msgs: Vec<Vec<u8>> = (0..n)
                .map(|i| format!("message {i}").into_bytes())
                .collect();
            let mut sigs: Vec<Vec<u8>> = keys
                .iter()
                .zip(&msgs)
                .map(|((sk, _), m)| cs.sign(sk, m).unwrap())
                .collect();
            let items = |sigs: &[Vec<u8>]| -> Vec<(SignaturePublicKey, Vec<u8>, Vec<u8>)> {
                keys.iter()
                    .zip(&msgs)
                    .zip(sigs)
                    .map(|(((_, pk), m), s)| (pk.clone(), m.clone(), s.clone()))
                    .collect()
            };
            let run = |owned: &[(SignaturePublicKey, Vec<u8>, Vec<u8>)]| {
                let refs: Vec<(&SignaturePublicKey, &[u8], &[u8])> = owned
                    .iter()
                    .map(|(k, m, s)| (k, m.as_slice(), s.as_slice()))
                    .collect();
                cs.verify_many(&refs)
            };
            assert_eq!(run(&items(&sigs)), Ok(()), "{cs:?}");
            assert_eq!(run(&[]), Ok(()), "{cs:?}");
            // Two bad signatures: the first is reported.
            let (a, b) = (n / 3, n - 2);
            sigs[b] = sigs[0].clone();
            sigs[a] = cs.sign(&keys[a].0, b"another message").unwrap();
            assert_eq!(
                run(&items(&sigs)),
                Err((a, CryptoError::InvalidSignature)),
                "{cs:?}"
            );
            // A malformed key before them keeps its own error.
            let mut owned = items(&sigs);
            owned[1].0 = SignaturePublicKey(vec![7; 5]);
            assert_eq!(
                run(&owned),
                Err((1, CryptoError::InvalidPublicKey)),
                "{cs:?}"
            );
            // A truncated signature.
            let mut owned = items(&sigs);
            owned[0].2.pop();
            assert_eq!(
                run(&owned),
                Err((0, CryptoError::InvalidSignature)),
                "{cs:?}"
            );
        }
    }

    /// The checks strict verification makes before its equation hold in
    /// `verify_many` too: a signature with `R` of small order, one with a
    /// non-canonical `s` and a small-order key are refused.
    #[test]
    fn ed25519_verify_many_keeps_the_strict_checks() {
        let cs = &suites(5)[0];
        let keys: Vec<_> = (0..40)
            .map(|_| cs.signature_generate_key_pair().unwrap())
            .collect();
        let good: Vec<Vec<u8>> = keys
            .iter()
            .map(|(sk, _)| cs.sign(sk, b"m").unwrap())
            .collect();
        let check = |key_of_3: SignaturePublicKey, sig_of_3: Vec<u8>| {
            let mut owned: Vec<(SignaturePublicKey, Vec<u8>)> = keys
                .iter()
                .zip(&good)
                .map(|((_, pk), s)| (pk.clone(), s.clone()))
                .collect();
            owned[3] = (key_of_3, sig_of_3);
            let refs: Vec<(&SignaturePublicKey, &[u8], &[u8])> = owned
                .iter()
                .map(|(k, s)| (k, &b"m"[..], s.as_slice()))
                .collect();
            cs.verify_many(&refs)
        };
        // R = the identity (small order) and s = k·a for a key A = [a]B
        // whose scalar we know: [s]B = R + [k]A holds, so the equation
        // alone would accept it; strict verification refuses small-order R.
        {
            use curve25519_dalek::{Scalar, constants::ED25519_BASEPOINT_POINT as B};
            use sha2::{Digest, Sha512};
            let a = Scalar::from_bytes_mod_order([42; 32]);
            let key = (a * B).compress().to_bytes();
            let mut r = [0u8; 32];
            r[0] = 1;
            let k = Scalar::from_hash(
                Sha512::new()
                    .chain_update(r)
                    .chain_update(key)
                    .chain_update(b"m"),
            );
            let mut sig = r.to_vec();
            sig.extend_from_slice((k * a).as_bytes());
            // The equation holds ([s]B = R + [k]A): only the small-order
            // check refuses it.
            let r_point = curve25519_dalek::edwards::CompressedEdwardsY(r)
                .decompress()
                .unwrap();
            assert_eq!((k * a) * B, r_point + k * (a * B));
            assert_eq!(
                check(SignaturePublicKey(key.to_vec()), sig.clone()),
                Err((3, CryptoError::InvalidSignature))
            );
            assert_eq!(
                cs.verify(&SignaturePublicKey(key.to_vec()), b"m", &sig),
                Err(CryptoError::InvalidSignature)
            );
        }
        // s + l is the same scalar, non-canonically encoded.
        let mut non_canonical = good[3].clone();
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut carry = 0u16;
        for (b, l) in non_canonical[32..].iter_mut().zip(l) {
            let v = u16::from(*b) + u16::from(l) + carry;
            *b = v as u8;
            carry = v >> 8;
        }
        assert_eq!(
            check(keys[3].1.clone(), non_canonical),
            Err((3, CryptoError::InvalidSignature))
        );
        // The identity as a public key (small order).
        let mut identity_key = vec![0u8; 32];
        identity_key[0] = 1;
        assert!(check(SignaturePublicKey(identity_key), good[3].clone()).is_err());
    }

    /// Runs `f` on the calling thread and, with the feature `parallel`, in
    /// local rayon pools of 1 and 2 threads; the results must all be equal.
    pub(crate) fn same_under_every_thread_count<R: PartialEq + core::fmt::Debug + Send>(
        f: impl Fn() -> R + Send + Sync,
    ) -> R {
        let here = f();
        #[cfg(feature = "parallel")]
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            assert_eq!(pool.install(&f), here, "{threads} thread(s)");
        }
        here
    }

    /// Issue 11, item 1: mixed-order `R` (torsion of order 2, 4 and 8) is
    /// refused alone, in a list of one, among many valid signatures at any
    /// position, and many of them side by side (which could cancel in a
    /// batch equation), with 1 and 2 threads.
    #[test]
    fn item1_mixed_order_r_rejected_in_every_list() {
        use crate::crypto::torsion::{sign_mixed_r, torsion_point};
        let sk = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let pk = SignaturePublicKey::from(sk.verifying_key().to_bytes().to_vec());
        let msgs: Vec<Vec<u8>> = (0..150).map(|i| format!("m{i}").into_bytes()).collect();
        let good: Vec<Vec<u8>> = msgs
            .iter()
            .map(|m| {
                use ed25519_dalek::Signer;
                sk.sign(m).to_bytes().to_vec()
            })
            .collect();
        let run = |sigs: &[Vec<u8>]| {
            let items: Vec<(&SignaturePublicKey, &[u8], &[u8])> = msgs
                .iter()
                .zip(sigs)
                .map(|(m, s)| (&pk, m.as_slice(), s.as_slice()))
                .collect();
            same_under_every_thread_count(|| super::verify_many(super::SigAlg::Ed25519, &items))
        };
        assert_eq!(run(&good), Ok(()));
        for order in [2u8, 4, 8] {
            let t = torsion_point(order);
            // 64 crafted signatures, each alone: a batch of one accepts
            // about one in `order` of them.
            for nonce in 0..64 {
                let bad = sign_mixed_r(&[9; 32], &msgs[0], t, nonce);
                assert_eq!(
                    run(std::slice::from_ref(&bad)),
                    Err((0, CryptoError::InvalidSignature)),
                    "order {order}, nonce {nonce}"
                );
            }
            // Among valid ones, at several positions.
            for at in [0, 31, 32, 75, 149] {
                let mut sigs = good.clone();
                sigs[at] = sign_mixed_r(&[9; 32], &msgs[at], t, at as u64);
                assert_eq!(run(&sigs), Err((at, CryptoError::InvalidSignature)));
            }
            // Every signature crafted, T and -T alternating.
            let sigs: Vec<Vec<u8>> = msgs
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let t = if i % 2 == 0 { t } else { -t };
                    sign_mixed_r(&[9; 32], m, t, i as u64)
                })
                .collect();
            assert_eq!(run(&sigs), Err((0, CryptoError::InvalidSignature)));
            for (i, (m, s)) in msgs.iter().zip(&sigs).enumerate() {
                assert!(
                    super::verify(super::SigAlg::Ed25519, &pk, m, s).is_err(),
                    "{i}"
                );
            }
        }
    }

    /// The eight small-order encodings are distinct, canonical, of small
    /// order, and include the identity and the point (0, -1).
    #[test]
    fn ed25519_small_order_encodings_are_right() {
        use curve25519_dalek::edwards::CompressedEdwardsY;
        let encs = super::ed25519_small_order_encodings();
        for (i, e) in encs.iter().enumerate() {
            let p = CompressedEdwardsY(*e).decompress().unwrap();
            assert!(p.is_small_order(), "{i}");
            assert_eq!(p.compress().to_bytes(), *e, "canonical");
            assert!(!encs[..i].contains(e), "distinct");
        }
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut minus_one = [0xff; 32];
        minus_one[0] = 0xec;
        minus_one[31] = 0x7f;
        assert!(encs.contains(&identity) && encs.contains(&minus_one));
        // Not acceptable as R, nor their non-canonical twins; an ordinary
        // point is.
        for e in encs {
            assert!(!super::ed25519_r_acceptable(e));
        }
        let mut signed_identity = identity;
        signed_identity[31] |= 0x80;
        assert!(!super::ed25519_r_acceptable(&signed_identity));
        let mut y_plus_p = [0xff; 32];
        y_plus_p[0] = 0xee; // p + 1, the identity's y written non-canonically
        y_plus_p[31] = 0x7f;
        assert!(!super::ed25519_r_acceptable(&y_plus_p));
        let cs = &suites(6)[0];
        let (sk, _) = cs.signature_generate_key_pair().unwrap();
        let sig = cs.sign(&sk, b"m").unwrap();
        assert!(super::ed25519_r_acceptable(sig[..32].try_into().unwrap()));
    }

    #[test]
    fn sign_verify_round_trip_every_suite() {
        for cs in suites(1) {
            let (sk, pk) = cs.signature_generate_key_pair().unwrap();
            assert_eq!(cs.signature_public_key(&sk).unwrap(), pk, "{cs:?}");
            let sig = cs.sign(&sk, b"message").unwrap();
            cs.verify(&pk, b"message", &sig).unwrap();
            assert_eq!(
                cs.verify(&pk, b"messagf", &sig),
                Err(CryptoError::InvalidSignature),
                "{cs:?}: other message"
            );
            let (_, other_pk) = cs.signature_generate_key_pair().unwrap();
            assert_eq!(
                cs.verify(&other_pk, b"message", &sig),
                Err(CryptoError::InvalidSignature),
                "{cs:?}: other key"
            );
        }
    }

    #[test]
    fn key_and_signature_sizes() {
        for cs in suites(2) {
            let (sk, pk) = cs.signature_generate_key_pair().unwrap();
            let sig = cs.sign(&sk, b"m").unwrap();
            // (private key, public key, signature lengths, ECDSA?)
            let (skl, pkl, sigl, ecdsa) = match cs.cipher_suite().0 {
                1 | 3 => (32, 32, 64..=64, false),
                4 | 6 => (57, 57, 114..=114, false),
                2 => (32, 65, 8..=72, true),
                7 => (48, 97, 8..=104, true),
                5 => (66, 133, 8..=139, true),
                _ => unreachable!(),
            };
            assert_eq!(sk.as_bytes().len(), skl, "{cs:?}");
            assert_eq!(pk.as_bytes().len(), pkl, "{cs:?}");
            assert!(sigl.contains(&sig.len()), "{cs:?}: {} bytes", sig.len());
            if ecdsa {
                assert_eq!(pk.as_bytes()[0], 0x04, "uncompressed SEC1");
                assert_eq!(sig[0], 0x30, "DER SEQUENCE");
            }
        }
    }

    #[test]
    fn tampered_signature_is_rejected() {
        for cs in suites(3) {
            let (sk, pk) = cs.signature_generate_key_pair().unwrap();
            let sig = cs.sign(&sk, b"message").unwrap();
            // Flip a bit in bytes all along the signature (the DER header,
            // both integers, the last byte): never accepted, never a panic.
            for i in (0..sig.len()).step_by(5).chain([1, sig.len() - 1]) {
                let mut bad = sig.clone();
                bad[i] ^= 0x01;
                assert_eq!(
                    cs.verify(&pk, b"message", &bad),
                    Err(CryptoError::InvalidSignature),
                    "{cs:?}: byte {i}"
                );
            }
            for bad in [&[][..], &sig[..sig.len() - 1], &[0u8; 200][..]] {
                assert_eq!(
                    cs.verify(&pk, b"message", bad),
                    Err(CryptoError::InvalidSignature),
                    "{cs:?}: {} bytes",
                    bad.len()
                );
            }
            let mut longer = sig.clone();
            longer.push(0);
            assert_eq!(
                cs.verify(&pk, b"message", &longer),
                Err(CryptoError::InvalidSignature),
                "{cs:?}: trailing byte"
            );
        }
    }

    #[test]
    fn malformed_public_key_is_rejected() {
        for cs in suites(4) {
            let (sk, pk) = cs.signature_generate_key_pair().unwrap();
            let sig = cs.sign(&sk, b"message").unwrap();
            let pk = pk.as_bytes();
            let mut not_on_curve = pk.to_vec();
            *not_on_curve.last_mut().unwrap() ^= 0x01;
            let mut compressed = vec![0x02 | (pk[pk.len() - 1] & 1)];
            compressed.extend_from_slice(&pk[1..1 + (pk.len() - 1) / 2]);
            let cases: Vec<Vec<u8>> = vec![
                vec![],
                pk[..pk.len() - 1].to_vec(),
                [pk, &[0]].concat(),
                vec![0xff; pk.len()],
                not_on_curve,
                compressed,
            ];
            for bad in cases {
                let r = cs.verify(&SignaturePublicKey(bad.clone()), b"message", &sig);
                assert!(
                    matches!(
                        r,
                        Err(CryptoError::InvalidPublicKey) | Err(CryptoError::InvalidSignature)
                    ),
                    "{cs:?}: {bad:02x?} gave {r:?}"
                );
            }
            // Keys that cannot be parsed at all are reported as such.
            for bad in [vec![], vec![0xff; pk.len()], pk[..pk.len() - 1].to_vec()] {
                let is_ed25519 = matches!(cs.cipher_suite().0, 1 | 3);
                let r = cs.verify(&SignaturePublicKey(bad), b"message", &sig);
                if !is_ed25519 {
                    assert_eq!(r, Err(CryptoError::InvalidPublicKey), "{cs:?}");
                } else {
                    assert!(r.is_err());
                }
            }
        }
    }

    #[test]
    fn malformed_private_key_is_rejected() {
        for cs in suites(5) {
            let (sk, _) = cs.signature_generate_key_pair().unwrap();
            let n = sk.as_bytes().len();
            let too_long = SignaturePrivateKey::new(vec![1; n + 1]);
            assert_eq!(
                cs.sign(&too_long, b"m"),
                Err(CryptoError::InvalidPrivateKey),
                "{cs:?}"
            );
            assert_eq!(
                cs.signature_public_key(&SignaturePrivateKey::new(vec![])),
                Err(CryptoError::InvalidPrivateKey),
                "{cs:?}"
            );
            if matches!(cs.cipher_suite().0, 2 | 5 | 7) {
                // Zero and the all-ones value (above the group order) are not scalars.
                for bad in [vec![0; n], vec![0xff; n]] {
                    assert_eq!(
                        cs.sign(&SignaturePrivateKey::new(bad), b"m"),
                        Err(CryptoError::InvalidPrivateKey),
                        "{cs:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn short_p521_private_key_is_left_padded() {
        let cs = RustCryptoProvider::with_seed([6; 32])
            .suite(CipherSuite::MLS_256_DHKEMP521_AES256GCM_SHA512_P521)
            .unwrap();
        // About half of all P-521 scalars have a zero first byte.
        let (sk, pk) = (0..64)
            .map(|_| cs.signature_generate_key_pair().unwrap())
            .find(|(sk, _)| sk.as_bytes()[0] == 0)
            .unwrap();
        let short = SignaturePrivateKey::new(sk.as_bytes()[1..].to_vec());
        assert_eq!(short.as_bytes().len(), 65);
        assert_eq!(cs.signature_public_key(&short).unwrap(), pk);
        let sig = cs.sign(&short, b"m").unwrap();
        cs.verify(&pk, b"m", &sig).unwrap();
    }

    #[test]
    fn seeded_providers_sign_identically() {
        for (a, b) in suites(7).into_iter().zip(suites(7)) {
            let (sk_a, pk_a) = a.signature_generate_key_pair().unwrap();
            let (sk_b, pk_b) = b.signature_generate_key_pair().unwrap();
            assert_eq!((&sk_a, &pk_a), (&sk_b, &pk_b));
            assert_eq!(a.sign(&sk_a, b"m").unwrap(), b.sign(&sk_b, b"m").unwrap());
        }
        // A different seed gives different keys.
        let (sk_c, _) = suites(8)[0].signature_generate_key_pair().unwrap();
        let (sk_d, _) = suites(7)[0].signature_generate_key_pair().unwrap();
        assert_ne!(sk_c, sk_d);
    }

    #[test]
    fn ecdsa_signing_is_randomized() {
        let cs = RustCryptoProvider::with_seed([9; 32])
            .suite(CipherSuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256)
            .unwrap();
        let (sk, pk) = cs.signature_generate_key_pair().unwrap();
        let s1 = cs.sign(&sk, b"m").unwrap();
        let s2 = cs.sign(&sk, b"m").unwrap();
        assert_ne!(s1, s2, "hedged: fresh randomness per signature");
        cs.verify(&pk, b"m", &s1).unwrap();
        cs.verify(&pk, b"m", &s2).unwrap();
    }

    /// One generated Ed25519 item: a key, a message, a signature, each
    /// possibly spoiled.
    #[derive(Clone, Debug)]
    struct Case {
        seed: u8,
        msg: Vec<u8>,
        spoil: u8,
        order: u8,
        nonce: u64,
        at: usize,
    }

    fn case() -> impl proptest::strategy::Strategy<Value = Case> {
        use proptest::prelude::*;
        (
            0u8..4,
            proptest::collection::vec(any::<u8>(), 0..24),
            0u8..12,
            prop_oneof![Just(2u8), Just(4), Just(8)],
            any::<u64>(),
            0usize..64,
        )
            .prop_map(|(seed, msg, spoil, order, nonce, at)| Case {
                seed,
                msg,
                spoil,
                order,
                nonce,
                at,
            })
    }

    /// The key, message and signature of a case: valid (spoil 0-3), or with
    /// a mixed-order `R` (4, 5), a mixed-order key (6, 7), a small-order `R`
    /// with a matching `s` (8), a non-canonical `s` (9), a flipped bit (10)
    /// or a small-order key (11).
    fn item(c: &Case) -> (SignaturePublicKey, Vec<u8>, Vec<u8>) {
        use crate::crypto::torsion::{
            mixed_order_key, sign_for_mixed_key, sign_mixed_r, torsion_point,
        };
        use ed25519_dalek::Signer;
        let seed = [c.seed; 32];
        let sk = ed25519_dalek::SigningKey::from_bytes(&seed);
        let pk = sk.verifying_key().to_bytes().to_vec();
        let t = torsion_point(c.order);
        let msg = c.msg.clone();
        let (key, sig) = match c.spoil {
            0..=3 => (pk, sk.sign(&msg).to_bytes().to_vec()),
            4 | 5 => (pk, sign_mixed_r(&seed, &msg, t, c.nonce)),
            6 | 7 => (
                mixed_order_key(&seed, t).to_vec(),
                sign_for_mixed_key(&seed, &msg, t, c.nonce),
            ),
            8 => {
                // R = a small-order point, s = k·a: the equation holds.
                let mut sig = sign_mixed_r(&seed, &msg, t, c.nonce);
                let r = t.compress().to_bytes();
                sig[..32].copy_from_slice(&r);
                let a = curve25519_dalek::Scalar::from_bytes_mod_order(sk.to_scalar_bytes());
                use sha2::Digest;
                let k = curve25519_dalek::Scalar::from_hash(
                    sha2::Sha512::new()
                        .chain_update(r)
                        .chain_update(&pk)
                        .chain_update(&msg),
                );
                sig[32..].copy_from_slice((k * a).as_bytes());
                (pk, sig)
            }
            9 => {
                // s + l: the same scalar, not canonically encoded.
                let mut sig = sk.sign(&msg).to_bytes().to_vec();
                let l: [u8; 32] = [
                    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde,
                    0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
                ];
                let mut carry = 0u16;
                for (b, l) in sig[32..].iter_mut().zip(l) {
                    let v = u16::from(*b) + u16::from(l) + carry;
                    *b = v as u8;
                    carry = v >> 8;
                }
                (pk, sig)
            }
            10 => {
                let mut sig = sk.sign(&msg).to_bytes().to_vec();
                sig[c.at] ^= 1 << (c.nonce % 8);
                (pk, sig)
            }
            _ => (
                t.compress().to_bytes().to_vec(),
                sk.sign(&msg).to_bytes().to_vec(),
            ),
        };
        (SignaturePublicKey(key), msg, sig)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 48, ..Default::default() })]

        /// Issue 11, item 1: `verify_many` gives every list exactly the
        /// verdict of verifying each signature alone (the first failure,
        /// with its error), with 1 and 2 threads; and single verification
        /// agrees with ed25519-dalek's `verify_strict` on every item.
        #[test]
        fn item1_batched_and_single_verdicts_agree(cases in proptest::collection::vec(case(), 1..70)) {
            let owned: Vec<_> = cases.iter().map(item).collect();
            let items: Vec<(&SignaturePublicKey, &[u8], &[u8])> = owned
                .iter()
                .map(|(k, m, s)| (k, m.as_slice(), s.as_slice()))
                .collect();
            let single: Vec<Result<(), CryptoError>> = items
                .iter()
                .map(|(k, m, s)| super::verify(super::SigAlg::Ed25519, k, m, s))
                .collect();
            let expected = single
                .iter()
                .enumerate()
                .find_map(|(i, r)| r.clone().err().map(|e| (i, e)))
                .map_or(Ok(()), Err);
            let got = same_under_every_thread_count(|| {
                super::verify_many(super::SigAlg::Ed25519, &items)
            });
            proptest::prop_assert_eq!(got, expected);
            for ((key, msg, sig), verdict) in items.iter().zip(&single) {
                let strict = <&[u8; 32]>::try_from(key.as_bytes())
                    .ok()
                    .and_then(|k| ed25519_dalek::VerifyingKey::from_bytes(k).ok())
                    .zip(ed25519_dalek::Signature::from_slice(sig).ok())
                    .is_some_and(|(k, s)| k.verify_strict(msg, &s).is_ok());
                proptest::prop_assert_eq!(verdict.is_ok(), strict);
            }
        }
    }
}
