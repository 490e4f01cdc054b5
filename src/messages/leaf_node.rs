//! Leaf nodes (RFC 9420 §7.2).

use super::{Capabilities, Credential, Extension, Lifetime};
use crate::codec::{Decode, Encode, Reader};
use crate::crypto::{CipherSuiteProvider, HpkePublicKey, SignaturePrivateKey, SignaturePublicKey};
use crate::error::{ApiError, DecodeError, Result};
use crate::tree_math::LeafIndex;

/// Where a leaf node came from, with the field that goes with it (RFC 9420 §7.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeafNodeSource {
    /// `key_package(1)`: from a KeyPackage, with its lifetime.
    KeyPackage(Lifetime),
    /// `update(2)`: from an Update proposal.
    Update,
    /// `commit(3)`: from a commit's UpdatePath, with the parent hash of its parent.
    Commit(Vec<u8>),
}

impl LeafNodeSource {
    /// The `LeafNodeSource` code point.
    pub fn code(&self) -> u8 {
        match self {
            Self::KeyPackage(_) => 1,
            Self::Update => 2,
            Self::Commit(_) => 3,
        }
    }
}

impl Encode for LeafNodeSource {
    fn encode(&self, out: &mut Vec<u8>) -> core::result::Result<(), ApiError> {
        out.push(self.code());
        match self {
            Self::KeyPackage(l) => l.encode(out),
            Self::Update => Ok(()),
            Self::Commit(ph) => ph.encode(out),
        }
    }
}

impl Decode for LeafNodeSource {
    fn decode(r: &mut Reader<'_>) -> core::result::Result<Self, DecodeError> {
        match r.read_u8()? {
            1 => Ok(Self::KeyPackage(Lifetime::decode(r)?)),
            2 => Ok(Self::Update),
            3 => Ok(Self::Commit(Vec::<u8>::decode(r)?)),
            _ => Err(DecodeError::InvalidValue("LeafNodeSource")),
        }
    }
}

/// A member's leaf in the ratchet tree (RFC 9420 §7.2), signed by the member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafNode {
    /// The member's HPKE public key.
    pub encryption_key: HpkePublicKey,
    /// The member's signature public key.
    pub signature_key: SignaturePublicKey,
    /// The member's credential.
    pub credential: Credential,
    /// What the member's client supports.
    pub capabilities: Capabilities,
    /// Where this leaf node came from.
    pub leaf_node_source: LeafNodeSource,
    /// Leaf extensions.
    pub extensions: Vec<Extension>,
    /// `SignWithLabel(., "LeafNodeTBS", LeafNodeTBS)`.
    pub signature: Vec<u8>,
}
crate::impl_codec_struct!(LeafNode {
    encryption_key,
    signature_key,
    credential,
    capabilities,
    leaf_node_source,
    extensions,
    signature
});

/// The group binding of a leaf node signed as `update` or `commit` (RFC 9420 §7.2).
#[derive(Clone, Copy, Debug)]
pub struct LeafNodeGroupBinding<'a> {
    /// The group's identifier.
    pub group_id: &'a [u8],
    /// The leaf's position in the tree.
    pub leaf_index: LeafIndex,
}

impl LeafNode {
    /// The encoded `LeafNodeTBS` (RFC 9420 §7.2). `binding` must be given for
    /// the `update` and `commit` sources and is ignored for `key_package`.
    pub fn to_be_signed(&self, binding: Option<LeafNodeGroupBinding<'_>>) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.encryption_key.encode(&mut out)?;
        self.signature_key.encode(&mut out)?;
        self.credential.encode(&mut out)?;
        self.capabilities.encode(&mut out)?;
        self.leaf_node_source.encode(&mut out)?;
        self.extensions.encode(&mut out)?;
        if !matches!(self.leaf_node_source, LeafNodeSource::KeyPackage(_)) {
            let b = binding.ok_or(ApiError::InvalidArgument(
                "a leaf node from an update or commit is signed with its group binding",
            ))?;
            b.group_id.encode(&mut out)?;
            b.leaf_index.0.encode(&mut out)?;
        }
        Ok(out)
    }

    /// Signs the leaf node in place (`signature = SignWithLabel(., "LeafNodeTBS", LeafNodeTBS)`).
    pub fn sign(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        key: &SignaturePrivateKey,
        binding: Option<LeafNodeGroupBinding<'_>>,
    ) -> Result<()> {
        let tbs = self.to_be_signed(binding)?;
        self.signature = crate::crypto::labeled::sign_with_label(cs, key, b"LeafNodeTBS", &tbs)?;
        Ok(())
    }

    /// Adds the check of the leaf node's signature to `checks`, failing with
    /// `on_invalid` (see [`LeafNode::verify_signature`]).
    pub(crate) fn queue_signature_check<'a>(
        &'a self,
        checks: &mut crate::crypto::labeled::SignatureChecks<'a>,
        binding: Option<LeafNodeGroupBinding<'_>>,
        on_invalid: crate::error::Error,
    ) -> Result<()> {
        checks.push_prepared(self.signature_check(binding, on_invalid)?);
        Ok(())
    }

    /// The check of the leaf node's signature, prepared for
    /// [`SignatureChecks`](crate::crypto::labeled::SignatureChecks), failing
    /// with `on_invalid` (see [`LeafNode::verify_signature`]).
    pub(crate) fn signature_check(
        &self,
        binding: Option<LeafNodeGroupBinding<'_>>,
        on_invalid: crate::error::Error,
    ) -> Result<crate::crypto::labeled::SignatureCheck<'_>> {
        let tbs = self.to_be_signed(binding)?;
        crate::crypto::labeled::SignatureCheck::new(
            &self.signature_key,
            b"LeafNodeTBS",
            &tbs,
            &self.signature,
            on_invalid,
        )
    }

    /// Verifies the leaf node's signature with its own signature key.
    pub fn verify_signature(
        &self,
        cs: &dyn CipherSuiteProvider,
        binding: Option<LeafNodeGroupBinding<'_>>,
    ) -> Result<()> {
        let tbs = self.to_be_signed(binding)?;
        crate::crypto::labeled::verify_with_label(
            cs,
            &self.signature_key,
            b"LeafNodeTBS",
            &tbs,
            &self.signature,
        )
    }
}
