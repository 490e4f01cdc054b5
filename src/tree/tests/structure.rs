//! Building a tree from the `ratchet_tree` encoding (RFC 9420 §12.4.3.3),
//! its invariants, resolutions (§4.1.1) and filtered direct paths (§4.1.2).

use super::*;
use crate::error::{Error, ProtocolError};
use crate::tree::FilteredPathNode;

fn parent(cs: &dyn CipherSuiteProvider, unmerged: Vec<u32>) -> Node {
    Node::Parent(ParentNode {
        encryption_key: random_key(cs),
        parent_hash: vec![],
        unmerged_leaves: unmerged,
    })
}

fn leaf(cs: &dyn CipherSuiteProvider, id: u32) -> Node {
    Node::Leaf(unsigned_leaf(cs, id))
}

fn protocol(e: Error) -> ProtocolError {
    match e {
        Error::Protocol(p) => p,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn rejects_empty_tree_and_trailing_blank() {
    // RFC 9420 §12.4.3.3: "The receiver MUST check that the last node in
    // ratchet_tree is non-blank".
    let cs = provider(1);
    let e = RatchetTree::from_nodes::<Node>(SUITE, vec![]).unwrap_err();
    assert_eq!(protocol(e), ProtocolError::RatchetTreeTrailingBlank);
    let e = RatchetTree::from_nodes(SUITE, vec![Some(leaf(&*cs, 0)), None, None]).unwrap_err();
    assert_eq!(protocol(e), ProtocolError::RatchetTreeTrailingBlank);
}

#[test]
fn pads_to_a_full_tree_and_strips_trailing_blanks() {
    let cs = provider(2);
    // Three nodes: two leaves.
    let t = RatchetTree::from_nodes(SUITE, vec![Some(leaf(&*cs, 0)), None, Some(leaf(&*cs, 1))])
        .unwrap();
    assert_eq!(t.leaf_count(), 2);
    // Five nodes: padded to seven (four leaves).
    let nodes = vec![
        Some(leaf(&*cs, 0)),
        None,
        Some(leaf(&*cs, 1)),
        None,
        Some(leaf(&*cs, 2)),
    ];
    let t = RatchetTree::from_nodes(SUITE, nodes.clone()).unwrap();
    assert_eq!(t.leaf_count(), 4);
    assert_eq!(t.size().node_count(), 7);
    let shared: Vec<_> = nodes
        .into_iter()
        .map(|n| n.map(std::sync::Arc::new))
        .collect();
    assert_eq!(t.to_nodes(), shared);
    // Two nodes ending with a parent: two leaves.
    let t = RatchetTree::from_nodes(SUITE, vec![Some(leaf(&*cs, 0)), Some(parent(&*cs, vec![]))])
        .unwrap();
    assert_eq!(t.leaf_count(), 2);
}

#[test]
fn rejects_nodes_at_positions_of_the_other_type() {
    let cs = provider(3);
    let e = RatchetTree::from_nodes(SUITE, vec![Some(parent(&*cs, vec![]))]).unwrap_err();
    assert_eq!(protocol(e), ProtocolError::NodeTypeMismatch(0));
    let e =
        RatchetTree::from_nodes(SUITE, vec![Some(leaf(&*cs, 0)), Some(leaf(&*cs, 1))]).unwrap_err();
    assert_eq!(protocol(e), ProtocolError::NodeTypeMismatch(1));
}

#[test]
fn rejects_duplicate_keys() {
    // RFC 9420 §7.3 (leaves) and §12.4.3.1 (parent encryption keys).
    let cs = provider(4);
    let a = unsigned_leaf(&*cs, 0);
    let mut b = unsigned_leaf(&*cs, 1);
    b.signature_key = a.signature_key.clone();
    let e = RatchetTree::from_nodes(
        SUITE,
        vec![Some(Node::Leaf(a.clone())), None, Some(Node::Leaf(b))],
    )
    .unwrap_err();
    assert_eq!(protocol(e), ProtocolError::DuplicateSignatureKey(0));

    let mut b = unsigned_leaf(&*cs, 1);
    b.encryption_key = a.encryption_key.clone();
    let e = RatchetTree::from_nodes(
        SUITE,
        vec![Some(Node::Leaf(a.clone())), None, Some(Node::Leaf(b))],
    )
    .unwrap_err();
    assert_eq!(protocol(e), ProtocolError::DuplicateEncryptionKey(0));

    let p = Node::Parent(ParentNode {
        encryption_key: a.encryption_key.clone(),
        parent_hash: vec![],
        unmerged_leaves: vec![],
    });
    let e = RatchetTree::from_nodes(
        SUITE,
        vec![Some(Node::Leaf(a)), Some(p), Some(leaf(&*cs, 1))],
    )
    .unwrap_err();
    assert_eq!(protocol(e), ProtocolError::DuplicateEncryptionKey(0));
}

#[test]
fn rejects_unmerged_leaves_outside_the_subtree_or_repeated() {
    // RFC 9420 §12.4.3.1: an entry must be a leaf below the parent node.
    let cs = provider(5);
    let mut nodes: Vec<Option<Node>> = vec![None; 7];
    nodes[0] = Some(leaf(&*cs, 0));
    nodes[4] = Some(leaf(&*cs, 2));
    nodes[1] = Some(parent(&*cs, vec![2]));
    nodes.truncate(5);
    let e = RatchetTree::from_nodes(SUITE, nodes.clone()).unwrap_err();
    assert_eq!(
        protocol(e),
        ProtocolError::UnmergedLeafInvalid { node: 1, leaf: 2 }
    );
    nodes[1] = None;
    nodes[3] = Some(parent(&*cs, vec![2, 2]));
    let e = RatchetTree::from_nodes(SUITE, nodes).unwrap_err();
    assert_eq!(
        protocol(e),
        ProtocolError::UnmergedLeafInvalid { node: 3, leaf: 2 }
    );
}

/// The tree of RFC 9420 Figure 10: leaves A B _ D E F _ H, X (node 3) with
/// unmerged leaf B, Y (node 9), every other parent blank.
#[test]
fn resolutions_of_rfc_figure_10() {
    let cs = provider(6);
    let mut nodes: Vec<Option<Node>> = vec![None; 15];
    for l in [0u32, 1, 3, 4, 5, 7] {
        nodes[2 * l as usize] = Some(leaf(&*cs, l));
    }
    nodes[3] = Some(parent(&*cs, vec![1]));
    nodes[9] = Some(parent(&*cs, vec![]));
    let t = RatchetTree::from_nodes(SUITE, nodes).unwrap();
    let res = |n: u32| -> Vec<u32> {
        t.resolution(NodeIndex(n))
            .unwrap()
            .iter()
            .map(|x| x.0)
            .collect()
    };
    assert_eq!(res(3), [3, 2], "X is [X, B]");
    assert_eq!(res(4), [0u32; 0], "leaf 2 is blank");
    assert_eq!(res(12), [0u32; 0], "leaf 6 is blank");
    assert_eq!(res(7), [3, 2, 9, 14], "the root is [X, B, Y, H]");
    assert_eq!(res(13), [14]);
    assert!(t.resolution(NodeIndex(15)).is_err());
}

/// The tree of RFC 9420 Figure 11 and the filtered direct paths of Table 2.
#[test]
fn filtered_direct_paths_of_rfc_figure_11() {
    let cs = provider(7);
    let mut nodes: Vec<Option<Node>> = vec![None; 15];
    for l in [0u32, 1, 4, 5, 6] {
        nodes[2 * l as usize] = Some(leaf(&*cs, l));
    }
    // T = 1, W = 7, X = 9, Y = 11; U = 3, V = 5, Z = 13 are blank.
    for p in [1usize, 7, 9, 11] {
        nodes[p] = Some(parent(&*cs, vec![]));
    }
    nodes.truncate(13);
    let t = RatchetTree::from_nodes(SUITE, nodes).unwrap();
    let fdp = |l: u32| -> Vec<u32> {
        t.filtered_direct_path(LeafIndex(l))
            .unwrap()
            .iter()
            .map(|s| s.node.0)
            .collect()
    };
    assert_eq!(fdp(0), [1, 7], "A: T, W");
    assert_eq!(fdp(1), [1, 7], "B: T, W");
    assert_eq!(fdp(4), [9, 11, 7], "E: X, Y, W");
    assert_eq!(fdp(5), [9, 11, 7], "F: X, Y, W");
    assert_eq!(fdp(6), [11, 7], "G: Y, W");
    assert_eq!(
        t.filtered_direct_path(LeafIndex(6)).unwrap()[0],
        FilteredPathNode {
            node: NodeIndex(11),
            copath_child: NodeIndex(9)
        }
    );
    assert!(t.filtered_direct_path(LeafIndex(8)).is_err());
    assert_eq!(
        t.direct_path(LeafIndex(6)).unwrap(),
        [NodeIndex(13), NodeIndex(11), NodeIndex(7)]
    );
}

#[test]
fn encode_then_decode_is_the_identity() {
    let cs = provider(8);
    let (tree, _) = signed_group(&*cs, 7);
    assert_consistent(&tree, &*cs);
    let ext = tree.to_extension();
    // No trailing blank nodes (RFC 9420 §12.4.3.3).
    assert!(matches!(ext.0.last(), Some(Some(_))));
    let bytes = ext.to_bytes().unwrap();
    let back =
        RatchetTree::from_extension(SUITE, crate::codec::Decode::decode_exact(&bytes).unwrap())
            .unwrap();
    assert_eq!(back, tree);
    assert_eq!(back.to_extension().to_bytes().unwrap(), bytes);
}

#[test]
fn tree_hash_is_cached_and_refreshed() {
    let cs = provider(9);
    let (mut tree, _) = signed_group(&*cs, 9);
    let before = tree.tree_hash(&*cs).unwrap();
    // Changing a leaf changes the root's hash, and only that leaf's path.
    let left_half = tree.node_tree_hash(&*cs, NodeIndex(7)).unwrap();
    let mut leaf = tree.leaf(LeafIndex(8)).unwrap().clone();
    leaf.encryption_key = random_key(&*cs);
    tree.set_leaf(LeafIndex(8), leaf).unwrap();
    assert_ne!(tree.tree_hash(&*cs).unwrap(), before);
    assert_eq!(tree.node_tree_hash(&*cs, NodeIndex(7)).unwrap(), left_half);
    assert_consistent(&tree, &*cs);
}

#[test]
fn a_provider_of_another_suite_is_refused() {
    let cs = provider(10);
    let (tree, _) = signed_group(&*cs, 2);
    let other = RustCryptoProvider::new()
        .cipher_suite_provider(CipherSuite(2))
        .unwrap();
    assert!(matches!(tree.tree_hash(&*other), Err(Error::Api(_))));
}

#[test]
fn restored_past_tree_shares_the_current_trees_nodes() {
    let cs = provider(7);
    let cs = &*cs;
    let mut past = RatchetTree::new(SUITE, unsigned_leaf(cs, 0)).unwrap();
    for i in 1..100 {
        past.add_leaf(unsigned_leaf(cs, i)).unwrap();
    }
    let mut current = past.clone();
    commit(&mut current, cs, LeafIndex(3), None);
    current.add_leaf(unsigned_leaf(cs, 1000)).unwrap();
    let restored = RatchetTree::from_nodes(SUITE, past.to_nodes())
        .unwrap()
        .shared_with(&current);
    assert!(restored == past);
    assert_eq!(restored.tree_hash(cs).unwrap(), past.tree_hash(cs).unwrap());
    // 199 nodes in 7 chunks: only those holding leaf 3's path, the new
    // leaf and the root differ.
    assert!(restored.nodes.shared_chunks(&current.nodes) >= 3);
    assert_consistent(&restored, cs);
}
