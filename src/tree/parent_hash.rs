//! Parent hashes (RFC 9420 §7.9): computing them along a filtered direct
//! path, as a committer does and as a receiver re-does to check a commit, and
//! verifying a whole tree when joining (§7.9.2).
//!
//! Whole-tree verification is "top down": for each non-blank parent P and
//! each child C of P, the only node D that can link to P through C is fixed by
//! the unmerged-leaves rule (the resolution of C must be D plus P's unmerged
//! leaves below C), so it is found from a resolution capped at that size and
//! checked with one parent-hash computation. P is parent-hash valid if exactly
//! one of its two sides links. Because P is non-blank, a link to P can only
//! come from D's first non-blank ancestor, so each link belongs to exactly one
//! chain and the check that every parent has exactly one incoming link is the
//! check that it is covered by exactly one chain. The cost is O((N + U) log N)
//! for N nodes and U unmerged-leaf entries, plus one hash per link.

use super::RatchetTree;
use crate::codec::{Encode, write_opaque};
use crate::crypto::CipherSuiteProvider;
use crate::error::{ApiError, ProtocolError, Result};
use crate::messages::{LeafNodeSource, Node};
use crate::tree_math::{LeafIndex, NodeIndex};

impl RatchetTree {
    /// The parent hash of the parent node `parent` with copath child
    /// `copath_child` (RFC 9420 §7.9): the hash of
    /// `ParentHashInput { encryption_key; parent_hash<V>; original_sibling_tree_hash<V> }`,
    /// where the original sibling tree hash is the tree hash of `copath_child`
    /// with the parent's unmerged leaves blanked and removed from every
    /// `unmerged_leaves` list.
    pub fn parent_hash(
        &self,
        cs: &dyn CipherSuiteProvider,
        parent: NodeIndex,
        copath_child: NodeIndex,
    ) -> Result<Vec<u8>> {
        self.check_suite(cs)?;
        let p = self.parent_node(parent).ok_or(ApiError::InvalidArgument(
            "parent hash of a blank or leaf node",
        ))?;
        if parent.left() != Some(copath_child) && parent.right() != Some(copath_child) {
            return Err(
                ApiError::InvalidArgument("copath child is not a child of the parent").into(),
            );
        }
        let mut excluded: Vec<u32> = p.unmerged_leaves.clone();
        excluded.sort_unstable();
        let sibling_hash = self.hash_excluding(cs, copath_child, &excluded)?;
        let mut input = Vec::new();
        p.encryption_key.encode(&mut input)?;
        write_opaque(&mut input, &p.parent_hash)?;
        write_opaque(&mut input, &sibling_hash)?;
        Ok(cs.hash(&input))
    }

    /// Sets the `parent_hash` fields along the filtered direct path of
    /// `leaf`, from the root down, and returns the parent hash the leaf itself
    /// must carry (RFC 9420 §7.9, §7.9.1).
    ///
    /// Call it after the path's new parent nodes are in place (TreeKEM, §7.5
    /// step 3): a committer puts the result in its new leaf node before
    /// signing it; a receiver compares it with the committer's leaf (§7.9.2).
    /// Every node of the filtered direct path must be non-blank. On failure
    /// the tree is unchanged.
    pub fn set_path_parent_hashes(
        &mut self,
        cs: &dyn CipherSuiteProvider,
        leaf: LeafIndex,
    ) -> Result<Vec<u8>> {
        self.check_suite(cs)?;
        let path = self.filtered_direct_path(leaf)?;
        self.atomically(|tree| {
            let mut above = Vec::new();
            for step in path.iter().rev() {
                tree.set_parent_hash_field(step.node, above)?;
                above = tree.parent_hash(cs, step.node, step.copath_child)?;
            }
            Ok(above)
        })
    }

    /// Verifies that every non-blank parent node is parent-hash valid, i.e.
    /// covered by exactly one parent-hash chain from below (RFC 9420 §7.9.2),
    /// as a new member must when joining. Fails with
    /// [`ProtocolError::ParentHashInvalid`] naming the first node that is not.
    pub fn verify_parent_hashes(&self, cs: &dyn CipherSuiteProvider) -> Result<()> {
        self.check_suite(cs)?;
        for p in self.occupancy.occupied_parents() {
            let (Some(left), Some(right)) = (p.left(), p.right()) else {
                return Err(ProtocolError::ParentHashInvalid(p.0).into());
            };
            let links = u8::from(self.links_through(cs, p, left, right)?)
                + u8::from(self.links_through(cs, p, right, left)?);
            if links != 1 {
                return Err(ProtocolError::ParentHashInvalid(p.0).into());
            }
        }
        Ok(())
    }

    /// Whether some node D below `child` has a parent hash valid with respect
    /// to `parent`, whose other child is `sibling` (RFC 9420 §7.9.2).
    fn links_through(
        &self,
        cs: &dyn CipherSuiteProvider,
        parent: NodeIndex,
        child: NodeIndex,
        sibling: NodeIndex,
    ) -> Result<bool> {
        let Some(p) = self.parent_node(parent) else {
            return Ok(false);
        };
        // P's unmerged leaves below C, as node indices.
        let range = child.leaf_range();
        let mut unmerged: Vec<NodeIndex> = p
            .unmerged_leaves
            .iter()
            .filter(|l| range.contains(l))
            .map(|&l| LeafIndex(l).node())
            .collect();
        unmerged.sort_unstable();
        // The resolution of C must be exactly D plus those leaves.
        let want = unmerged.len() + 1;
        let mut res = Vec::with_capacity(want);
        if !self.resolve(child, want, &mut res) || res.len() != want {
            return Ok(false);
        }
        res.sort_unstable();
        let mut d = None;
        let mut u = unmerged.iter().peekable();
        for n in res {
            if u.peek() == Some(&&n) {
                u.next();
            } else if d.replace(n).is_some() {
                return Ok(false);
            }
        }
        let (Some(d), None) = (d, u.next()) else {
            return Ok(false);
        };
        let d_parent_hash = match self.node(d) {
            Some(Node::Leaf(l)) => match &l.leaf_node_source {
                LeafNodeSource::Commit(ph) => ph,
                _ => return Ok(false),
            },
            Some(Node::Parent(q)) => &q.parent_hash,
            None => return Ok(false),
        };
        Ok(*d_parent_hash == self.parent_hash(cs, parent, sibling)?)
    }
}
