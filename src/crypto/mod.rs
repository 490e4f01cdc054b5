//! Cryptography: the provider trait the core calls for every primitive, the
//! labelled operations of RFC 9420 built on it, and the key and secret types.
//!
//! The core never names a concrete algorithm. It asks a [`CryptoProvider`] for
//! the [`CipherSuiteProvider`] of a group's cipher suite and calls that. The
//! default provider, [`RustCryptoProvider`], is pure Rust and supports all
//! seven cipher suites of RFC 9420 §17.1.

pub mod labeled;
mod rust_crypto;
mod secret;
#[cfg(test)]
pub(crate) mod torsion;

use std::sync::Arc;

pub use rust_crypto::RustCryptoProvider;
pub use secret::{Secret, Tag};

use crate::error::CryptoError;

/// An MLS cipher suite identifier (RFC 9420 §17.1). Unknown values are kept as they are.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CipherSuite(pub u16);

impl CipherSuite {
    /// 0x0001: DHKEM(X25519), AES-128-GCM, SHA-256, Ed25519.
    pub const MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519: Self = Self(1);
    /// 0x0002: DHKEM(P-256), AES-128-GCM, SHA-256, ECDSA P-256.
    pub const MLS_128_DHKEMP256_AES128GCM_SHA256_P256: Self = Self(2);
    /// 0x0003: DHKEM(X25519), ChaCha20-Poly1305, SHA-256, Ed25519.
    pub const MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519: Self = Self(3);
    /// 0x0004: DHKEM(X448), AES-256-GCM, SHA-512, Ed448.
    pub const MLS_256_DHKEMX448_AES256GCM_SHA512_ED448: Self = Self(4);
    /// 0x0005: DHKEM(P-521), AES-256-GCM, SHA-512, ECDSA P-521.
    pub const MLS_256_DHKEMP521_AES256GCM_SHA512_P521: Self = Self(5);
    /// 0x0006: DHKEM(X448), ChaCha20-Poly1305, SHA-512, Ed448.
    pub const MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_ED448: Self = Self(6);
    /// 0x0007: DHKEM(P-384), AES-256-GCM, SHA-384, ECDSA P-384.
    pub const MLS_256_DHKEMP384_AES256GCM_SHA384_P384: Self = Self(7);

    /// The seven cipher suites defined by RFC 9420.
    pub const ALL: [Self; 7] = [
        Self(1),
        Self(2),
        Self(3),
        Self(4),
        Self(5),
        Self(6),
        Self(7),
    ];
}

impl core::fmt::Debug for CipherSuite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "CipherSuite(0x{:04x})", self.0)
    }
}

crate::impl_codec_newtype!(CipherSuite(u16));

macro_rules! public_bytes {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub Vec<u8>);

        impl $name {
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }
        }

        impl From<Vec<u8>> for $name {
            fn from(v: Vec<u8>) -> Self {
                Self(v)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}(", stringify!($name))?;
                for b in &self.0 {
                    write!(f, "{b:02x}")?;
                }
                write!(f, ")")
            }
        }

        crate::impl_codec_newtype!($name(Vec<u8>));
    };
}

public_bytes!(
    /// An HPKE public key, as `SerializePublicKey` of RFC 9180 (RFC 9420 §5.1.1).
    HpkePublicKey
);
public_bytes!(
    /// A signature public key in the encoding of its scheme (RFC 9420 §5.1.1).
    SignaturePublicKey
);

macro_rules! private_key {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Secret);

        impl $name {
            /// Wraps serialized private key bytes.
            pub fn new(bytes: Vec<u8>) -> Self {
                Self(Secret::from(bytes))
            }

            /// The serialized private key. Leaves the protection of this type.
            pub fn as_bytes(&self) -> &[u8] {
                self.0.as_bytes()
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                write!(f, "{}(redacted)", stringify!($name))
            }
        }
    };
}

