//! The default provider: pure Rust (RustCrypto, dalek, hpke-rs), all seven
//! RFC 9420 cipher suites (§17.1).

mod hpke;
mod hpke_backend;
mod signature;

use std::sync::{Arc, Mutex};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::{Hmac, Mac};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use rand_core::Rng;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, HpkeCiphertext, HpkePrivateKey,
    HpkePublicKey, Secret, SignaturePrivateKey, SignaturePublicKey, Tag,
};
use crate::error::CryptoError;

/// The hash (and HKDF/HMAC) function of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

/// The AEAD of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AeadAlg {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
}

/// The HPKE KEM of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KemAlg {
    X25519,
    P256,
    X448,
    P384,
    P521,
}

/// The signature scheme of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SigAlg {
    Ed25519,
    Ed448,
    EcdsaP256,
    EcdsaP384,
    EcdsaP521,
}

/// The algorithms of one suite (RFC 9420 §17.1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Algorithms {
    pub(crate) hash: HashAlg,
    pub(crate) aead: AeadAlg,
    pub(crate) kem: KemAlg,
    pub(crate) sig: SigAlg,
}

impl Algorithms {
    fn of(cs: CipherSuite) -> Option<Self> {
        use AeadAlg::*;
        use HashAlg::*;
        use KemAlg::*;
        use SigAlg::*;
        let (hash, aead, kem, sig) = match cs.0 {
            1 => (Sha256, Aes128Gcm, X25519, Ed25519),
            2 => (Sha256, Aes128Gcm, P256, EcdsaP256),
            3 => (Sha256, ChaCha20Poly1305, X25519, Ed25519),
            4 => (Sha512, Aes256Gcm, X448, Ed448),
            5 => (Sha512, Aes256Gcm, P521, EcdsaP521),
            6 => (Sha512, ChaCha20Poly1305, X448, Ed448),
            7 => (Sha384, Aes256Gcm, P384, EcdsaP384),
            _ => return None,
        };
        Some(Self {
            hash,
            aead,
            kem,
            sig,
        })
    }
}

/// The random generator shared by every suite of one provider.
pub(crate) type SharedRng = Arc<Mutex<ChaCha20Rng>>;

/// Fills `out` from the shared generator.
pub(crate) fn fill_random(rng: &SharedRng, out: &mut [u8]) -> Result<(), CryptoError> {
    let mut g = rng.lock().map_err(|_| CryptoError::Rng)?;
    g.fill_bytes(out);
    Ok(())
}

/// A big-endian scalar (an ECDSA or NIST-curve HPKE private key) left-padded
/// with zero bytes to `len`, the curve's scalar size.
///
/// Some implementations strip the leading zero byte of a P-521 scalar and
/// serialize it in 65 bytes instead of 66 (the published MLS vectors do so in
/// several files). Leading zeros do not change a big-endian integer, so a
/// shorter non-empty encoding is accepted and padded here; whether the value
/// is a valid scalar (non-zero, below the group order) is left to the curve
/// library. Empty or over-long input is [`CryptoError::InvalidPrivateKey`].
pub(crate) fn left_pad_scalar(
    bytes: &[u8],
    len: usize,
) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
    let pad = len
        .checked_sub(bytes.len())
        .filter(|_| !bytes.is_empty())
        .ok_or(CryptoError::InvalidPrivateKey)?;
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(len));
    out.resize(pad, 0);
    out.extend_from_slice(bytes);
    Ok(out)
}

/// The default pure-Rust crypto provider, supporting all seven RFC 9420 cipher suites.
///
/// Randomness comes from a ChaCha20 generator seeded from the operating
/// system, or from a fixed seed with [`RustCryptoProvider::with_seed`] so
/// that tests are reproducible.
///
/// ```
/// use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
/// let provider = RustCryptoProvider::new();
/// let cs = provider.cipher_suite_provider(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519).unwrap();
/// assert_eq!(cs.kdf_len(), 32);
/// ```
#[derive(Clone)]
pub struct RustCryptoProvider {
    rng: SharedRng,
    /// Decompressed Ed25519 public keys, shared by the provider's suites.
    keys: Arc<signature::VerifyingKeyCache>,
}

impl core::fmt::Debug for RustCryptoProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RustCryptoProvider")
    }
}

impl Default for RustCryptoProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl RustCryptoProvider {
    /// A provider whose generator is seeded from the operating system.
    pub fn new() -> Self {
        Self {
            rng: Arc::new(Mutex::new(rand::make_rng())),
            keys: Arc::default(),
        }
    }

    /// A provider whose generator is seeded with `seed`: every random choice
    /// it makes is reproducible. For tests only.
    pub fn with_seed(seed: [u8; 32]) -> Self {
        Self {
            rng: Arc::new(Mutex::new(ChaCha20Rng::from_seed(seed))),
            keys: Arc::default(),
        }
    }

