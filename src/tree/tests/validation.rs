//! Leaf node validation (RFC 9420 §7.3) and join-time tree validation
//! (§12.4.3.1): a valid case for each entry point, then one broken tree or
//! leaf per rule, each expected to fail with that rule's error.

use super::*;
use crate::error::{Error, ProtocolError};
use crate::messages::{Extension, ExtensionType, ProposalType, RequiredCapabilities};
use crate::tree::{LeafNodeOrigin, LeafValidationContext, LifetimeCheck};

fn ctx() -> LeafValidationContext {
    LeafValidationContext::new(GROUP_ID, LifetimeCheck::At(1500))
}

fn expect(r: crate::Result<()>, want: ProtocolError) {
    assert_eq!(r, Err(Error::Protocol(want)));
}

/// A group of four signed members and the suite provider.
fn group() -> (
    RatchetTree,
    Vec<SignaturePrivateKey>,
    Arc<dyn CipherSuiteProvider>,
) {
    let cs = provider(40);
    let (tree, keys) = signed_group(&*cs, 4);
    (tree, keys, cs)
}

/// A new member's leaf changed by `edit` (then signed).
fn new_leaf(cs: &dyn CipherSuiteProvider, edit: impl FnOnce(&mut LeafNode)) -> LeafNode {
    member_with(cs, 99, edit).leaf
}

/// Re-signs `leaf` as a leaf of `source` at `at` with `key`.
fn resign(
    cs: &dyn CipherSuiteProvider,
    mut leaf: LeafNode,
    source: LeafNodeSource,
    key: &SignaturePrivateKey,
    at: LeafIndex,
) -> LeafNode {
    leaf.leaf_node_source = source;
    let binding = LeafNodeGroupBinding {
        group_id: GROUP_ID,
        leaf_index: at,
    };
    leaf.sign(cs, key, Some(binding)).unwrap();
    leaf
}

#[test]
fn a_group_built_by_commits_is_valid() {
    let (tree, _, cs) = group();
    let hash = tree.tree_hash(&*cs).unwrap();
    tree.validate(&*cs, &ctx(), &hash).unwrap();
    // With unmerged leaves too.
    let mut tree = tree;
    tree.add_leaf(new_leaf(&*cs, |_| {})).unwrap();
    let hash = tree.tree_hash(&*cs).unwrap();
    tree.validate(&*cs, &ctx(), &hash).unwrap();
}

#[test]
fn valid_leaves_for_each_origin() {
    let (tree, keys, cs) = group();
    let kp = new_leaf(&*cs, |_| {});
    tree.validate_leaf_node(&*cs, &ctx(), &kp, LeafNodeOrigin::KeyPackage)
        .unwrap();
    let old = tree.leaf(LeafIndex(1)).unwrap().clone();
    let mut upd = old.clone();
    upd.encryption_key = random_key(&*cs);
    let upd = resign(&*cs, upd, LeafNodeSource::Update, &keys[1], LeafIndex(1));
    tree.validate_leaf_node(&*cs, &ctx(), &upd, LeafNodeOrigin::Update(LeafIndex(1)))
        .unwrap();
    let mut com = old;
    com.encryption_key = random_key(&*cs);
    let com = resign(
        &*cs,
        com,
        LeafNodeSource::Commit(vec![7; 32]),
        &keys[1],
        LeafIndex(1),
    );
    tree.validate_leaf_node(&*cs, &ctx(), &com, LeafNodeOrigin::Commit(LeafIndex(1)))
        .unwrap();
}

#[test]
fn source_must_match_origin() {
    // RFC 9420 §7.3: key_package in a KeyPackage, update in an Update, commit in an UpdatePath.
    let (tree, keys, cs) = group();
    let old = tree.leaf(LeafIndex(1)).unwrap().clone();
    let upd = resign(
        &*cs,
        old.clone(),
        LeafNodeSource::Update,
        &keys[1],
        LeafIndex(1),
    );
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &upd, LeafNodeOrigin::KeyPackage),
        ProtocolError::LeafNodeSourceMismatch {
            expected: 1,
            found: 2,
        },
    );
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &upd, LeafNodeOrigin::Commit(LeafIndex(1))),
        ProtocolError::LeafNodeSourceMismatch {
            expected: 3,
            found: 2,
        },
    );
    let kp = new_leaf(&*cs, |_| {});
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &kp, LeafNodeOrigin::Update(LeafIndex(1))),
        ProtocolError::LeafNodeSourceMismatch {
            expected: 2,
            found: 1,
        },
    );
}

