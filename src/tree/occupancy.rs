//! Which leaves and parent nodes are occupied, as bit sets with counts per
//! chunk, so that the questions the tree operations ask stay cheap whatever
//! the tree's size:
//! the leftmost blank leaf (RFC 9420 §12.1.1), the rightmost member (§12.1.3
//! truncation), and whether a subtree is all blank (§4.1.1 resolutions, §4.1.2
//! filtered direct paths).

use super::bitset::CowBitSet;
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

/// Occupied leaves and occupied parents of one tree.
///
/// Copy-on-write bit sets: staging a commit copies the tree, and with it
/// this, in O(N / 4096); a change copies the 512-byte chunk it touches.
#[derive(Clone, Debug, Default)]
pub(super) struct Occupancy {
    /// Leaf indices of non-blank leaves, below the leaf count.
    leaves: CowBitSet,
    /// Node indices of non-blank parent nodes, below the node count.
    parents: CowBitSet,
}

impl Occupancy {
    /// The occupancy of an all-blank tree of `size` leaves.
    pub(super) fn new(size: TreeSize) -> Self {
        Self {
            leaves: CowBitSet::new(size.leaf_count()),
            parents: CowBitSet::new(size.node_count()),
        }
    }

    /// Records whether the node at `at` is occupied.
    pub(super) fn set(&mut self, at: NodeIndex, occupied: bool) {
        match at.leaf() {
            Some(l) => self.leaves.set(l.0, occupied),
            None => self.parents.set(at.0, occupied),
        }
    }

    /// Follows a change of tree size. When shrinking, the dropped part must
    /// already be blank; when growing, the new leaves are blank.
    pub(super) fn resize(&mut self, _from: TreeSize, to: TreeSize) {
        self.leaves.resize(to.leaf_count());
        self.parents.resize(to.node_count());
    }

    /// Whether every node of the subtree under `node` is blank.
    pub(super) fn subtree_is_blank(&self, node: NodeIndex) -> bool {
        let leaves = node.leaf_range();
        if self.leaves.count(leaves.clone()) != 0 {
            return false;
        }
        if node.is_leaf() {
            return true;
        }
        self.parents.count(subtree_nodes(leaves)) == 0
    }

    /// The leftmost blank leaf.
    pub(super) fn leftmost_blank_leaf(&self) -> Option<LeafIndex> {
        self.leaves.first_absent().map(LeafIndex)
    }

    /// The rightmost non-blank leaf.
    pub(super) fn rightmost_occupied_leaf(&self) -> Option<LeafIndex> {
        self.leaves.last().map(LeafIndex)
    }

    /// The non-blank leaves in increasing order.
    pub(super) fn occupied_leaves(&self) -> impl Iterator<Item = LeafIndex> + '_ {
        self.leaves.ones(0..u32::MAX).map(LeafIndex)
    }

    /// Whether no parent node strictly inside the subtree of `node` (a
    /// parent node) is occupied.
    pub(super) fn no_parents_below(&self, node: NodeIndex) -> bool {
        let below = self.parents.count(subtree_nodes(node.leaf_range()));
        below == u32::from(self.parents.contains(node.0))
    }

    /// The number of occupied leaves in `range`.
    pub(super) fn occupied_leaf_count(&self, range: core::ops::Range<u32>) -> usize {
        self.leaves.count(range) as usize
    }

    /// The non-blank leaves with an index in `range`, in increasing order.
    pub(super) fn occupied_leaves_in(
        &self,
        range: core::ops::Range<u32>,
    ) -> impl Iterator<Item = LeafIndex> + '_ {
        self.leaves.ones(range).map(LeafIndex)
    }

    /// The non-blank parent nodes in increasing order.
    pub(super) fn occupied_parents(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.parents.ones(0..u32::MAX).map(NodeIndex)
    }
}

/// The node indices of the subtree whose leaves are `leaves`: 2 * first
/// leaf ..= 2 * last leaf (RFC 9420 §4.1, array representation).
fn subtree_nodes(leaves: core::ops::Range<u32>) -> core::ops::Range<u32> {
    let first = leaves.start.saturating_mul(2);
    let last = leaves.end.saturating_sub(1).saturating_mul(2);
    first..last.saturating_add(1)
}
