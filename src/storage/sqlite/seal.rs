//! Sealing record values at rest: XChaCha20-Poly1305 under a key derived
//! from the application's [`StoreKey`] and the store's random id, with the
//! record's identity (kind and key) as associated data.
//!
//! ```text
//! record key  = HKDF-SHA256(salt = store_id, ikm = StoreKey,
//!                           info = "tessera-mls sqlite store v1: records")  // 32 bytes
//! sealed      = format (1 = 0x01) || nonce (24, random) || ciphertext || tag (16)
//! aad(record) = format || kind code (RecordKind::code, 1..) || key
//! aad(check)  = format || 0x00 || "key check"
//! ```
//!
//! The 192-bit random nonce of XChaCha20 makes a collision negligible for
//! any number of writes a device will ever make (a 96-bit random nonce, as
//! AES-GCM's, would call for a limit of about 2^32 writes per key). Deriving
//! the key from the store id binds every row to its file: a row copied
//! from another store with the same application key does not open, nor
//! does one moved to another slot (kind or key) of the same store.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use std::sync::Mutex;

use hkdf::Hkdf;
use rand::SeedableRng;
use rand::rngs::{ChaCha20Rng, SysRng};
use rand_core::{Rng, TryRng};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::StorageError;
use crate::storage::{RecordKind, Value};

/// The format byte of a sealed value (and of its associated data).
const FORMAT: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// The bytes a sealed value adds to its plaintext.
pub(super) const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;
const KEY_CHECK_PLAINTEXT: &[u8] = b"tessera-mls store key check";

/// The 32-byte key a [`SqliteStore`](super::SqliteStore) seals its records
/// under. The application keeps it outside the database: in the Android
/// Keystore or the iOS Keychain, say. Wiped from memory when dropped; its
/// `Debug` output does not show it.
///
/// ```
/// use tessera::storage::StoreKey;
/// let key = StoreKey::generate()?;
/// let saved: [u8; 32] = *key.as_bytes(); // to the platform's key store
/// assert_eq!(StoreKey::new(saved).as_bytes(), key.as_bytes());
/// assert_eq!(format!("{key:?}"), "StoreKey(..)");
/// # Ok::<(), tessera::storage::StorageError>(())
/// ```
#[derive(Clone)]
pub struct StoreKey(Zeroizing<[u8; 32]>);

impl StoreKey {
    /// The key with these bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key with these bytes; `None` unless there are exactly 32.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        Some(Self::new(bytes))
    }

    /// A new random key, from the operating system's generator.
    pub fn generate() -> Result<Self, StorageError> {
        let mut key = Self::new([0; 32]);
        random(&mut key.0[..])?;
        Ok(key)
    }

    /// The key's bytes, to save in a platform key store.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl core::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

/// Fills `out` from the operating system's generator.
pub(super) fn random(out: &mut [u8]) -> Result<(), StorageError> {
    SysRng
        .try_fill_bytes(out)
        .map_err(|e| StorageError::Backend(format!("random generator: {e}")))
}

/// Seals and opens the values of one store.
pub(super) struct Sealer {
    /// Zeroized on drop (chacha20poly1305's `zeroize` feature).
    aead: XChaCha20Poly1305,
    /// Nonces: a ChaCha20 stream seeded from the operating system when the
    /// store is opened (no system call per write).
    nonces: Mutex<ChaCha20Rng>,
}