#[test]
fn signature_must_verify_with_the_right_binding() {
    // RFC 9420 §7.2: update and commit leaves sign group_id and leaf_index.
    let (tree, keys, cs) = group();
    let mut kp = new_leaf(&*cs, |_| {});
    kp.signature[0] ^= 1;
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &kp, LeafNodeOrigin::KeyPackage),
        ProtocolError::LeafNodeSignatureInvalid,
    );
    let mut upd = tree.leaf(LeafIndex(1)).unwrap().clone();
    upd.encryption_key = random_key(&*cs);
    // Signed for leaf 2, presented by leaf 1.
    let upd = resign(&*cs, upd, LeafNodeSource::Update, &keys[1], LeafIndex(2));
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &upd, LeafNodeOrigin::Update(LeafIndex(1))),
        ProtocolError::LeafNodeSignatureInvalid,
    );
    // Signed for leaf 1 but another group.
    let other_group = LeafValidationContext::new(b"another group".to_vec(), LifetimeCheck::Skip);
    let upd = resign(&*cs, upd, LeafNodeSource::Update, &keys[1], LeafIndex(1));
    tree.validate_leaf_node(&*cs, &ctx(), &upd, LeafNodeOrigin::Update(LeafIndex(1)))
        .unwrap();
    expect(
        tree.validate_leaf_node(
            &*cs,
            &other_group,
            &upd,
            LeafNodeOrigin::Update(LeafIndex(1)),
        ),
        ProtocolError::LeafNodeSignatureInvalid,
    );
    // A tampered leaf in the tree fails validation of the whole tree. (A new,
    // unmerged leaf: tampering a leaf that a parent hash covers would break
    // that parent hash first.)
    let mut bad = tree.clone();
    let mut leaf = new_leaf(&*cs, |_| {});
    leaf.signature[3] ^= 0x10;
    bad.add_leaf(leaf).unwrap();
    let hash = bad.tree_hash(&*cs).unwrap();
    expect(
        bad.validate(&*cs, &ctx(), &hash),
        ProtocolError::LeafNodeSignatureInvalid,
    );
}

#[test]
fn item2_capabilities_need_not_list_suite_or_version() {
    // RFC 9420 §7.3 checks only `required_capabilities`: a leaf whose
    // capabilities list neither the group's cipher suite nor its version is
    // valid, new or already in the tree (other implementations make them).
    let (mut tree, _, cs) = group();
    let leaf = new_leaf(&*cs, |l| {
        l.capabilities.cipher_suites = vec![CipherSuite(2)];
        l.capabilities.versions = vec![ProtocolVersion(2)];
    });
    tree.validate_leaf_node(&*cs, &ctx(), &leaf, LeafNodeOrigin::KeyPackage)
        .unwrap();
    let at = tree.add_leaf(leaf).unwrap();
    let hash = tree.tree_hash(&*cs).unwrap();
    tree.validate(&*cs, &ctx(), &hash).unwrap();
    assert_eq!(at, LeafIndex(4));
}

#[test]
fn item3_new_leaves_must_support_the_group_context_extensions() {
    // RFC 9420 §13.4: a new leaf lists every non-default GroupContext
    // extension type; default types need not be listed; leaves already in
    // the tree are not held to it when a tree is validated.
    let (tree, _, cs) = group();
    let mut c = ctx();
    c.set_extensions(&[
        Extension {
            extension_type: ExtensionType(0xff00),
            extension_data: vec![],
        },
        Extension {
            extension_type: ExtensionType::EXTERNAL_SENDERS,
            extension_data: vec![0],
        },
    ])
    .unwrap();
    let lacking = new_leaf(&*cs, |_| {});
    expect(
        tree.validate_leaf_node(&*cs, &c, &lacking, LeafNodeOrigin::KeyPackage),
        ProtocolError::LeafLacksGroupContextExtension(0xff00),
    );
    let supporting = new_leaf(&*cs, |l| {
        l.capabilities.extensions = vec![ExtensionType(0xff00)]
    });
    tree.validate_leaf_node(&*cs, &c, &supporting, LeafNodeOrigin::KeyPackage)
        .unwrap();
    let hash = tree.tree_hash(&*cs).unwrap();
    tree.validate(&*cs, &c, &hash).unwrap();
}

