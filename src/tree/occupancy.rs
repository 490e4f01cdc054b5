//! Which leaves and parent nodes are occupied, as ordered sets, so that the
//! questions the tree operations ask take O(log N) whatever the tree's size:
//! the leftmost blank leaf (RFC 9420 §12.1.1), the rightmost member (§12.1.3
//! truncation), and whether a subtree is all blank (§4.1.1 resolutions, §4.1.2
//! filtered direct paths).

use std::collections::BTreeSet;

use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

/// Occupied leaves, blank leaves and occupied parents of one tree.
#[derive(Clone, Debug, Default)]
pub(super) struct Occupancy {
    /// Leaf indices of non-blank leaves.
    leaves: BTreeSet<u32>,
    /// Leaf indices of blank leaves inside the tree.
    blank_leaves: BTreeSet<u32>,
    /// Node indices of non-blank parent nodes.
    parents: BTreeSet<u32>,
}

impl Occupancy {
    /// The occupancy of an all-blank tree of `size` leaves.
    pub(super) fn new(size: TreeSize) -> Self {
        Self {
            blank_leaves: (0..size.leaf_count()).collect(),
            ..Self::default()
        }
    }

    /// Records whether the node at `at` is occupied.
    pub(super) fn set(&mut self, at: NodeIndex, occupied: bool) {
        match (at.leaf(), occupied) {
            (Some(l), true) => {
                self.blank_leaves.remove(&l.0);
                self.leaves.insert(l.0);
            }
            (Some(l), false) => {
                self.leaves.remove(&l.0);
                self.blank_leaves.insert(l.0);
            }
            (None, true) => {
                self.parents.insert(at.0);
            }
            (None, false) => {
                self.parents.remove(&at.0);
            }
        }
    }

    /// Follows a change of tree size. When shrinking, the dropped part must
    /// already be blank; when growing, the new leaves are blank.
    pub(super) fn resize(&mut self, from: TreeSize, to: TreeSize) {
        if to > from {
            self.blank_leaves.extend(from.leaf_count()..to.leaf_count());
        } else {
            let n = to.leaf_count();
            self.blank_leaves.split_off(&n);
            self.leaves.split_off(&n);
            self.parents.split_off(&to.node_count());
        }
    }

    /// Whether every node of the subtree under `node` is blank.
    pub(super) fn subtree_is_blank(&self, node: NodeIndex) -> bool {
        let leaves = node.leaf_range();
        if self.leaves.range(leaves.clone()).next().is_some() {
            return false;
        }
        if node.is_leaf() {
            return true;
        }
        // The subtree spans node indices 2 * first leaf ..= 2 * last leaf.
        let first = leaves.start.saturating_mul(2);
        let last = leaves.end.saturating_sub(1).saturating_mul(2);
        self.parents.range(first..=last).next().is_none()
    }

    /// The leftmost blank leaf.
    pub(super) fn leftmost_blank_leaf(&self) -> Option<LeafIndex> {
        self.blank_leaves.first().copied().map(LeafIndex)
    }

    /// The rightmost non-blank leaf.
    pub(super) fn rightmost_occupied_leaf(&self) -> Option<LeafIndex> {
        self.leaves.last().copied().map(LeafIndex)
    }

    /// The non-blank leaves in increasing order.
    pub(super) fn occupied_leaves(&self) -> impl Iterator<Item = LeafIndex> + '_ {
        self.leaves.iter().copied().map(LeafIndex)
    }

    /// The non-blank leaves with an index in `range`, in increasing order.
    /// Whether no parent node strictly inside the subtree of `node` (a
    /// parent node) is occupied.
    pub(super) fn no_parents_below(&self, node: NodeIndex) -> bool {
        let leaves = node.leaf_range();
        let first = leaves.start.saturating_mul(2);
        let last = leaves.end.saturating_sub(1).saturating_mul(2);
        self.parents.range(first..=last).all(|&p| p == node.0)
    }

    /// The number of occupied leaves in `range`: the range's length less its
    /// blank leaves (counted one by one: few, in a tree of members).
    pub(super) fn occupied_leaf_count(&self, range: core::ops::Range<u32>) -> usize {
        let range = range.start..range.end.max(range.start);
        let blank = self.blank_leaves.range(range.clone()).count();
        (range.end - range.start) as usize - blank.min((range.end - range.start) as usize)
    }

    pub(super) fn occupied_leaves_in(
        &self,
        range: core::ops::Range<u32>,
    ) -> impl Iterator<Item = LeafIndex> + '_ {
        // An empty range (end before start would make `range` panic).
        let range = range.start..range.end.max(range.start);
        self.leaves.range(range).copied().map(LeafIndex)
    }

    /// The non-blank parent nodes in increasing order.
    pub(super) fn occupied_parents(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.parents.iter().copied().map(NodeIndex)
    }
}
