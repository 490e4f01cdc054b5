//! Add, Update and Remove (RFC 9420 §12.1.1-§12.1.3), extending and
//! truncating (§7.7), and atomicity.

use super::*;
use crate::error::{Error, ProtocolError};

#[test]
fn add_fills_the_leftmost_blank_leaf_then_extends() {
    let cs = provider(20);
    let mut tree = RatchetTree::new(SUITE, unsigned_leaf(&*cs, 0)).unwrap();
    assert_eq!(tree.leaf_count(), 1);
    assert_eq!(tree.add_leaf(unsigned_leaf(&*cs, 1)).unwrap(), LeafIndex(1));
    assert_eq!(tree.leaf_count(), 2);
    assert_eq!(tree.add_leaf(unsigned_leaf(&*cs, 2)).unwrap(), LeafIndex(2));
    assert_eq!(tree.leaf_count(), 4);
    assert_eq!(tree.add_leaf(unsigned_leaf(&*cs, 3)).unwrap(), LeafIndex(3));
    tree.remove_leaf(LeafIndex(1)).unwrap();
    assert_eq!(tree.leftmost_blank_leaf(), Some(LeafIndex(1)));
    assert_eq!(tree.add_leaf(unsigned_leaf(&*cs, 4)).unwrap(), LeafIndex(1));
    assert_eq!(tree.leaf_count(), 4);
    assert_consistent(&tree, &*cs);
}

#[test]
fn reserve_leaf_picks_the_leftmost_blank_leaf_or_extends() {
    // RFC 9420 §12.4.2: an external joiner takes the leftmost blank leaf, or
    // a new one on the right; the leaf stays blank.
    let cs = provider(23);
    let mut tree = RatchetTree::new(SUITE, unsigned_leaf(&*cs, 0)).unwrap();
    tree.add_leaf(unsigned_leaf(&*cs, 1)).unwrap();
    let before = tree.tree_hash(&*cs).unwrap();
    assert_eq!(tree.reserve_leaf().unwrap(), LeafIndex(2));
    assert_eq!(tree.leaf_count(), 4);
    assert!(tree.leaf(LeafIndex(2)).is_none());
    assert_eq!(tree.member_count(), 2);
    assert_ne!(tree.tree_hash(&*cs).unwrap(), before, "the tree grew");
    // Reserving again gives the same leaf: it is still blank.
    assert_eq!(tree.reserve_leaf().unwrap(), LeafIndex(2));
    assert_eq!(tree.leaf_count(), 4);
    tree.add_leaf(unsigned_leaf(&*cs, 2)).unwrap();
    tree.add_leaf(unsigned_leaf(&*cs, 3)).unwrap();
    tree.remove_leaf(LeafIndex(1)).unwrap();
    assert_eq!(tree.reserve_leaf().unwrap(), LeafIndex(1));
    assert_eq!(tree.leaf_count(), 4);
    assert_consistent(&tree, &*cs);
}

#[test]
fn add_records_the_new_leaf_as_unmerged_in_non_blank_ancestors() {
    // RFC 9420 §12.1.1: "For each non-blank intermediate node along the path
    // from the leaf L to the root, add L's leaf index to the unmerged_leaves".
    let cs = provider(21);
    let (mut tree, _) = signed_group(&*cs, 3);
    // get_tree(3): leaf 1 committed last, setting nodes 1 and 3 (its filtered path).
    assert!(tree.parent_node(NodeIndex(3)).is_some());
    let at = tree.add_leaf(unsigned_leaf(&*cs, 9)).unwrap();
    assert_eq!(at, LeafIndex(3));
    assert_eq!(tree.parent_node(NodeIndex(3)).unwrap().unmerged_leaves, [3]);
    assert_eq!(
        tree.parent_node(NodeIndex(1)).unwrap().unmerged_leaves,
        [0u32; 0]
    );
    // Node 5 (above leaves 2 and 3) is blank: nothing to record there.
    assert!(tree.is_blank(NodeIndex(5)));
    // The new leaf now appears in the resolution of the root.
    assert_eq!(
        tree.resolution(NodeIndex(3)).unwrap(),
        [NodeIndex(3), NodeIndex(6)]
    );
    tree.check_unmerged_leaves().unwrap();
    tree.verify_parent_hashes(&*cs).unwrap();
    assert_consistent(&tree, &*cs);
}

#[test]
fn update_replaces_the_leaf_and_blanks_its_direct_path() {
    let cs = provider(22);
    let (mut tree, _) = signed_group(&*cs, 4);
    let mut leaf = unsigned_leaf(&*cs, 100);
    leaf.leaf_node_source = LeafNodeSource::Update;
    tree.update_leaf(LeafIndex(2), leaf.clone()).unwrap();
    assert_eq!(tree.leaf(LeafIndex(2)), Some(&leaf));
    assert!(tree.is_blank(NodeIndex(5)));
    assert!(tree.is_blank(NodeIndex(3)));
    assert_consistent(&tree, &*cs);
    // The parents that remain are still parent-hash valid.
    tree.verify_parent_hashes(&*cs).unwrap();
}

