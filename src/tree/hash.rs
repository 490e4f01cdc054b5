//! Tree hashes (RFC 9420 §7.8), cached per subtree.
//!
//! The tree hash of every node of level 2 or more (a subtree of at least
//! four leaves) is kept in a cell that is filled on first use and emptied
//! when the node or anything below it changes. The hashes of leaves and of
//! level-1 nodes are not kept: recomputing one costs one or three hash
//! calls, and not keeping them makes the cache a quarter of the nodes, so
//! that a wide tree of blank nodes (one byte each on the wire) costs little
//! memory once hashed. A filled cell implies that the cells of the cached
//! nodes below it are filled (a hash is computed from its children's); a
//! change empties the cells of the node's ancestors: after changing one leaf
//! or one direct path, only the O(log N) nodes above the change are
//! rehashed. The cells are shared copy-on-write between copies of a tree.

use std::sync::{Arc, OnceLock};

use super::RatchetTree;
use super::cow::CowVec;
use crate::codec::{Encode, write_opaque};
use crate::crypto::CipherSuiteProvider;
use crate::error::{ApiError, Error, Result};
use crate::messages::{LeafNode, Node, ParentNode};
use crate::tree_math::{NodeIndex, TreeSize};

/// Level of the smallest subtrees whose halves [`RatchetTree::warm_hashes`]
/// hashes in parallel (2^10 leaves: large enough that handing a half to
/// another thread costs far less than hashing it).
const PARALLEL_HASH_LEVEL: u32 = 10;

/// One cached tree hash per node of level 2 or more, in array order.
///
/// The cells are copy-on-write ([`CowVec`]): a copy of the tree shares them
/// until one side changes a node. A cell is filled through a shared
/// reference (the hash is computed on first use), so a cell shared by two
/// trees must stand for the same subtree in both: whenever a node changes,
/// every cached ancestor's cell is emptied in this tree's own copy of its
/// chunk, all the way to the root (O(log N)), even past a cell that is
/// already empty.
#[derive(Clone, Debug, Default)]
pub(super) struct HashCache {
    /// The number of nodes of the tree.
    nodes: usize,
    /// Cell `i` holds the hash of node `4i + 3` (the nodes of level 2 or
    /// more are exactly those with index 3 mod 4). Shared (`Arc`), so that
    /// copying a chunk of cells copies no hash.
    cells: CowVec<OnceLock<Arc<[u8]>>>,
}

/// The cell of node `at`, if its hash is kept.
fn slot(at: NodeIndex) -> Option<usize> {
    (at.0 & 3 == 3).then_some((at.0 >> 2) as usize)
}

impl HashCache {
    /// An empty cache for `n` nodes.
    pub(super) fn new(n: usize) -> Self {
        let mut cells = CowVec::default();
        cells.resize_with((n + 1) / 4, OnceLock::new);
        Self { nodes: n, cells }
    }

    /// Follows a change of the number of nodes (new cells are empty).
    pub(super) fn resize(&mut self, n: usize) {
        self.nodes = n;
        self.cells.resize_with((n + 1) / 4, OnceLock::new);
    }

    /// Forgets the hashes of `at` and its ancestors.
    pub(super) fn invalidate(&mut self, at: NodeIndex, size: TreeSize) {
        let mut cur = Some(at);
        while let Some(n) = cur {
            if let Some(cell) = slot(n).and_then(|i| self.cells.get_mut(i)) {
                cell.take();
            }
            cur = size.parent(n);
        }
    }

    /// The cell of `at`: `Some` if its hash is kept, `None` if not; an
    /// error if `at` is outside the tree.
    fn cell(&self, at: NodeIndex) -> Result<Option<&OnceLock<Arc<[u8]>>>> {
        if (at.0 as usize) >= self.nodes {
            return Err(Error::Api(ApiError::InvalidArgument(
                "node index outside the tree",
            )));
        }
        Ok(slot(at).and_then(|i| self.cells.get(i)))
    }
}

/// `TreeHashInput` of a leaf: `node_type = leaf(1)`, then
/// `LeafNodeHashInput { uint32 leaf_index; optional<LeafNode> leaf_node; }` (RFC 9420 §7.8).
pub(super) fn leaf_hash_input(leaf_index: u32, leaf: Option<&LeafNode>) -> Result<Vec<u8>> {
    let mut out = vec![1u8];
    leaf_index.encode(&mut out)?;
    leaf.encode(&mut out)?;
    Ok(out)
}

/// `TreeHashInput` of a parent: `node_type = parent(2)`, then
/// `ParentNodeHashInput { optional<ParentNode> parent_node; opaque left_hash<V>;
/// opaque right_hash<V>; }` (RFC 9420 §7.8).
pub(super) fn parent_hash_input(
    parent: Option<&ParentNode>,
    left: &[u8],
    right: &[u8],
) -> Result<Vec<u8>> {
    let mut out = vec![2u8];
    parent.encode(&mut out)?;
    write_opaque(&mut out, left)?;
    write_opaque(&mut out, right)?;
    Ok(out)
}

