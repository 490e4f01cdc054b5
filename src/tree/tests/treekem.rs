//! TreeKEM (RFC 9420 §7.4-§7.6): groups grown by real commits whose members
//! all end with keys matching the tree and agree on every commit secret, and
//! UpdatePaths broken one rule at a time.

use std::collections::BTreeMap;

use super::*;
use crate::crypto::{HpkePrivateKey, Secret};
use crate::error::{CryptoError, Error, ProtocolError};
use crate::messages::{GroupContext, UpdatePath};
use crate::tree::{LeafNodeOrigin, LeafValidationContext, LifetimeCheck, TreePrivateKeys};

/// The provisional GroupContext of these tests for a tree hash.
fn context(tree_hash: Vec<u8>) -> GroupContext {
    GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: SUITE,
        group_id: GROUP_ID.to_vec(),
        epoch: 7,
        tree_hash,
        confirmed_transcript_hash: vec![3; 32],
        extensions: vec![],
    }
}

/// A member's signing key and private tree keys.
struct Kem {
    signer: SignaturePrivateKey,
    keys: TreePrivateKeys,
}

/// A key_package member with a real HPKE key pair.
fn kem_member(
    cs: &dyn CipherSuiteProvider,
    id: u32,
) -> (LeafNode, SignaturePrivateKey, HpkePrivateKey) {
    let (hpke_private, hpke_public) = cs.hpke_generate_key_pair().unwrap();
    let m = member_with(cs, id, |l| l.encryption_key = hpke_public);
    (m.leaf, m.key, hpke_private)
}

/// `committer` commits with a path after `new_members` were added; every
/// other member merges and decrypts; new members take their path secret as
/// from a Welcome. Returns the commit secret everyone agrees on.
fn commit_with_path(
    tree: &mut RatchetTree,
    members: &mut BTreeMap<u32, Kem>,
    cs: &dyn CipherSuiteProvider,
    committer: LeafIndex,
    new_members: &[LeafIndex],
) -> Secret {
    let before = tree.clone();
    let c = members.get(&committer.0).unwrap();
    let leaf = tree.leaf(committer).unwrap().clone();
    let pending = tree
        .create_update_path(cs, committer, leaf, &c.signer, GROUP_ID)
        .unwrap();
    let gc = context(tree.tree_hash(cs).unwrap());
    let path = pending.encrypt(tree, cs, &gc, new_members).unwrap();
    let welcome_secrets: Vec<(LeafIndex, Option<Secret>)> = new_members
        .iter()
        .map(|&m| (m, pending.path_secret_for(m).cloned()))
        .collect();
    let c = members.get_mut(&committer.0).unwrap();
    let commit_secret = pending.store_keys(tree, &mut c.keys).unwrap();
    // Receivers.
    let validation = LeafValidationContext::new(GROUP_ID, LifetimeCheck::At(1500));
    before
        .validate_leaf_node(
            cs,
            &validation,
            &path.leaf_node,
            LeafNodeOrigin::Commit(committer),
        )
        .unwrap();
    let mut received = before.clone();
    received
        .merge_update_path(cs, committer, &path, new_members)
        .unwrap();
    assert_eq!(&received, &*tree);
    for (&i, m) in members.iter_mut() {
        let leaf = LeafIndex(i);
        if leaf == committer || new_members.contains(&leaf) {
            continue;
        }
        let got = received
            .decrypt_update_path(cs, &mut m.keys, committer, &path, &gc, new_members)
            .unwrap();
        assert_eq!(got.commit_secret, commit_secret);
    }
    for (leaf, secret) in welcome_secrets {
        let m = members.get_mut(&leaf.0).unwrap();
        if let Some(secret) = secret {
            let start = tree.size().common_ancestor(committer.node(), leaf.node());
            m.keys
                .set_path_secrets_from(tree, cs, start, secret)
                .unwrap();
        }
    }
    for m in members.values() {
        m.keys.check_against(tree, cs).unwrap();
    }
    commit_secret
}

