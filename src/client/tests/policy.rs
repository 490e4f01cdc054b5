//! The proposal policy and the commit's choice among cached proposals.

use super::*;
use crate::codec::Encode;
use crate::crypto::{CryptoProvider, RustCryptoProvider};
use crate::group::{
    Identity, KeyPackageOptions, external_proposal, generate_key_package, new_member_proposal,
};
use crate::messages::{Extension, ExternalSender, ExternalSenders, Proposal, SenderType};

/// A new member's proposal to add itself to `GROUP` in `epoch`.
fn new_member_add(name: &str, epoch: u64) -> Vec<u8> {
    let cs = RustCryptoProvider::new()
        .cipher_suite_provider(ClientConfig::default().cipher_suite)
        .unwrap();
    let id = Identity::generate(&*cs, Credential::basic(name)).unwrap();
    let (kp, _) =
        generate_key_package(&*cs, &id, KeyPackageOptions::valid_for(NOW - 10, DAY)).unwrap();
    new_member_proposal(&*cs, GROUP, epoch, kp, id.signer())
        .unwrap()
        .to_bytes()
        .unwrap()
}

#[test]
fn a_new_member_proposal_is_not_committed_by_default() {
    let m = group_of(&["alice", "bob"]);
    let proposal = new_member_add("mallory", 1);
    let before = Snapshot::of(&m[0]);
    assert_refused(
        &m[0],
        &before,
        m[0].client.process(&proposal),
        ProtocolError::ProposalNotAccepted {
            proposal_type: 1,
            sender_type: SenderType::NewMemberProposal.to_u8(),
        },
    );
    // Nothing cached: the next routine commit adds no one.
    let out = m[0].client.update(GROUP).unwrap();
    assert!(out.welcome.is_none());
    let events = m[0].client.confirm_commit(GROUP).unwrap();
    let Event::CommitMerged(merged) = &events[0] else {
        panic!("{events:?}")
    };
    assert!(merged.added.is_empty());
    assert_eq!(m[0].client.members(GROUP).unwrap().len(), 2);
    // A member whose application allows such proposals commits it; a
    // member refusing them refuses the commit that covers it too.
    let both = [
        Member::with(
            "carol",
            ClientConfig::default(),
            DefaultProposalPolicy {
                allow_new_member_proposals: true,
                ..Default::default()
            },
        ),
        Member::new("dave"),
    ];
    setup(&both);
    let proposal = new_member_add("erin", 1);
    let events = both[0].client.process(&proposal).unwrap().events;
    assert!(matches!(events[0], Event::ProposalReceived(_)));
    assert!(both[1].client.process(&proposal).is_err());
    let out = both[0].client.commit(GROUP).unwrap();
    assert!(out.welcome.is_some(), "allowed, it is committed");
    let before = Snapshot::of(&both[1]);
    assert_refused(
        &both[1],
        &before,
        both[1].client.process(&out.commit),
        ProtocolError::UnknownProposalReference,
    );
}

#[test]
fn external_senders_need_the_policy() {
    let cs = RustCryptoProvider::new()
        .cipher_suite_provider(ClientConfig::default().cipher_suite)
        .unwrap();
    let ds = Identity::generate(&*cs, Credential::basic("ds")).unwrap();
    let senders = Extension::from_typed(&ExternalSenders(vec![ExternalSender {
        signature_key: ds.signature_key().clone(),
        credential: ds.credential().clone(),
    }]))
    .unwrap();
    let alice = Member::new("alice");
    alice
        .client
        .create_group_with_extensions(GROUP, vec![senders.clone()])
        .unwrap();
    let remove = |epoch| {
        external_proposal(
            &*cs,
            GROUP,
            epoch,
            0,
            ds.signer(),
            Proposal::Remove(crate::messages::Remove { removed: 1 }),
        )
        .unwrap()
        .to_bytes()
        .unwrap()
    };
    let bob = Member::new("bob");
    alice.client.add(GROUP, &[bob.key_package()]).unwrap();
    alice.client.confirm_commit(GROUP).unwrap();
    let before = Snapshot::of(&alice);
    assert_refused(
        &alice,
        &before,
        alice.client.process(&remove(1)),
        ProtocolError::ProposalNotAccepted {
            proposal_type: 3,
            sender_type: SenderType::External.to_u8(),
        },
    );

    let carol = Member::with(
        "carol",
        ClientConfig::default(),
        DefaultProposalPolicy {
            allow_external_senders: true,
            ..Default::default()
        },
    );
    carol
        .client
        .create_group_with_extensions(GROUP, vec![senders])
        .unwrap();
    carol.client.add(GROUP, &[bob.key_package()]).unwrap();
    carol.client.confirm_commit(GROUP).unwrap();
    let events = carol.client.process(&remove(1)).unwrap().events;
    let Event::ProposalReceived(p) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        p.sender,
        ProposalSender::External {
            index: 0,
            credential: Credential::basic("ds")
        }
    );
    assert_eq!(p.kind, ProposalKind::Remove { leaf: LeafIndex(1) });
}