private_key!(
    /// An HPKE private key, as `SerializePrivateKey` of RFC 9180. Zeroized on drop.
    HpkePrivateKey
);
/// A signature private key: the raw seed for EdDSA, the big-endian scalar for ECDSA.
/// Zeroized on drop.
///
/// A provider may attach a prepared form of the key, computed from it once
/// (for Ed25519, the expanded key with its public key, which signing needs
/// and which costs as much as a signature to compute), see
/// [`SignaturePrivateKey::prepared`].
#[derive(Clone)]
pub struct SignaturePrivateKey {
    secret: Secret,
    prepared: std::sync::OnceLock<Arc<dyn core::any::Any + Send + Sync>>,
}

impl SignaturePrivateKey {
    /// Wraps serialized private key bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            secret: Secret::from(bytes),
            prepared: std::sync::OnceLock::new(),
        }
    }

    /// The serialized private key. Leaves the protection of this type.
    pub fn as_bytes(&self) -> &[u8] {
        self.secret.as_bytes()
    }

    /// A provider's prepared form `T` of this key: made by `prepare` from the
    /// key's bytes on first use and kept with the key (and its clones made
    /// afterwards) until it is dropped. If a prepared form of another type is
    /// already attached, `T` is made afresh and not kept. `T` should zeroize
    /// its secrets on drop.
    pub fn prepared<T: core::any::Any + Send + Sync>(
        &self,
        prepare: impl FnOnce(&[u8]) -> Result<T, CryptoError>,
    ) -> Result<Arc<T>, CryptoError> {
        if let Some(p) = self.prepared.get() {
            return match Arc::clone(p).downcast::<T>() {
                Ok(t) => Ok(t),
                Err(_) => Ok(Arc::new(prepare(self.as_bytes())?)),
            };
        }
        let t = Arc::new(prepare(self.as_bytes())?);
        let erased: Arc<dyn core::any::Any + Send + Sync> = t.clone();
        // Another thread may have attached one meanwhile; either is correct.
        let _ = self.prepared.set(erased);
        Ok(t)
    }
}

impl PartialEq for SignaturePrivateKey {
    fn eq(&self, other: &Self) -> bool {
        self.secret == other.secret
    }
}

impl Eq for SignaturePrivateKey {}

impl core::fmt::Debug for SignaturePrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SignaturePrivateKey(redacted)")
    }
}

/// An HPKE ciphertext: the KEM output and the AEAD ciphertext (RFC 9420 §7.6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HpkeCiphertext {
    /// The encapsulated key (`enc` in RFC 9180).
    pub kem_output: Vec<u8>,
    /// The AEAD ciphertext.
    pub ciphertext: Vec<u8>,
}
crate::impl_codec_struct!(HpkeCiphertext {
    kem_output,
    ciphertext
});

/// The primitives of one cipher suite. The core calls nothing else for cryptography.
///
/// Implementations must be deterministic except where randomness is drawn
/// through [`CipherSuiteProvider::random_bytes`] (directly or inside
/// HPKE encapsulation, key generation and signing), so that a provider with a
/// seeded generator gives reproducible output.
pub trait CipherSuiteProvider: Send + Sync {
    /// The suite this provider implements.
    fn cipher_suite(&self) -> CipherSuite;

    /// `Hash(data)` with the suite's hash function.
    fn hash(&self, data: &[u8]) -> Vec<u8>;

    /// [`CipherSuiteProvider::hash`] of the concatenation of `parts`. The
    /// default concatenates; providers should hash the pieces in turn.
    fn hash_parts(&self, parts: &[&[u8]]) -> Vec<u8> {
        self.hash(&parts.concat())
    }

    /// Output length `Nh` of the suite's KDF (and hash), in bytes.
    fn kdf_len(&self) -> usize;

    /// `KDF.Extract(salt, ikm)` (HKDF-Extract).
    fn kdf_extract(&self, salt: &[u8], ikm: &[u8]) -> Result<Secret, CryptoError>;

    /// `KDF.Expand(prk, info, len)` (HKDF-Expand).
    fn kdf_expand(&self, prk: &[u8], info: &[u8], len: usize) -> Result<Secret, CryptoError>;

    /// `MAC(key, data)`: HMAC with the suite's hash (RFC 9420 §5.1).
    fn mac(&self, key: &[u8], data: &[u8]) -> Result<Tag, CryptoError>;