    /// The provider of one suite, as a concrete type.
    pub fn suite(&self, cs: CipherSuite) -> Result<RustCryptoSuite, CryptoError> {
        let algs = Algorithms::of(cs).ok_or(CryptoError::UnsupportedCipherSuite(cs.0))?;
        Ok(RustCryptoSuite {
            cs,
            algs,
            rng: self.rng.clone(),
            keys: self.keys.clone(),
        })
    }
}

impl CryptoProvider for RustCryptoProvider {
    fn cipher_suite_provider(
        &self,
        suite: CipherSuite,
    ) -> Result<Arc<dyn CipherSuiteProvider>, CryptoError> {
        Ok(Arc::new(self.suite(suite)?))
    }

    fn supported_cipher_suites(&self) -> Vec<CipherSuite> {
        CipherSuite::ALL.to_vec()
    }
}

/// One cipher suite of [`RustCryptoProvider`].
#[derive(Clone)]
pub struct RustCryptoSuite {
    cs: CipherSuite,
    algs: Algorithms,
    rng: SharedRng,
    keys: Arc<signature::VerifyingKeyCache>,
}

impl core::fmt::Debug for RustCryptoSuite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "RustCryptoSuite({:?})", self.cs)
    }
}

fn hkdf_expand<H>(prk: &[u8], info: &[u8], len: usize) -> Result<Secret, CryptoError>
where
    H: hmac::EagerHash + Clone,
    hkdf::Hkdf<H>: Sized,
{
    let hk = hkdf::Hkdf::<H>::from_prk(prk).map_err(|_| CryptoError::InvalidLength("PRK"))?;
    let mut okm = Secret::from(vec![0u8; len]);
    hk.expand(info, okm.as_bytes_mut())
        .map_err(|_| CryptoError::KdfOutputTooLong(len))?;
    Ok(okm)
}

fn hmac<H>(key: &[u8], parts: &[&[u8]]) -> Result<Tag, CryptoError>
where
    H: hmac::EagerHash + Clone,
{
    let mut m = <Hmac<H> as KeyInit>::new_from_slice(key)
        .map_err(|_| CryptoError::InvalidLength("HMAC key"))?;
    for part in parts {
        m.update(part);
    }
    Ok(Tag::from(m.finalize().into_bytes().to_vec()))
}

/// `H(parts[0] || parts[1] || ...)`.
fn digest_parts<H: Digest>(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = H::new();
    for part in parts {
        h.update(part);
    }
    h.finalize().to_vec()
}

impl CipherSuiteProvider for RustCryptoSuite {
    fn cipher_suite(&self) -> CipherSuite {
        self.cs
    }