#[test]
fn capabilities_must_cover_required_capabilities() {
    // RFC 9420 §7.3, §11.1. Default types need not (and must not) be listed.
    let (tree, _, cs) = group();
    let mut c = ctx();
    c.required_capabilities = Some(RequiredCapabilities {
        extension_types: vec![ExtensionType::REQUIRED_CAPABILITIES, ExtensionType(0xff00)],
        proposal_types: vec![ProposalType::ADD, ProposalType(0xff01)],
        credential_types: vec![CredentialType::BASIC],
    });
    let full = |l: &mut LeafNode| {
        l.capabilities.extensions = vec![ExtensionType(0xff00)];
        l.capabilities.proposals = vec![ProposalType(0xff01)];
    };
    let leaf = new_leaf(&*cs, full);
    tree.validate_leaf_node(&*cs, &c, &leaf, LeafNodeOrigin::KeyPackage)
        .unwrap();
    let leaf = new_leaf(&*cs, |l| {
        full(l);
        l.capabilities.extensions.clear();
    });
    expect(
        tree.validate_leaf_node(&*cs, &c, &leaf, LeafNodeOrigin::KeyPackage),
        ProtocolError::LeafLacksRequiredExtension(0xff00),
    );
    let leaf = new_leaf(&*cs, |l| {
        full(l);
        l.capabilities.proposals.clear();
    });
    expect(
        tree.validate_leaf_node(&*cs, &c, &leaf, LeafNodeOrigin::KeyPackage),
        ProtocolError::LeafLacksRequiredProposal(0xff01),
    );
    c.required_capabilities
        .as_mut()
        .unwrap()
        .credential_types
        .push(CredentialType::X509);
    let leaf = new_leaf(&*cs, full);
    expect(
        tree.validate_leaf_node(&*cs, &c, &leaf, LeafNodeOrigin::KeyPackage),
        ProtocolError::LeafLacksRequiredCredential(2),
    );
}

#[test]
fn from_group_context_reads_required_capabilities() {
    let rc = RequiredCapabilities {
        extension_types: vec![],
        proposal_types: vec![],
        credential_types: vec![CredentialType::X509],
    };
    let gc = crate::messages::GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: SUITE,
        group_id: GROUP_ID.to_vec(),
        epoch: 3,
        tree_hash: vec![],
        confirmed_transcript_hash: vec![],
        extensions: vec![Extension::from_typed(&rc).unwrap()],
    };
    let c = LeafValidationContext::from_group_context(&gc, LifetimeCheck::Skip).unwrap();
    assert_eq!(c.required_capabilities, Some(rc));
    assert_eq!(
        c.extension_types,
        vec![ExtensionType::REQUIRED_CAPABILITIES]
    );
    assert_eq!(c.group_id, GROUP_ID);
}

#[test]
fn leaf_must_list_its_own_credential_type_and_extensions() {
    // RFC 9420 §7.2, §7.3.
    let (tree, _, cs) = group();
    let leaf = new_leaf(&*cs, |l| {
        l.capabilities.credentials = vec![CredentialType::X509]
    });
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &leaf, LeafNodeOrigin::KeyPackage),
        ProtocolError::LeafLacksOwnCredentialType(1),
    );
    let ext = |t: u16| Extension {
        extension_type: ExtensionType(t),
        extension_data: vec![],
    };
    let leaf = new_leaf(&*cs, |l| l.extensions = vec![ext(0xff00)]);
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &leaf, LeafNodeOrigin::KeyPackage),
        ProtocolError::LeafExtensionNotInCapabilities(0xff00),
    );
    // Listed: fine. application_id is a default extension: need not be listed.
    let leaf = new_leaf(&*cs, |l| {
        l.extensions = vec![ext(0xff00), ext(1)];
        l.capabilities.extensions = vec![ExtensionType(0xff00)];
    });
    tree.validate_leaf_node(&*cs, &ctx(), &leaf, LeafNodeOrigin::KeyPackage)
        .unwrap();
    // The same extension twice (RFC 9420 §13.4).
    let leaf = new_leaf(&*cs, |l| {
        l.extensions = vec![ext(0xff00), ext(0xff00)];
        l.capabilities.extensions = vec![ExtensionType(0xff00)];
    });
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &leaf, LeafNodeOrigin::KeyPackage),
        ProtocolError::DuplicateExtension(0xff00),
    );
}

