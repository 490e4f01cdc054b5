//! The public ratchet tree (RFC 9420 §4, §7).
//!
//! [`RatchetTree`] holds the public part of the tree every member agrees on:
//! the nodes in array order (RFC 9420 Appendix C), blank nodes as `None`, and
//! the number of leaves always a power of two (trees are full, §7.7). Private
//! keys are not kept here.
//!
//! The tree is built for large groups. Besides the nodes it keeps
//!
//! * a cache of subtree hashes (§7.8), so that changing one leaf or one direct
//!   path rehashes only the O(log N) nodes above the change (module `hash`);
//! * look-ups from signature key to leaf and from encryption key to node, and
//!   counts of credential types in use and supported, so that the uniqueness
//!   and credential checks of §7.3 take constant time (module `index`);
//! * bit sets of occupied leaves and occupied parents, with a count per
//!   chunk, so that finding the leftmost blank leaf (§12.1.1), truncating
//!   (§12.1.3), skipping blank subtrees in resolutions (§4.1.1) and counting
//!   a resolution's size cost O(N / 4096) at most (modules `occupancy`,
//!   `bitset`).
//!
//! All of it is copy-on-write by chunks (module `cow`): staging a commit
//! copies the tree in O(N / 32) pointer copies, and the commit's changes copy
//! only the chunks they touch. The key look-ups hold no second copy of the
//! keys: an entry is a key's hash and its node.
//!
//! Every value of `RatchetTree` keeps these invariants, checked whenever a
//! node enters the tree:
//!
//! * leaves sit at even indices, parents at odd ones;
//! * signature keys are unique among the leaves and encryption keys unique
//!   among all nodes (§7.3, §12.4.3.1);
//! * a parent's `unmerged_leaves` name distinct leaves below that parent.
//!
//! The rules that need cryptography or the group's parameters (signatures,
//! capabilities, parent hashes, the tree hash the group agreed on) are checked
//! by [`RatchetTree::validate_leaf_node`] and [`RatchetTree::validate`].
//!
//! Operations that change the tree either succeed completely or leave it
//! unchanged; [`RatchetTree::atomically`] extends that guarantee to a sequence
//! of operations, such as applying a whole commit.

mod apply;
mod bitset;
mod cow;
mod hash;
mod index;
mod journal;
mod occupancy;
mod parent_hash;
mod private_keys;
mod resolution;
mod treekem;
mod validation;

#[cfg(test)]
mod tests;

pub use private_keys::TreePrivateKeys;
pub use resolution::FilteredPathNode;
pub use treekem::{PathDecryption, PendingUpdatePath};
pub use validation::{LeafNodeOrigin, LeafValidationContext, LifetimeCheck};

use std::sync::Arc;

use crate::crypto::{CipherSuite, CipherSuiteProvider, HpkePublicKey, SignaturePublicKey};
use crate::error::{ApiError, Error, ProtocolError, Result};
use crate::messages::{LeafNode, Node, ParentNode, RatchetTreeExtension};
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

/// The public ratchet tree of a group (RFC 9420 §4, §7). See the
/// [module documentation](self).
#[derive(Clone, Debug)]
pub struct RatchetTree {
    /// The group's cipher suite; tree hashes use its hash function.
    suite: CipherSuite,
    /// The number of leaves: a power of two.
    size: TreeSize,
    /// `size.node_count()` entries in array order; `None` is a blank node.
    /// Shared (`Arc`): a blank node costs one pointer, and a changed node is
    /// replaced, never mutated in place. Copy-on-write by chunks: copying the
    /// tree (to stage a commit) copies one pointer per chunk, and a change
    /// copies the chunk it touches.
    nodes: cow::CowVec<Option<Arc<Node>>>,
    /// Cached tree hashes, one cell per node.
    hashes: hash::HashCache,
    /// Key look-ups and credential counts.
    index: index::KeyIndex,
    /// Which leaves and parents are occupied.
    occupancy: occupancy::Occupancy,
    /// The undo log of [`RatchetTree::atomically`], while one runs.
    journal: journal::Journal,
}

impl PartialEq for RatchetTree {
    /// Two trees are equal if they have the same suite and the same nodes.
    fn eq(&self, other: &Self) -> bool {
        self.suite == other.suite && self.size == other.size && self.nodes == other.nodes
    }
}

