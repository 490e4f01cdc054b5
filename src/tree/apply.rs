//! Changing the tree: the Add, Update and Remove proposals (RFC 9420
//! §12.1.1-§12.1.3), extending and truncating (§7.7), and the primitives
//! TreeKEM uses to apply an UpdatePath (§7.5): blank a direct path, set a
//! parent node, set a leaf.
//!
//! Every operation checks everything that can fail before changing anything,
//! so a failed operation leaves the tree unchanged. The Add, Update and Remove
//! application rules do not validate the leaf node itself (signature,
//! capabilities, lifetime): call [`RatchetTree::validate_leaf_node`] first.

use super::RatchetTree;
use std::sync::Arc;

use crate::error::{ApiError, ProtocolError, Result};
use crate::messages::{LeafNode, Node, ParentNode};
use crate::tree_math::{LeafIndex, NodeIndex, TreeSize};

impl RatchetTree {
    /// Applies an Add (RFC 9420 §12.1.1): puts `leaf` in the leftmost blank
    /// leaf, extending the tree if there is none (§7.7), and adds its index to
    /// the `unmerged_leaves` of every non-blank parent above it. Returns the
    /// new member's leaf index.
    pub fn add_leaf(&mut self, leaf: LeafNode) -> Result<LeafIndex> {
        let (index, new_size) = self.next_free_leaf()?;
        let node = Node::Leaf(leaf);
        // The new leaf's position is blank, so only other nodes can clash.
        self.index
            .check_keys_free(&self.nodes, index.node(), &node)
            .map_err(crate::Error::from)?;
        if let Some(size) = new_size {
            self.resize(size);
        }
        let ancestors: Vec<NodeIndex> = self.size.direct_path(index.node()).collect();
        for a in ancestors {
            if let Some(Node::Parent(p)) = self.node(a) {
                let mut p = p.clone();
                // Kept in increasing order (RFC 9420 §7.1). The leftmost
                // blank leaf is always filled first, so this is the end of
                // the list in every tree built by commits.
                let at = p.unmerged_leaves.partition_point(|&l| l < index.0);
                p.unmerged_leaves.insert(at, index.0);
                self.replace_node(a, Some(Arc::new(Node::Parent(p))));
            }
        }
        self.replace_node(index.node(), Some(Arc::new(node)));
        Ok(index)
    }

    /// Gives an external joiner its leaf (RFC 9420 §12.4.2: "assign the
    /// sender the leftmost blank leaf node ... If there are no blank leaf
    /// nodes ..., add a blank leaf to the right side"): the leftmost blank
    /// leaf, extending the tree (§7.7) if there is none. The leaf stays blank
    /// until the joiner's UpdatePath fills it
    /// ([`RatchetTree::create_update_path`] for the joiner,
    /// [`RatchetTree::set_leaf`] then [`RatchetTree::merge_update_path`] for
    /// the members).
    pub fn reserve_leaf(&mut self) -> Result<LeafIndex> {
        let (index, new_size) = self.next_free_leaf()?;
        if let Some(size) = new_size {
            self.resize(size);
        }
        Ok(index)
    }

    /// Where the next new member goes: the leftmost blank leaf, or the first
    /// leaf of the tree doubled (with its new size) if there is none.
    fn next_free_leaf(&self) -> Result<(LeafIndex, Option<TreeSize>)> {
        Ok(match self.occupancy.leftmost_blank_leaf() {
            Some(l) => (l, None),
            None => {
                let doubled = self
                    .size
                    .leaf_count()
                    .checked_mul(2)
                    .and_then(TreeSize::new)
                    .ok_or(ProtocolError::TreeFull)?;
                (LeafIndex(self.size.leaf_count()), Some(doubled))
            }
        })
    }

    /// Applies an Update from `sender` (RFC 9420 §12.1.2): replaces the
    /// sender's leaf node with `leaf` and blanks the sender's direct path.
    pub fn update_leaf(&mut self, sender: LeafIndex, leaf: LeafNode) -> Result<()> {
        self.check_member(sender)?;
        let node = Node::Leaf(leaf);
        self.check_node_entry(sender.node(), &node)?;
        self.blank_path_nodes(sender);
        self.replace_node(sender.node(), Some(Arc::new(node)));
        Ok(())
    }

