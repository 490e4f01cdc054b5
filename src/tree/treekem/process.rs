//! Receiving an UpdatePath (RFC 9420 §7.5, §7.6): merging its public part
//! into the tree, then decrypting and deriving the path secrets.

use super::{UPDATE_PATH_LABEL, derive_path_keys};
use crate::codec::Encode;
use crate::crypto::labeled::{decrypt_with_label, decrypt_with_label_for};
use crate::crypto::{CipherSuiteProvider, Secret};
use crate::error::{ApiError, ProtocolError, Result};
use crate::messages::{GroupContext, LeafNodeSource, ParentNode, UpdatePath};
use crate::tree::{FilteredPathNode, RatchetTree, TreePrivateKeys};
use crate::tree_math::{LeafIndex, NodeIndex};

/// What a receiver learns from an UpdatePath.
#[derive(Debug)]
pub struct PathDecryption {
    /// The node of the sender's filtered direct path whose path secret was decrypted.
    pub node: NodeIndex,
    /// That path secret.
    pub path_secret: Secret,
    /// The commit secret: the path secret after the root's (RFC 9420 §8).
    pub commit_secret: Secret,
}

/// Fails unless `path` has one node per filtered direct path node.
fn check_length(steps: &[FilteredPathNode], path: &UpdatePath) -> Result<()> {
    if steps.len() == path.nodes.len() {
        Ok(())
    } else {
        Err(ProtocolError::UpdatePathLengthMismatch {
            expected: u32::try_from(steps.len()).unwrap_or(u32::MAX),
            found: u32::try_from(path.nodes.len()).unwrap_or(u32::MAX),
        }
        .into())
    }
}

impl RatchetTree {
    /// Merges the public part of `path`, sent by `sender`, into the tree
    /// (RFC 9420 §7.5): checks that it has one node per node of the sender's
    /// filtered direct path and one ciphertext per node of each copath
    /// child's resolution without `new_members` (§7.6), blanks the sender's
    /// direct path, sets the new public keys with empty unmerged leaves,
    /// computes the parent hashes and checks the new leaf's against them
    /// (§7.9.2), and stores the new leaf.
    ///
    /// Validate the leaf node first ([`RatchetTree::validate_leaf_node`]
    /// with [`crate::tree::LeafNodeOrigin::Commit`]) and apply the commit's
    /// proposals before. On failure the tree is unchanged.
    pub fn merge_update_path(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        sender: LeafIndex,
        path: &UpdatePath,
        new_members: &[LeafIndex],
    ) -> Result<()> {
        self.check_suite(cs)?;
        if self.leaf(sender).is_none() {
            self.check_leaf_in_range(sender)?;
            return Err(ProtocolError::BlankLeaf(sender.0).into());
        }
        let steps = self.filtered_direct_path(sender)?;
        check_length(&steps, path)?;
        for (step, node) in steps.iter().zip(&path.nodes) {
            let expected = self.resolution_len_excluding(step.copath_child, new_members)?;
            if node.encrypted_path_secret.len() != expected {
                return Err(ProtocolError::UpdatePathCiphertextCountMismatch {
                    node: step.node.0,
                    expected: u32::try_from(expected).unwrap_or(u32::MAX),
                    found: u32::try_from(node.encrypted_path_secret.len()).unwrap_or(u32::MAX),
                }
                .into());
            }
        }
        self.atomically(|tree| {
            tree.blank_direct_path(sender)?;
            for (step, node) in steps.iter().zip(&path.nodes) {
                let parent = ParentNode {
                    encryption_key: node.encryption_key.clone(),
                    parent_hash: Vec::new(),
                    unmerged_leaves: Vec::new(),
                };
                tree.set_parent(step.node, parent)?;
            }
            let parent_hash = tree.set_path_parent_hashes(cs, sender)?;
            match &path.leaf_node.leaf_node_source {
                LeafNodeSource::Commit(ph) if *ph == parent_hash => {}
                _ => return Err(ProtocolError::LeafParentHashMismatch(sender.0).into()),
            }
            tree.set_leaf(sender, path.leaf_node.clone())
        })
    }

