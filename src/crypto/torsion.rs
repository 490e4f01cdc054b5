//! Test support: Ed25519 signatures with a small torsion component, the
//! inputs on which a batch equation and single verification can disagree.
//!
//! With `B` the base point, `a` a signer's secret scalar, `A = [a]B`, `T` a
//! point of small order (2, 4 or 8) and `k = SHA-512(R || key || M)`:
//!
//! * **mixed-order `R`**: `R = [r]B + T`, `s = r + k·a`. Then
//!   `[s]B - [k]A = [r]B ≠ R`: single (cofactorless) verification rejects it,
//!   while `z·([s]B - R - [k]A) = -[z]T` vanishes for any batch coefficient
//!   `z` that is a multiple of `T`'s order;
//! * **mixed-order key**: the key is `A + T` and `s = r + k·a` with
//!   `R = [r]B`. Then `[s]B - [k](A + T) = R - [k]T`: single verification
//!   accepts exactly when `k` is a multiple of `T`'s order.
//!
//! [`TorsionProvider`] wraps a real Ed25519 suite and signs this way, so the
//! library's own code (KeyPackages, leaf nodes) can be made to carry such
//! signatures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
use curve25519_dalek::{EdwardsPoint, Scalar};
use sha2::{Digest, Sha512};

use super::{
    CipherSuite, CipherSuiteProvider, HpkeCiphertext, HpkePrivateKey, HpkePublicKey, Secret,
    SignaturePrivateKey, SignaturePublicKey, Tag,
};
use crate::error::CryptoError;

/// A point of order `order` (1, 2, 4 or 8).
pub(crate) fn torsion_point(order: u8) -> EdwardsPoint {
    // EIGHT_TORSION[i] is [i]T for a point T of order 8.
    match order {
        1 => EIGHT_TORSION[0],
        2 => EIGHT_TORSION[4],
        4 => EIGHT_TORSION[2],
        _ => EIGHT_TORSION[1],
    }
}