impl RatchetTree {
    /// The tree hash of the root: the value of `GroupContext.tree_hash` (RFC 9420 §7.8).
    pub fn tree_hash(&self, cs: &dyn CipherSuiteProvider) -> Result<Vec<u8>> {
        self.node_tree_hash(cs, self.size.root())
    }

    /// The tree hash of the subtree under `node` (RFC 9420 §7.8).
    pub fn node_tree_hash(&self, cs: &dyn CipherSuiteProvider, node: NodeIndex) -> Result<Vec<u8>> {
        self.check_suite(cs)?;
        self.cached_hash(cs, node).map(|h| h.to_vec())
    }

    /// The tree hash of `node`, from the cache or computed (and cached, at
    /// level 2 and above) from its children's. Recursion depth is at most
    /// the tree's depth (≤ 32).
    pub(super) fn cached_hash(
        &self,
        cs: &dyn CipherSuiteProvider,
        node: NodeIndex,
    ) -> Result<std::borrow::Cow<'_, [u8]>> {
        use std::borrow::Cow;
        let cell = self.hashes.cell(node)?;
        if let Some(h) = cell.and_then(OnceLock::get) {
            return Ok(Cow::Borrowed(h));
        }
        let input = match (node.left(), node.right()) {
            (Some(l), Some(r)) => {
                let lh = self.cached_hash(cs, l)?;
                let rh = self.cached_hash(cs, r)?;
                parent_hash_input(self.parent_node(node), &lh, &rh)?
            }
            _ => leaf_hash_input(node.0 / 2, self.leaf_at(node))?,
        };
        Ok(match cell {
            Some(cell) => Cow::Borrowed(cell.get_or_init(|| Arc::from(cs.hash(&input)))),
            None => Cow::Owned(cs.hash(&input)),
        })
    }

    /// Fills the cached hashes under `node`, the two halves of every subtree
    /// of level [`PARALLEL_HASH_LEVEL`] or more hashed in parallel (with the
    /// crate feature `parallel`): a new member hashes the whole tree it
    /// joins (RFC 9420 §12.4.3.1). The hashes are those [`Self::cached_hash`]
    /// computes; only the order in which cells are filled differs.
    pub(super) fn warm_hashes(&self, cs: &dyn CipherSuiteProvider, node: NodeIndex) -> Result<()> {
        let filled = self.hashes.cell(node)?.is_some_and(|c| c.get().is_some());
        if !filled
            && node.level() >= PARALLEL_HASH_LEVEL
            && let (Some(l), Some(r)) = (node.left(), node.right())
        {
            let (a, b) =
                crate::parallel::join(|| self.warm_hashes(cs, l), || self.warm_hashes(cs, r));
            a?;
            b?;
        }
        self.cached_hash(cs, node).map(|_| ())
    }

    /// The tree hash of `node` in the tree modified as for an original sibling
    /// tree hash (RFC 9420 §7.9): every leaf in `excluded` (sorted leaf
    /// indices) blanked and removed from all `unmerged_leaves` lists. Subtrees
    /// that contain no excluded leaf use the cache, so the cost is
    /// O(|excluded| × depth) hashes.
    pub(super) fn hash_excluding(
        &self,
        cs: &dyn CipherSuiteProvider,
        node: NodeIndex,
        excluded: &[u32],
    ) -> Result<Vec<u8>> {
        let range = node.leaf_range();
        let first = excluded.partition_point(|&l| l < range.start);
        if excluded.get(first).is_none_or(|&l| l >= range.end) {
            return self.cached_hash(cs, node).map(|h| h.into_owned());
        }
        let input = match (node.left(), node.right()) {
            (Some(l), Some(r)) => {
                let lh = self.hash_excluding(cs, l, excluded)?;
                let rh = self.hash_excluding(cs, r, excluded)?;
                let filtered = self.parent_node(node).map(|p| ParentNode {
                    unmerged_leaves: p
                        .unmerged_leaves
                        .iter()
                        .copied()
                        .filter(|u| excluded.binary_search(u).is_err())
                        .collect(),
                    ..p.clone()
                });
                parent_hash_input(filtered.as_ref(), &lh, &rh)?
            }
            // The leaf itself is excluded: hash it blank.
            _ => leaf_hash_input(node.0 / 2, None)?,
        };
        Ok(cs.hash(&input))
    }

    /// The leaf node stored at node index `node`, if any.
    fn leaf_at(&self, node: NodeIndex) -> Option<&LeafNode> {
        match self.node(node) {
            Some(Node::Leaf(l)) => Some(l),
            _ => None,
        }
    }
}
