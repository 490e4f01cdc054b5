//! Tests of the group APIs the client is built on: incremental state pieces,
//! the check of received content, proposal selection, credentials by epoch.

use std::collections::BTreeMap;

use super::*;
use crate::crypto::Secret;
use crate::error::ProtocolError;
use crate::group::{Incoming, LeafChangeKind, ProposalSelection, StateChanges, StatePiece};
use crate::messages::{LeafNodeSource, Remove};
use crate::secret_tree::RatchetKind;
use crate::tree_math::LeafIndex;

/// A store of pieces that applies each member's changes.
#[derive(Default)]
struct Pieces(BTreeMap<StatePiece, Secret>);

impl Pieces {
    /// Applies `g`'s changes; returns the bytes written.
    fn save(&mut self, g: &mut Group) -> usize {
        let changes = g.take_state_changes().unwrap();
        for p in changes.deleted {
            self.0.remove(&p);
        }
        let mut bytes = 0;
        for (p, v) in changes.written {
            bytes += v.len() + p.key().len();
            self.0.insert(p, v);
        }
        bytes
    }

    fn restore(&self, provider: &RustCryptoProvider) -> Group {
        Group::from_pieces(
            provider,
            self.0.iter().map(|(p, v)| (p.clone(), v.as_bytes())),
        )
        .unwrap()
    }

    /// The pieces must rebuild exactly the live group.
    fn check(&self, provider: &RustCryptoProvider, g: &Group) {
        let restored = self.restore(provider);
        assert_eq!(
            restored.to_bytes().unwrap(),
            g.to_bytes().unwrap(),
            "the pieces do not rebuild the group"
        );
        let all: BTreeMap<_, _> = g.state_pieces().unwrap().into_iter().collect();
        assert_eq!(all, self.0, "the store differs from the group's pieces");
    }
}

fn app(g: &mut Group, text: &[u8]) -> MlsMessage {
    g.encrypt_application(text, b"").unwrap()
}

fn read(g: &mut Group, m: &MlsMessage) -> Vec<u8> {
    match deliver(g, m, &()).unwrap() {
        ProcessedMessage::Application { data, .. } => data,
        other => panic!("not application data: {other:?}"),
    }
}

#[test]
fn pieces_follow_every_change_and_rebuild_the_group() {
    let mut fx = Fixture::new(41);
    let provider = fx.provider.clone();
    let mut stores: Vec<Pieces> = (0..3).map(|_| Pieces::default()).collect();
    for (s, g) in stores.iter_mut().zip(fx.groups.iter_mut()) {
        s.save(g);
        s.check(&provider, g);
    }

    // Messages, one out of order; a sender's first message starts its ratchets.
    let m1 = app(&mut fx.groups[ALICE], b"one");
    let m2 = app(&mut fx.groups[ALICE], b"two");
    let m3 = app(&mut fx.groups[ALICE], b"three");
    stores[ALICE].save(&mut fx.groups[ALICE]);
    for m in [&m3, &m1] {
        read(&mut fx.groups[BOB], m);
        stores[BOB].save(&mut fx.groups[BOB]);
        stores[BOB].check(&provider, &fx.groups[BOB]);
    }
    // A replay is refused by the restored member too: the key is gone on disk.
    let mut restored = stores[BOB].restore(&provider);
    assert_eq!(
        deliver(&mut restored, &m1, &()).unwrap_err(),
        Error::Protocol(ProtocolError::KeyAlreadyUsed(0))
    );
    assert_eq!(read(&mut restored, &m2), b"two");

    // A proposal, then a commit that leaves a past epoch behind.
    let (_, kp, _) = fx.new_client("dave");
    let proposal = fx.groups[CAROL].propose(add(&kp)).unwrap();
    stores[CAROL].save(&mut fx.groups[CAROL]);
    receive_proposal(&mut fx.groups[BOB], &proposal);
    stores[BOB].save(&mut fx.groups[BOB]);
    stores[BOB].check(&provider, &fx.groups[BOB]);
    receive_proposal(&mut fx.groups[ALICE], &proposal);
    let out = fx.groups[ALICE]
        .commit(CommitOptions::default(), &(), Some(NOW))
        .unwrap();
    stores[ALICE].save(&mut fx.groups[ALICE]);
    stores[ALICE].check(&provider, &fx.groups[ALICE]);
    fx.groups[ALICE].merge_pending_commit().unwrap();
    stores[ALICE].save(&mut fx.groups[ALICE]);
    stores[ALICE].check(&provider, &fx.groups[ALICE]);
    for i in [BOB, CAROL] {
        apply(&mut fx.groups[i], &out.commit);
        stores[i].save(&mut fx.groups[i]);
        stores[i].check(&provider, &fx.groups[i]);
    }
    // A late message of the past epoch is still readable, from the store too.
    let late = m2.clone();
    let mut restored = stores[CAROL].restore(&provider);
    assert_eq!(read(&mut restored, &late), b"two");

    // More epochs: the oldest ages out and its pieces are deleted.
    for round in 0..4 {
        let committer = round % 3;
        let out = fx.groups[committer]
            .commit(
                CommitOptions {
                    force_path: true,
                    ..Default::default()
                },
                &(),
                Some(NOW),
            )
            .unwrap();
        fx.groups[committer].merge_pending_commit().unwrap();
        for i in 0..3 {
            if i != committer {
                apply(&mut fx.groups[i], &out.commit);
            }
            let m = app(&mut fx.groups[i], b"x");
            stores[i].save(&mut fx.groups[i]);
            let epoch = fx.groups[i].epoch();
            for (j, (store, g)) in stores.iter_mut().zip(fx.groups.iter_mut()).enumerate() {
                if j != i && g.epoch() == epoch {
                    read(g, &m);
                    store.save(g);
                }
            }
        }
        for (store, g) in stores.iter_mut().zip(fx.groups.iter_mut()) {
            store.save(g);
            store.check(&provider, g);
            let kept: std::collections::BTreeSet<u64> = store
                .0
                .keys()
                .filter_map(|p| match p {
                    StatePiece::Tree { epoch } => Some(*epoch),
                    _ => None,
                })
                .collect();
            assert_eq!(
                kept.len(),
                1 + GroupConfig::default().max_past_epochs,
                "trees of epochs not kept must be deleted"
            );
        }
    }
}