/// The secret scalar `a` of an Ed25519 seed (RFC 8032 §5.1.5); `[a]B` is
/// the seed's public key.
fn secret_scalar(seed: &[u8]) -> Scalar {
    let h = Sha512::digest(seed);
    let mut a = [0u8; 32];
    a.copy_from_slice(&h[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    Scalar::from_bytes_mod_order(a)
}

/// `k = SHA-512(R || key || M) mod l` (RFC 8032 §5.1.6, step 4).
fn challenge(r: &[u8; 32], key: &[u8; 32], msg: &[u8]) -> Scalar {
    Scalar::from_hash(
        Sha512::new()
            .chain_update(r)
            .chain_update(key)
            .chain_update(msg),
    )
}

/// A nonce scalar that differs with `nonce`.
fn nonce_scalar(seed: &[u8], msg: &[u8], nonce: u64) -> Scalar {
    Scalar::from_hash(
        Sha512::new()
            .chain_update(b"torsion test nonce")
            .chain_update(nonce.to_be_bytes())
            .chain_update(seed)
            .chain_update(msg),
    )
}

fn encode(r: &EdwardsPoint, s: &Scalar) -> Vec<u8> {
    let mut sig = r.compress().to_bytes().to_vec();
    sig.extend_from_slice(s.as_bytes());
    sig
}

/// A signature of `msg` under the key of `seed` whose `R` is `[r]B + t`.
pub(crate) fn sign_mixed_r(seed: &[u8], msg: &[u8], t: EdwardsPoint, nonce: u64) -> Vec<u8> {
    let a = secret_scalar(seed);
    let key = (a * B).compress().to_bytes();
    let r = nonce_scalar(seed, msg, nonce);
    let big_r = r * B + t;
    let k = challenge(&big_r.compress().to_bytes(), &key, msg);
    encode(&big_r, &(r + k * a))
}

/// The mixed-order key `[a]B + t` of `seed`.
pub(crate) fn mixed_order_key(seed: &[u8], t: EdwardsPoint) -> [u8; 32] {
    (secret_scalar(seed) * B + t).compress().to_bytes()
}

/// A signature of `msg` under [`mixed_order_key`]`(seed, t)`, made with
/// the seed's scalar.
pub(crate) fn sign_for_mixed_key(seed: &[u8], msg: &[u8], t: EdwardsPoint, nonce: u64) -> Vec<u8> {
    let a = secret_scalar(seed);
    let key = mixed_order_key(seed, t);
    let r = nonce_scalar(seed, msg, nonce);
    let big_r = r * B;
    let k = challenge(&big_r.compress().to_bytes(), &key, msg);
    encode(&big_r, &(r + k * a))
}

/// How a [`TorsionProvider`] signs.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Tweak {
    /// `R = [r]B + T`, key as usual.
    MixedR(EdwardsPoint),
    /// Public key `A + T` (what `signature_public_key` returns), signatures
    /// made with `A`'s scalar.
    MixedKey(EdwardsPoint),
}

/// An Ed25519 suite that signs with a torsion [`Tweak`] (every other
/// operation is the wrapped suite's). Each signature uses a fresh nonce, so
/// signing again gives another signature (and another challenge).
pub(crate) struct TorsionProvider {
    inner: Arc<dyn CipherSuiteProvider>,
    tweak: Tweak,
    counter: AtomicU64,
}

impl TorsionProvider {
    pub(crate) fn new(inner: Arc<dyn CipherSuiteProvider>, tweak: Tweak) -> Self {
        Self {
            inner,
            tweak,
            counter: AtomicU64::new(0),
        }
    }
}

impl CipherSuiteProvider for TorsionProvider {
    fn cipher_suite(&self) -> CipherSuite {
        self.inner.cipher_suite()
    }
    fn hash(&self, data: &[u8]) -> Vec<u8> {
        self.inner.hash(data)
    }
    fn kdf_len(&self) -> usize {
        self.inner.kdf_len()
    }
    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Result<Secret, CryptoError> {
        self.inner.kdf_extract(salt, ikm)
    }
    fn kdf_expand(&self, prk: &[u8], info: &[u8], len: usize) -> Result<Secret, CryptoError> {
        self.inner.kdf_expand(prk, info, len)
    }
    fn mac(&self, key: &[u8], data: &[u8]) -> Result<Tag, CryptoError> {
        self.inner.mac(key, data)
    }
    fn aead_key_len(&self) -> usize {
        self.inner.aead_key_len()
    }
    fn aead_nonce_len(&self) -> usize {
        self.inner.aead_nonce_len()
    }
    fn aead_seal(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.inner.aead_seal(key, nonce, aad, plaintext)
    }
    fn aead_open(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.inner.aead_open(key, nonce, aad, ciphertext)
    }
    fn hpke_seal(
        &self,
        public_key: &HpkePublicKey,
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        self.inner.hpke_seal(public_key, info, aad, plaintext)
    }
    fn hpke_seal_many(
        &self,
        info: &[u8],
        aad: &[u8],
        recipients: &[(&HpkePublicKey, &[u8])],
    ) -> Result<Vec<HpkeCiphertext>, CryptoError> {
        self.inner.hpke_seal_many(info, aad, recipients)
    }
    fn hpke_open(
        &self,
        private_key: &HpkePrivateKey,
        ciphertext: &HpkeCiphertext,
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        self.inner.hpke_open(private_key, ciphertext, info, aad)
    }
    fn hpke_export_sender(
        &self,
        public_key: &HpkePublicKey,
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<(Vec<u8>, Secret), CryptoError> {
        self.inner
            .hpke_export_sender(public_key, info, exporter_context, len)
    }
    fn hpke_export_receiver(
        &self,
        private_key: &HpkePrivateKey,
        kem_output: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<Secret, CryptoError> {
        self.inner
            .hpke_export_receiver(private_key, kem_output, info, exporter_context, len)
    }
    fn hpke_derive_key_pair(
        &self,
        ikm: &[u8],
    ) -> Result<(HpkePrivateKey, HpkePublicKey), CryptoError> {
        self.inner.hpke_derive_key_pair(ikm)
    }
    fn hpke_generate_key_pair(&self) -> Result<(HpkePrivateKey, HpkePublicKey), CryptoError> {
        self.inner.hpke_generate_key_pair()
    }
    fn hpke_public_key(&self, private_key: &HpkePrivateKey) -> Result<HpkePublicKey, CryptoError> {
        self.inner.hpke_public_key(private_key)
    }
    fn sign(&self, key: &SignaturePrivateKey, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = self.counter.fetch_add(1, Ordering::Relaxed);
        let seed = key.as_bytes();
        Ok(match self.tweak {
            Tweak::MixedR(t) => sign_mixed_r(seed, message, t, nonce),
            Tweak::MixedKey(t) => sign_for_mixed_key(seed, message, t, nonce),
        })
    }
    fn verify(
        &self,
        key: &SignaturePublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        self.inner.verify(key, message, signature)
    }
    fn verify_many(
        &self,
        items: &[(&SignaturePublicKey, &[u8], &[u8])],
    ) -> Result<(), (usize, CryptoError)> {
        self.inner.verify_many(items)
    }
    fn signature_generate_key_pair(
        &self,
    ) -> Result<(SignaturePrivateKey, SignaturePublicKey), CryptoError> {
        let (sk, _) = self.inner.signature_generate_key_pair()?;
        let pk = self.signature_public_key(&sk)?;
        Ok((sk, pk))
    }
    fn signature_public_key(
        &self,
        key: &SignaturePrivateKey,
    ) -> Result<SignaturePublicKey, CryptoError> {
        match self.tweak {
            Tweak::MixedR(_) => self.inner.signature_public_key(key),
            Tweak::MixedKey(t) => Ok(SignaturePublicKey(
                mixed_order_key(key.as_bytes(), t).to_vec(),
            )),
        }
    }
    fn random_bytes(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        self.inner.random_bytes(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::RustCryptoProvider;

    /// The crafted signatures have the intended shape: the cofactored
    /// equation `[8]([s]B - R - [k]A) = 0` holds for all of them (a batch
    /// equation can be fooled), the cofactorless one (single verification)
    /// fails for a mixed-order `R` and, for a mixed-order key, holds exactly
    /// when `k` kills the torsion.
    #[test]
    fn crafted_signatures_have_their_torsion() {
        let cs = RustCryptoProvider::new()
            .suite(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
            .unwrap();
        let seed = [3u8; 32];
        let a = secret_scalar(&seed);
        let real_key = SignaturePublicKey((a * B).compress().to_bytes().to_vec());
        let decode = |sig: &[u8]| {
            let r = curve25519_dalek::edwards::CompressedEdwardsY(sig[..32].try_into().unwrap())
                .decompress()
                .unwrap();
            let s = Scalar::from_canonical_bytes(sig[32..].try_into().unwrap()).unwrap();
            (r, s)
        };
        for order in [2u8, 4, 8] {
            let t = torsion_point(order);
            // Exactly of order `order`.
            let multiple = |n: u8| (0..n).fold(EIGHT_TORSION[0], |acc, _| acc + t);
            assert_ne!(multiple(order / 2), EIGHT_TORSION[0]);
            assert_eq!(multiple(order), EIGHT_TORSION[0]);
            for nonce in 0..16 {
                let msg = format!("message {nonce}");
                let sig = sign_mixed_r(&seed, msg.as_bytes(), t, nonce);
                let (r, s) = decode(&sig);
                let k = challenge(
                    sig[..32].try_into().unwrap(),
                    &(a * B).compress().to_bytes(),
                    msg.as_bytes(),
                );
                let defect = s * B - r - k * (a * B);
                assert_eq!(defect.mul_by_cofactor(), EIGHT_TORSION[0]);
                assert_ne!(defect, EIGHT_TORSION[0]);
                assert_eq!(
                    cs.verify(&real_key, msg.as_bytes(), &sig),
                    Err(CryptoError::InvalidSignature)
                );

                let key = mixed_order_key(&seed, t);
                let sig = sign_for_mixed_key(&seed, msg.as_bytes(), t, nonce);
                let (r, s) = decode(&sig);
                let big_a = curve25519_dalek::edwards::CompressedEdwardsY(key)
                    .decompress()
                    .unwrap();
                let k = challenge(sig[..32].try_into().unwrap(), &key, msg.as_bytes());
                let defect = s * B - r - k * big_a;
                assert_eq!(defect.mul_by_cofactor(), EIGHT_TORSION[0]);
                let killed = defect == EIGHT_TORSION[0];
                assert_eq!(
                    cs.verify(&SignaturePublicKey(key.to_vec()), msg.as_bytes(), &sig)
                        .is_ok(),
                    killed
                );
            }
        }
    }
}