    /// Applies a Remove of `removed` (RFC 9420 §12.1.3): blanks the leaf and
    /// its direct path, then truncates the tree while its right half holds no
    /// member (§7.7).
    pub fn remove_leaf(&mut self, removed: LeafIndex) -> Result<()> {
        self.check_member(removed)?;
        self.replace_node(removed.node(), None);
        self.blank_path_nodes(removed);
        self.truncate();
        Ok(())
    }

    /// Blanks every node on the direct path of `leaf` (RFC 9420 §7.5, step 1
    /// of applying an UpdatePath). The leaf itself is kept.
    pub fn blank_direct_path(&mut self, leaf: LeafIndex) -> Result<()> {
        self.check_leaf_in_range(leaf)?;
        self.blank_path_nodes(leaf);
        Ok(())
    }

    /// Stores `leaf` at leaf index `index`, replacing what is there, with no
    /// other change (for TreeKEM's new committer leaf, RFC 9420 §7.5).
    pub fn set_leaf(&mut self, index: LeafIndex, leaf: LeafNode) -> Result<()> {
        self.check_leaf_in_range(index)?;
        let node = Node::Leaf(leaf);
        self.check_node_entry(index.node(), &node)?;
        self.replace_node(index.node(), Some(Arc::new(node)));
        Ok(())
    }

    /// Stores `parent` at parent node `index`, replacing what is there, with
    /// no other change (for TreeKEM's new path keys, RFC 9420 §7.5).
    pub fn set_parent(&mut self, index: NodeIndex, parent: ParentNode) -> Result<()> {
        if index.is_leaf() {
            return Err(ApiError::InvalidArgument("set_parent needs a parent position").into());
        }
        let node = Node::Parent(parent);
        self.check_node_entry(index, &node)?;
        self.replace_node(index, Some(Arc::new(node)));
        Ok(())
    }

    /// Sets the `parent_hash` field of the parent node at `index`.
    pub(super) fn set_parent_hash_field(
        &mut self,
        index: NodeIndex,
        parent_hash: Vec<u8>,
    ) -> Result<()> {
        let Some(p) = self.parent_node(index) else {
            return Err(ApiError::InvalidArgument("no parent node at this index").into());
        };
        let p = ParentNode {
            parent_hash,
            ..p.clone()
        };
        // Same keys and unmerged leaves as before: no entry check needed.
        self.replace_node(index, Some(Arc::new(Node::Parent(p))));
        Ok(())
    }

    /// Fails unless `leaf` is inside the tree and non-blank.
    fn check_member(&self, leaf: LeafIndex) -> Result<()> {
        self.check_leaf_in_range(leaf)?;
        if self.leaf(leaf).is_none() {
            return Err(ProtocolError::BlankLeaf(leaf.0).into());
        }
        Ok(())
    }

    /// Blanks the direct path of `leaf` (in range).
    fn blank_path_nodes(&mut self, leaf: LeafIndex) {
        let path: Vec<NodeIndex> = self.size.direct_path(leaf.node()).collect();
        for n in path {
            if self.node(n).is_some() {
                self.replace_node(n, None);
            }
        }
    }

    /// Halves the tree while its right half holds no member (RFC 9420 §7.7,
    /// §12.1.3). The root and right subtree are dropped whether or not the
    /// root is blank.
    fn truncate(&mut self) {
        loop {
            let n = self.size.leaf_count();
            let Some(half) = TreeSize::new(n / 2).filter(|_| n > 1) else {
                return;
            };
            if self
                .occupancy
                .rightmost_occupied_leaf()
                .is_some_and(|l| l.0 >= half.leaf_count())
            {
                return;
            }
            // Blank whatever remains in the root and the right half, then drop it.
            let dropped: Vec<NodeIndex> = (half.node_count()..self.size.node_count())
                .map(NodeIndex)
                .filter(|&i| self.node(i).is_some())
                .collect();
            for i in dropped {
                self.replace_node(i, None);
            }
            self.resize(half);
        }
    }

    /// Changes the number of leaves to `to`. Shrinking drops only blank
    /// nodes (callers blank them first); growing adds blank ones (§7.7).
    pub(super) fn resize(&mut self, to: TreeSize) {
        let from = self.size;
        if from == to {
            return;
        }
        let n = to.node_count() as usize;
        self.nodes.resize_with(n, || None);
        self.hashes.resize(n);
        self.occupancy.resize(from, to);
        self.size = to;
        self.journal.record_resize(from);
    }
}