    fn hash(&self, data: &[u8]) -> Vec<u8> {
        match self.algs.hash {
            HashAlg::Sha256 => Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn hash_parts(&self, parts: &[&[u8]]) -> Vec<u8> {
        match self.algs.hash {
            HashAlg::Sha256 => digest_parts::<Sha256>(parts),
            HashAlg::Sha384 => digest_parts::<Sha384>(parts),
            HashAlg::Sha512 => digest_parts::<Sha512>(parts),
        }
    }

    fn kdf_len(&self) -> usize {
        match self.algs.hash {
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
        }
    }

    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Result<Secret, CryptoError> {
        // HKDF-Extract(salt, ikm) = HMAC-Hash(salt, ikm) (RFC 5869 §2.2).
        let tag = self.mac(salt, ikm)?;
        Ok(Secret::from_slice(tag.as_bytes()))
    }

    fn kdf_expand(&self, prk: &[u8], info: &[u8], len: usize) -> Result<Secret, CryptoError> {
        match self.algs.hash {
            HashAlg::Sha256 => hkdf_expand::<Sha256>(prk, info, len),
            HashAlg::Sha384 => hkdf_expand::<Sha384>(prk, info, len),
            HashAlg::Sha512 => hkdf_expand::<Sha512>(prk, info, len),
        }
    }

    fn mac(&self, key: &[u8], data: &[u8]) -> Result<Tag, CryptoError> {
        self.mac_parts(key, &[data])
    }

    fn mac_parts(&self, key: &[u8], parts: &[&[u8]]) -> Result<Tag, CryptoError> {
        match self.algs.hash {
            HashAlg::Sha256 => hmac::<Sha256>(key, parts),
            HashAlg::Sha384 => hmac::<Sha384>(key, parts),
            HashAlg::Sha512 => hmac::<Sha512>(key, parts),
        }
    }

    fn aead_key_len(&self) -> usize {
        match self.algs.aead {
            AeadAlg::Aes128Gcm => 16,
            AeadAlg::Aes256Gcm | AeadAlg::ChaCha20Poly1305 => 32,
        }
    }

    fn aead_nonce_len(&self) -> usize {
        12
    }

    fn aead_seal(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        aead_op(self.algs.aead, key, nonce, aad, plaintext, true)
            .map_err(|_| CryptoError::Other("AEAD encryption failed"))
    }

    fn aead_open(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        aead_op(self.algs.aead, key, nonce, aad, ciphertext, false)
    }

    fn hpke_seal(
        &self,
        public_key: &HpkePublicKey,
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError> {
        hpke::seal(&self.algs, &self.rng, public_key, info, aad, plaintext)
    }

    fn hpke_seal_many(
        &self,
        info: &[u8],
        aad: &[u8],
        recipients: &[(&HpkePublicKey, &[u8])],
    ) -> Result<Vec<HpkeCiphertext>, CryptoError> {
        hpke::seal_many(&self.algs, &self.rng, info, aad, recipients)
    }

    fn hpke_open(
        &self,
        private_key: &HpkePrivateKey,
        ciphertext: &HpkeCiphertext,
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        hpke::open(&self.algs, &self.rng, private_key, ciphertext, info, aad)
    }

    fn hpke_open_with_public(
        &self,
        private_key: &HpkePrivateKey,
        public_key: &HpkePublicKey,
        ciphertext: &HpkeCiphertext,
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        hpke::open_with_public(&self.algs, private_key, public_key, ciphertext, info, aad)
    }

    fn hpke_export_sender(
        &self,
        public_key: &HpkePublicKey,
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<(Vec<u8>, Secret), CryptoError> {
        hpke::export_sender(
            &self.algs,
            &self.rng,
            public_key,
            info,
            exporter_context,
            len,
        )
    }

    fn hpke_export_receiver(
        &self,
        private_key: &HpkePrivateKey,
        kem_output: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<Secret, CryptoError> {
        hpke::export_receiver(
            &self.algs,
            &self.rng,
            private_key,
            kem_output,
            info,
            exporter_context,
            len,
        )
    }

    fn hpke_derive_key_pair(
        &self,
        ikm: &[u8],
    ) -> Result<(HpkePrivateKey, HpkePublicKey), CryptoError> {
        hpke::derive_key_pair(&self.algs, &self.rng, ikm)
    }

    fn hpke_derive_key_pairs(
        &self,
        ikms: &[&[u8]],
    ) -> Result<Vec<(HpkePrivateKey, HpkePublicKey)>, CryptoError> {
        hpke::derive_key_pairs(&self.algs, ikms)
    }

    fn hpke_generate_key_pair(&self) -> Result<(HpkePrivateKey, HpkePublicKey), CryptoError> {
        hpke::generate_key_pair(&self.algs, &self.rng)
    }

    fn hpke_public_key(&self, private_key: &HpkePrivateKey) -> Result<HpkePublicKey, CryptoError> {
        hpke::public_key(&self.algs, private_key)
    }

    fn sign(&self, key: &SignaturePrivateKey, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        signature::sign(self.algs.sig, &self.rng, key, message)
    }

    fn verify(
        &self,
        key: &SignaturePublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        signature::verify_cached(self.algs.sig, &self.keys, key, &[message], signature)
    }

    fn verify_parts(
        &self,
        key: &SignaturePublicKey,
        parts: &[&[u8]],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        signature::verify_cached(self.algs.sig, &self.keys, key, parts, signature)
    }

    fn verify_many(
        &self,
        items: &[(&SignaturePublicKey, &[u8], &[u8])],
    ) -> Result<(), (usize, CryptoError)> {
        signature::verify_many(self.algs.sig, items)
    }

    fn signature_generate_key_pair(
        &self,
    ) -> Result<(SignaturePrivateKey, SignaturePublicKey), CryptoError> {
        signature::generate_key_pair(self.algs.sig, &self.rng)
    }

    fn signature_public_key(
        &self,
        key: &SignaturePrivateKey,
    ) -> Result<SignaturePublicKey, CryptoError> {
        signature::public_key(self.algs.sig, key)
    }

    fn random_bytes(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        fill_random(&self.rng, out)
    }
}

fn aead_op(
    alg: AeadAlg,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    msg: &[u8],
    seal: bool,
) -> Result<Vec<u8>, CryptoError> {
    fn run<C: KeyInit + Aead>(
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        msg: &[u8],
        seal: bool,
    ) -> Result<Vec<u8>, CryptoError> {
        let cipher = C::new_from_slice(key).map_err(|_| CryptoError::InvalidLength("AEAD key"))?;
        let nonce = aes_gcm::aead::Nonce::<C>::try_from(nonce)
            .map_err(|_| CryptoError::InvalidLength("AEAD nonce"))?;
        let payload = Payload { msg, aad };
        if seal {
            cipher.encrypt(&nonce, payload)
        } else {
            cipher.decrypt(&nonce, payload)
        }
        .map_err(|_| CryptoError::AeadOpenFailed)
    }
    match alg {
        AeadAlg::Aes128Gcm => run::<aes_gcm::Aes128Gcm>(key, nonce, aad, msg, seal),
        AeadAlg::Aes256Gcm => run::<aes_gcm::Aes256Gcm>(key, nonce, aad, msg, seal),
        AeadAlg::ChaCha20Poly1305 => {
            run::<chacha20poly1305::ChaCha20Poly1305>(key, nonce, aad, msg, seal)
        }
    }
}
