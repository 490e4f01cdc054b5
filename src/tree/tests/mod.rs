//! Tests of the ratchet tree, with helpers that build trees the way a group
//! would: members added from KeyPackages and commits that set their filtered
//! direct path with parent hashes (RFC 9420 §7.5, §7.9) and sign their leaf.

mod apply;
mod proptests;
mod structure;
mod treekem;
mod validation;

use std::sync::Arc;

use super::RatchetTree;
use crate::codec::Encode;
use crate::crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, HpkePublicKey, RustCryptoProvider,
    SignaturePrivateKey,
};
use crate::messages::{
    Capabilities, Credential, CredentialType, LeafNode, LeafNodeGroupBinding, LeafNodeSource,
    Lifetime, Node, ParentNode, ProtocolVersion,
};
use crate::tree_math::{LeafIndex, NodeIndex};

pub(super) const SUITE: CipherSuite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
pub(super) const GROUP_ID: &[u8] = b"tessera tree tests";

/// A deterministic provider for suite 1.
pub(super) fn provider(seed: u8) -> Arc<dyn CipherSuiteProvider> {
    RustCryptoProvider::with_seed([seed; 32])
        .cipher_suite_provider(SUITE)
        .unwrap()
}

/// Fresh random bytes standing in for an HPKE public key (the tree never
/// uses public keys as keys, only as values to hash and compare).
pub(super) fn random_key(cs: &dyn CipherSuiteProvider) -> HpkePublicKey {
    let mut k = vec![0u8; 32];
    cs.random_bytes(&mut k).unwrap();
    HpkePublicKey(k)
}

/// Capabilities that list suite 1, MLS 1.0 and the basic credential.
pub(super) fn basic_capabilities() -> Capabilities {
    Capabilities {
        versions: vec![ProtocolVersion::MLS10],
        cipher_suites: vec![SUITE],
        extensions: vec![],
        proposals: vec![],
        credentials: vec![CredentialType::BASIC],
    }
}

/// A member's signing key and leaf node.
pub(super) struct Member {
    pub(super) key: SignaturePrivateKey,
    pub(super) leaf: LeafNode,
}

/// A signed `key_package` leaf with a fresh signature key, a basic
/// credential naming `id`, and a lifetime of 1000..=2000.
pub(super) fn key_package_member(cs: &dyn CipherSuiteProvider, id: u32) -> Member {
    member_with(cs, id, |_| {})
}

/// Like [`key_package_member`], with the leaf changed by `edit` before signing.
pub(super) fn member_with(
    cs: &dyn CipherSuiteProvider,
    id: u32,
    edit: impl FnOnce(&mut LeafNode),
) -> Member {
    let (key, public) = cs.signature_generate_key_pair().unwrap();
    let mut leaf = LeafNode {
        encryption_key: random_key(cs),
        signature_key: public,
        credential: Credential::basic(format!("member {id}")),
        capabilities: basic_capabilities(),
        leaf_node_source: LeafNodeSource::KeyPackage(Lifetime {
            not_before: 1000,
            not_after: 2000,
        }),
        extensions: vec![],
        signature: vec![],
    };
    edit(&mut leaf);
    leaf.sign(cs, &key, None).unwrap();
    Member { key, leaf }
}

/// A leaf node that is not signed (for tests that never check signatures).
pub(super) fn unsigned_leaf(cs: &dyn CipherSuiteProvider, id: u32) -> LeafNode {
    let mut sig_key = vec![0u8; 32];
    cs.random_bytes(&mut sig_key).unwrap();
    LeafNode {
        encryption_key: random_key(cs),
        signature_key: sig_key.into(),
        credential: Credential::basic(id.to_be_bytes().to_vec()),
        capabilities: basic_capabilities(),
        leaf_node_source: LeafNodeSource::KeyPackage(Lifetime {
            not_before: 0,
            not_after: u64::MAX,
        }),
        extensions: vec![],
        signature: vec![0; 64],
    }
}

/// Does what applying a commit with an UpdatePath does to the public tree
/// (RFC 9420 §7.5): blanks the committer's direct path, gives each node of
/// its filtered direct path a fresh key, sets the parent hashes (§7.9) and
/// replaces the committer's leaf by a `commit` leaf carrying the leaf's
/// parent hash, signed with `key` if given.
pub(super) fn commit(
    tree: &mut RatchetTree,
    cs: &dyn CipherSuiteProvider,
    committer: LeafIndex,
    key: Option<&SignaturePrivateKey>,
) {
    let mut leaf = tree.leaf(committer).unwrap().clone();
    tree.blank_direct_path(committer).unwrap();
    for step in tree.filtered_direct_path(committer).unwrap() {
        let p = ParentNode {
            encryption_key: random_key(cs),
            parent_hash: vec![],
            unmerged_leaves: vec![],
        };
        tree.set_parent(step.node, p).unwrap();
    }
    let parent_hash = tree.set_path_parent_hashes(cs, committer).unwrap();
    leaf.encryption_key = random_key(cs);
    leaf.leaf_node_source = LeafNodeSource::Commit(parent_hash);
    match key {
        Some(k) => leaf
            .sign(
                cs,
                k,
                Some(LeafNodeGroupBinding {
                    group_id: GROUP_ID,
                    leaf_index: committer,
                }),
            )
            .unwrap(),
        None => leaf.signature = vec![1; 64],
    }
    tree.set_leaf(committer, leaf).unwrap();
}

