//! RFC 9420 §12.4.2 (processing a commit): the path, the PSKs, the
//! confirmation tag. Alice (leaf 0) forges; her filtered direct path is
//! node 1 (copath child: Bob's leaf, node 2) and node 3 (copath child: node 5,
//! resolved to Carol's leaf, node 4).

use std::collections::HashMap;

use super::forge::Forge;
use super::*;
use crate::crypto::Secret;
use crate::error::ProtocolError;
use crate::messages::{
    GroupContextExtensions, PreSharedKey, PreSharedKeyId, Psk, Remove, ResumptionPsk,
    ResumptionPskUsage, Update,
};
use crate::tree_math::{LeafIndex, NodeIndex};

#[test]
fn a_forged_commit_without_violations_is_accepted() {
    // The control for every test here: the forge's commits are valid unless spoiled.
    let mut fx = Fixture::new(40);
    let (_, kp, _) = fx.new_client("dave");
    let c = fx.groups[ALICE].forge_commit(
        Forge::new(vec![
            by_value(add(&kp)),
            by_value(Proposal::Remove(Remove { removed: 1 })),
        ])
        .with_path(),
    );
    apply(&mut fx.groups[CAROL], &c);
    match deliver(&mut fx.groups[BOB], &c, &()).unwrap() {
        ProcessedMessage::Commit(staged) => assert!(staged.summary().self_removed),
        other => panic!("unexpected {other:?}"),
    }
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![]).with_path());
    apply(&mut fx.groups[BOB], &c);
}

// --- "Verify that the path value is populated if the proposals vector
// contains any Update or Remove proposals, or if it's empty." ---

#[test]
fn empty_commit_without_path() {
    let mut fx = Fixture::new(41);
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![]));
    assert_rejected(&mut fx.groups, BOB, &c, ProtocolError::PathRequired);
}

#[test]
fn commit_of_an_update_without_path() {
    let mut fx = Fixture::new(42);
    let leaf = update_leaf(&fx.groups[BOB], |_| {});
    let (m, _) = fx.groups[BOB].forge_proposal(Proposal::Update(Update { leaf_node: leaf }));
    let r = receive_proposal(&mut fx.groups[ALICE], &m);
    receive_proposal(&mut fx.groups[CAROL], &m);
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![by_ref(&r)]));
    assert_rejected(&mut fx.groups, CAROL, &c, ProtocolError::PathRequired);
}

#[test]
fn commit_of_a_remove_without_path() {
    let mut fx = Fixture::new(43);
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![by_value(Proposal::Remove(Remove {
        removed: 2,
    }))]));
    assert_rejected(&mut fx.groups, BOB, &c, ProtocolError::PathRequired);
}

#[test]
fn commit_of_group_context_extensions_without_path() {
    // RFC 9420 §17.4: GroupContextExtensions has "Path Required: Y".
    let mut fx = Fixture::new(44);
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![by_value(
        Proposal::GroupContextExtensions(GroupContextExtensions {
            extensions: Vec::new(),
        }),
    )]));
    assert_rejected(&mut fx.groups, BOB, &c, ProtocolError::PathRequired);
}

#[test]
fn commit_of_an_add_without_path_is_valid() {
    // "The path field is not required ... if the Commit covers only Add,
    // PreSharedKey, or ReInit proposals": the control for the tests above.
    let mut fx = Fixture::new(45);
    let (_, kp, _) = fx.new_client("dave");
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![by_value(add(&kp))]));
    apply(&mut fx.groups[BOB], &c);
}

// --- The path's leaf node: §7.3 with source commit, a new key (§12.4.2). ---

