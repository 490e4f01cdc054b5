//! Look-ups kept beside the nodes so that the checks of RFC 9420 §7.3 do not
//! scan the tree: signature key to leaf, encryption key to node (both must be
//! unique, §7.3 and §12.4.3.1), and per credential type the number of members
//! using it and the number of members supporting it (§7.3: "the credential type
//! is supported by all members of the group ... and ... this LeafNode indicates
//! support for all the credential types currently in use by other members").

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::cow::{CowMap, CowVec};

use crate::error::ProtocolError;
use crate::messages::{Capabilities, CredentialType, LeafNode, Node};
use crate::tree_math::{LeafIndex, NodeIndex};

/// Key look-ups and credential counts of one tree. The key maps are
/// copy-on-write by shards ([`CowMap`]): copying the index to stage a commit
/// copies one pointer per shard, and a change copies one shard of plain
/// entries. They hold no second copy of the keys: an entry is a key's hash
/// and the node it is in, and a look-up compares the key kept in that node
/// ([`Nodes`]).
#[derive(Clone, Debug, Default)]
pub(super) struct KeyIndex {
    signature_keys: CowMap<LeafIndex>,
    encryption_keys: CowMap<NodeIndex>,
    members: u32,
    /// Credential type -> number of members whose credential has that type.
    in_use: HashMap<CredentialType, u32>,
    /// Credential type -> number of members whose capabilities list it.
    supported: HashMap<CredentialType, u32>,
}

/// The nodes of a tree, where the index reads the keys back.
pub(super) trait Nodes {
    /// The node at `at`, if it is not blank.
    fn node(&self, at: NodeIndex) -> Option<&Node>;

    /// The signature key of the leaf at `leaf`.
    fn signature_key(&self, leaf: LeafIndex) -> Option<&[u8]> {
        match self.node(leaf.node())? {
            Node::Leaf(l) => Some(l.signature_key.as_bytes()),
            Node::Parent(_) => None,
        }
    }

    /// The encryption key of the node at `at`.
    fn encryption_key(&self, at: NodeIndex) -> Option<&[u8]> {
        Some(encryption_key(self.node(at)?))
    }
}

impl Nodes for CowVec<Option<Arc<Node>>> {
    fn node(&self, at: NodeIndex) -> Option<&Node> {
        self.get(at.0 as usize)?.as_deref()
    }
}

impl Nodes for [Option<Arc<Node>>] {
    fn node(&self, at: NodeIndex) -> Option<&Node> {
        self.get(at.0 as usize)?.as_deref()
    }
}

/// A node's encryption key.
fn encryption_key(node: &Node) -> &[u8] {
    match node {
        Node::Leaf(l) => l.encryption_key.as_bytes(),
        Node::Parent(p) => p.encryption_key.as_bytes(),
    }
}

/// The distinct credential types a capabilities object lists, sorted.
pub(super) fn supported_credentials(caps: &Capabilities) -> Vec<CredentialType> {
    let mut v = caps.credentials.clone();
    v.sort_unstable();
    v.dedup();
    v
}

/// Calls `f` once for each distinct credential type `caps` lists (in the
/// order of first appearance; no allocation: the lists are short).
fn for_each_supported(caps: &Capabilities, mut f: impl FnMut(CredentialType)) {
    for (i, t) in caps.credentials.iter().enumerate() {
        if !caps
            .credentials
            .get(..i)
            .is_some_and(|seen| seen.contains(t))
        {
            f(*t);
        }
    }
}

fn bump(map: &mut HashMap<CredentialType, u32>, t: CredentialType) {
    *map.entry(t).or_insert(0) += 1;
}

fn drop_one(map: &mut HashMap<CredentialType, u32>, t: CredentialType) {
    if let Entry::Occupied(mut e) = map.entry(t) {
        if *e.get() <= 1 {
            e.remove();
        } else {
            *e.get_mut() -= 1;
        }
    }
}

impl KeyIndex {
    /// Fails if `node`'s keys are used by a node other than `at`.
    pub(super) fn check_keys_free(
        &self,
        nodes: &(impl Nodes + ?Sized),
        at: NodeIndex,
        node: &Node,
    ) -> Result<(), ProtocolError> {
        if let Node::Leaf(l) = node
            && let Some(other) = self.leaf_by_signature_key(nodes, l.signature_key.as_bytes())
            && other.node() != at
        {
            return Err(ProtocolError::DuplicateSignatureKey(other.0));
        }
        match self.node_by_encryption_key(nodes, encryption_key(node)) {
            Some(other) if other != at => Err(ProtocolError::DuplicateEncryptionKey(other.0)),
            _ => Ok(()),
        }
    }

