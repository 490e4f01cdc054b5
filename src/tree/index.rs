//! Look-ups kept beside the nodes so that the checks of RFC 9420 §7.3 do not
//! scan the tree: signature key to leaf, encryption key to node (both must be
//! unique, §7.3 and §12.4.3.1), and per credential type the number of members
//! using it and the number of members supporting it (§7.3: "the credential type
//! is supported by all members of the group ... and ... this LeafNode indicates
//! support for all the credential types currently in use by other members").

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use super::cow::CowMap;

use crate::crypto::{HpkePublicKey, SignaturePublicKey};
use crate::error::ProtocolError;
use crate::messages::{Capabilities, CredentialType, LeafNode, Node};
use crate::tree_math::{LeafIndex, NodeIndex};

/// Key look-ups and credential counts of one tree. The key maps are
/// copy-on-write by shards ([`CowMap`]): copying the index to stage a commit
/// does not copy every key, and a shard copied by a change clones its keys
/// as shared byte strings (`Arc<[u8]>`: a reference count, no allocation).
#[derive(Clone, Debug, Default)]
pub(super) struct KeyIndex {
    signature_keys: CowMap<Arc<[u8]>, LeafIndex>,
    encryption_keys: CowMap<Arc<[u8]>, NodeIndex>,
    members: u32,
    /// Credential type -> number of members whose credential has that type.
    in_use: HashMap<CredentialType, u32>,
    /// Credential type -> number of members whose capabilities list it.
    supported: HashMap<CredentialType, u32>,
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
    pub(super) fn check_keys_free(&self, at: NodeIndex, node: &Node) -> Result<(), ProtocolError> {
        let enc = match node {
            Node::Leaf(l) => {
                if let Some(&other) = self.signature_keys.get(l.signature_key.as_bytes())
                    && other.node() != at
                {
                    return Err(ProtocolError::DuplicateSignatureKey(other.0));
                }
                &l.encryption_key
            }
            Node::Parent(p) => &p.encryption_key,
        };
        match self.encryption_keys.get(enc.as_bytes()) {
            Some(&other) if other != at => Err(ProtocolError::DuplicateEncryptionKey(other.0)),
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

    /// Records `node`, now stored at `at`.
    pub(super) fn insert(&mut self, at: NodeIndex, node: &Node) {
        // Replaced entries are those of nodes the caller has removed.
        let _ = self.insert_new(at, node);
    }

    /// Records `node`, now stored at `at`, and fails (with the index left
    /// partly updated: for a tree that is being discarded) if another node
    /// had one of its keys, as [`Self::check_keys_free`] would have.
    pub(super) fn insert_new(&mut self, at: NodeIndex, node: &Node) -> Result<(), ProtocolError> {
        let mut duplicate = None;
        match node {
            Node::Leaf(l) => {
                if let Some(leaf) = at.leaf()
                    && let Some(other) = self
                        .signature_keys
                        .insert(Arc::from(l.signature_key.as_bytes()), leaf)
                    && other != leaf
                {
                    duplicate = Some(ProtocolError::DuplicateSignatureKey(other.0));
                }
                if let Some(other) = self
                    .encryption_keys
                    .insert(Arc::from(l.encryption_key.as_bytes()), at)
                    && other != at
                    && duplicate.is_none()
                {
                    duplicate = Some(ProtocolError::DuplicateEncryptionKey(other.0));
                }
                self.members += 1;
                bump(&mut self.in_use, l.credential.credential_type());
                for_each_supported(&l.capabilities, |t| bump(&mut self.supported, t));
            }
            Node::Parent(p) => {
                if let Some(other) = self
                    .encryption_keys
                    .insert(Arc::from(p.encryption_key.as_bytes()), at)
                    && other != at
                {
                    duplicate = Some(ProtocolError::DuplicateEncryptionKey(other.0));
                }
            }
        }
        duplicate.map_or(Ok(()), Err)
    }

    /// Forgets `node`, which was stored at `at`.
    pub(super) fn remove(&mut self, at: NodeIndex, node: &Node) {
        let enc = match node {
            Node::Leaf(l) => {
                if self
                    .signature_keys
                    .get(l.signature_key.as_bytes())
                    .is_some_and(|x| x.node() == at)
                {
                    self.signature_keys.remove(l.signature_key.as_bytes());
                }
                self.members = self.members.saturating_sub(1);
                drop_one(&mut self.in_use, l.credential.credential_type());
                for_each_supported(&l.capabilities, |t| drop_one(&mut self.supported, t));
                &l.encryption_key
            }
            Node::Parent(p) => &p.encryption_key,
        };
        if self.encryption_keys.get(enc.as_bytes()) == Some(&at) {
            self.encryption_keys.remove(enc.as_bytes());
        }
    }

    /// The leaf with this signature key.
    pub(super) fn leaf_by_signature_key(&self, key: &SignaturePublicKey) -> Option<LeafIndex> {
        self.signature_keys.get(key.as_bytes()).copied()
    }

    /// The node with this encryption key.
    pub(super) fn node_by_encryption_key(&self, key: &HpkePublicKey) -> Option<NodeIndex> {
        self.encryption_keys.get(key.as_bytes()).copied()
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
