//! A device's identity and the KeyPackages it publishes.

use std::sync::{Arc, Mutex};

use tessera::codec::Encode;
use tessera::crypto::{CryptoProvider, RustCryptoProvider};
use tessera::group::{KeyPackageOptions, KeyPackagePrivate, generate_key_package};
use tessera::messages::{KeyPackage, MlsMessage};

use crate::error::{TesseraError, guard};
use crate::types::{CipherSuite, Credential};

/// Who a member is: a credential, a fresh signature key pair for the
/// cipher suite's signature scheme, and the suite itself.
///
/// The private key stays inside; persisting an identity is the job of the
/// Client and its store (not wrapped yet).
#[derive(Debug, uniffi::Object)]
pub struct Identity {
    pub(crate) inner: tessera::group::Identity,
    pub(crate) suite: CipherSuite,
}

#[uniffi::export]
impl Identity {
    /// A new identity with a fresh signature key pair.
    #[uniffi::constructor]
    pub fn new(
        credential: Credential,
        cipher_suite: CipherSuite,
    ) -> Result<Arc<Self>, TesseraError> {
        guard(|| {
            let cs = RustCryptoProvider::new().cipher_suite_provider(cipher_suite.into())?;
            let inner = tessera::group::Identity::generate(&*cs, credential.into())?;
            Ok(Arc::new(Self {
                inner,
                suite: cipher_suite,
            }))
        })
    }

    /// The credential.
    pub fn credential(&self) -> Credential {
        self.inner.credential().into()
    }

    /// The signature public key, in its scheme's encoding.
    pub fn signature_key(&self) -> Vec<u8> {
        self.inner.signature_key().as_bytes().to_vec()
    }

    /// The cipher suite this identity's keys are for.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.suite
    }

    /// A new KeyPackage valid from now for `validity_seconds`. Publish its
    /// `key_package()` bytes; keep the object to join with.
    pub fn generate_key_package(
        &self,
        validity_seconds: u64,
    ) -> Result<Arc<KeyPackageBundle>, TesseraError> {
        guard(|| {
            let cs = RustCryptoProvider::new().cipher_suite_provider(self.suite.into())?;
            let options = KeyPackageOptions::valid_for(crate::now()?, validity_seconds);
            let (key_package, private) = generate_key_package(&*cs, &self.inner, options)?;
            let bytes = MlsMessage::KeyPackage(key_package.clone()).to_bytes()?;
            Ok(Arc::new(KeyPackageBundle {
                bytes,
                private: Mutex::new(Some((key_package, private))),
            }))
        })
    }
}

/// A KeyPackage with its private keys. The private keys are deleted when a
/// Welcome to it is joined (RFC 9420 §16.8): the bundle is then spent.
#[derive(uniffi::Object)]
pub struct KeyPackageBundle {
    bytes: Vec<u8>,
    private: Mutex<Option<(KeyPackage, KeyPackagePrivate)>>,
}

impl std::fmt::Debug for KeyPackageBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPackageBundle")
            .field("bytes", &self.bytes.len())
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl KeyPackageBundle {
    /// The KeyPackage to publish (an MLSMessage).
    pub fn key_package(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    /// Whether a Welcome has been joined with it (its private keys are gone).
    pub fn is_spent(&self) -> bool {
        self.private.lock().map(|p| p.is_none()).unwrap_or(true)
    }
}

impl KeyPackageBundle {
    /// Runs `join` with the KeyPackage and its private keys; if it succeeds,
    /// the private keys are deleted. The lock is not held while `join` runs
    /// (it calls the app's validator), so a panic there cannot poison it.
    pub(crate) fn consume<T>(
        &self,
        join: impl FnOnce(&KeyPackage, &KeyPackagePrivate) -> Result<T, TesseraError>,
    ) -> Result<T, TesseraError> {
        let (kp, private) = self
            .slot()?
            .clone()
            .ok_or_else(|| TesseraError::api("this KeyPackage was already used to join"))?;
        let out = join(&kp, &private)?;
        // Spent once: of two joins racing with one bundle, only one succeeds.
        self.slot()?
            .take()
            .ok_or_else(|| TesseraError::api("this KeyPackage was already used to join"))?;
        Ok(out)
    }

    fn slot(
        &self,
    ) -> Result<std::sync::MutexGuard<'_, Option<(KeyPackage, KeyPackagePrivate)>>, TesseraError>
    {
        self.private
            .lock()
            .map_err(|_| TesseraError::internal("KeyPackage unusable after an earlier panic"))
    }
}