/// A group of `n` signed members built like `get_tree(n)` of the test
/// vectors: each member in turn adds the next and commits. Returns the tree
/// and the members' signing keys by leaf index.
pub(super) fn signed_group(
    cs: &dyn CipherSuiteProvider,
    n: u32,
) -> (RatchetTree, Vec<SignaturePrivateKey>) {
    let first = key_package_member(cs, 0);
    let mut tree = RatchetTree::new(SUITE, first.leaf).unwrap();
    let mut keys = vec![first.key];
    for i in 1..n {
        let m = key_package_member(cs, i);
        let at = tree.add_leaf(m.leaf).unwrap();
        assert_eq!(at, LeafIndex(i));
        keys.push(m.key);
        let committer = LeafIndex(i - 1);
        commit(&mut tree, cs, committer, Some(&keys[committer.0 as usize]));
    }
    (tree, keys)
}

/// The tree hash of `node` computed from scratch, straight from RFC 9420 §7.8
/// and without the cache, over the nodes padded to a full tree.
pub(super) fn reference_tree_hash(
    cs: &dyn CipherSuiteProvider,
    nodes: &[Option<std::sync::Arc<Node>>],
    node: NodeIndex,
) -> Vec<u8> {
    let value = nodes.get(node.0 as usize).and_then(Option::as_deref);
    let input = match (node.left(), node.right()) {
        (Some(l), Some(r)) => {
            let parent = match value {
                Some(Node::Parent(p)) => Some(p),
                None => None,
                Some(Node::Leaf(_)) => panic!("leaf at a parent position"),
            };
            let mut out = vec![2u8];
            parent.encode(&mut out).unwrap();
            reference_tree_hash(cs, nodes, l).encode(&mut out).unwrap();
            reference_tree_hash(cs, nodes, r).encode(&mut out).unwrap();
            out
        }
        _ => {
            let leaf = match value {
                Some(Node::Leaf(l)) => Some(l),
                None => None,
                Some(Node::Parent(_)) => panic!("parent at a leaf position"),
            };
            let mut out = vec![1u8];
            (node.0 / 2).encode(&mut out).unwrap();
            leaf.encode(&mut out).unwrap();
            out
        }
    };
    cs.hash(&input)
}

/// Checks every derived structure of `tree` against its nodes: the cached
/// tree hash equals a from-scratch one, the key look-ups and member count
/// match, and encoding then decoding gives the same tree.
pub(super) fn assert_consistent(tree: &RatchetTree, cs: &dyn CipherSuiteProvider) {
    let root = tree.root();
    assert_eq!(
        tree.tree_hash(cs).unwrap(),
        reference_tree_hash(cs, &tree.to_nodes(), root),
        "cached tree hash differs from a recomputation"
    );
    let mut members = 0;
    for i in 0..tree.size().node_count() {
        let at = NodeIndex(i);
        match tree.node(at) {
            Some(Node::Leaf(l)) => {
                members += 1;
                assert_eq!(tree.find_leaf_by_signature_key(&l.signature_key), at.leaf());
                assert_eq!(
                    tree.find_node_by_encryption_key(&l.encryption_key),
                    Some(at)
                );
            }
            Some(Node::Parent(p)) => {
                assert_eq!(
                    tree.find_node_by_encryption_key(&p.encryption_key),
                    Some(at)
                );
            }
            None => {}
        }
    }
    assert_eq!(tree.member_count(), members);
    assert_eq!(
        tree.members().count() as u32,
        members,
        "occupancy disagrees with the nodes"
    );
    // Truncation keeps the right half non-empty (RFC 9420 §12.1.3).
    if tree.leaf_count() > 1 {
        let rightmost = tree.members().last().map(|(l, _)| l.0).unwrap_or(0);
        assert!(rightmost >= tree.leaf_count() / 2, "tree not truncated");
    }
    let bytes = tree.to_extension().to_bytes().unwrap();
    if members > 0 {
        let decoded =
            RatchetTree::from_extension(SUITE, crate::codec::Decode::decode_exact(&bytes).unwrap())
                .unwrap();
        assert_eq!(&decoded, tree);
        assert_eq!(decoded.tree_hash(cs).unwrap(), tree.tree_hash(cs).unwrap());
    }
}