/// Alice's commit with an empty proposal list and a path changed by `edit`;
/// `receiver` rejects it with `expected`.
fn path_rejected(
    seed: u8,
    receiver: usize,
    edit: impl FnOnce(&mut crate::messages::UpdatePath, &super::forge::PathTools<'_>) + 'static,
    expected: impl Into<Error>,
) {
    forged_rejected(seed, receiver, Forge::new(vec![]).edit_path(edit), expected);
}

fn forged_rejected(seed: u8, receiver: usize, forge: Forge<'_>, expected: impl Into<Error>) {
    let mut fx = Fixture::new(seed);
    let c = fx.groups[ALICE].forge_commit(forge);
    assert_rejected(&mut fx.groups, receiver, &c, expected);
}

#[test]
fn path_leaf_with_source_update() {
    // "The leaf_node_source field MUST be set to commit."
    path_rejected(
        46,
        BOB,
        |path, tools| {
            path.leaf_node.leaf_node_source = LeafNodeSource::Update;
            tools.resign(&mut path.leaf_node);
        },
        ProtocolError::LeafNodeSourceMismatch {
            expected: 3,
            found: 2,
        },
    );
}

#[test]
fn path_leaf_that_keeps_the_committers_encryption_key() {
    // "Verify that the encryption_key value in the LeafNode is different from
    // the committer's current leaf node." (The leaf's parent hash does not
    // depend on its own key, so only this rule is broken.)
    path_rejected(
        47,
        BOB,
        |path, tools| {
            let old = tools.before.leaf(LeafIndex(0)).unwrap();
            path.leaf_node.encryption_key = old.encryption_key.clone();
            tools.resign(&mut path.leaf_node);
        },
        ProtocolError::CommitLeafKeyNotChanged,
    );
}

#[test]
fn path_leaf_with_another_members_encryption_key() {
    // §7.3: encryption keys are unique in the tree (Bob's leaf is node 2).
    path_rejected(
        48,
        CAROL,
        |path, tools| {
            let bob = tools.before.leaf(LeafIndex(1)).unwrap();
            path.leaf_node.encryption_key = bob.encryption_key.clone();
            tools.resign(&mut path.leaf_node);
        },
        ProtocolError::DuplicateEncryptionKey(2),
    );
}

#[test]
fn path_leaf_with_a_bad_signature() {
    path_rejected(
        49,
        BOB,
        |path, _| path.leaf_node.signature[0] ^= 1,
        ProtocolError::LeafNodeSignatureInvalid,
    );
}

#[test]
fn path_leaf_with_a_wrong_parent_hash() {
    // §7.9.2: the leaf's parent_hash must be that of its new path.
    path_rejected(
        50,
        BOB,
        |path, tools| {
            path.leaf_node.leaf_node_source = LeafNodeSource::Commit(vec![0x5a; 32]);
            tools.resign(&mut path.leaf_node);
        },
        ProtocolError::LeafParentHashMismatch(0),
    );
}

// --- "Verify that none of the public keys in the UpdatePath appear in any
// node of the new ratchet tree." The lowest path node (node 1) gets an
// existing key; the leaf's parent hash is recomputed for it, the leaf signed
// again and the path secrets encrypted under the resulting provisional
// context, so only this rule is broken. ---

/// Sets node 1's key in `path` to `key` and keeps the path otherwise valid.
fn reuse_key_at_node_1(
    path: &mut crate::messages::UpdatePath,
    tools: &super::forge::PathTools<'_>,
    key: crate::crypto::HpkePublicKey,
) {
    let parent_hash = tools.leaf_parent_hash_with_lowest_key(&key);
    path.nodes[0].encryption_key = key;
    path.leaf_node.leaf_node_source = LeafNodeSource::Commit(parent_hash);
    tools.resign(&mut path.leaf_node);
}

#[test]
fn path_node_with_the_key_it_replaces() {
    // Node 1's key from Bob's commit. Carol never decrypts node 1, so without
    // this check she would accept the commit.
    let forge = Forge::new(vec![])
        .edit_path(|path, tools| {
            let old = tools.before.parent_node(NodeIndex(1)).unwrap();
            reuse_key_at_node_1(path, tools, old.encryption_key.clone());
        })
        .reencrypt_path();
    forged_rejected(51, CAROL, forge, ProtocolError::DuplicateEncryptionKey(1));
}

#[test]
fn path_node_with_a_members_leaf_key() {
    // (This tree cannot hold the key twice, so the path is not re-encrypted.)
    let forge = Forge::new(vec![])
        .edit_path(|path, tools| {
            let bob = tools.before.leaf(LeafIndex(1)).unwrap();
            reuse_key_at_node_1(path, tools, bob.encryption_key.clone());
        })
        .reencrypt_path();
    forged_rejected(52, CAROL, forge, ProtocolError::DuplicateEncryptionKey(2));
}

// --- The path's structure and secrets (§7.5, §7.6). ---

#[test]
fn path_with_too_few_nodes() {
    path_rejected(
        53,
        BOB,
        |path, _| {
            path.nodes.pop();
        },
        ProtocolError::UpdatePathLengthMismatch {
            expected: 2,
            found: 1,
        },
    );
}

#[test]
fn path_with_too_many_nodes() {
    path_rejected(
        54,
        BOB,
        |path, tools| {
            let extra = crate::messages::UpdatePathNode {
                encryption_key: tools.cs.hpke_generate_key_pair().unwrap().1,
                encrypted_path_secret: Default::default(),
            };
            path.nodes.push(extra);
        },
        ProtocolError::UpdatePathLengthMismatch {
            expected: 2,
            found: 3,
        },
    );
}

#[test]
fn path_with_a_missing_ciphertext() {
    path_rejected(
        55,
        BOB,
        |path, _| path.nodes[0].encrypted_path_secret.clear(),
        ProtocolError::UpdatePathCiphertextCountMismatch {
            node: 1,
            expected: 1,
            found: 0,
        },
    );
}

#[test]
fn path_secrets_that_do_not_derive_the_paths_keys() {
    // §7.5: the ciphertexts of another path of Alice's (same provisional
    // context) decrypt, but derive other keys than the path announces. Bob
    // decrypts node 1's secret, Carol node 3's.
    for (receiver, node) in [(BOB, 1), (CAROL, 3)] {
        path_rejected(
            56,
            receiver,
            |path, tools| {
                let other = tools.other_path();
                for (n, o) in path.nodes.iter_mut().zip(other.nodes) {
                    n.encrypted_path_secret = o.encrypted_path_secret;
                }
            },
            ProtocolError::UpdatePathPublicKeyMismatch(node),
        );
    }
}

// --- PSKs: "Verify that all PreSharedKey proposals in the proposals vector
// are available." ---

fn psk(psk: Psk) -> Proposal {
    Proposal::PreSharedKey(PreSharedKey {
        psk: PreSharedKeyId {
            psk,
            psk_nonce: vec![9; 32],
        },
    })
}

#[test]
fn external_psk_the_receiver_does_not_have() {
    let mut fx = Fixture::new(57);
    let mut store: HashMap<Vec<u8>, Secret> = HashMap::new();
    store.insert(b"shared".to_vec(), Secret::from(vec![0x42; 32]));
    let c = fx.groups[ALICE].forge_commit(
        Forge::new(vec![by_value(psk(Psk::External {
            psk_id: b"shared".to_vec(),
        }))])
        .psks(&store),
    );
    assert_rejected_with(&mut fx.groups, BOB, &c, &(), ProtocolError::PskNotFound);
    // With the PSK, the same commit is valid.
    match deliver(&mut fx.groups[BOB], &c, &store).unwrap() {
        ProcessedMessage::Commit(staged) => fx.groups[BOB].merge_staged_commit(*staged).unwrap(),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn resumption_psk_of_an_epoch_the_receiver_does_not_hold() {
    let mut fx = Fixture::new(58);
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![by_value(psk(Psk::Resumption(
        ResumptionPsk {
            usage: ResumptionPskUsage::Application,
            psk_group_id: b"negative tests".to_vec(),
            psk_epoch: 99,
        },
    )))]));
    assert_rejected(&mut fx.groups, BOB, &c, ProtocolError::PskNotFound);
}

#[test]
fn resumption_psk_of_another_group() {
    let mut fx = Fixture::new(59);
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![by_value(psk(Psk::Resumption(
        ResumptionPsk {
            usage: ResumptionPskUsage::Application,
            psk_group_id: b"another group".to_vec(),
            psk_epoch: 1,
        },
    )))]));
    assert_rejected(&mut fx.groups, BOB, &c, ProtocolError::PskNotFound);
}

// --- The confirmation tag and the committer. ---

#[test]
fn confirmation_tag_mismatch() {
    // The tag is changed before the membership tag is computed: the MAC and
    // the signature are valid, only the confirmation fails.
    let mut fx = Fixture::new(60);
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![]).with_path().edit_auth(|auth| {
        let mut tag = auth.confirmation_tag.take().unwrap().as_bytes().to_vec();
        tag[0] ^= 1;
        auth.confirmation_tag = Some(crate::crypto::Tag::from(tag));
    }));
    assert_rejected(
        &mut fx.groups,
        BOB,
        &c,
        ProtocolError::ConfirmationTagMismatch,
    );
}

#[test]
fn commit_from_own_leaf_that_is_not_the_pending_commit() {
    // §12.4.2: a member does not process a commit of its own leaf except the
    // echo of the commit it sent.
    let mut fx = Fixture::new(61);
    let c = fx.groups[ALICE].forge_commit(Forge::new(vec![]).with_path());
    assert_rejected(
        &mut fx.groups,
        ALICE,
        &c,
        ProtocolError::OwnCommitNotPending,
    );
}