impl Eq for RatchetTree {}

impl RatchetTree {
    /// A tree of one leaf holding `leaf`: the tree of a group just created (RFC 9420 §11).
    pub fn new(suite: CipherSuite, leaf: LeafNode) -> Result<Self> {
        Self::from_nodes(suite, vec![Some(Node::Leaf(leaf))])
    }

    /// A tree from its nodes in array order, as in the `ratchet_tree`
    /// extension (RFC 9420 §12.4.3.3).
    ///
    /// The last node must be non-blank; the array is then extended with the
    /// fewest blank nodes that make it a full tree. Fails if a node sits at a
    /// position of the other type, if a key is used twice, or if an
    /// `unmerged_leaves` entry does not name a distinct leaf below its node,
    /// in increasing order (§7.1).
    /// The semantic checks of joining are [`RatchetTree::validate`].
    ///
    /// Given shared nodes (`Arc<Node>`, as [`RatchetTreeExtension`] holds
    /// them) the array becomes the tree's own: no node is copied, and the
    /// tree costs about 12 bytes per node beyond its nodes (after the tree
    /// hash is computed, about 30).
    pub fn from_nodes<N: Into<Arc<Node>>>(
        suite: CipherSuite,
        nodes: Vec<Option<N>>,
    ) -> Result<Self> {
        // In place when `N` is `Arc<Node>` (same layout).
        let mut nodes: Vec<Option<Arc<Node>>> =
            nodes.into_iter().map(|n| n.map(Into::into)).collect();
        if !matches!(nodes.last(), Some(Some(_))) {
            return Err(ProtocolError::RatchetTreeTrailingBlank.into());
        }
        // A tree with n nodes needs at least n/2 + 1 leaves (2L - 1 >= n).
        let min_leaves =
            u32::try_from(nodes.len() / 2 + 1).map_err(|_| ProtocolError::RatchetTreeTooLarge)?;
        let size = TreeSize::covering(min_leaves).ok_or(ProtocolError::RatchetTreeTooLarge)?;
        // The nodes are checked and indexed, then become the tree's array.
        let mut tree = Self {
            suite,
            size,
            nodes: cow::CowVec::default(),
            hashes: hash::HashCache::new(size.node_count() as usize),
            // Sized by the non-blank nodes, not the width: a wide tree of
            // blank nodes costs one byte each on the wire.
            index: index::KeyIndex::with_capacity(
                nodes.iter().step_by(2).filter(|n| n.is_some()).count(),
                nodes.iter().filter(|n| n.is_some()).count(),
            ),
            occupancy: occupancy::Occupancy::new(size),
            journal: journal::Journal::default(),
        };
        for (i, node) in nodes.iter().enumerate() {
            if let Some(node) = node {
                // i < node_count <= u32::MAX, checked by TreeSize above.
                let at =
                    NodeIndex(u32::try_from(i).map_err(|_| ProtocolError::RatchetTreeTooLarge)?);
                // The checks of `check_node_entry`, the keys' uniqueness
                // checked by inserting them (one look-up each, not two).
                tree.check_node_shape(at, node)?;
                tree.index.insert_new(&nodes[..], at, node)?;
                tree.occupancy.set(at, true);
            }
        }
        nodes.resize(size.node_count() as usize, None);
        tree.nodes = cow::CowVec::from_vec(nodes);
        Ok(tree)
    }

    /// A tree from the content of a `ratchet_tree` extension (RFC 9420 §12.4.3.3).
    pub fn from_extension(suite: CipherSuite, ext: RatchetTreeExtension) -> Result<Self> {
        Self::from_nodes(suite, ext.0)
    }

    /// The nodes in array order without trailing blank nodes, as the
    /// `ratchet_tree` extension carries them (RFC 9420 §12.4.3.3: "the sender
    /// MUST NOT include blank nodes after the last non-blank node"). The
    /// nodes are shared with the tree, not copied.
    pub fn to_nodes(&self) -> Vec<Option<Arc<Node>>> {
        let trailing = self.nodes.iter().rev().take_while(|n| n.is_none()).count();
        let end = self.nodes.len() - trailing;
        self.nodes.iter().take(end).cloned().collect()
    }

