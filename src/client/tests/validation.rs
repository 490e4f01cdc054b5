//! The identity validator is asked in every path a credential enters or
//! changes a group; its "no" refuses the whole message or join, naming the
//! leaf, and changes nothing.

use super::*;
use crate::codec::Encode;
use crate::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
use crate::group::{Identity, KeyPackageOptions, generate_key_package, new_member_proposal};
use crate::messages::{Extension, ExternalSender, ExternalSenders, MlsMessage};

fn rejected(subject: CredentialSubject) -> ProtocolError {
    ProtocolError::CredentialRejected {
        subject,
        reason: "denied".into(),
    }
}

/// An external sender's extension with credential `name`.
fn external_senders(name: &str) -> Extension {
    let cs = RustCryptoProvider::new()
        .cipher_suite_provider(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
        .unwrap();
    let id = Identity::generate(&*cs, Credential::basic(name)).unwrap();
    Extension::from_typed(&ExternalSenders(vec![ExternalSender {
        signature_key: id.signature_key().clone(),
        credential: id.credential().clone(),
    }]))
    .unwrap()
}

#[test]
fn join_by_welcome_checks_every_member() {
    let m = group_of(&["alice", "bob"]);
    let carol = Member::new("carol");
    let kp = carol.key_package();
    let added = m[0].client.add(GROUP, &[kp]).unwrap();
    m[0].client.confirm_commit(GROUP).unwrap();
    carol.validator.deny("bob");
    let before = Snapshot::of(&carol);
    assert_refused(
        &carol,
        &before,
        carol.client.join(&added.welcome),
        rejected(CredentialSubject::Leaf(1)),
    );
    // The KeyPackage was not used up: with Bob allowed, Carol joins.
    carol.validator.allow("bob");
    carol.client.join(&added.welcome).unwrap();
    let seen = carol.validator.seen.lock().unwrap();
    assert!(seen.contains(&(
        CredentialSubject::Leaf(0),
        CredentialUse::TreeMember,
        Credential::basic("alice")
    )));
}

#[test]
fn join_by_welcome_checks_external_senders() {
    let alice = Member::new("alice");
    let bob = Member::new("bob");
    alice
        .client
        .create_group_with_extensions(GROUP, vec![external_senders("ds")])
        .unwrap();
    let added = alice.client.add(GROUP, &[bob.key_package()]).unwrap();
    alice.client.confirm_commit(GROUP).unwrap();
    bob.validator.deny("ds");
    let before = Snapshot::of(&bob);
    assert_refused(
        &bob,
        &before,
        bob.client.join(&added.welcome),
        rejected(CredentialSubject::ExternalSender(0)),
    );
    // The creator's own validator is asked too.
    let carol = Member::new("carol");
    carol.validator.deny("ds");
    assert_eq!(
        carol
            .client
            .create_group_with_extensions(GROUP, vec![external_senders("ds")])
            .unwrap_err(),
        rejected(CredentialSubject::ExternalSender(0)).into()
    );
    assert!(carol.client.groups().unwrap().is_empty());
}

#[test]
fn external_join_checks_every_member() {
    let m = group_of(&["alice", "bob"]);
    let carol = Member::new("carol");
    carol.validator.deny("bob");
    let info = m[0].client.group_info(GROUP).unwrap();
    let before = Snapshot::of(&carol);
    assert_refused(
        &carol,
        &before,
        carol.client.join_external(&info, ExternalJoin::default()),
        rejected(CredentialSubject::Leaf(1)),
    );
    carol.validator.allow("bob");
    carol
        .client
        .join_external(&info, ExternalJoin::default())
        .unwrap();
}

#[test]
fn received_external_commit_checks_the_joiner() {
    let m = group_of(&["alice", "bob"]);
    let carol = Member::new("carol");
    let info = m[0].client.group_info(GROUP).unwrap();
    let (_, commit) = carol
        .client
        .join_external(&info, ExternalJoin::default())
        .unwrap();
    m[1].validator.deny("carol");
    let before = Snapshot::of(&m[1]);
    assert_refused(
        &m[1],
        &before,
        m[1].client.process(&commit),
        rejected(CredentialSubject::Leaf(2)),
    );
    // Alice's validator accepts: she follows, and so does Carol.
    let events = m[0].client.process(&commit).unwrap().events;
    let Event::CommitMerged(merged) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(merged.committer, None);
    assert_eq!(merged.added[0].credential, Credential::basic("carol"));
    assert_eq!(
        m[0].client.epoch_authenticator(GROUP).unwrap(),
        carol.client.epoch_authenticator(GROUP).unwrap()
    );
}

#[test]
fn resync_must_name_the_same_participant() {
    let m = group_of(&["alice", "bob"]);
    // Bob lost his state and rejoins from another device with a new credential.
    let bob2 = Member::new("bob2");
    let info = m[0].client.group_info(GROUP).unwrap();
    let (_, commit) = bob2
        .client
        .join_external(
            &info,
            ExternalJoin {
                remove: Some(LeafIndex(1)),
                ..Default::default()
            },
        )
        .unwrap();
    let before = Snapshot::of(&m[0]);
    assert_refused(
        &m[0],
        &before,
        m[0].client.process(&commit),
        ProtocolError::CredentialChangesParticipant(1),
    );
    m[0].validator
        .same_participant
        .store(true, Ordering::SeqCst);
    let events = m[0].client.process(&commit).unwrap().events;
    let Event::CommitMerged(merged) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(merged.removed[0].credential, Credential::basic("bob"));
    assert_eq!(merged.added[0].credential, Credential::basic("bob2"));
}

#[test]
fn received_commit_checks_added_members() {
    let m = group_of(&["alice", "bob"]);
    let carol = Member::new("carol");
    m[1].validator.deny("carol");
    let added = m[0].client.add(GROUP, &[carol.key_package()]).unwrap();
    let before = Snapshot::of(&m[1]);
    assert_refused(
        &m[1],
        &before,
        m[1].client.process(&added.commit),
        rejected(CredentialSubject::Leaf(2)),
    );
}

#[test]
fn own_add_checks_the_key_package() {
    let m = group_of(&["alice"]);
    let carol = Member::new("carol");
    m[0].validator.deny("carol");
    let before = Snapshot::of(&m[0]);
    assert_refused(
        &m[0],
        &before,
        m[0].client.add(GROUP, &[carol.key_package()]),
        rejected(CredentialSubject::KeyPackage),
    );
    assert_refused(
        &m[0],
        &before,
        m[0].client.propose_add(GROUP, &carol.key_package()),
        rejected(CredentialSubject::KeyPackage),
    );
}

#[test]
fn received_add_proposal_is_checked() {
    let m = group_of(&["alice", "bob", "carol"]);
    let dave = Member::new("dave");
    let proposal = m[1].client.propose_add(GROUP, &dave.key_package()).unwrap();
    m[2].validator.deny("dave");
    let before = Snapshot::of(&m[2]);
    assert_refused(
        &m[2],
        &before,
        m[2].client.process(&proposal),
        rejected(CredentialSubject::KeyPackage),
    );
    assert!(m[2].client.pending_proposals(GROUP).unwrap().is_empty());
    // Alice accepts it and is told who proposed what.
    let events = m[0].client.process(&proposal).unwrap().events;
    let Event::ProposalReceived(p) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        p.kind,
        ProposalKind::Add {
            credential: Credential::basic("dave")
        }
    );
    assert!(matches!(&p.sender, ProposalSender::Member(s) if s.leaf == LeafIndex(1)));
}