    /// An empty index sized for a tree of `leaves` leaves and `nodes` nodes.
    pub(super) fn with_capacity(leaves: usize, nodes: usize) -> Self {
        Self {
            signature_keys: CowMap::with_capacity(leaves),
            encryption_keys: CowMap::with_capacity(nodes),
            ..Self::default()
        }
    }

    /// Records `node`, stored at `at` in `nodes`.
    pub(super) fn insert(&mut self, nodes: &(impl Nodes + ?Sized), at: NodeIndex, node: &Node) {
        // Replaced entries are those of nodes the caller has removed.
        let _ = self.insert_new(nodes, at, node);
    }

    /// Records `node`, stored at `at` in `nodes`, and fails (with the index
    /// left partly updated: for a tree that is being discarded) if another
    /// node had one of its keys, as [`Self::check_keys_free`] would have.
    pub(super) fn insert_new(
        &mut self,
        nodes: &(impl Nodes + ?Sized),
        at: NodeIndex,
        node: &Node,
    ) -> Result<(), ProtocolError> {
        let mut duplicate = None;
        if let Node::Leaf(l) = node {
            if let Some(leaf) = at.leaf()
                && let Some(other) =
                    self.signature_keys
                        .insert(l.signature_key.as_bytes(), leaf, |v| nodes.signature_key(v))
                && other != leaf
            {
                duplicate = Some(ProtocolError::DuplicateSignatureKey(other.0));
            }
            self.members += 1;
            bump(&mut self.in_use, l.credential.credential_type());
            for_each_supported(&l.capabilities, |t| bump(&mut self.supported, t));
        }
        if let Some(other) = self
            .encryption_keys
            .insert(encryption_key(node), at, |v| nodes.encryption_key(v))
            && other != at
            && duplicate.is_none()
        {
            duplicate = Some(ProtocolError::DuplicateEncryptionKey(other.0));
        }
        duplicate.map_or(Ok(()), Err)
    }

    /// Forgets `node`, which was stored at `at`.
    pub(super) fn remove(&mut self, at: NodeIndex, node: &Node) {
        if let Node::Leaf(l) = node {
            if let Some(leaf) = at.leaf() {
                self.signature_keys.remove(l.signature_key.as_bytes(), leaf);
            }
            self.members = self.members.saturating_sub(1);
            drop_one(&mut self.in_use, l.credential.credential_type());
            for_each_supported(&l.capabilities, |t| drop_one(&mut self.supported, t));
        }
        self.encryption_keys.remove(encryption_key(node), at);
    }

    /// The leaf with this signature key.
    pub(super) fn leaf_by_signature_key(
        &self,
        nodes: &(impl Nodes + ?Sized),
        key: &[u8],
    ) -> Option<LeafIndex> {
        self.signature_keys.get(key, |v| nodes.signature_key(v))
    }

    /// The node with this encryption key.
    pub(super) fn node_by_encryption_key(
        &self,
        nodes: &(impl Nodes + ?Sized),
        key: &[u8],
    ) -> Option<NodeIndex> {
        self.encryption_keys.get(key, |v| nodes.encryption_key(v))
    }

    /// The number of non-blank leaves.
    pub(super) fn member_count(&self) -> u32 {
        self.members
    }

    /// Each credential type in use with the number of members using it.
    pub(super) fn credential_types_in_use(
        &self,
    ) -> impl Iterator<Item = (CredentialType, u32)> + '_ {
        self.in_use.iter().map(|(t, n)| (*t, *n))
    }

    /// The number of members whose capabilities list `t`.
    pub(super) fn supporters(&self, t: CredentialType) -> u32 {
        self.supported.get(&t).copied().unwrap_or(0)
    }
}

/// Whether `leaf` lists credential type `t` in its capabilities.
pub(super) fn leaf_supports(leaf: &LeafNode, t: CredentialType) -> bool {
    leaf.capabilities.credentials.contains(&t)
}