#[test]
fn credential_types_must_be_mutually_supported() {
    // RFC 9420 §7.3: the new leaf's type is supported by every member, and
    // the new leaf supports every type in use.
    let (mut tree, keys, cs) = group();
    let x509 = |l: &mut LeafNode| {
        l.credential = Credential::X509(vec![vec![1, 2, 3]]);
        l.capabilities.credentials = vec![CredentialType::BASIC, CredentialType::X509];
    };
    let leaf = new_leaf(&*cs, x509);
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &leaf, LeafNodeOrigin::KeyPackage),
        ProtocolError::CredentialTypeNotSupportedByMembers(2),
    );
    // Once every member supports x509 (each updates), the x509 leaf is fine...
    for i in 0..4 {
        let mut l = tree.leaf(LeafIndex(i)).unwrap().clone();
        l.capabilities.credentials = vec![CredentialType::BASIC, CredentialType::X509];
        l.encryption_key = random_key(&*cs);
        let l = resign(
            &*cs,
            l,
            LeafNodeSource::Update,
            &keys[i as usize],
            LeafIndex(i),
        );
        tree.validate_leaf_node(&*cs, &ctx(), &l, LeafNodeOrigin::Update(LeafIndex(i)))
            .unwrap();
        tree.update_leaf(LeafIndex(i), l).unwrap();
    }
    tree.validate_leaf_node(&*cs, &ctx(), &leaf, LeafNodeOrigin::KeyPackage)
        .unwrap();
    tree.add_leaf(leaf).unwrap();
    // ... and now a basic-only leaf lacks the x509 type in use.
    let basic_only = new_leaf(&*cs, |_| {});
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &basic_only, LeafNodeOrigin::KeyPackage),
        ProtocolError::LeafLacksCredentialTypeInUse(2),
    );
    // A member may drop x509 support only if it is the one x509 user being replaced.
    let mut l = tree.leaf(LeafIndex(4)).unwrap().clone();
    l.credential = Credential::basic("now basic");
    l.capabilities.credentials = vec![CredentialType::BASIC];
    l.encryption_key = random_key(&*cs);
    let m = member_with(&*cs, 4, |_| {});
    l.signature_key = m.leaf.signature_key.clone();
    let l = resign(&*cs, l, LeafNodeSource::Update, &m.key, LeafIndex(4));
    tree.validate_leaf_node(&*cs, &ctx(), &l, LeafNodeOrigin::Update(LeafIndex(4)))
        .unwrap();
}

#[test]
fn lifetime_is_checked_unless_skipped() {
    let (tree, _, cs) = group();
    let leaf = new_leaf(&*cs, |_| {});
    let at = |now| LeafValidationContext::new(GROUP_ID, LifetimeCheck::At(now));
    for now in [1000, 1500, 2000] {
        tree.validate_leaf_node(&*cs, &at(now), &leaf, LeafNodeOrigin::KeyPackage)
            .unwrap();
    }
    for now in [999, 2001] {
        expect(
            tree.validate_leaf_node(&*cs, &at(now), &leaf, LeafNodeOrigin::KeyPackage),
            ProtocolError::LeafLifetimeInvalid {
                not_before: 1000,
                not_after: 2000,
                now,
            },
        );
    }
    let skip = LeafValidationContext::new(GROUP_ID, LifetimeCheck::Skip);
    tree.validate_leaf_node(&*cs, &skip, &leaf, LeafNodeOrigin::KeyPackage)
        .unwrap();
    // Whole-tree validation checks the key_package leaves too.
    let hash = tree.tree_hash(&*cs).unwrap();
    expect(
        tree.validate(&*cs, &at(5000), &hash),
        ProtocolError::LeafLifetimeInvalid {
            not_before: 1000,
            not_after: 2000,
            now: 5000,
        },
    );
}

