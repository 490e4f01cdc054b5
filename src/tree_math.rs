//! Array-based tree arithmetic (RFC 9420 §4.2, Appendix C).
//!
//! Nodes of a tree with `n` leaves are numbered `0 .. 2n - 1` left to right;
//! leaves sit at even indices, parents at odd ones. RFC 9420 trees are always
//! full (`n` is a power of two), so parent arithmetic needs no tree size except
//! to find the root. Indices are typed so a leaf number is never mistaken for
//! a node number.
//!
//! ```
//! use tessera::tree_math::{LeafIndex, NodeIndex, TreeSize};
//! let size = TreeSize::new(4).unwrap();
//! assert_eq!(size.root(), NodeIndex(3));
//! let path: Vec<_> = size.direct_path(NodeIndex::from(LeafIndex(0))).collect();
//! assert_eq!(path, [NodeIndex(1), NodeIndex(3)]);
//! ```

/// The index of a leaf among the leaves (0, 1, 2, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LeafIndex(pub u32);

/// The index of a node in the array representation (leaves even, parents odd).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeIndex(pub u32);

/// The size of a full tree, counted in leaves: always a power of two, at most 2^31.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TreeSize(u32);

impl From<LeafIndex> for NodeIndex {
    /// Node `2 * leaf`. A leaf index of 2^31 or more (possible on the wire,
    /// in no tree) maps to `u32::MAX`, which no tree contains either: never
    /// to a wrapped-around node of a real leaf.
    fn from(leaf: LeafIndex) -> Self {
        NodeIndex(leaf.0.saturating_mul(2))
    }
}

impl LeafIndex {
    /// The node index of this leaf.
    pub fn node(self) -> NodeIndex {
        NodeIndex::from(self)
    }
}

impl NodeIndex {
    /// Whether this node is a leaf (even index).
    pub fn is_leaf(self) -> bool {
        self.0 & 1 == 0
    }

    /// The leaf index, if this node is a leaf.
    pub fn leaf(self) -> Option<LeafIndex> {
        self.is_leaf().then_some(LeafIndex(self.0 >> 1))
    }

    /// The level of the node: 0 for leaves, the number of trailing one bits otherwise.
    pub fn level(self) -> u32 {
        self.0.trailing_ones()
    }

    /// The left child, or `None` for a leaf.
    pub fn left(self) -> Option<NodeIndex> {
        let k = self.level();
        (k > 0).then(|| NodeIndex(self.0 ^ (1 << (k - 1))))
    }

    /// The right child, or `None` for a leaf.
    pub fn right(self) -> Option<NodeIndex> {
        let k = self.level();
        (k > 0).then(|| NodeIndex(self.0 ^ (3 << (k - 1))))
    }

    /// The parent in an unbounded full tree (callers check against the root).
    /// Shifts are checked: `u32::MAX` has level 32.
    fn parent_unbounded(self) -> NodeIndex {
        let k = self.level();
        let b = shr(self.0, k + 1) & 1;
        NodeIndex((self.0 | shl(1, k)) ^ shl(b, k + 1))
    }

    /// The sibling in an unbounded full tree.
    fn sibling_unbounded(self) -> NodeIndex {
        let p = self.parent_unbounded();
        if self.0 < p.0 {
            // Right child of p.
            NodeIndex(p.0 ^ (3 << (p.level() - 1)))
        } else {
            NodeIndex(p.0 ^ (1 << (p.level() - 1)))
        }
    }

    /// The leaves below this node, as a half-open range of leaf indices.
    pub fn leaf_range(self) -> core::ops::Range<u32> {
        let k = self.level();
        // Checked shifts: the root of a 2^31-leaf tree has level 31 (a shift
        // by 32), `u32::MAX` level 32 (in no tree; its range is empty).
        let start = shl(shr(self.0, k + 1), k);
        start..start.saturating_add(shl(1, k))
    }
}

/// `x << k`, 0 once every bit is shifted out (`k >= 32`), where `<<` would
/// overflow.
fn shl(x: u32, k: u32) -> u32 {
    x.checked_shl(k).unwrap_or(0)
}

/// `x >> k`, 0 once every bit is shifted out (`k >= 32`).
fn shr(x: u32, k: u32) -> u32 {
    x.checked_shr(k).unwrap_or(0)
}

impl TreeSize {
    /// A tree of `leaves` leaves; `None` unless `leaves` is a power of two no larger than 2^31.
    pub fn new(leaves: u32) -> Option<Self> {
        (leaves.is_power_of_two() && leaves <= 1 << 31).then_some(Self(leaves))
    }

    /// The smallest full tree that holds `leaves` leaves (at least one).
    pub fn covering(leaves: u32) -> Option<Self> {
        leaves
            .max(1)
            .checked_next_power_of_two()
            .and_then(Self::new)
    }

    /// Number of leaves.
    pub fn leaf_count(self) -> u32 {
        self.0
    }

    /// Number of nodes, `2n - 1`.
    pub fn node_count(self) -> u32 {
        // n <= 2^31, so 2n - 1 <= u32::MAX.
        self.0.wrapping_mul(2).wrapping_sub(1)
    }

    /// The root node.
    pub fn root(self) -> NodeIndex {
        NodeIndex(self.0 - 1)
    }

    /// Whether `node` lies inside this tree.
    pub fn contains(self, node: NodeIndex) -> bool {
        node.0 < self.node_count()
    }

    /// Whether `leaf` lies inside this tree.
    pub fn contains_leaf(self, leaf: LeafIndex) -> bool {
        leaf.0 < self.0
    }

