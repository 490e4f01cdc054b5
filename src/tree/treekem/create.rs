//! Creating an UpdatePath (RFC 9420 §7.4, §7.5, §7.6), as a committer.

use super::{DerivedPath, UPDATE_PATH_LABEL, derive_path_keys};
use crate::codec::Encode;
use crate::crypto::labeled::encrypt_with_label_many;
use crate::crypto::{
    CipherSuiteProvider, HpkePrivateKey, HpkePublicKey, Secret, SignaturePrivateKey,
};
use crate::error::{ApiError, Result};
use crate::messages::{
    EncryptedPathSecrets, GroupContext, LeafNode, LeafNodeGroupBinding, LeafNodeSource, ParentNode,
    UpdatePath, UpdatePathNode,
};
use crate::tree::{FilteredPathNode, RatchetTree, TreePrivateKeys};
use crate::tree_math::{LeafIndex, TreeSize};

/// A committer's new path, already in its tree, waiting to be encrypted to
/// the group and its keys stored. Holds the path secrets: drop it as soon as
/// the commit and its Welcomes are built.
#[derive(Debug)]
pub struct PendingUpdatePath {
    committer: LeafIndex,
    size: TreeSize,
    leaf_node: LeafNode,
    leaf_key: HpkePrivateKey,
    steps: Vec<FilteredPathNode>,
    path: DerivedPath,
}

impl core::fmt::Debug for DerivedPath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DerivedPath({} nodes, redacted)", self.keys.len())
    }
}

impl RatchetTree {
    /// Gives `committer` a fresh leaf key and fresh keys along its filtered
    /// direct path (RFC 9420 §7.4) and applies them to the tree (§7.5):
    /// blanks the direct path, sets the new parent nodes, computes the parent
    /// hashes, and replaces the committer's leaf by `leaf` with the new
    /// encryption key, source `commit` with the leaf's parent hash, signed
    /// with `signer` for `group_id`. `leaf` carries the rest of the new leaf
    /// node (credential, signature key, capabilities, extensions), normally
    /// the committer's current leaf node.
    ///
    /// Apply the commit's proposals first. On failure the tree is unchanged.
    pub fn create_update_path(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        committer: LeafIndex,
        mut leaf: LeafNode,
        signer: &SignaturePrivateKey,
        group_id: &[u8],
    ) -> Result<PendingUpdatePath> {
        self.check_suite(cs)?;
        self.check_leaf_in_range(committer)?;
        let steps = self.filtered_direct_path(committer)?;
        let first = cs.random_secret(cs.kdf_len())?;
        let path = derive_path_keys(cs, first, steps.len())?;
        let (leaf_key, leaf_public) = cs.hpke_generate_key_pair()?;
        leaf.encryption_key = leaf_public;
        let leaf_node = self.atomically(|tree| {
            tree.blank_direct_path(committer)?;
            for (step, (_, public)) in steps.iter().zip(&path.keys) {
                let node = ParentNode {
                    encryption_key: public.clone(),
                    parent_hash: Vec::new(),
                    unmerged_leaves: Vec::new(),
                };
                tree.set_parent(step.node, node)?;
            }
            let parent_hash = tree.set_path_parent_hashes(cs, committer)?;
            leaf.leaf_node_source = LeafNodeSource::Commit(parent_hash);
            let binding = LeafNodeGroupBinding {
                group_id,
                leaf_index: committer,
            };
            leaf.sign(cs, signer, Some(binding))?;
            tree.set_leaf(committer, leaf.clone())?;
            Ok(leaf)
        })?;
        Ok(PendingUpdatePath {
            committer,
            size: self.size,
            leaf_node,
            leaf_key,
            steps,
            path,
        })
    }
}