/// A group of `n` members grown like the vectors' `get_tree(n)`, with real
/// keys: each member adds the next and commits with a path.
fn kem_group(cs: &dyn CipherSuiteProvider, n: u32) -> (RatchetTree, BTreeMap<u32, Kem>) {
    let (leaf, signer, hpke) = kem_member(cs, 0);
    let mut tree = RatchetTree::new(SUITE, leaf).unwrap();
    let mut members = BTreeMap::new();
    members.insert(
        0,
        Kem {
            signer,
            keys: TreePrivateKeys::new(LeafIndex(0), hpke),
        },
    );
    for i in 1..n {
        let (leaf, signer, hpke) = kem_member(cs, i);
        let at = tree.add_leaf(leaf).unwrap();
        members.insert(
            at.0,
            Kem {
                signer,
                keys: TreePrivateKeys::new(at, hpke),
            },
        );
        commit_with_path(&mut tree, &mut members, cs, LeafIndex(i - 1), &[at]);
    }
    (tree, members)
}

#[test]
fn a_group_grown_by_commits_shares_every_commit_secret() {
    let cs = provider(60);
    let cs = &*cs;
    let (mut tree, mut members) = kem_group(cs, 6);
    let hash = tree.tree_hash(cs).unwrap();
    tree.validate(
        cs,
        &LeafValidationContext::new(GROUP_ID, LifetimeCheck::At(1500)),
        &hash,
    )
    .unwrap();
    // Everyone commits once more; the committer's old path keys are gone.
    for i in 0..6 {
        commit_with_path(&mut tree, &mut members, cs, LeafIndex(i), &[]);
    }
    // With blanks: remove two members, then commit.
    tree.remove_leaf(LeafIndex(1)).unwrap();
    tree.remove_leaf(LeafIndex(4)).unwrap();
    members.remove(&1);
    members.remove(&4);
    for m in members.values_mut() {
        m.keys.forget_blank(&tree);
    }
    commit_with_path(&mut tree, &mut members, cs, LeafIndex(5), &[]);
    commit_with_path(&mut tree, &mut members, cs, LeafIndex(0), &[]);
}

/// A group of four and a path from leaf 0 for it.
struct Fixture {
    cs: Arc<dyn CipherSuiteProvider>,
    /// The tree before the path.
    tree: RatchetTree,
    /// The tree after the path.
    after: RatchetTree,
    members: BTreeMap<u32, Kem>,
    path: UpdatePath,
    gc: GroupContext,
}

fn path_fixture() -> Fixture {
    let cs = provider(61);
    let (tree, members) = kem_group(&*cs, 4);
    let mut after = tree.clone();
    let leaf = tree.leaf(LeafIndex(0)).unwrap().clone();
    let pending = after
        .create_update_path(&*cs, LeafIndex(0), leaf, &members[&0].signer, GROUP_ID)
        .unwrap();
    let gc = context(after.tree_hash(&*cs).unwrap());
    let path = pending.encrypt(&after, &*cs, &gc, &[]).unwrap();
    Fixture {
        cs,
        tree,
        after,
        members,
        path,
        gc,
    }
}

#[test]
fn a_path_of_the_wrong_length_is_refused() {
    let Fixture {
        cs, tree, mut path, ..
    } = path_fixture();
    path.nodes.pop();
    let mut t = tree.clone();
    assert_eq!(
        t.merge_update_path(&*cs, LeafIndex(0), &path, &[]),
        Err(Error::Protocol(ProtocolError::UpdatePathLengthMismatch {
            expected: 2,
            found: 1
        }))
    );
    assert_eq!(t, tree);
}

#[test]
fn a_path_with_a_missing_ciphertext_is_refused() {
    let Fixture {
        cs, tree, mut path, ..
    } = path_fixture();
    // Node 3's copath child is node 5 (leaves 2, 3): resolution [5].
    path.nodes[1].encrypted_path_secret.clear();
    let mut t = tree.clone();
    assert_eq!(
        t.merge_update_path(&*cs, LeafIndex(0), &path, &[]),
        Err(Error::Protocol(
            ProtocolError::UpdatePathCiphertextCountMismatch {
                node: 3,
                expected: 1,
                found: 0
            }
        ))
    );
    assert_eq!(t, tree);
}

#[test]
fn a_path_whose_keys_do_not_match_the_leaf_parent_hash_is_refused() {
    // RFC 9420 §7.9.2: the committer's leaf must carry the parent hash of its path.
    let Fixture {
        cs, tree, mut path, ..
    } = path_fixture();
    path.nodes[0].encryption_key = random_key(&*cs);
    let mut t = tree.clone();
    assert_eq!(
        t.merge_update_path(&*cs, LeafIndex(0), &path, &[]),
        Err(Error::Protocol(ProtocolError::LeafParentHashMismatch(0)))
    );
    assert_eq!(t, tree);
}