    /// This tree, rebuilt as a copy of `base` changed where the two differ:
    /// equal to `self`, but sharing `base`'s nodes, key look-ups and cached
    /// hashes wherever they agree (copy-on-write), so that the trees of a
    /// group's past epochs restored from storage cost memory, and dropping
    /// them time, only where they differ from the current tree. Returns
    /// `self` unchanged if the suites differ.
    pub(crate) fn shared_with(self, base: &RatchetTree) -> RatchetTree {
        if self.suite != base.suite {
            return self;
        }
        let mut t = base.clone();
        if self.size > t.size {
            t.resize(self.size);
        }
        let count = t.nodes.len().max(self.nodes.len());
        for i in 0..count {
            let want = self.nodes.get(i).cloned().flatten();
            let differs = match (t.nodes.get(i).and_then(Option::as_deref), want.as_deref()) {
                (Some(a), Some(b)) => a != b,
                (None, None) => false,
                _ => true,
            };
            if differs && let Ok(at) = u32::try_from(i) {
                // `self` is a valid tree: once every node is replaced its
                // keys are unique again, whatever the order.
                t.replace_node(NodeIndex(at), want);
            }
        }
        if self.size < t.size {
            t.resize(self.size);
        }
        // Never a different tree: on any doubt, the one that was read.
        if t == self && t.member_count() == self.member_count() {
            t
        } else {
            self
        }
    }

    /// The content of a `ratchet_tree` extension for this tree (RFC 9420 §12.4.3.3).
    pub fn to_extension(&self) -> RatchetTreeExtension {
        RatchetTreeExtension(self.to_nodes())
    }

