//! Resolutions (RFC 9420 §4.1.1) and filtered direct paths (§4.1.2).
//!
//! Blank subtrees of level 3 or more are recognised in O(log N) from the
//! occupancy sets (smaller ones are descended), so a resolution costs
//! O(|resolution| × log N) and a filtered direct path O(log² N), whatever
//! the size of the tree.

use super::RatchetTree;
use crate::error::{ApiError, Result};
use crate::messages::Node;
use crate::tree_math::{LeafIndex, NodeIndex};

/// One node of a filtered direct path with the child of it on the copath.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FilteredPathNode {
    /// The node of the direct path.
    pub node: NodeIndex,
    /// Its child that is not on the path: the node whose resolution the path
    /// secret of `node` is encrypted to (RFC 9420 §7.5).
    pub copath_child: NodeIndex,
}

/// Blank subtrees from this level up are skipped whole in resolutions.
const PRUNE_LEVEL: u32 = 3;

/// The leaf indices of `leaves`, sorted, for binary search.
fn sorted_leaves(leaves: &[LeafIndex]) -> Vec<u32> {
    let mut v: Vec<u32> = leaves.iter().map(|l| l.0).collect();
    v.sort_unstable();
    v
}

impl RatchetTree {
    /// The resolution of `node` (RFC 9420 §4.1.1): the non-blank nodes that
    /// cover its subtree, left first, each non-blank node followed by its
    /// unmerged leaves.
    pub fn resolution(&self, node: NodeIndex) -> Result<Vec<NodeIndex>> {
        if !self.size.contains(node) {
            return Err(ApiError::InvalidArgument("node index outside the tree").into());
        }
        let mut out = Vec::new();
        self.resolve(node, usize::MAX, &mut out);
        Ok(out)
    }

    /// The resolution of `node` without the leaves of `excluded`: the nodes
    /// a path secret is encrypted to when `excluded` were added by the same
    /// commit (RFC 9420 §7.5, §7.6).
    pub fn resolution_excluding(
        &self,
        node: NodeIndex,
        excluded: &[LeafIndex],
    ) -> Result<Vec<NodeIndex>> {
        let mut res = self.resolution(node)?;
        if !excluded.is_empty() {
            let excluded = sorted_leaves(excluded);
            res.retain(|n| {
                n.leaf()
                    .is_none_or(|l| excluded.binary_search(&l.0).is_err())
            });
        }
        Ok(res)
    }

    /// The length of [`Self::resolution_excluding`], without building it:
    /// what an UpdatePath's ciphertext count is checked against (RFC 9420 §7.6).
    pub(crate) fn resolution_len_excluding(
        &self,
        node: NodeIndex,
        excluded: &[LeafIndex],
    ) -> Result<usize> {
        if !self.size.contains(node) {
            return Err(ApiError::InvalidArgument("node index outside the tree").into());
        }
        Ok(self.count_resolution(node, &sorted_leaves(excluded)))
    }

    /// The number of nodes of the resolution of `node` that are not leaves
    /// of `excluded` (sorted leaf indices).
    fn count_resolution(&self, node: NodeIndex, excluded: &[u32]) -> usize {
        let kept = |l: u32| usize::from(excluded.binary_search(&l).is_err());
        if node.is_leaf() {
            // Whether the slot is filled is enough: the node is not read.
            return if self.is_occupied(node) {
                kept(node.0 / 2)
            } else {
                0
            };
        }
        match self.node(node) {
            Some(Node::Parent(p)) => 1 + p.unmerged_leaves.iter().map(|&l| kept(l)).sum::<usize>(),
            Some(Node::Leaf(_)) => 0,
            None if self.prunable_blank(node) => 0,
            // A blank subtree with no parent node set: its resolution is its
            // occupied leaves, counted without descending.
            None if node.level() >= PRUNE_LEVEL && self.occupancy.no_parents_below(node) => {
                let range = node.leaf_range();
                let occupied = self.occupancy.occupied_leaf_count(range.clone());
                let lo = excluded.partition_point(|&l| l < range.start);
                let hi = excluded.partition_point(|&l| l < range.end);
                let dropped = excluded
                    .get(lo..hi)
                    .unwrap_or_default()
                    .iter()
                    .filter(|&&l| self.is_occupied(LeafIndex(l).node()))
                    .count();
                occupied - dropped.min(occupied)
            }
            None => match (node.left(), node.right()) {
                (Some(l), Some(r)) => {
                    self.count_resolution(l, excluded) + self.count_resolution(r, excluded)
                }
                _ => 0,
            },
        }
    }

    /// For a blank node: whether its subtree is known blank without
    /// descending. The occupancy sets are asked (O(log N)) only from level
    /// [`PRUNE_LEVEL`] up; below it, descending the at most
    /// 2^PRUNE_LEVEL - 1 nodes of a blank subtree is cheaper than asking.
    fn prunable_blank(&self, node: NodeIndex) -> bool {
        node.level() >= PRUNE_LEVEL && self.occupancy.subtree_is_blank(node)
    }

    /// Appends the resolution of `node` to `out`, stopping once `out` holds
    /// more than `cap` entries. Returns `false` if it stopped early.
    pub(super) fn resolve(&self, node: NodeIndex, cap: usize, out: &mut Vec<NodeIndex>) -> bool {
        if out.len() > cap {
            return false;
        }
        if node.is_leaf() {
            // Whether the slot is filled is enough: the node is not read.
            if self.is_occupied(node) {
                out.push(node);
            }
            return out.len() <= cap;
        }
        match self.node(node) {
            Some(n) => {
                out.push(node);
                if let Node::Parent(p) = n {
                    // Entries lie below `node` (a tree invariant), so 2 * leaf fits.
                    out.extend(p.unmerged_leaves.iter().map(|&l| LeafIndex(l).node()));
                }
                out.len() <= cap
            }
            None if self.prunable_blank(node) => true,
            None => match (node.left(), node.right()) {
                (Some(l), Some(r)) => self.resolve(l, cap, out) && self.resolve(r, cap, out),
                _ => true,
            },
        }
    }

    /// Whether the resolution of `node` is empty, i.e. its whole subtree is blank.
    pub fn resolution_is_empty(&self, node: NodeIndex) -> bool {
        self.is_blank(node) && self.occupancy.subtree_is_blank(node)
    }

    /// The filtered direct path of `leaf` (RFC 9420 §4.1.2), from the leaf's
    /// parent up to the root: its direct path without the nodes whose copath
    /// child has an empty resolution. Each entry carries that copath child.
    pub fn filtered_direct_path(&self, leaf: LeafIndex) -> Result<Vec<FilteredPathNode>> {
        self.check_leaf_in_range(leaf)?;
        let mut out = Vec::new();
        let mut child = leaf.node();
        for node in self.size.direct_path(leaf.node()) {
            if let Some(copath_child) = self.size.sibling(child)
                && !self.resolution_is_empty(copath_child)
            {
                out.push(FilteredPathNode { node, copath_child });
            }
            child = node;
        }
        Ok(out)
    }

    /// The direct path of `leaf` (RFC 9420 §4.1.2): its ancestors from its parent to the root.
    pub fn direct_path(&self, leaf: LeafIndex) -> Result<Vec<NodeIndex>> {
        self.check_leaf_in_range(leaf)?;
        Ok(self.size.direct_path(leaf.node()).collect())
    }
}