#[test]
fn a_received_message_writes_a_small_record() {
    let mut fx = Fixture::new(42);
    let mut store = Pieces::default();
    store.save(&mut fx.groups[BOB]);
    let first = app(&mut fx.groups[ALICE], &[7; 1024]);
    let second = app(&mut fx.groups[ALICE], &[7; 1024]);
    read(&mut fx.groups[BOB], &first);
    let changes = fx.groups[BOB].take_state_changes().unwrap();
    // The sender's ratchets and the node secrets its start consumed or added.
    assert!(changes.written.iter().all(|(p, _)| matches!(
        p,
        StatePiece::SenderRatchet { .. } | StatePiece::SecretTreeNode { .. }
    )));
    for (p, v) in changes.written {
        store.0.insert(p, v);
    }
    for p in changes.deleted {
        store.0.remove(&p);
    }
    read(&mut fx.groups[BOB], &second);
    let changes = fx.groups[BOB].take_state_changes().unwrap();
    // In order: the head of the sender's application ratchet, nothing else.
    assert_eq!(changes.written.len(), 1);
    assert!(changes.deleted.is_empty());
    let (piece, value) = &changes.written[0];
    assert_eq!(
        *piece,
        StatePiece::SenderRatchet {
            epoch: fx.groups[BOB].epoch(),
            leaf: LeafIndex(ALICE as u32),
            ratchet: RatchetKind::Application,
        }
    );
    // `optional<NextSecret>`: 1 + 4 + 1 + 32 bytes.
    assert_eq!(value.len(), 38);
    assert!(!fx.groups[BOB].has_state_changes());
}

#[test]
fn from_pieces_refuses_missing_stale_and_broken_pieces() {
    let mut fx = Fixture::new(43);
    let provider = fx.provider.clone();
    let m = app(&mut fx.groups[ALICE], b"m");
    read(&mut fx.groups[BOB], &m);
    let pieces = fx.groups[BOB].state_pieces().unwrap();
    let attempt = |pieces: &[(StatePiece, Vec<u8>)]| {
        Group::from_pieces(
            &provider,
            pieces.iter().map(|(p, v)| (p.clone(), v.as_slice())),
        )
    };
    let plain: Vec<(StatePiece, Vec<u8>)> = pieces
        .iter()
        .map(|(p, v)| (p.clone(), v.as_bytes().to_vec()))
        .collect();
    attempt(&plain).unwrap();
    // Each piece is needed: a missing node secret leaves a leaf uncovered.
    for i in 0..plain.len() {
        let mut fewer = plain.clone();
        let (p, _) = fewer.remove(i);
        assert!(
            matches!(attempt(&fewer), Err(Error::Decode(_))),
            "missing {p:?} was not noticed"
        );
    }
    // A piece of an epoch not kept.
    let mut stale = plain.clone();
    stale.push((StatePiece::Tree { epoch: 77 }, plain[1].1.clone()));
    assert!(matches!(attempt(&stale), Err(Error::Decode(_))));
    // A repeated piece.
    let mut twice = plain.clone();
    twice.push(plain[0].clone());
    assert!(matches!(attempt(&twice), Err(Error::Decode(_))));
    // A sender-ratchet piece with trailing bytes.
    let mut trailing = plain.clone();
    let i = trailing
        .iter()
        .position(|(p, _)| matches!(p, StatePiece::SenderRatchet { .. }))
        .unwrap();
    trailing[i].1.extend_from_slice(&[0, 0, 0, 5, 0, 0]);
    assert!(matches!(attempt(&trailing), Err(Error::Decode(_))));
    // Flipped bytes anywhere never panic.
    for (i, (_, v)) in plain.iter().enumerate() {
        for pos in [0, v.len() / 2, v.len().saturating_sub(1)] {
            let mut broken = plain.clone();
            if let Some(b) = broken[i].1.get_mut(pos) {
                *b ^= 0x41;
            }
            let _ = attempt(&broken);
        }
    }
}