    /// Decrypts the path secret of `path`, sent by `sender`, meant for the
    /// member whose keys are `keys` (RFC 9420 §7.5): finds the lowest node of
    /// the sender's filtered direct path whose copath child covers the
    /// member, decrypts its path secret with a key the member holds in that
    /// child's resolution (without `new_members`), derives the path secrets
    /// and key pairs up to the root, checks each public key against the
    /// UpdatePath's, and stores the private keys in `keys`, deleting the keys
    /// of the nodes the path blanked or replaced.
    ///
    /// Call it on the tree after [`RatchetTree::merge_update_path`], with the
    /// provisional GroupContext of the new epoch. On failure `keys` is unchanged.
    pub fn decrypt_update_path(
        &self,
        cs: &dyn CipherSuiteProvider,
        keys: &mut TreePrivateKeys,
        sender: LeafIndex,
        path: &UpdatePath,
        group_context: &GroupContext,
        new_members: &[LeafIndex],
    ) -> Result<PathDecryption> {
        self.check_suite(cs)?;
        let me = keys.leaf_index();
        if me == sender {
            return Err(
                ApiError::InvalidArgument("a committer does not decrypt its own path").into(),
            );
        }
        let steps = self.filtered_direct_path(sender)?;
        check_length(&steps, path)?;
        let k = steps
            .iter()
            .position(|s| s.copath_child.leaf_range().contains(&me.0))
            .ok_or(ApiError::InvalidArgument(
                "the member is not below the sender's path",
            ))?;
        let (step, node) = match (steps.get(k), path.nodes.get(k)) {
            (Some(s), Some(n)) => (s, n),
            _ => return Err(crate::Error::Internal("path step out of range")),
        };
        let resolution = self.resolution_excluding(step.copath_child, new_members)?;
        let (j, holder, key) = resolution
            .iter()
            .enumerate()
            .find_map(|(j, n)| keys.key(*n).map(|key| (j, *n, key)))
            .ok_or(ApiError::InvalidArgument(
                "no private key in the copath resolution",
            ))?;
        let ciphertext = node.encrypted_path_secret.get(j).ok_or(
            ProtocolError::UpdatePathCiphertextCountMismatch {
                node: step.node.0,
                expected: u32::try_from(resolution.len()).unwrap_or(u32::MAX),
                found: u32::try_from(node.encrypted_path_secret.len()).unwrap_or(u32::MAX),
            },
        )?;
        let context = group_context.to_bytes()?;
        // The sender encrypted to the public key this tree holds for the
        // node (RFC 9420 §7.6): given to HPKE, it need not be recomputed.
        let plaintext = match self.encryption_key(holder) {
            Some(public) => {
                decrypt_with_label_for(cs, key, public, UPDATE_PATH_LABEL, &context, &ciphertext)?
            }
            None => decrypt_with_label(cs, key, UPDATE_PATH_LABEL, &context, &ciphertext)?,
        };
        let path_secret = Secret::from(plaintext);
        let derived = derive_path_keys(cs, path_secret, steps.len() - k)?;
        for ((step, node), (_, public)) in steps
            .iter()
            .skip(k)
            .zip(path.nodes.iter().skip(k))
            .zip(&derived.keys)
        {
            if *public != node.encryption_key {
                return Err(ProtocolError::UpdatePathPublicKeyMismatch(step.node.0).into());
            }
        }
        for n in self.size.direct_path(sender.node()) {
            keys.remove_key(n);
        }
        let mut secrets = derived.secrets.into_iter();
        let path_secret = secrets
            .next()
            .ok_or(crate::Error::Internal("empty derived path"))?;
        for (step, (private, _)) in steps.iter().skip(k).zip(derived.keys) {
            keys.set_key(step.node, private);
        }
        Ok(PathDecryption {
            node: step.node,
            path_secret,
            commit_secret: derived.next,
        })
    }
}