    /// The parent of `node`, or `None` for the root or a node outside the tree.
    pub fn parent(self, node: NodeIndex) -> Option<NodeIndex> {
        (self.contains(node) && node != self.root()).then(|| node.parent_unbounded())
    }

    /// The sibling of `node`, or `None` for the root or a node outside the tree.
    pub fn sibling(self, node: NodeIndex) -> Option<NodeIndex> {
        (self.contains(node) && node != self.root()).then(|| node.sibling_unbounded())
    }

    /// The direct path of `node`: its ancestors from its parent up to the root.
    pub fn direct_path(self, node: NodeIndex) -> impl Iterator<Item = NodeIndex> {
        core::iter::successors(self.parent(node), move |&n| self.parent(n))
    }

    /// The copath of `node`: the sibling of `node` and of each ancestor below the root.
    pub fn copath(self, node: NodeIndex) -> impl Iterator<Item = NodeIndex> {
        core::iter::successors(Some(node), move |&n| self.parent(n))
            .filter_map(move |n| self.sibling(n))
    }

    /// The lowest common ancestor of two nodes (RFC 9420 Appendix C).
    pub fn common_ancestor(self, a: NodeIndex, b: NodeIndex) -> NodeIndex {
        let (la, lb) = (a.level() + 1, b.level() + 1);
        if la <= lb && shr(a.0, lb) == shr(b.0, lb) {
            return b;
        }
        if lb <= la && shr(a.0, la) == shr(b.0, la) {
            return a;
        }
        let (mut x, mut y, mut k) = (a.0, b.0, 0u32);
        while x != y {
            x >>= 1;
            y >>= 1;
            k += 1;
        }
        // 1 <= k <= 32 here: a != b, or a branch above would have returned.
        NodeIndex(shl(x, k).wrapping_add(shl(1, k - 1)).wrapping_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tree() {
        let t = TreeSize::new(8).unwrap();
        assert_eq!(t.root(), NodeIndex(7));
        assert_eq!(t.node_count(), 15);
        assert_eq!(NodeIndex(7).left(), Some(NodeIndex(3)));
        assert_eq!(NodeIndex(7).right(), Some(NodeIndex(11)));
        assert_eq!(t.parent(NodeIndex(0)), Some(NodeIndex(1)));
        assert_eq!(t.parent(NodeIndex(11)), Some(NodeIndex(7)));
        assert_eq!(t.parent(NodeIndex(7)), None);
        assert_eq!(t.sibling(NodeIndex(3)), Some(NodeIndex(11)));
        let cp: Vec<_> = t.copath(NodeIndex(4)).collect();
        assert_eq!(cp, [NodeIndex(6), NodeIndex(1), NodeIndex(11)]);
        assert_eq!(NodeIndex(11).leaf_range(), 4..8);
        assert_eq!(NodeIndex((1 << 31) - 1).leaf_range(), 0..1 << 31);
        assert_eq!(t.common_ancestor(NodeIndex(0), NodeIndex(6)), NodeIndex(3));
        assert_eq!(t.common_ancestor(NodeIndex(2), NodeIndex(8)), NodeIndex(7));
        assert_eq!(t.common_ancestor(NodeIndex(4), NodeIndex(6)), NodeIndex(5));
        assert_eq!(t.common_ancestor(NodeIndex(4), NodeIndex(4)), NodeIndex(4));
    }

    /// Every function is total on u32: indices from the wire (a sender's
    /// leaf index, a Remove's, unmerged leaves) can be anything, and overflow
    /// must neither panic nor wrap onto a real node.
    #[test]
    fn extreme_indices_neither_panic_nor_alias() {
        let big = TreeSize::new(1 << 31).unwrap();
        for leaf in [1 << 31, (1 << 31) + 1, u32::MAX] {
            let node = LeafIndex(leaf).node();
            assert_eq!(node, NodeIndex(u32::MAX), "{leaf}");
            assert!(!big.contains(node));
            assert!(!big.contains_leaf(LeafIndex(leaf)));
            assert_eq!(big.parent(node), None);
            assert_eq!(big.sibling(node), None);
            assert_eq!(big.direct_path(node).count(), 0);
        }
        assert_eq!(LeafIndex((1 << 31) - 1).node(), NodeIndex(u32::MAX - 1));
        let max = NodeIndex(u32::MAX);
        assert_eq!(max.level(), 32);
        assert!(max.leaf_range().is_empty());
        assert_eq!(max.left(), Some(NodeIndex(u32::MAX ^ (1 << 31))));
        let _ = (max.right(), max.leaf(), max.parent_unbounded());
        // The two halves of the largest tree meet at its root.
        let root = big.root();
        assert_eq!(big.common_ancestor(NodeIndex(0), NodeIndex(1 << 31)), root);
        assert_eq!(
            big.common_ancestor(NodeIndex(u32::MAX - 1), NodeIndex(0)),
            root
        );
        let _ = big.common_ancestor(max, NodeIndex(0));
        let _ = big.common_ancestor(max, max);
    }

    #[test]
    fn sizes() {
        assert!(TreeSize::new(0).is_none());
        assert!(TreeSize::new(3).is_none());
        assert_eq!(TreeSize::covering(5).unwrap().leaf_count(), 8);
        assert_eq!(TreeSize::new(1 << 31).unwrap().node_count(), u32::MAX);
        assert_eq!(TreeSize::new(1).unwrap().root(), NodeIndex(0));
    }
}