impl Sealer {
    /// The sealer of the store with id `store_id` under `key`.
    pub fn new(key: &StoreKey, store_id: &[u8]) -> Result<Self, StorageError> {
        let mut okm = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(store_id), key.as_bytes())
            .expand(b"tessera-mls sqlite store v1: records", &mut okm[..])
            .map_err(|_| StorageError::Backend("key derivation".into()))?;
        let aead = XChaCha20Poly1305::new_from_slice(&okm[..])
            .map_err(|_| StorageError::Backend("key derivation".into()))?;
        let mut seed = Zeroizing::new([0u8; 32]);
        random(&mut seed[..])?;
        let nonces = Mutex::new(ChaCha20Rng::from_seed(*seed));
        Ok(Self { aead, nonces })
    }

    /// Seals the value of record (`kind`, `key`).
    pub fn seal_record(
        &self,
        kind: RecordKind,
        key: &[u8],
        value: &[u8],
    ) -> Result<Vec<u8>, StorageError> {
        self.seal(&record_aad(kind, key), value)
    }

    /// Opens the value of record (`kind`, `key`); [`StorageError::Corrupted`]
    /// if it is not what this store sealed in that slot.
    pub fn open_record(
        &self,
        kind: RecordKind,
        key: &[u8],
        sealed: &[u8],
    ) -> Result<Value, StorageError> {
        self.open(&record_aad(kind, key), sealed).ok_or_else(|| {
            StorageError::Corrupted(format!(
                "record {} (key {}) does not authenticate: altered, or moved from another slot",
                kind.name(),
                short_hex(key)
            ))
        })
    }

    /// The key check stored when the store is created.
    pub fn seal_key_check(&self) -> Result<Vec<u8>, StorageError> {
        self.seal(&check_aad(), KEY_CHECK_PLAINTEXT)
    }

    /// Whether `sealed` is the key check of this store under this key.
    pub fn key_check_opens(&self, sealed: &[u8]) -> bool {
        self.open(&check_aad(), sealed)
            .is_some_and(|p| p.as_slice() == KEY_CHECK_PLAINTEXT)
    }

    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, StorageError> {
        let mut out = vec![0u8; OVERHEAD + plaintext.len()];
        let (head, body) = out.split_at_mut(1 + NONCE_LEN);
        let (msg, tag_out) = body.split_at_mut(plaintext.len());
        let (format, nonce) = head.split_at_mut(1);
        format.copy_from_slice(&[FORMAT]);
        self.nonces
            .lock()
            .map_err(|_| StorageError::Backend("nonce generator lock poisoned".into()))?
            .fill_bytes(nonce);
        msg.copy_from_slice(plaintext);
        let nonce =
            XNonce::try_from(&*nonce).map_err(|_| StorageError::Backend("nonce length".into()))?;
        let tag = self
            .aead
            .encrypt_inout_detached(&nonce, aad, msg.into())
            .map_err(|_| StorageError::Backend("value too long to seal".into()))?;
        tag_out.copy_from_slice(&tag);
        Ok(out)
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Value> {
        let (format, rest) = sealed.split_first()?;
        if *format != FORMAT {
            return None;
        }
        let (nonce, rest) = rest.split_at_checked(NONCE_LEN)?;
        let (ciphertext, tag) = rest.split_at_checked(rest.len().checked_sub(TAG_LEN)?)?;
        let nonce = XNonce::try_from(nonce).ok()?;
        let tag = Tag::try_from(tag).ok()?;
        let mut plaintext = Value::new(ciphertext.to_vec());
        self.aead
            .decrypt_inout_detached(&nonce, aad, plaintext.as_mut_slice().into(), &tag)
            .ok()?;
        Some(plaintext)
    }
}

fn record_aad(kind: RecordKind, key: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(2 + key.len());
    aad.push(FORMAT);
    aad.push(kind.code());
    aad.extend_from_slice(key);
    aad
}

fn check_aad() -> Vec<u8> {
    let mut aad = vec![FORMAT, 0];
    aad.extend_from_slice(b"key check");
    aad
}

/// The first bytes of a key, in hex, for error messages.
fn short_hex(key: &[u8]) -> String {
    let mut s: String = key.iter().take(12).map(|b| format!("{b:02x}")).collect();
    if key.len() > 12 {
        s.push_str("..");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer() -> Sealer {
        Sealer::new(&StoreKey::new([7; 32]), b"store").unwrap()
    }

    #[test]
    fn a_value_opens_in_its_slot_only() {
        let s = sealer();
        let sealed = s.seal_record(RecordKind::Epoch, b"k1", b"secret").unwrap();
        assert_eq!(sealed.len(), OVERHEAD + 6);
        assert_eq!(
            &**s.open_record(RecordKind::Epoch, b"k1", &sealed).unwrap(),
            b"secret"
        );
        // Another key, another kind, another store, another store key.
        assert!(s.open_record(RecordKind::Epoch, b"k2", &sealed).is_err());
        assert!(s.open_record(RecordKind::Tree, b"k1", &sealed).is_err());
        let other_store = Sealer::new(&StoreKey::new([7; 32]), b"other").unwrap();
        assert!(
            other_store
                .open_record(RecordKind::Epoch, b"k1", &sealed)
                .is_err()
        );
        let other_key = Sealer::new(&StoreKey::new([8; 32]), b"store").unwrap();
        assert!(
            other_key
                .open_record(RecordKind::Epoch, b"k1", &sealed)
                .is_err()
        );
        // Every flipped bit and every truncation is refused.
        for i in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[i / 8] ^= 1 << (i % 8);
            assert!(s.open_record(RecordKind::Epoch, b"k1", &bad).is_err());
        }
        for len in 0..sealed.len() {
            assert!(
                s.open_record(RecordKind::Epoch, b"k1", &sealed[..len])
                    .is_err()
            );
        }
    }

    #[test]
    fn nonces_are_fresh() {
        let s = sealer();
        let a = s.seal_record(RecordKind::Epoch, b"k", b"same").unwrap();
        let b = s.seal_record(RecordKind::Epoch, b"k", b"same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn the_key_check_tells_the_key() {
        let s = sealer();
        let check = s.seal_key_check().unwrap();
        assert!(s.key_check_opens(&check));
        let other = Sealer::new(&StoreKey::new([8; 32]), b"store").unwrap();
        assert!(!other.key_check_opens(&check));
        // A record sealed with the same bytes is not a key check.
        let record = s
            .seal_record(RecordKind::Identity, b"", KEY_CHECK_PLAINTEXT)
            .unwrap();
        assert!(!s.key_check_opens(&record));
    }

    #[test]
    fn keys_are_redacted() {
        let key = StoreKey::new([0xab; 32]);
        assert!(!format!("{key:?}").contains("ab"));
        assert!(StoreKey::from_slice(&[1; 31]).is_none());
        assert_ne!(
            StoreKey::generate().unwrap().as_bytes(),
            StoreKey::generate().unwrap().as_bytes()
        );
    }
}