#[test]
fn keys_must_be_unique_and_updates_must_change_the_encryption_key() {
    let (tree, keys, cs) = group();
    let used_sig = tree.leaf(LeafIndex(2)).unwrap().signature_key.clone();
    let m = member_with(&*cs, 5, |_| {});
    // Same signature key as leaf 2 (re-signed with leaf 2's key so the signature holds).
    let mut leaf = m.leaf.clone();
    leaf.signature_key = used_sig;
    leaf.sign(&*cs, &keys[2], None).unwrap();
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &leaf, LeafNodeOrigin::KeyPackage),
        ProtocolError::DuplicateSignatureKey(2),
    );
    // Encryption key of a parent node.
    let used_enc = tree
        .parent_node(NodeIndex(3))
        .unwrap()
        .encryption_key
        .clone();
    let leaf = new_leaf(&*cs, |l| l.encryption_key = used_enc);
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &leaf, LeafNodeOrigin::KeyPackage),
        ProtocolError::DuplicateEncryptionKey(3),
    );
    // An Update that keeps its encryption key.
    let same = tree.leaf(LeafIndex(1)).unwrap().clone();
    let same = resign(&*cs, same, LeafNodeSource::Update, &keys[1], LeafIndex(1));
    expect(
        tree.validate_leaf_node(&*cs, &ctx(), &same, LeafNodeOrigin::Update(LeafIndex(1))),
        ProtocolError::UpdateKeepsEncryptionKey,
    );
}

#[test]
fn tree_hash_must_match() {
    let (tree, _, cs) = group();
    let mut hash = tree.tree_hash(&*cs).unwrap();
    hash[0] ^= 1;
    expect(
        tree.validate(&*cs, &ctx(), &hash),
        ProtocolError::TreeHashMismatch,
    );
}

/// Validates `tree` against its own tree hash.
fn validate_self(tree: &RatchetTree, cs: &dyn CipherSuiteProvider) -> crate::Result<()> {
    let hash = tree.tree_hash(cs).unwrap();
    tree.validate(cs, &ctx(), &hash)
}

#[test]
fn parent_nodes_must_be_parent_hash_valid() {
    // RFC 9420 §7.9.2.
    let (tree, _, cs) = group();
    // A changed parent_hash field breaks the link from the node to its parent.
    let mut bad = tree.clone();
    bad.set_parent_hash_field(NodeIndex(5), vec![0; 32])
        .unwrap();
    expect(
        validate_self(&bad, &*cs),
        ProtocolError::ParentHashInvalid(3),
    );
    // A changed key breaks the link into the node from below.
    let mut bad = tree.clone();
    let mut p = bad.parent_node(NodeIndex(5)).unwrap().clone();
    p.encryption_key = random_key(&*cs);
    bad.set_parent(NodeIndex(5), p).unwrap();
    expect(
        validate_self(&bad, &*cs),
        ProtocolError::ParentHashInvalid(5),
    );
    // A parent nobody set: get_tree(4) leaves node 1 as set by leaf 0's
    // commit; replace it by a fresh node with no chain.
    let mut bad = tree.clone();
    bad.set_parent(
        NodeIndex(1),
        ParentNode {
            encryption_key: random_key(&*cs),
            parent_hash: vec![],
            unmerged_leaves: vec![],
        },
    )
    .unwrap();
    expect(
        validate_self(&bad, &*cs),
        ProtocolError::ParentHashInvalid(1),
    );
    // Unmerged leaves that do not match the chain: node 5 (set by leaf 2's
    // commit) claims leaf 2 never merged it. Node 5's own link from leaf 2
    // fails, and so does its link to node 3 (whose unmerged leaves would
    // have to list leaf 2 too); node 3 is reported first.
    let mut bad = tree.clone();
    let mut p = bad.parent_node(NodeIndex(5)).unwrap().clone();
    p.unmerged_leaves = vec![2];
    bad.set_parent(NodeIndex(5), p).unwrap();
    bad.check_unmerged_leaves().unwrap();
    assert_eq!(
        bad.verify_parent_hashes(&*cs),
        Err(Error::Protocol(ProtocolError::ParentHashInvalid(3)))
    );
    // The untouched tree verifies.
    tree.verify_parent_hashes(&*cs).unwrap();
}

