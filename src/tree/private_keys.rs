//! The private half of a member's view of the tree (RFC 9420 §4.2): the
//! HPKE private keys of its own leaf and of the parent nodes above it whose
//! keys it knows.

use std::collections::BTreeMap;

use super::RatchetTree;
use super::treekem::node_key_pair;
use crate::codec::{Decode, Encode, Reader, write_opaque, write_vec_with};
use crate::crypto::{CipherSuiteProvider, HpkePrivateKey, HpkePublicKey, Secret};
use crate::error::{ApiError, DecodeError, Result};
use crate::messages::Node;
use crate::tree_math::{LeafIndex, NodeIndex};

/// A member's private tree keys: its leaf's and those of parent nodes on its
/// direct path (RFC 9420 §4.2). Keys are zeroized when dropped or replaced.
#[derive(Clone, Debug)]
pub struct TreePrivateKeys {
    leaf: LeafIndex,
    keys: BTreeMap<NodeIndex, HpkePrivateKey>,
}

impl TreePrivateKeys {
    /// The keys of the member at `leaf`, whose leaf private key is `leaf_key`.
    pub fn new(leaf: LeafIndex, leaf_key: HpkePrivateKey) -> Self {
        let mut keys = BTreeMap::new();
        keys.insert(leaf.node(), leaf_key);
        Self { leaf, keys }
    }

    /// The member's leaf index.
    pub fn leaf_index(&self) -> LeafIndex {
        self.leaf
    }

    /// The private key of `node`, if the member knows it.
    pub fn key(&self, node: NodeIndex) -> Option<&HpkePrivateKey> {
        self.keys.get(&node)
    }

    /// The nodes whose private keys the member knows, in increasing order.
    pub fn nodes(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.keys.keys().copied()
    }

    /// Stores the private key of `node`, replacing (and so deleting) any older one.
    pub fn set_key(&mut self, node: NodeIndex, key: HpkePrivateKey) {
        self.keys.insert(node, key);
    }

    /// Deletes the private key of `node`.
    pub fn remove_key(&mut self, node: NodeIndex) {
        self.keys.remove(&node);
    }

    /// Stores the key pair of `node` derived from its path secret
    /// (`node_secret = DeriveSecret(path_secret, "node")`, RFC 9420 §7.4) and
    /// returns the public key, for the caller to compare with the tree's.
    pub fn set_path_secret(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        node: NodeIndex,
        path_secret: &Secret,
    ) -> Result<HpkePublicKey> {
        let (private, public) = node_key_pair(cs, path_secret)?;
        self.keys.insert(node, private);
        Ok(public)
    }

    /// Deletes the keys of nodes that are blank in `tree` (RFC 9420 §7.5: keys
    /// of replaced or blanked nodes must be deleted). Call after every change
    /// that blanks nodes, such as an Update or Remove.
    pub fn forget_blank(&mut self, tree: &RatchetTree) {
        self.keys.retain(|n, _| !tree.is_blank(*n));
    }

    /// Appends the keys for storage (`Group::to_bytes`):
    ///
    /// ```text
    /// struct { uint32 leaf; NodeKey keys<V>; } TreePrivateKeysState;
    /// struct { uint32 node; opaque private_key<V>; } NodeKey;   // increasing node
    /// ```
    ///
    /// The output holds private keys: keep it in zeroizing storage. (Not an
    /// `Encode` impl, so no public `to_bytes()` hands the keys out as a plain vector.)
    pub(crate) fn write_state(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.leaf.0.encode(out)?;
        write_vec_with(out, |out| {
            for (node, key) in &self.keys {
                node.0.encode(out)?;
                write_opaque(out, key.as_bytes())?;
            }
            Ok(())
        })
    }

    /// Reads what [`TreePrivateKeys::write_state`] wrote. Nodes must be in
    /// increasing order and the leaf's own key present; whether the keys fit
    /// a tree is [`TreePrivateKeys::check_against`].
    pub(crate) fn read_state(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let leaf = LeafIndex(u32::decode(r)?);
        // Leaf indices of any tree are below 2^31 (so `leaf.node()` cannot overflow).
        if leaf.0 >= 1 << 31 {
            return Err(DecodeError::InvalidValue("tree private keys: leaf index"));
        }
        let mut body = r.read_vec_body()?;
        let mut keys = BTreeMap::new();
        while !body.is_empty() {
            let node = NodeIndex(u32::decode(&mut body)?);
            if keys.last_key_value().is_some_and(|(last, _)| node <= *last) {
                return Err(DecodeError::InvalidValue(
                    "tree private keys: nodes not increasing",
                ));
            }
            keys.insert(node, HpkePrivateKey::new(Vec::<u8>::decode(&mut body)?));
        }
        if !keys.contains_key(&leaf.node()) {
            return Err(DecodeError::InvalidValue(
                "tree private keys: no key for the own leaf",
            ));
        }
        Ok(Self { leaf, keys })
    }

    /// Checks that every key belongs to the member's leaf or a node on its
    /// direct path, and that each is the private key of the public key the
    /// tree holds there.
    pub fn check_against(&self, tree: &RatchetTree, cs: &dyn CipherSuiteProvider) -> Result<()> {
        let path: Vec<NodeIndex> = tree.direct_path(self.leaf)?;
        for (node, key) in &self.keys {
            if *node != self.leaf.node() && !path.contains(node) {
                return Err(ApiError::InvalidArgument(
                    "private key for a node off the member's path",
                )
                .into());
            }
            let public = match tree.node(*node) {
                Some(Node::Leaf(l)) => &l.encryption_key,
                Some(Node::Parent(p)) => &p.encryption_key,
                None => {
                    return Err(ApiError::InvalidArgument("private key for a blank node").into());
                }
            };
            if cs.hpke_public_key(key)? != *public {
                return Err(
                    ApiError::InvalidArgument("private key does not match the tree").into(),
                );
            }
        }
        Ok(())
    }

    /// Sets the keys of the nodes above `start` up to the root from the path
    /// secret of `start`, as a new member does with the path secret of a
    /// Welcome (RFC 9420 §12.4.3.1): `start` gets the key pair of
    /// `path_secret`, then each non-blank ancestor in turn that of the next
    /// path secret (`DeriveSecret(path_secret, "path")`), following the
    /// committer's filtered direct path, whose other nodes the commit left
    /// blank. Each derived public key must match the tree's; on a mismatch
    /// nothing is stored.
    pub fn set_path_secrets_from(
        &mut self,
        tree: &RatchetTree,
        cs: &dyn CipherSuiteProvider,
        start: NodeIndex,
        path_secret: Secret,
    ) -> Result<()> {
        let nodes: Vec<NodeIndex> = core::iter::once(start)
            .chain(tree.size().direct_path(start))
            .filter(|n| !tree.is_blank(*n))
            .collect();
        let derived = super::treekem::derive_path_keys(cs, path_secret, nodes.len())?;
        let mut staged = Vec::with_capacity(nodes.len());
        for (node, (private, public)) in nodes.into_iter().zip(derived.keys) {
            if tree.parent_node(node).map(|p| &p.encryption_key) != Some(&public) {
                return Err(
                    crate::error::ProtocolError::UpdatePathPublicKeyMismatch(node.0).into(),
                );
            }
            staged.push((node, private));
        }
        self.keys.extend(staged);
        Ok(())
    }
}