/// An Update proposal by `m`'s member, with its leaf changed by `edit`.
fn update_proposal(m: &Member, edit: impl FnOnce(&mut crate::messages::LeafNode)) -> Vec<u8> {
    m.client
        .with_group(GROUP, |l, _| {
            Ok(l.group.propose_update_for_test(None, edit)?.to_bytes()?)
        })
        .unwrap()
}

#[test]
fn received_update_is_checked() {
    let m = group_of(&["alice", "bob"]);
    let update = update_proposal(&m[1], |_| {});
    m[0].validator.deny("bob");
    let before = Snapshot::of(&m[0]);
    assert_refused(
        &m[0],
        &before,
        m[0].client.process(&update),
        rejected(CredentialSubject::Leaf(1)),
    );
    m[0].validator.allow("bob");

    // A new credential must name the same participant.
    let renamed = update_proposal(&m[1], |leaf| {
        leaf.credential = Credential::basic("robert");
    });
    assert_refused(
        &m[0],
        &before,
        m[0].client.process(&renamed),
        ProtocolError::CredentialChangesParticipant(1),
    );
    m[0].validator
        .same_participant
        .store(true, Ordering::SeqCst);
    m[0].client.process(&renamed).unwrap();
    assert_eq!(m[0].client.pending_proposals(GROUP).unwrap().len(), 1);
}