#[test]
fn a_path_secret_that_does_not_derive_the_keys_is_refused() {
    // RFC 9420 §7.5: derived public keys must equal the UpdatePath's. The
    // ciphertexts come from a second, different path (encrypted under the
    // same context), so they decrypt but derive other keys.
    let Fixture {
        cs,
        tree,
        after,
        mut members,
        path,
        gc,
    } = path_fixture();
    let mut other_tree = tree.clone();
    let leaf = tree.leaf(LeafIndex(0)).unwrap().clone();
    let other = other_tree
        .create_update_path(&*cs, LeafIndex(0), leaf, &members[&0].signer, GROUP_ID)
        .unwrap();
    let other_path = other.encrypt(&other_tree, &*cs, &gc, &[]).unwrap();
    let mut forged = path.clone();
    for (n, o) in forged.nodes.iter_mut().zip(other_path.nodes) {
        n.encrypted_path_secret = o.encrypted_path_secret;
    }
    let mut merged = tree.clone();
    merged
        .merge_update_path(&*cs, LeafIndex(0), &forged, &[])
        .unwrap();
    assert_eq!(merged, after);
    let m = members.get_mut(&2).unwrap();
    let before: Vec<NodeIndex> = m.keys.nodes().collect();
    assert_eq!(
        merged
            .decrypt_update_path(&*cs, &mut m.keys, LeafIndex(0), &forged, &gc, &[])
            .unwrap_err(),
        Error::Protocol(ProtocolError::UpdatePathPublicKeyMismatch(3))
    );
    assert_eq!(m.keys.nodes().collect::<Vec<_>>(), before, "keys unchanged");
    // The genuine path decrypts.
    merged
        .decrypt_update_path(&*cs, &mut m.keys, LeafIndex(0), &path, &gc, &[])
        .unwrap();
}

#[test]
fn a_different_group_context_does_not_decrypt() {
    let Fixture {
        cs,
        after,
        mut members,
        path,
        mut gc,
        ..
    } = path_fixture();
    gc.epoch += 1;
    let m = members.get_mut(&1).unwrap();
    assert_eq!(
        after
            .decrypt_update_path(&*cs, &mut m.keys, LeafIndex(0), &path, &gc, &[])
            .unwrap_err(),
        Error::Crypto(CryptoError::HpkeOpenFailed)
    );
}

#[test]
fn new_members_are_left_out_of_the_resolutions() {
    // RFC 9420 §7.6: "the resolution of the corresponding copath node MUST
    // exclude all new leaf nodes added as part of the current Commit".
    let cs = provider(62);
    let (mut tree, mut members) = kem_group(&*cs, 3);
    // Leaf 3 joins: unmerged at node 5's ancestors that are non-blank.
    let (leaf, signer, hpke) = kem_member(&*cs, 3);
    let at = tree.add_leaf(leaf).unwrap();
    members.insert(
        at.0,
        Kem {
            signer,
            keys: TreePrivateKeys::new(at, hpke),
        },
    );
    let before = tree.clone();
    let leaf = tree.leaf(LeafIndex(0)).unwrap().clone();
    let pending = tree
        .create_update_path(&*cs, LeafIndex(0), leaf, &members[&0].signer, GROUP_ID)
        .unwrap();
    let gc = context(tree.tree_hash(&*cs).unwrap());
    let with = pending.encrypt(&tree, &*cs, &gc, &[]).unwrap();
    let without = pending.encrypt(&tree, &*cs, &gc, &[at]).unwrap();
    let count = |p: &UpdatePath| {
        p.nodes
            .iter()
            .map(|n| n.encrypted_path_secret.len())
            .sum::<usize>()
    };
    assert_eq!(count(&with), count(&without) + 1);
    // Receivers must use the same exclusion to accept it.
    let mut t = before.clone();
    assert!(matches!(
        t.merge_update_path(&*cs, LeafIndex(0), &without, &[]),
        Err(Error::Protocol(
            ProtocolError::UpdatePathCiphertextCountMismatch { .. }
        ))
    ));
    t.merge_update_path(&*cs, LeafIndex(0), &without, &[at])
        .unwrap();
    // The new member gets the common ancestor's path secret instead.
    assert!(pending.path_secret_for(at).is_some());
}