#[test]
fn piece_keys_round_trip_and_sort_by_epoch() {
    let pieces = [
        StatePiece::Epoch,
        StatePiece::PendingCommit,
        StatePiece::Tree { epoch: 3 },
        StatePiece::PastEpoch { epoch: u64::MAX },
        StatePiece::SecretTreeNode {
            epoch: 1,
            node: crate::tree_math::NodeIndex(9),
        },
        StatePiece::SenderRatchet {
            epoch: 2,
            leaf: LeafIndex(4),
            ratchet: RatchetKind::Handshake,
        },
        StatePiece::RetainedKey {
            epoch: 2,
            leaf: LeafIndex(4),
            ratchet: RatchetKind::Application,
            generation: 70_000,
        },
        StatePiece::LegacySenderRatchets {
            epoch: 2,
            leaf: LeafIndex(4),
        },
        StatePiece::Proposal(crate::messages::ProposalRef(vec![1, 2, 3])),
    ];
    for p in pieces {
        assert_eq!(StatePiece::from_key(p.kind(), &p.key()).unwrap(), p);
    }
    assert!(StatePiece::from_key(crate::group::PieceKind::Tree, &[1, 2]).is_err());
    assert!(StatePiece::from_key(crate::group::PieceKind::Epoch, &[1]).is_err());
    assert!(StatePiece::from_key(crate::group::PieceKind::LegacySenderRatchets, &[0; 13]).is_err());
    assert!(StatePiece::from_key(crate::group::PieceKind::SenderRatchet, &[0; 12]).is_err());
    // Ratchet code 2 names no ratchet.
    let mut bad = [0; 13];
    bad[12] = 2;
    assert!(StatePiece::from_key(crate::group::PieceKind::SenderRatchet, &bad).is_err());
    assert!(StatePiece::from_key(crate::group::PieceKind::RetainedKey, &[0; 16]).is_err());
}