#[test]
fn remove_blanks_the_path_and_truncates() {
    // RFC 9420 §12.1.3 and Figure 17.
    let cs = provider(23);
    let (mut tree, _) = signed_group(&*cs, 5);
    assert_eq!(tree.leaf_count(), 8);
    tree.remove_leaf(LeafIndex(4)).unwrap();
    assert_eq!(tree.leaf_count(), 4, "right half empty: truncated");
    assert_consistent(&tree, &*cs);
    tree.remove_leaf(LeafIndex(1)).unwrap();
    assert_eq!(tree.leaf_count(), 4, "leaf 3 keeps the right half");
    assert!(tree.is_blank(NodeIndex(1)) && tree.is_blank(NodeIndex(3)));
    tree.remove_leaf(LeafIndex(3)).unwrap();
    tree.remove_leaf(LeafIndex(2)).unwrap();
    assert_eq!(tree.leaf_count(), 1);
    assert_eq!(tree.member_count(), 1);
    assert_consistent(&tree, &*cs);
    tree.verify_parent_hashes(&*cs).unwrap();
}

#[test]
fn operations_on_blank_or_missing_leaves_fail() {
    let cs = provider(24);
    let (mut tree, _) = signed_group(&*cs, 3);
    assert_eq!(
        tree.remove_leaf(LeafIndex(3)).unwrap_err(),
        Error::Protocol(ProtocolError::BlankLeaf(3))
    );
    assert_eq!(
        tree.remove_leaf(LeafIndex(4)).unwrap_err(),
        Error::Protocol(ProtocolError::LeafIndexOutOfRange(4))
    );
    assert_eq!(
        tree.update_leaf(LeafIndex(3), unsigned_leaf(&*cs, 5))
            .unwrap_err(),
        Error::Protocol(ProtocolError::BlankLeaf(3))
    );
    assert!(matches!(
        tree.set_parent(
            NodeIndex(2),
            ParentNode {
                encryption_key: random_key(&*cs),
                parent_hash: vec![],
                unmerged_leaves: vec![],
            }
        ),
        Err(Error::Api(_))
    ));
}

#[test]
fn a_failed_operation_leaves_the_tree_unchanged() {
    let cs = provider(25);
    let (mut tree, _) = signed_group(&*cs, 4);
    let before = tree.clone();
    let hash = tree.tree_hash(&*cs).unwrap();

    // Add with a signature key already in use, while the tree is full (so
    // the add would have extended it).
    let mut dup = unsigned_leaf(&*cs, 9);
    dup.signature_key = tree.leaf(LeafIndex(1)).unwrap().signature_key.clone();
    assert_eq!(
        tree.add_leaf(dup).unwrap_err(),
        Error::Protocol(ProtocolError::DuplicateSignatureKey(1))
    );
    assert_eq!(tree, before);
    assert_eq!(tree.leaf_count(), 4);

    // Update with an encryption key used by a parent node.
    let mut dup = unsigned_leaf(&*cs, 9);
    dup.encryption_key = tree
        .parent_node(NodeIndex(3))
        .unwrap()
        .encryption_key
        .clone();
    assert_eq!(
        tree.update_leaf(LeafIndex(0), dup).unwrap_err(),
        Error::Protocol(ProtocolError::DuplicateEncryptionKey(3))
    );
    assert_eq!(tree, before);
    assert_eq!(tree.tree_hash(&*cs).unwrap(), hash);
    assert_consistent(&tree, &*cs);
}

#[test]
fn an_atomic_section_rolls_back_every_change() {
    let cs = provider(26);
    let (mut tree, _) = signed_group(&*cs, 4);
    let before = tree.clone();
    let hash = tree.tree_hash(&*cs).unwrap();
    let first_key = tree.leaf(LeafIndex(0)).unwrap().signature_key.clone();
    let r = tree.atomically(|t| {
        // Extend (5 members in 8 leaves), remove, update, commit-like changes...
        t.add_leaf(unsigned_leaf(&*cs, 10))?;
        t.remove_leaf(LeafIndex(1))?;
        t.remove_leaf(LeafIndex(4))?; // truncates back to 4 leaves
        t.add_leaf(unsigned_leaf(&*cs, 11))?;
        t.update_leaf(LeafIndex(2), unsigned_leaf(&*cs, 12))?;
        t.atomically(|t| t.blank_direct_path(LeafIndex(0)))?;
        // ... then fail.
        let mut dup = unsigned_leaf(&*cs, 13);
        dup.signature_key = first_key.clone();
        t.add_leaf(dup)
    });
    assert!(r.is_err());
    assert_eq!(tree, before);
    assert_eq!(tree.tree_hash(&*cs).unwrap(), hash);
    assert_consistent(&tree, &*cs);
    tree.verify_parent_hashes(&*cs).unwrap();

    // A successful section keeps its changes; a failed inner one only its own.
    let r = tree.atomically(|t| {
        t.add_leaf(unsigned_leaf(&*cs, 20))?;
        let inner = t.atomically(|t| {
            t.remove_leaf(LeafIndex(0))?;
            t.remove_leaf(LeafIndex(0)) // blank now: fails
        });
        assert!(inner.is_err());
        Ok(())
    });
    assert!(r.is_ok());
    assert_eq!(tree.member_count(), 5);
    assert!(tree.leaf(LeafIndex(0)).is_some());
    assert_consistent(&tree, &*cs);
}
