//! Member identities and KeyPackage generation (RFC 9420 §10). The private
//! parts stay with the caller, who hands them back when joining.

use crate::codec::{Decode, Encode, Reader};
use crate::crypto::{CipherSuiteProvider, HpkePrivateKey, SignaturePrivateKey, SignaturePublicKey};
use crate::error::{ApiError, DecodeError, Result};
use crate::messages::{
    Capabilities, Credential, CredentialType, Extension, KeyPackage, LeafNode, LeafNodeSource,
    Lifetime, ProtocolVersion,
};

/// Who a member is: a credential and the signature key pair that goes with it.
///
/// ```
/// use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
/// use tessera::group::Identity;
/// use tessera::messages::Credential;
/// let cs = RustCryptoProvider::new()
///     .cipher_suite_provider(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
///     .unwrap();
/// let alice = Identity::generate(&*cs, Credential::basic("alice")).unwrap();
/// assert_eq!(alice.credential(), &Credential::basic("alice"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    credential: Credential,
    signature_key: SignaturePublicKey,
    signer: SignaturePrivateKey,
}

impl Identity {
    /// An identity with a fresh signature key pair from the suite's scheme.
    pub fn generate(cs: &dyn CipherSuiteProvider, credential: Credential) -> Result<Self> {
        let (signer, signature_key) = cs.signature_generate_key_pair()?;
        Ok(Self {
            credential,
            signature_key,
            signer,
        })
    }

    /// An identity from an existing key pair; fails if the keys do not match.
    pub fn from_keys(
        cs: &dyn CipherSuiteProvider,
        credential: Credential,
        signer: SignaturePrivateKey,
    ) -> Result<Self> {
        let signature_key = cs.signature_public_key(&signer)?;
        Ok(Self {
            credential,
            signature_key,
            signer,
        })
    }

    /// The credential.
    pub fn credential(&self) -> &Credential {
        &self.credential
    }

    /// The signature public key.
    pub fn signature_key(&self) -> &SignaturePublicKey {
        &self.signature_key
    }

    /// The signature private key.
    pub fn signer(&self) -> &SignaturePrivateKey {
        &self.signer
    }
}

/// The private keys of a KeyPackage: the init key the Welcome is encrypted to
/// and the leaf's encryption key. Keep them until the KeyPackage is used,
/// then delete them (RFC 9420 §16.8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPackagePrivate {
    /// The private key of `init_key`.
    pub init_key: HpkePrivateKey,
    /// The private key of `leaf_node.encryption_key`.
    pub encryption_key: HpkePrivateKey,
}

impl KeyPackagePrivate {
    /// Serializes the private keys (version 1 format) for storage.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = vec![1u8];
        self.init_key.as_bytes().encode(&mut out)?;
        self.encryption_key.as_bytes().encode(&mut out)?;
        Ok(out)
    }

    /// Reads what [`KeyPackagePrivate::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        if r.read_u8()? != 1 {
            return Err(DecodeError::InvalidValue(
                "KeyPackagePrivate format version",
            ));
        }
        let init_key = HpkePrivateKey::new(Vec::<u8>::decode(&mut r)?);
        let encryption_key = HpkePrivateKey::new(Vec::<u8>::decode(&mut r)?);
        r.finish()?;
        Ok(Self {
            init_key,
            encryption_key,
        })
    }
}

/// Options for a new KeyPackage.
#[derive(Clone, Debug)]
pub struct KeyPackageOptions {
    /// The validity period of the leaf (seconds since the Unix epoch).
    pub lifetime: Lifetime,
    /// Capabilities to advertise; the suite, MLS 1.0 and the credential's type
    /// are added if missing.
    pub capabilities: Capabilities,
    /// KeyPackage extensions.
    pub extensions: Vec<Extension>,
    /// Leaf node extensions.
    pub leaf_extensions: Vec<Extension>,
}

impl KeyPackageOptions {
    /// Default options valid from `now` for `validity_secs` seconds.
    pub fn valid_for(now: u64, validity_secs: u64) -> Self {
        Self {
            lifetime: Lifetime {
                not_before: now,
                not_after: now.saturating_add(validity_secs),
            },
            capabilities: Capabilities::default(),
            extensions: Vec::new(),
            leaf_extensions: Vec::new(),
        }
    }
}

/// Completes `caps` with what every Tessera leaf supports for `cs` and `credential`.
pub(crate) fn complete_capabilities(
    mut caps: Capabilities,
    cs: &dyn CipherSuiteProvider,
    credential: &Credential,
) -> Capabilities {
    if !caps.versions.contains(&ProtocolVersion::MLS10) {
        caps.versions.push(ProtocolVersion::MLS10);
    }
    if !caps.cipher_suites.contains(&cs.cipher_suite()) {
        caps.cipher_suites.push(cs.cipher_suite());
    }
    for t in [CredentialType::BASIC, credential.credential_type()] {
        if !caps.credentials.contains(&t) {
            caps.credentials.push(t);
        }
    }
    caps
}

/// Generates a signed KeyPackage and its private keys (RFC 9420 §10).
pub fn generate_key_package(
    cs: &dyn CipherSuiteProvider,
    identity: &Identity,
    options: KeyPackageOptions,
) -> Result<(KeyPackage, KeyPackagePrivate)> {
    if options.lifetime.not_before > options.lifetime.not_after {
        return Err(ApiError::InvalidArgument("lifetime ends before it starts").into());
    }
    let (init_priv, init_key) = cs.hpke_generate_key_pair()?;
    let (enc_priv, encryption_key) = cs.hpke_generate_key_pair()?;
    let mut leaf_node = LeafNode {
        encryption_key,
        signature_key: identity.signature_key.clone(),
        credential: identity.credential.clone(),
        capabilities: complete_capabilities(options.capabilities, cs, &identity.credential),
        leaf_node_source: LeafNodeSource::KeyPackage(options.lifetime),
        extensions: options.leaf_extensions,
        signature: Vec::new(),
    };
    leaf_node.sign(cs, &identity.signer, None)?;
    let mut kp = KeyPackage {
        version: ProtocolVersion::MLS10,
        cipher_suite: cs.cipher_suite(),
        init_key,
        leaf_node,
        extensions: options.extensions,
        signature: Vec::new(),
    };
    kp.sign(cs, &identity.signer)?;
    Ok((
        kp,
        KeyPackagePrivate {
            init_key: init_priv,
            encryption_key: enc_priv,
        },
    ))
}