#[test]
fn check_sees_proposals_and_commits_and_refuses_them_whole() {
    let mut fx = Fixture::new(44);
    let (_, kp, _) = fx.new_client("dave");
    let proposal = fx.groups[ALICE].propose(add(&kp)).unwrap();
    let bob = &mut fx.groups[BOB];
    let before = bob.snapshot();
    let refuse = |_: &Group, _: Incoming<'_>| Err(Error::Internal("refused"));
    let err = bob
        .process_message_with(&proposal, &(), Some(NOW), &mut { refuse })
        .unwrap_err();
    assert_eq!(err, Error::Internal("refused"));
    assert_eq!(bob.snapshot(), before);
    receive_proposal(bob, &proposal);

    // The commit: its proposals and the leaves it puts in the tree.
    let out = fx.groups[ALICE]
        .commit(
            CommitOptions {
                force_path: true,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    let bob = &mut fx.groups[BOB];
    let before = bob.snapshot();
    let mut seen = Vec::new();
    let err = bob
        .process_message_with(&out.commit, &(), Some(NOW), &mut |g, incoming| {
            if let Incoming::Commit {
                proposals, leaves, ..
            } = incoming
            {
                assert_eq!(proposals.len(), 1);
                assert!(proposals[0].reference.is_some());
                for l in leaves {
                    seen.push((l.leaf, l.kind, l.old.is_some()));
                    if l.kind == LeafChangeKind::CommitterPath {
                        assert_eq!(l.old.as_ref(), g.tree().leaf(l.leaf));
                        assert!(matches!(l.new.leaf_node_source, LeafNodeSource::Commit(_)));
                    }
                }
            }
            Err(Error::Internal("no"))
        })
        .unwrap_err();
    assert_eq!(err, Error::Internal("no"));
    assert_eq!(bob.snapshot(), before);
    assert_eq!(
        seen,
        [
            (LeafIndex(3), LeafChangeKind::Added, false),
            (LeafIndex(0), LeafChangeKind::CommitterPath, true),
        ]
    );
    apply(bob, &out.commit);
}

#[test]
fn a_refused_private_message_keeps_its_key() {
    let mut fx = Fixture::new(45);
    fx.groups[ALICE].config.handshake_format = crate::group::HandshakeFormat::Private;
    let remove = fx.groups[ALICE]
        .propose(Proposal::Remove(Remove { removed: 2 }))
        .unwrap();
    assert!(matches!(remove, MlsMessage::PrivateMessage(_)));
    let bob = &mut fx.groups[BOB];
    bob.take_state_changes().unwrap();
    let saved = bob.to_bytes().unwrap();
    let _ = bob
        .process_message_with(&remove, &(), Some(NOW), &mut |_, _| {
            Err(Error::Internal("no"))
        })
        .unwrap_err();
    assert_eq!(bob.to_bytes().unwrap(), saved);
    assert!(!bob.has_state_changes());
    receive_proposal(bob, &remove);
}

#[test]
fn select_proposals_leaves_out_what_cannot_be_committed() {
    let mut fx = Fixture::new(46);
    // Carol proposes to remove Bob and Bob proposes an Update: the Remove wins.
    let remove_bob = fx.groups[CAROL]
        .propose(Proposal::Remove(Remove { removed: 1 }))
        .unwrap();
    let update = fx.groups[BOB]
        .propose_update_for_test(None, |_| {})
        .unwrap();
    // An Add of an expired KeyPackage, and a Remove of a blank leaf.
    let id = Identity::generate(&*fx.cs, Credential::basic("old")).unwrap();
    let (expired, _) =
        generate_key_package(&*fx.cs, &id, KeyPackageOptions::valid_for(NOW - 100, 10)).unwrap();
    let add_expired = fx.groups[CAROL].propose(add(&expired)).unwrap();
    let remove_blank = fx.groups[CAROL]
        .propose(Proposal::Remove(Remove { removed: 3 }))
        .unwrap();
    // Two Adds of one client (one signature key): only the first fits.
    let dave = Identity::generate(&*fx.cs, Credential::basic("dave")).unwrap();
    let (kp1, _) = generate_key_package(&*fx.cs, &dave, kp_options(false)).unwrap();
    let (kp2, _) = generate_key_package(&*fx.cs, &dave, kp_options(false)).unwrap();
    let add1 = fx.groups[CAROL].propose(add(&kp1)).unwrap();
    let add2 = fx.groups[CAROL].propose(add(&kp2)).unwrap();
    let alice = &mut fx.groups[ALICE];
    let mut refs = Vec::new();
    for m in [
        &update,
        &remove_bob,
        &add_expired,
        &remove_blank,
        &add1,
        &add2,
    ] {
        refs.push(receive_proposal(alice, m));
    }
    let [r_update, r_remove, r_expired, r_blank, r_add1, r_add2] = refs.clone().try_into().unwrap();
    let selection = alice.select_proposals(&refs, &[], &(), Some(NOW)).unwrap();
    assert_eq!(selection.included, [r_remove.clone(), r_add1.clone()]);
    let reasons: Vec<_> = selection
        .left_out
        .iter()
        .map(|l| (l.reference.clone(), l.reason.clone()))
        .collect();
    assert!(reasons.contains(&(r_update, ProtocolError::ConflictingLeafProposals(1).into())));
    assert!(reasons.contains(&(r_blank, ProtocolError::RemoveOfBlankLeaf(3).into())));
    assert!(reasons.iter().any(|(r, e)| *r == r_expired
        && matches!(
            e,
            Error::Protocol(ProtocolError::LeafLifetimeInvalid { .. })
        )));
    assert!(reasons.iter().any(|(r, _)| *r == r_add2));
    assert_eq!(selection.left_out.len(), 4);

    // Committing the selection works; committing everything does not.
    assert!(
        alice
            .commit(CommitOptions::default(), &(), Some(NOW))
            .is_err()
    );
    let out = alice
        .commit(
            CommitOptions {
                only_pending: Some(selection.included),
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    alice.merge_pending_commit().unwrap();
    assert_eq!(alice.members().len(), 3);
    apply(&mut fx.groups[CAROL], &out.commit);
    assert_eq!(
        fx.groups[CAROL].epoch_authenticator(),
        fx.groups[ALICE].epoch_authenticator()
    );
}

#[test]
fn select_proposals_gives_way_to_proposals_by_value() {
    let mut fx = Fixture::new(47);
    let remove_carol = fx.groups[BOB]
        .propose(Proposal::Remove(Remove { removed: 2 }))
        .unwrap();
    let alice = &mut fx.groups[ALICE];
    let r = receive_proposal(alice, &remove_carol);
    let by_value = [Proposal::Remove(Remove { removed: 2 })];
    let selection = alice
        .select_proposals(std::slice::from_ref(&r), &by_value, &(), Some(NOW))
        .unwrap();
    assert!(selection.included.is_empty());
    assert_eq!(
        selection.left_out[0].reason,
        ProtocolError::ConflictingLeafProposals(2).into()
    );
    // Invalid proposals by value are the commit's to refuse.
    let bad = [Proposal::Remove(Remove { removed: 9 })];
    let selection = alice.select_proposals(&[], &bad, &(), Some(NOW)).unwrap();
    assert_eq!(selection, ProposalSelection::default());
    let attempt = alice.commit(
        CommitOptions {
            proposals: bad.to_vec(),
            only_pending: Some(Vec::new()),
            ..Default::default()
        },
        &(),
        Some(NOW),
    );
    assert!(attempt.is_err());
    // Cache management.
    assert_eq!(alice.pending_proposal_count(), 1);
    assert_eq!(alice.pending_proposals()[0].reference, r);
    assert!(alice.remove_pending_proposal(&r));
    assert!(!alice.remove_pending_proposal(&r));
    assert_eq!(alice.pending_proposal_count(), 0);
}

#[test]
fn leaf_at_answers_for_past_epochs() {
    let mut fx = Fixture::new(48);
    let epoch = fx.groups[ALICE].epoch();
    let carol_before = fx.groups[ALICE].leaf_at(epoch, LeafIndex(2)).cloned();
    assert!(carol_before.is_some());
    let out = fx.groups[ALICE]
        .commit(
            CommitOptions {
                proposals: vec![Proposal::Remove(Remove { removed: 2 })],
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    fx.groups[ALICE].merge_pending_commit().unwrap();
    apply(&mut fx.groups[BOB], &out.commit);
    let bob = &fx.groups[BOB];
    assert_eq!(bob.leaf_at(epoch, LeafIndex(2)).cloned(), carol_before);
    assert_eq!(bob.leaf_at(epoch + 1, LeafIndex(2)), None);
    assert_eq!(bob.leaf_at(epoch + 7, LeafIndex(0)), None);
}

#[test]
fn sent_message_pieces_follow_the_window() {
    let mut fx = Fixture::new(49);
    let provider = fx.provider.clone();
    let mut store = Pieces::default();
    let alice = &mut fx.groups[ALICE];
    store.save(alice);
    let window = crate::group::OWN_MESSAGE_WINDOW;
    let mut last = None;
    for i in 0..window + 3 {
        last = Some(app(alice, b"m"));
        store.save(alice);
        if i % 100 == 0 {
            store.check(&provider, alice);
        }
    }
    store.check(&provider, alice);
    let sent = store
        .0
        .keys()
        .filter(|p| matches!(p, StatePiece::SentMessage { .. }))
        .count();
    assert_eq!(sent, window);
    // The restored member still recognises its latest message's echo.
    let mut restored = store.restore(&provider);
    assert!(matches!(
        deliver(&mut restored, &last.unwrap(), &()).unwrap(),
        ProcessedMessage::OwnMessage { .. }
    ));
    // A commit leaves them behind with their epoch once it ages out.
    for committer in [BOB, CAROL, BOB] {
        valid_commit(&mut fx.groups, committer);
        store.save(&mut fx.groups[ALICE]);
    }
    store.check(&provider, &fx.groups[ALICE]);
    assert!(
        !store
            .0
            .keys()
            .any(|p| matches!(p, StatePiece::SentMessage { .. }))
    );
}

/// The changes `g` has since they were last taken, applied to `store`.
fn take(store: &mut Pieces, g: &mut Group) -> StateChanges {
    let changes = g.take_state_changes().unwrap();
    for p in &changes.deleted {
        store.0.remove(p);
    }
    for (p, v) in &changes.written {
        store.0.insert(p.clone(), v.clone());
    }
    changes
}

fn kept_key(epoch: u64, leaf: usize, generation: u32) -> StatePiece {
    StatePiece::RetainedKey {
        epoch,
        leaf: LeafIndex(leaf as u32),
        ratchet: RatchetKind::Application,
        generation,
    }
}

fn head(epoch: u64, leaf: usize, ratchet: RatchetKind) -> StatePiece {
    StatePiece::SenderRatchet {
        epoch,
        leaf: LeafIndex(leaf as u32),
        ratchet,
    }
}

#[test]
fn messages_out_of_order_write_only_the_keys_they_change() {
    let mut fx = Fixture::new(50);
    let provider = fx.provider.clone();
    let mut store = Pieces::default();
    store.save(&mut fx.groups[BOB]);
    let epoch = fx.groups[BOB].epoch();
    let ms: Vec<MlsMessage> = (0..6u8).map(|i| app(&mut fx.groups[ALICE], &[i])).collect();

    // Generation 4 first: the keys of 0 to 3 are kept, one piece each.
    assert_eq!(read(&mut fx.groups[BOB], &ms[4]), [4]);
    let changes = take(&mut store, &mut fx.groups[BOB]);
    let kept: Vec<&StatePiece> = changes
        .written
        .iter()
        .map(|(p, _)| p)
        .filter(|p| matches!(p, StatePiece::RetainedKey { .. }))
        .collect();
    let expected: Vec<StatePiece> = (0..4).map(|g| kept_key(epoch, ALICE, g)).collect();
    assert_eq!(kept, expected.iter().collect::<Vec<_>>());
    for (p, v) in &changes.written {
        if let StatePiece::RetainedKey { .. } = p {
            // opaque key<V> (16 bytes) and opaque nonce<V> (12 bytes).
            assert_eq!(v.len(), 1 + 16 + 1 + 12);
        }
    }
    store.check(&provider, &fx.groups[BOB]);

    // Generation 2: its key's piece is deleted and nothing is written.
    assert_eq!(read(&mut fx.groups[BOB], &ms[2]), [2]);
    let changes = take(&mut store, &mut fx.groups[BOB]);
    assert!(changes.written.is_empty());
    assert_eq!(changes.deleted, [kept_key(epoch, ALICE, 2)]);
    store.check(&provider, &fx.groups[BOB]);

    // Generation 5, in order: the ratchet's head only.
    assert_eq!(read(&mut fx.groups[BOB], &ms[5]), [5]);
    let changes = take(&mut store, &mut fx.groups[BOB]);
    assert!(changes.deleted.is_empty());
    assert_eq!(changes.written.len(), 1);
    assert_eq!(
        changes.written[0].0,
        head(epoch, ALICE, RatchetKind::Application)
    );
    store.check(&provider, &fx.groups[BOB]);

    // Restored from its pieces, Bob reads what he kept, once.
    let mut restored = store.restore(&provider);
    for (i, m) in ms.iter().enumerate() {
        match i {
            0 | 1 | 3 => assert_eq!(read(&mut restored, m), [i as u8]),
            _ => assert_eq!(
                deliver(&mut restored, m, &()).unwrap_err(),
                Error::Protocol(ProtocolError::KeyAlreadyUsed(i as u32))
            ),
        }
    }
}

#[test]
fn kept_keys_dropped_beyond_the_bound_are_deleted() {
    let mut fx = Fixture::new(51);
    let provider = fx.provider.clone();
    // Bob keeps at most two keys per ratchet from the next epoch on.
    fx.groups[BOB].config.secret_tree.max_retained_keys = 2;
    fx.valid_commit(CAROL);
    let mut store = Pieces::default();
    store.save(&mut fx.groups[BOB]);
    let epoch = fx.groups[BOB].epoch();
    let ms: Vec<MlsMessage> = (0..7u8).map(|i| app(&mut fx.groups[ALICE], &[i])).collect();
    read(&mut fx.groups[BOB], &ms[3]);
    take(&mut store, &mut fx.groups[BOB]);
    let kept = |store: &Pieces| -> Vec<StatePiece> {
        store
            .0
            .keys()
            .filter(|p| matches!(p, StatePiece::RetainedKey { .. }))
            .cloned()
            .collect()
    };
    assert_eq!(
        kept(&store),
        [kept_key(epoch, ALICE, 1), kept_key(epoch, ALICE, 2)]
    );
    // Generation 6 keeps 4 and 5; the pieces of 1 and 2 are deleted.
    read(&mut fx.groups[BOB], &ms[6]);
    let changes = take(&mut store, &mut fx.groups[BOB]);
    let mut deleted = changes.deleted.clone();
    deleted.sort();
    assert_eq!(
        deleted,
        [kept_key(epoch, ALICE, 1), kept_key(epoch, ALICE, 2)]
    );
    assert_eq!(
        kept(&store),
        [kept_key(epoch, ALICE, 4), kept_key(epoch, ALICE, 5)]
    );
    store.check(&provider, &fx.groups[BOB]);
}

#[test]
fn past_epochs_keep_only_application_pieces_of_members_who_can_send() {
    let mut fx = Fixture::new(52);
    let provider = fx.provider.clone();
    for g in &mut fx.groups {
        g.config.handshake_format = crate::group::HandshakeFormat::Private;
    }
    let mut stores: Vec<Pieces> = (0..3).map(|_| Pieces::default()).collect();
    for (s, g) in stores.iter_mut().zip(fx.groups.iter_mut()) {
        s.save(g);
    }
    let epoch = fx.groups[BOB].epoch();
    // Everyone sends in this epoch; Carol's message will arrive late.
    let from_alice = app(&mut fx.groups[ALICE], b"a");
    let from_bob = app(&mut fx.groups[BOB], b"b");
    let late = app(&mut fx.groups[CAROL], b"late");
    read(&mut fx.groups[BOB], &from_alice);
    read(&mut fx.groups[CAROL], &from_bob);
    for (s, g) in stores.iter_mut().zip(fx.groups.iter_mut()) {
        s.save(g);
        s.check(&provider, g);
    }
    // A commit sent as a PrivateMessage (its handshake key is taken).
    let out = fx.groups[ALICE]
        .commit(CommitOptions::default(), &(), Some(NOW))
        .unwrap();
    assert!(matches!(out.commit, MlsMessage::PrivateMessage(_)));
    fx.groups[ALICE].merge_pending_commit().unwrap();
    for i in [BOB, CAROL] {
        apply(&mut fx.groups[i], &out.commit);
    }
    for (i, (s, g)) in stores.iter_mut().zip(fx.groups.iter_mut()).enumerate() {
        s.save(g);
        s.check(&provider, g);
        // The past epoch keeps no handshake ratchet and nothing of this
        // member's own leaf.
        for p in s.0.keys() {
            if let StatePiece::SenderRatchet {
                epoch: e,
                leaf,
                ratchet,
            }
            | StatePiece::RetainedKey {
                epoch: e,
                leaf,
                ratchet,
                ..
            } = p
                && *e == epoch
            {
                assert_eq!(*ratchet, RatchetKind::Application, "{p:?}");
                assert_ne!(leaf.0 as usize, i, "{p:?}");
            }
        }
    }
    // Bob reads Carol's late message in the past epoch: her application
    // ratchet starts there, without a handshake ratchet.
    assert_eq!(read(&mut fx.groups[BOB], &late), b"late");
    let changes = take(&mut stores[BOB], &mut fx.groups[BOB]);
    assert!(
        changes
            .written
            .iter()
            .all(|(p, _)| matches!(p, StatePiece::SecretTreeNode { epoch: e, .. } | StatePiece::SenderRatchet { epoch: e, ratchet: RatchetKind::Application, .. } if *e == epoch))
    );
    assert!(
        stores[BOB]
            .0
            .contains_key(&head(epoch, CAROL, RatchetKind::Application))
    );
    stores[BOB].check(&provider, &fx.groups[BOB]);
    // A lost piece of a past epoch is noticed on restore.
    let mut lost = Pieces(stores[BOB].0.clone());
    lost.0.remove(&head(epoch, CAROL, RatchetKind::Application));
    assert!(matches!(
        Group::from_pieces(
            &provider,
            lost.0.iter().map(|(p, v)| (p.clone(), v.as_bytes()))
        ),
        Err(Error::Decode(_))
    ));
}

/// `pieces` in the layout of earlier builds: a leaf's two ratchets with
/// their kept keys in one piece, and the epoch piece of version 1.
fn legacy_layout(pieces: &BTreeMap<StatePiece, Secret>) -> BTreeMap<StatePiece, Secret> {
    use crate::codec::write_vec_len;
    let mut out = BTreeMap::new();
    // (epoch, leaf) -> [handshake, application]: head and kept keys.
    type Ratchets = [(Vec<u8>, Vec<u8>); 2];
    let mut leaves: BTreeMap<(u64, LeafIndex), Ratchets> = BTreeMap::new();
    // A deleted ratchet: no next secret, no kept keys.
    let deleted = || (vec![0u8], Vec::new());
    for (p, v) in pieces {
        let slot = |r: RatchetKind| match r {
            RatchetKind::Handshake => 0,
            RatchetKind::Application => 1,
        };
        match p {
            StatePiece::SenderRatchet {
                epoch,
                leaf,
                ratchet,
            } => {
                let e = leaves
                    .entry((*epoch, *leaf))
                    .or_insert_with(|| [deleted(), deleted()]);
                e[slot(*ratchet)].0 = v.as_bytes().to_vec();
            }
            StatePiece::RetainedKey {
                epoch,
                leaf,
                ratchet,
                generation,
            } => {
                let e = leaves
                    .entry((*epoch, *leaf))
                    .or_insert_with(|| [deleted(), deleted()]);
                e[slot(*ratchet)]
                    .1
                    .extend_from_slice(&generation.to_be_bytes());
                e[slot(*ratchet)].1.extend_from_slice(v.as_bytes());
            }
            StatePiece::Epoch => {
                // Version 1: no max_group_size (the config's last 4 bytes,
                // 34 bytes in) and no ReInit (the last byte, 0: none).
                let v = v.as_bytes();
                assert_eq!(v[..2], [0, 2]);
                assert_eq!(v[v.len() - 1], 0);
                let mut old = vec![0, 1];
                old.extend_from_slice(&v[2..36]);
                old.extend_from_slice(&v[40..v.len() - 1]);
                out.insert(StatePiece::Epoch, Secret::from(old));
            }
            _ => {
                out.insert(p.clone(), v.clone());
            }
        }
    }
    for ((epoch, leaf), ratchets) in leaves {
        let mut value = Vec::new();
        for (next, kept) in ratchets {
            value.extend_from_slice(&next);
            write_vec_len(&mut value, kept.len()).unwrap();
            value.extend_from_slice(&kept);
        }
        out.insert(
            StatePiece::LegacySenderRatchets { epoch, leaf },
            Secret::from(value),
        );
    }
    out
}

#[test]
fn pieces_of_earlier_builds_are_read_and_replaced() {
    let mut fx = Fixture::new(53);
    let provider = fx.provider.clone();
    // Bob holds ratchets with kept keys in the current and a past epoch.
    let ms: Vec<MlsMessage> = (0..4u8).map(|i| app(&mut fx.groups[ALICE], &[i])).collect();
    read(&mut fx.groups[BOB], &ms[3]);
    let carol = app(&mut fx.groups[CAROL], b"c");
    read(&mut fx.groups[BOB], &carol);
    fx.valid_commit(ALICE);
    let more: Vec<MlsMessage> = (0..3u8).map(|i| app(&mut fx.groups[CAROL], &[i])).collect();
    read(&mut fx.groups[BOB], &more[2]);
    let bob = &mut fx.groups[BOB];
    bob.take_state_changes().unwrap();
    let current: BTreeMap<StatePiece, Secret> = bob.state_pieces().unwrap().into_iter().collect();
    assert!(
        current
            .keys()
            .any(|p| matches!(p, StatePiece::RetainedKey { .. }))
    );

    let mut store = Pieces(legacy_layout(&current));
    let mut restored = store.restore(&provider);
    assert_eq!(restored.to_bytes().unwrap(), bob.to_bytes().unwrap());
    // The next changes delete the old pieces and write the new ones.
    let changes = take(&mut store, &mut restored);
    assert!(
        changes
            .deleted
            .iter()
            .all(|p| matches!(p, StatePiece::LegacySenderRatchets { .. }))
    );
    assert!(changes.written.iter().any(|(p, _)| *p == StatePiece::Epoch));
    store.check(&provider, &restored);
    assert!(!restored.has_state_changes());
    // And the restored member goes on reading, from the store too.
    for m in &ms[..3] {
        read(&mut restored, m);
    }
    store.save(&mut restored);
    store.check(&provider, &restored);
    assert_eq!(read(&mut store.restore(&provider), &more[0]), [0]);
}

#[test]
fn the_epoch_piece_keeps_max_group_size() {
    let mut fx = Fixture::new(54);
    let provider = fx.provider.clone();
    fx.groups[BOB].config.max_group_size = 1000;
    let mut store = Pieces::default();
    store.save(&mut fx.groups[BOB]);
    assert_eq!(store.restore(&provider).config().max_group_size, 1000);
    // A value out of range is refused on restore.
    fx.groups[BOB].config.max_group_size = 0;
    fx.groups[BOB].journal.mark(StatePiece::Epoch);
    store.save(&mut fx.groups[BOB]);
    assert!(matches!(
        Group::from_pieces(
            &provider,
            store.0.iter().map(|(p, v)| (p.clone(), v.as_bytes()))
        ),
        Err(Error::Decode(_))
    ));
}