impl PendingUpdatePath {
    /// The UpdatePath to send (RFC 9420 §7.6): for each node of the filtered
    /// direct path its new public key and its path secret encrypted to each
    /// node in the resolution of its copath child, leaving out the leaves of
    /// `new_members` (added by this commit). `group_context` is the
    /// provisional GroupContext of the new epoch, whose tree hash is that of
    /// `tree` with this path applied.
    pub fn encrypt(
        &self,
        tree: &RatchetTree,
        cs: &dyn CipherSuiteProvider,
        group_context: &GroupContext,
        new_members: &[LeafIndex],
    ) -> Result<UpdatePath> {
        let context = group_context.to_bytes()?;
        // Every (public key, path secret) pair of the whole path, then one
        // batch of HPKE encryptions (they share their EncryptContext).
        let mut recipients: Vec<(&HpkePublicKey, &[u8])> = Vec::new();
        let mut counts = Vec::with_capacity(self.steps.len());
        for (step, secret) in self.steps.iter().zip(&self.path.secrets) {
            let targets = tree.resolution_excluding(step.copath_child, new_members)?;
            counts.push(targets.len());
            for target in targets {
                let key = tree
                    .encryption_key(target)
                    .ok_or(ApiError::InvalidArgument("resolution node is blank"))?;
                recipients.push((key, secret.as_bytes()));
            }
        }
        let mut ciphertexts =
            encrypt_with_label_many(cs, UPDATE_PATH_LABEL, &context, &recipients)?.into_iter();
        let mut nodes = Vec::with_capacity(self.steps.len());
        for (count, (_, public)) in counts.into_iter().zip(&self.path.keys) {
            nodes.push(UpdatePathNode {
                encryption_key: public.clone(),
                encrypted_path_secret: EncryptedPathSecrets::try_from_iter(
                    ciphertexts.by_ref().take(count),
                )?,
            });
        }
        Ok(UpdatePath {
            leaf_node: self.leaf_node.clone(),
            nodes,
        })
    }

    /// The committer's new leaf node.
    pub fn leaf_node(&self) -> &LeafNode {
        &self.leaf_node
    }

    /// The commit secret: the path secret after the root's (RFC 9420 §8).
    pub fn commit_secret(&self) -> &Secret {
        &self.path.next
    }

    /// The path secret a new member at `new_member` receives in its Welcome:
    /// that of the lowest node on both its and the committer's direct path
    /// (RFC 9420 §12.4.3.1). `None` if that node is not on the filtered path.
    pub fn path_secret_for(&self, new_member: LeafIndex) -> Option<&Secret> {
        if !self.size.contains_leaf(new_member) {
            return None;
        }
        let ancestor = self
            .size
            .common_ancestor(self.committer.node(), new_member.node());
        self.steps
            .iter()
            .position(|s| s.node == ancestor)
            .and_then(|i| self.path.secrets.get(i))
    }

    /// The private keys of a committer that held none before, an external
    /// joiner (RFC 9420 §12.4.3.2): its new leaf key and the keys of its
    /// filtered direct path, with the commit secret (§8).
    pub fn into_private_keys(self) -> (TreePrivateKeys, Secret) {
        let mut keys = TreePrivateKeys::new(self.committer, self.leaf_key);
        for (step, (private, _)) in self.steps.iter().zip(self.path.keys) {
            keys.set_key(step.node, private);
        }
        (keys, self.path.next)
    }

    /// Stores the committer's new private keys in `keys` (its leaf's and its
    /// path's), deleting those of nodes the path blanked or replaced
    /// (RFC 9420 §7.5), and returns the commit secret.
    pub fn store_keys(self, tree: &RatchetTree, keys: &mut TreePrivateKeys) -> Result<Secret> {
        if keys.leaf_index() != self.committer {
            return Err(ApiError::InvalidArgument("keys of another member").into());
        }
        for n in tree.size().direct_path(self.committer.node()) {
            keys.remove_key(n);
        }
        keys.set_key(self.committer.node(), self.leaf_key);
        for (step, (private, _)) in self.steps.iter().zip(self.path.keys) {
            keys.set_key(step.node, private);
        }
        Ok(self.path.next)
    }
}