#[test]
fn committer_path_leaf_is_checked() {
    let m = group_of(&["alice", "bob", "carol"]);
    m[2].validator.deny("bob");
    let out = m[1].client.update(GROUP).unwrap();
    let before = Snapshot::of(&m[2]);
    assert_refused(
        &m[2],
        &before,
        m[2].client.process(&out.commit),
        rejected(CredentialSubject::Leaf(1)),
    );
    // Alice follows, and sees Bob's leaf updated with the same credential.
    let events = m[0].client.process(&out.commit).unwrap().events;
    let Event::CommitMerged(merged) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(merged.committer, Some(LeafIndex(1)));
    assert_eq!(
        merged.updated,
        [UpdatedMember {
            leaf: LeafIndex(1),
            old: Credential::basic("bob"),
            new: Credential::basic("bob")
        }]
    );
}

#[test]
fn external_senders_in_a_commit_are_checked() {
    let m = group_of(&["alice", "bob"]);
    m[1].validator.deny("ds");
    let out = m[0]
        .client
        .set_group_extensions(GROUP, vec![external_senders("ds")])
        .unwrap();
    let before = Snapshot::of(&m[1]);
    assert_refused(
        &m[1],
        &before,
        m[1].client.process(&out.commit),
        rejected(CredentialSubject::ExternalSender(0)),
    );
    // The committer's own validator is asked before it commits.
    m[0].client.discard_commit(GROUP).unwrap();
    m[0].validator.deny("ds");
    let before = Snapshot::of(&m[0]);
    assert_refused(
        &m[0],
        &before,
        m[0].client
            .set_group_extensions(GROUP, vec![external_senders("ds")]),
        rejected(CredentialSubject::ExternalSender(0)),
    );
}

#[test]
fn new_member_proposal_is_checked() {
    let alice = Member::with(
        "alice",
        ClientConfig::default(),
        DefaultProposalPolicy {
            allow_new_member_proposals: true,
            ..Default::default()
        },
    );
    alice.client.create_group(GROUP).unwrap();
    let cs = RustCryptoProvider::new()
        .cipher_suite_provider(alice.client.config().cipher_suite)
        .unwrap();
    let dave = Identity::generate(&*cs, Credential::basic("dave")).unwrap();
    let (kp, _) =
        generate_key_package(&*cs, &dave, KeyPackageOptions::valid_for(NOW - 10, DAY)).unwrap();
    let proposal = new_member_proposal(&*cs, GROUP, 0, kp, dave.signer())
        .unwrap()
        .to_bytes()
        .unwrap();
    alice.validator.deny("dave");
    let before = Snapshot::of(&alice);
    assert_refused(
        &alice,
        &before,
        alice.client.process(&proposal),
        rejected(CredentialSubject::KeyPackage),
    );
    alice.validator.allow("dave");
    let events = alice.client.process(&proposal).unwrap().events;
    assert!(matches!(
        &events[0],
        Event::ProposalReceived(ProposalReceived {
            sender: ProposalSender::NewMember { .. },
            ..
        })
    ));
    let _ = MlsMessage::decode_exact(&proposal).unwrap();
}

use crate::codec::Decode;