#[test]
fn conflicting_cached_proposals_do_not_break_commit() {
    let m = group_of(&["alice", "bob", "carol", "dave"]);
    // Bob and Carol both propose to remove Dave; Dave proposes an Update.
    let r1 = m[1].client.propose_remove(GROUP, LeafIndex(3)).unwrap();
    let r2 = m[2].client.propose_remove(GROUP, LeafIndex(3)).unwrap();
    let up = m[3]
        .client
        .with_group(GROUP, |l, _| {
            Ok(l.group.propose_update_for_test(None, |_| {})?.to_bytes()?)
        })
        .unwrap();
    for p in [&up, &r1, &r2] {
        broadcast(&m, usize::MAX, p);
    }
    assert_eq!(m[0].client.pending_proposals(GROUP).unwrap().len(), 3);
    let out = m[0].client.commit(GROUP).unwrap();
    assert_eq!(out.left_out.len(), 2);
    assert!(
        out.left_out
            .iter()
            .all(|l| l.reason == ProtocolError::ConflictingLeafProposals(3).into())
    );
    m[0].client.confirm_commit(GROUP).unwrap();
    let events = broadcast(&m[..3], 0, &out.commit);
    let Event::CommitMerged(merged) = &events[0].events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(merged.removed[0].credential, Credential::basic("dave"));
    assert_agree(&m[..3]);
    assert!(matches!(
        m[3].client.process(&out.commit).unwrap().events[0],
        Event::Removed { .. }
    ));
}

#[test]
fn an_invalid_cached_proposal_is_left_out() {
    let m = group_of(&["alice", "bob"]);
    // Bob proposes an Add of a KeyPackage that expires before Alice commits.
    let carol = Member::new("carol");
    let short = ClientConfig {
        key_package_lifetime: 60,
        ..ClientConfig::default()
    };
    let carol_short = Member::with("carol", short, DefaultProposalPolicy::default());
    let proposal = m[1]
        .client
        .propose_add(GROUP, &carol_short.key_package())
        .unwrap();
    m[0].client.process(&proposal).unwrap();
    m[0].clock.set(NOW + DAY);
    let out = m[0].client.add(GROUP, &[carol.key_package()]).unwrap();
    assert_eq!(out.left_out.len(), 1);
    assert!(matches!(
        out.left_out[0].reason,
        Error::Protocol(ProtocolError::LeafLifetimeInvalid { .. })
    ));
    m[0].client.confirm_commit(GROUP).unwrap();
    assert_eq!(m[0].client.members(GROUP).unwrap().len(), 3);
}

#[test]
fn the_cache_is_bounded_and_managed() {
    let config = ClientConfig {
        max_cached_proposals: 2,
        ..ClientConfig::default()
    };
    let alice = Member::with("alice", config, DefaultProposalPolicy::default());
    let others = [
        Member::new("bob"),
        Member::new("carol"),
        Member::new("dave"),
    ];
    alice.client.create_group(GROUP).unwrap();
    let kps: Vec<_> = others.iter().map(|m| m.key_package()).collect();
    let added = alice.client.add(GROUP, &kps).unwrap();
    alice.client.confirm_commit(GROUP).unwrap();
    for o in &others {
        o.client.join(&added.welcome).unwrap();
    }
    let proposals: Vec<_> = (0..3)
        .map(|i| {
            others[i]
                .client
                .propose_remove(GROUP, LeafIndex(((i + 1) % 3 + 1) as u32))
                .unwrap()
        })
        .collect();
    alice.client.process(&proposals[0]).unwrap();
    alice.client.process(&proposals[1]).unwrap();
    let before = Snapshot::of(&alice);
    assert_refused(
        &alice,
        &before,
        alice.client.process(&proposals[2]),
        ProtocolError::TooManyCachedProposals(2),
    );
    let cached = alice.client.pending_proposals(GROUP).unwrap();
    assert!(
        alice
            .client
            .drop_proposal(GROUP, &cached[0].reference.0)
            .unwrap()
    );
    assert!(
        !alice
            .client
            .drop_proposal(GROUP, &cached[0].reference.0)
            .unwrap()
    );
    alice.client.process(&proposals[2]).unwrap();
    alice.client.clear_proposals(GROUP).unwrap();
    assert_eq!(alice.client.status(GROUP).unwrap().pending_proposals, 0);
}

/// A policy that never commits Removes (but accepts them).
struct NoRemoves;

impl ProposalPolicy for NoRemoves {
    fn accept(&self, _: &ProposalOrigin<'_>, _: &Proposal) -> bool {
        true
    }
    fn commit(&self, _: &[u8], proposal: &Proposal) -> bool {
        !matches!(proposal, Proposal::Remove(_))
    }
}

#[test]
fn the_policy_chooses_what_to_commit() {
    let alice = Member::new("alice");
    let bob = Member::new("bob");
    let carol = Member::new("carol");
    let picky = Client::builder()
        .proposal_policy(NoRemoves)
        .clock(|| NOW)
        .create(Credential::basic("picky"), MemoryStore::new())
        .unwrap();
    alice.client.create_group(GROUP).unwrap();
    let kp = picky.generate_key_packages(1).unwrap().remove(0);
    let added = alice.client.add(GROUP, &[kp, bob.key_package()]).unwrap();
    alice.client.confirm_commit(GROUP).unwrap();
    picky.join(&added.welcome).unwrap();
    bob.client.join(&added.welcome).unwrap();
    let remove = alice.client.propose_remove(GROUP, LeafIndex(2)).unwrap();
    let add = alice
        .client
        .propose_add(GROUP, &carol.key_package())
        .unwrap();
    picky.process(&remove).unwrap();
    picky.process(&add).unwrap();
    let out = picky.commit(GROUP).unwrap();
    assert_eq!(out.left_out.len(), 1);
    assert!(matches!(
        out.left_out[0].reason,
        Error::Protocol(ProtocolError::ProposalNotAccepted { .. })
    ));
    assert!(out.welcome.is_some());
}
