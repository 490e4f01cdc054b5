//! KeyPackages (RFC 9420 §10).

use super::{Extension, LeafNode, ProtocolVersion};
use crate::codec::Encode;
use crate::crypto::{CipherSuite, CipherSuiteProvider, HpkePublicKey, SignaturePrivateKey};
use crate::error::Result;

/// A signed offer to join groups (RFC 9420 §10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPackage {
    /// The protocol version.
    pub version: ProtocolVersion,
    /// The cipher suite of groups this package can join.
    pub cipher_suite: CipherSuite,
    /// The HPKE key the Welcome is encrypted to.
    pub init_key: HpkePublicKey,
    /// The leaf the new member will occupy.
    pub leaf_node: LeafNode,
    /// KeyPackage extensions.
    pub extensions: Vec<Extension>,
    /// `SignWithLabel(., "KeyPackageTBS", KeyPackageTBS)`.
    pub signature: Vec<u8>,
}
crate::impl_codec_struct!(KeyPackage {
    version,
    cipher_suite,
    init_key,
    leaf_node,
    extensions,
    signature
});

/// A KeyPackage reference: `RefHash("MLS 1.0 KeyPackage Reference", KeyPackage)` (RFC 9420 §5.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyPackageRef(pub Vec<u8>);
crate::impl_codec_newtype!(KeyPackageRef(Vec<u8>));

impl KeyPackage {
    /// The encoded `KeyPackageTBS`: every field but the signature.
    pub fn to_be_signed(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.version.encode(&mut out)?;
        self.cipher_suite.encode(&mut out)?;
        self.init_key.encode(&mut out)?;
        self.leaf_node.encode(&mut out)?;
        self.extensions.encode(&mut out)?;
        Ok(out)
    }

    /// Signs the KeyPackage in place.
    pub fn sign(&mut self, cs: &dyn CipherSuiteProvider, key: &SignaturePrivateKey) -> Result<()> {
        let tbs = self.to_be_signed()?;
        self.signature = crate::crypto::labeled::sign_with_label(cs, key, b"KeyPackageTBS", &tbs)?;
        Ok(())
    }

    /// Adds the check of the KeyPackage signature to `checks`, failing with
    /// `on_invalid` (see [`KeyPackage::verify_signature`]).
    pub(crate) fn queue_signature_check<'a>(
        &'a self,
        checks: &mut crate::crypto::labeled::SignatureChecks<'a>,
        on_invalid: crate::error::Error,
    ) -> Result<()> {
        let tbs = self.to_be_signed()?;
        checks.push(
            &self.leaf_node.signature_key,
            b"KeyPackageTBS",
            &tbs,
            &self.signature,
            on_invalid,
        )
    }

    /// Verifies the KeyPackage signature with the leaf's signature key.
    pub fn verify_signature(&self, cs: &dyn CipherSuiteProvider) -> Result<()> {
        let tbs = self.to_be_signed()?;
        crate::crypto::labeled::verify_with_label(
            cs,
            &self.leaf_node.signature_key,
            b"KeyPackageTBS",
            &tbs,
            &self.signature,
        )
    }

    /// This package's reference (RFC 9420 §5.2), computed with its own suite's hash.
    pub fn reference(&self, cs: &dyn CipherSuiteProvider) -> Result<KeyPackageRef> {
        let bytes = self.to_bytes()?;
        crate::crypto::labeled::ref_hash(cs, b"MLS 1.0 KeyPackage Reference", &bytes)
            .map(KeyPackageRef)
    }
}