    /// [`CipherSuiteProvider::mac`] of the concatenation of `parts`. The
    /// default concatenates; providers should MAC the pieces in turn.
    fn mac_parts(&self, key: &[u8], parts: &[&[u8]]) -> Result<Tag, CryptoError> {
        self.mac(key, &parts.concat())
    }

    /// AEAD key length `Nk`.
    fn aead_key_len(&self) -> usize;

    /// AEAD nonce length `Nn`.
    fn aead_nonce_len(&self) -> usize;

    /// AEAD encryption; returns ciphertext with the tag appended.
    fn aead_seal(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;

    /// AEAD decryption; fails with [`CryptoError::AeadOpenFailed`] on any mismatch.
    fn aead_open(
        &self,
        key: &[u8],
        nonce: &[u8],
        aad: &[u8],
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;

    /// HPKE single-shot base-mode encryption (RFC 9180 `SealBase`).
    fn hpke_seal(
        &self,
        public_key: &HpkePublicKey,
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8],
    ) -> Result<HpkeCiphertext, CryptoError>;

    /// HPKE single-shot base-mode encryption of several plaintexts, each to
    /// its recipient, under one `info` and `aad`: the result is what
    /// [`CipherSuiteProvider::hpke_seal`] gives for each pair, in order.
    /// Providers may share the work that depends only on `info` and run the
    /// recipients in parallel; the default calls `hpke_seal` for each.
    fn hpke_seal_many(
        &self,
        info: &[u8],
        aad: &[u8],
        recipients: &[(&HpkePublicKey, &[u8])],
    ) -> Result<Vec<HpkeCiphertext>, CryptoError> {
        recipients
            .iter()
            .map(|(pk, pt)| self.hpke_seal(pk, info, aad, pt))
            .collect()
    }

    /// HPKE single-shot base-mode decryption (RFC 9180 `OpenBase`).
    fn hpke_open(
        &self,
        private_key: &HpkePrivateKey,
        ciphertext: &HpkeCiphertext,
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError>;

    /// [`Self::hpke_open`] for a recipient whose public key is known (the
    /// key of the tree node the private key belongs to). DHKEM's `Decap`
    /// hashes the recipient's public key into the shared secret (RFC 9180
    /// §4.1); a provider may take it as given rather than recompute it from
    /// the private key, which the default does (it ignores `public_key`).
    /// The result must be that of `hpke_open` whenever `public_key` belongs
    /// to `private_key`; with any other key, decryption fails.
    fn hpke_open_with_public(
        &self,
        private_key: &HpkePrivateKey,
        public_key: &HpkePublicKey,
        ciphertext: &HpkeCiphertext,
        info: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let _ = public_key;
        self.hpke_open(private_key, ciphertext, info, aad)
    }

    /// HPKE secret export, sender side (RFC 9180 §5.1.1, §5.3):
    /// `enc, context = SetupBaseS(pkR, info)`, then
    /// `context.Export(exporter_context, len)`. Returns `enc` (the KEM output)
    /// and the exported secret. Used for external init (RFC 9420 §8.3).
    fn hpke_export_sender(
        &self,
        public_key: &HpkePublicKey,
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<(Vec<u8>, Secret), CryptoError>;

    /// HPKE secret export, receiver side (RFC 9180 §5.1.1, §5.3):
    /// `context = SetupBaseR(kem_output, skR, info)`, then
    /// `context.Export(exporter_context, len)`. A malformed `kem_output`
    /// fails with [`CryptoError::InvalidPublicKey`]; a well-formed one that
    /// was not made for this key gives a different secret.
    fn hpke_export_receiver(
        &self,
        private_key: &HpkePrivateKey,
        kem_output: &[u8],
        info: &[u8],
        exporter_context: &[u8],
        len: usize,
    ) -> Result<Secret, CryptoError>;

    /// RFC 9180 `DeriveKeyPair(ikm)`.
    fn hpke_derive_key_pair(
        &self,
        ikm: &[u8],
    ) -> Result<(HpkePrivateKey, HpkePublicKey), CryptoError>;

    /// `DeriveKeyPair` of each of `ikms`, in order: the key pairs of a
    /// direct path (RFC 9420 §7.4). The same pairs as
    /// [`Self::hpke_derive_key_pair`] one by one, which the default does; a
    /// provider may share work between them (Tessera's X25519 computes the
    /// public keys' Montgomery forms with one field inversion for all).
    fn hpke_derive_key_pairs(
        &self,
        ikms: &[&[u8]],
    ) -> Result<Vec<(HpkePrivateKey, HpkePublicKey)>, CryptoError> {
        ikms.iter()
            .map(|ikm| self.hpke_derive_key_pair(ikm))
            .collect()
    }

    /// A fresh random HPKE key pair.
    fn hpke_generate_key_pair(&self) -> Result<(HpkePrivateKey, HpkePublicKey), CryptoError>;

    /// The public key belonging to an HPKE private key.
    fn hpke_public_key(&self, private_key: &HpkePrivateKey) -> Result<HpkePublicKey, CryptoError>;

    /// Signs `message` with the suite's signature scheme.
    fn sign(&self, key: &SignaturePrivateKey, message: &[u8]) -> Result<Vec<u8>, CryptoError>;

    /// Verifies a signature; fails with [`CryptoError::InvalidSignature`] if it does not hold.
    fn verify(
        &self,
        key: &SignaturePublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError>;

    /// [`CipherSuiteProvider::verify`] of the concatenation of `parts`,
    /// with the same verdict. Providers that can hash a message in pieces
    /// should, so that a large message assembled from borrowed pieces is not
    /// copied; the default concatenates.
    fn verify_parts(
        &self,
        key: &SignaturePublicKey,
        parts: &[&[u8]],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        self.verify(key, &parts.concat(), signature)
    }

    /// Verifies several signatures, each `(key, message, signature)`.
    /// `Ok(())` if every one holds; otherwise the index of the first that
    /// does not, with the error [`CipherSuiteProvider::verify`] gives for it.
    ///
    /// Every item must get exactly the verdict [`CipherSuiteProvider::verify`]
    /// gives it alone, whatever the list, its order or length, the thread
    /// count or the features: members that disagreed on one signature would
    /// fork the group. Providers may verify in parallel; the default verifies
    /// each in turn. (A batch equation does not qualify for Ed25519: it can
    /// accept a signature whose `R` or key carries a small torsion component
    /// that single verification rejects, depending on its random
    /// coefficients.)
    fn verify_many(
        &self,
        items: &[(&SignaturePublicKey, &[u8], &[u8])],
    ) -> Result<(), (usize, CryptoError)> {
        for (i, (key, message, signature)) in items.iter().enumerate() {
            self.verify(key, message, signature).map_err(|e| (i, e))?;
        }
        Ok(())
    }

    /// A fresh random signature key pair.
    fn signature_generate_key_pair(
        &self,
    ) -> Result<(SignaturePrivateKey, SignaturePublicKey), CryptoError>;

    /// The public key belonging to a signature private key.
    fn signature_public_key(
        &self,
        key: &SignaturePrivateKey,
    ) -> Result<SignaturePublicKey, CryptoError>;

    /// Fills `out` with random bytes from the provider's generator.
    fn random_bytes(&self, out: &mut [u8]) -> Result<(), CryptoError>;

    /// `len` random bytes as a secret.
    fn random_secret(&self, len: usize) -> Result<Secret, CryptoError> {
        let mut v = vec![0u8; len];
        self.random_bytes(&mut v)?;
        Ok(Secret::from(v))
    }
}

/// A source of [`CipherSuiteProvider`]s, one per supported cipher suite.
pub trait CryptoProvider: Send + Sync {
    /// The provider for `suite`, or [`CryptoError::UnsupportedCipherSuite`].
    fn cipher_suite_provider(
        &self,
        suite: CipherSuite,
    ) -> Result<Arc<dyn CipherSuiteProvider>, CryptoError>;

    /// The cipher suites this provider supports.
    fn supported_cipher_suites(&self) -> Vec<CipherSuite>;
}