    /// The group's cipher suite.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.suite
    }

    /// The size of the tree in leaves (a power of two).
    pub fn size(&self) -> TreeSize {
        self.size
    }

    /// The number of leaves, blank or not.
    pub fn leaf_count(&self) -> u32 {
        self.size.leaf_count()
    }

    /// The number of members (non-blank leaves).
    pub fn member_count(&self) -> u32 {
        self.index.member_count()
    }

    /// The root node.
    pub fn root(&self) -> NodeIndex {
        self.size.root()
    }

    /// The node at `index`; `None` if it is blank or outside the tree.
    pub fn node(&self, index: NodeIndex) -> Option<&Node> {
        self.nodes.get(index.0 as usize).and_then(Option::as_deref)
    }

    /// Whether the slot at `index` holds a node, without reading the node.
    fn is_occupied(&self, index: NodeIndex) -> bool {
        self.nodes
            .get(index.0 as usize)
            .is_some_and(Option::is_some)
    }

    /// Whether the node at `index` is blank (nodes outside the tree count as blank).
    pub fn is_blank(&self, index: NodeIndex) -> bool {
        self.node(index).is_none()
    }

    /// The leaf node at `leaf`; `None` if it is blank or outside the tree.
    pub fn leaf(&self, leaf: LeafIndex) -> Option<&LeafNode> {
        if !self.size.contains_leaf(leaf) {
            return None;
        }
        match self.node(leaf.node()) {
            Some(Node::Leaf(l)) => Some(l),
            _ => None,
        }
    }

    /// The parent node at `index`; `None` if it is blank, a leaf, or outside the tree.
    pub fn parent_node(&self, index: NodeIndex) -> Option<&ParentNode> {
        match self.node(index) {
            Some(Node::Parent(p)) => Some(p),
            _ => None,
        }
    }

    /// The HPKE public key of the node at `index` (leaf or parent), if it is not blank.
    pub fn encryption_key(&self, index: NodeIndex) -> Option<&HpkePublicKey> {
        match self.node(index)? {
            Node::Leaf(l) => Some(&l.encryption_key),
            Node::Parent(p) => Some(&p.encryption_key),
        }
    }

    /// The non-blank leaves, in increasing leaf index.
    pub fn members(&self) -> impl Iterator<Item = (LeafIndex, &LeafNode)> + '_ {
        self.occupancy
            .occupied_leaves()
            .filter_map(move |l| self.leaf(l).map(|n| (l, n)))
    }

    /// The non-blank leaves with an index in the half-open range `leaves`,
    /// in increasing order (O(log N) to the first one).
    pub fn members_in(
        &self,
        leaves: core::ops::Range<u32>,
    ) -> impl Iterator<Item = LeafIndex> + '_ {
        self.occupancy.occupied_leaves_in(leaves)
    }

    /// The leaf whose signature key is `key`, if any (O(1)).
    pub fn find_leaf_by_signature_key(&self, key: &SignaturePublicKey) -> Option<LeafIndex> {
        self.index
            .leaf_by_signature_key(&self.nodes, key.as_bytes())
    }

    /// The node (leaf or parent) whose encryption key is `key`, if any (O(1)).
    pub fn find_node_by_encryption_key(&self, key: &HpkePublicKey) -> Option<NodeIndex> {
        self.index
            .node_by_encryption_key(&self.nodes, key.as_bytes())
    }

    /// The leftmost blank leaf, if the tree has one.
    pub fn leftmost_blank_leaf(&self) -> Option<LeafIndex> {
        self.occupancy.leftmost_blank_leaf()
    }

    /// Fails unless `leaf` lies inside the tree.
    fn check_leaf_in_range(&self, leaf: LeafIndex) -> Result<()> {
        if self.size.contains_leaf(leaf) {
            Ok(())
        } else {
            Err(ProtocolError::LeafIndexOutOfRange(leaf.0).into())
        }
    }

    /// Fails unless `cs` is a provider for this tree's suite.
    fn check_suite(&self, cs: &dyn CipherSuiteProvider) -> Result<()> {
        if cs.cipher_suite() == self.suite {
            Ok(())
        } else {
            Err(ApiError::InvalidArgument("cipher suite provider does not match the tree").into())
        }
    }

    /// Checks that `node` may be stored at `at`, replacing whatever is there:
    /// the position exists and has the node's type, its keys are not used by
    /// any other node, and its unmerged leaves are distinct leaves below it.
    fn check_node_entry(&self, at: NodeIndex, node: &Node) -> Result<()> {
        self.check_node_shape(at, node)?;
        self.index
            .check_keys_free(&self.nodes, at, node)
            .map_err(Error::from)
    }

    /// The checks of [`Self::check_node_entry`] but the keys' uniqueness.
    fn check_node_shape(&self, at: NodeIndex, node: &Node) -> Result<()> {
        if !self.size.contains(at) {
            return Err(ApiError::InvalidArgument("node index outside the tree").into());
        }
        match node {
            Node::Leaf(_) if !at.is_leaf() => Err(ProtocolError::NodeTypeMismatch(at.0).into()),
            Node::Parent(_) if at.is_leaf() => Err(ProtocolError::NodeTypeMismatch(at.0).into()),
            Node::Parent(p) => check_unmerged_structure(at, p),
            Node::Leaf(_) => Ok(()),
        }
    }

    /// Stores `node` at `at`. Keeps the key index, the occupancy sets and the
    /// hash cache up to date and moves the old value into the journal. The
    /// caller has checked the entry with [`Self::check_node_entry`] (or is
    /// storing a blank); an index outside the tree is ignored.
    fn replace_node(&mut self, at: NodeIndex, node: Option<Arc<Node>>) {
        let Some(slot) = self.nodes.get_mut(at.0 as usize) else {
            return;
        };
        let old = core::mem::replace(slot, node);
        if let Some(o) = &old {
            self.index.remove(at, o);
        }
        // The index reads keys back from the nodes: the new node is in place.
        let new = self.nodes.get(at.0 as usize).and_then(Option::as_deref);
        if let Some(n) = new {
            self.index.insert(&self.nodes, at, n);
        }
        let now_occupied = new.is_some();
        self.occupancy.set(at, now_occupied);
        self.hashes.invalidate(at, self.size);
        self.journal.record_node(at, old);
    }
}

/// Checks that a parent's `unmerged_leaves` are distinct leaves below it, in
/// increasing order ("The entries in the unmerged_leaves vector MUST be
/// sorted in increasing order", RFC 9420 §7.1).
fn check_unmerged_structure(at: NodeIndex, p: &ParentNode) -> Result<()> {
    let range = at.leaf_range();
    let mut previous: Option<u32> = None;
    for &leaf in &p.unmerged_leaves {
        if previous == Some(leaf) || !range.contains(&leaf) {
            return Err(ProtocolError::UnmergedLeafInvalid { node: at.0, leaf }.into());
        }
        if previous.is_some_and(|prev| leaf < prev) {
            return Err(ProtocolError::UnmergedLeavesNotSorted { node: at.0, leaf }.into());
        }
        previous = Some(leaf);
    }
    Ok(())
}