#[test]
fn a_parent_covered_by_two_chains_is_invalid() {
    // Two leaves below a parent P, both carrying the parent hash of P with
    // each other as unmerged: each side would link to P, and §7.9.2 requires
    // exactly one chain.
    let cs = provider(41);
    let a = unsigned_leaf(&*cs, 0);
    let b = unsigned_leaf(&*cs, 1);
    let p = ParentNode {
        encryption_key: random_key(&*cs),
        parent_hash: vec![],
        unmerged_leaves: vec![],
    };
    let mut tree = RatchetTree::from_nodes(
        SUITE,
        vec![
            Some(Node::Leaf(a.clone())),
            Some(Node::Parent(p)),
            Some(Node::Leaf(b.clone())),
        ],
    )
    .unwrap();
    let ph_left = tree.parent_hash(&*cs, NodeIndex(1), NodeIndex(2)).unwrap();
    let ph_right = tree.parent_hash(&*cs, NodeIndex(1), NodeIndex(0)).unwrap();
    let mut a2 = a;
    a2.leaf_node_source = LeafNodeSource::Commit(ph_left);
    let mut b2 = b;
    b2.leaf_node_source = LeafNodeSource::Commit(ph_right);
    tree.set_leaf(LeafIndex(0), a2).unwrap();
    tree.verify_parent_hashes(&*cs).unwrap();
    tree.set_leaf(LeafIndex(1), b2).unwrap();
    assert_eq!(
        tree.verify_parent_hashes(&*cs),
        Err(Error::Protocol(ProtocolError::ParentHashInvalid(1)))
    );
}

#[test]
fn unmerged_leaves_must_be_members_listed_all_the_way_down() {
    // RFC 9420 §12.4.3.1.
    let cs = provider(42);
    let (mut tree, keys) = signed_group(&*cs, 8);
    // A blank leaf listed as unmerged. (Removing leaf 6 blanks the root;
    // leaf 0's commit sets it again.)
    tree.remove_leaf(LeafIndex(6)).unwrap();
    commit(&mut tree, &*cs, LeafIndex(0), Some(&keys[0]));
    validate_self(&tree, &*cs).unwrap();
    let mut bad = tree.clone();
    let mut p = bad.parent_node(NodeIndex(7)).unwrap().clone();
    p.unmerged_leaves.push(6);
    bad.set_parent(NodeIndex(7), p).unwrap();
    expect(
        bad.check_unmerged_leaves(),
        ProtocolError::UnmergedLeafInvalid { node: 7, leaf: 6 },
    );
    // Leaf 4 listed at the root (7) but not at the non-blank node 9 between.
    assert!(tree.parent_node(NodeIndex(9)).is_some());
    let mut bad = tree.clone();
    let mut p = bad.parent_node(NodeIndex(7)).unwrap().clone();
    p.unmerged_leaves.push(4);
    bad.set_parent(NodeIndex(7), p).unwrap();
    expect(
        validate_self(&bad, &*cs),
        ProtocolError::UnmergedLeafNotListedBelow { node: 9, leaf: 4 },
    );
    // Listed at every non-blank node up to the root: consistent (the parent
    // hashes then fail, but the unmerged rule holds).
    let mut ok = bad.clone();
    for n in [9u32, 11] {
        if let Some(p) = ok.parent_node(NodeIndex(n)) {
            let mut p = p.clone();
            p.unmerged_leaves.push(4);
            ok.set_parent(NodeIndex(n), p).unwrap();
        }
    }
    ok.check_unmerged_leaves().unwrap();
}
