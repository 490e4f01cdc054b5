//! Joining by external commit (RFC 9420 §12.4.3.2) and proposals from
//! outside the group (§12.1.8), in every cipher suite where it matters.

use std::sync::Arc;

use tessera::crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, HpkePublicKey, RustCryptoProvider,
};
use tessera::error::{ApiError, CryptoError, Error, ProtocolError};
use tessera::framing::SignedContent;
use tessera::group::{
    CommitOptions, ExternalJoinOptions, Group, GroupConfig, Identity, JoinInput, KeyPackageOptions,
    ProcessedMessage, StagedCommit, external_proposal, generate_key_package, new_member_proposal,
};
use tessera::messages::{
    Add, Commit, Credential, Extension, ExtensionList, ExternalInit, ExternalPub, ExternalSender,
    ExternalSenders, FramedContentBody, GroupInfo, MlsMessage, Proposal, ProposalOrRef,
    ProposalRef, PublicMessage, Remove, Sender, Update, WireFormat,
};
use tessera::tree_math::LeafIndex;

const NOW: u64 = 1_800_000_000;

struct Setup {
    provider: RustCryptoProvider,
    cs: Arc<dyn CipherSuiteProvider>,
    ids: Vec<Identity>,
    groups: Vec<Group>,
}

fn opts() -> KeyPackageOptions {
    KeyPackageOptions::valid_for(NOW - 10, 3600)
}

fn identity(cs: &dyn CipherSuiteProvider, name: &str) -> Identity {
    Identity::generate(cs, Credential::basic(name)).unwrap()
}

/// Alice creates a group with `extensions` and adds Bob and Carol by Welcome.
fn group_of_three(suite: CipherSuite, extensions: Vec<Extension>) -> Setup {
    let provider = RustCryptoProvider::with_seed([suite.0 as u8 + 100; 32]);
    let cs = provider.cipher_suite_provider(suite).unwrap();
    let ids: Vec<Identity> = ["alice", "bob", "carol"]
        .iter()
        .map(|n| identity(&*cs, n))
        .collect();
    let mut alice = Group::create(
        &provider,
        GroupConfig::default(),
        suite,
        b"external group".to_vec(),
        &ids[0],
        opts(),
        extensions,
    )
    .unwrap();
    let kps: Vec<_> = ids[1..]
        .iter()
        .map(|id| generate_key_package(&*cs, id, opts()).unwrap())
        .collect();
    let out = alice
        .commit(
            CommitOptions {
                proposals: kps
                    .iter()
                    .map(|(kp, _)| {
                        Proposal::Add(Add {
                            key_package: kp.clone(),
                        })
                    })
                    .collect(),
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    alice.merge_pending_commit().unwrap();
    let MlsMessage::Welcome(welcome) = out.welcome.unwrap() else {
        panic!("not a Welcome")
    };
    let mut groups = vec![alice];
    for ((kp, private), id) in kps.iter().zip(&ids[1..]) {
        groups.push(
            Group::join(
                &provider,
                GroupConfig::default(),
                &welcome,
                JoinInput {
                    key_package: kp,
                    key_package_private: private,
                    signer: id.signer().clone(),
                    ratchet_tree: None,
                    psk_store: &(),
                    now: Some(NOW),
                },
            )
            .unwrap(),
        );
    }
    Setup {
        provider,
        cs,
        ids,
        groups,
    }
}

fn group_info_of(g: &Group, with_tree: bool) -> GroupInfo {
    match g.group_info(with_tree).unwrap() {
        MlsMessage::GroupInfo(gi) => gi,
        other => panic!("not a GroupInfo: {other:?}"),
    }
}

fn stage(g: &mut Group, msg: &MlsMessage) -> StagedCommit {
    match g.process_message(msg, &(), Some(NOW)).expect("process") {
        ProcessedMessage::Commit(staged) => *staged,
        other => panic!("unexpected {other:?}"),
    }
}

fn apply(g: &mut Group, msg: &MlsMessage) {
    let staged = stage(g, msg);
    g.merge_staged_commit(staged).expect("merge");
}

/// Every group is in the same epoch with the same keys and tree.
fn assert_agree(groups: &[&Group]) {
    let first = groups[0];
    for g in &groups[1..] {
        assert_eq!(g.epoch(), first.epoch());
        assert_eq!(g.epoch_authenticator(), first.epoch_authenticator());
        assert_eq!(g.tree_hash(), first.tree_hash());
        assert_eq!(g.context(), first.context());
        assert_eq!(
            g.export_secret(b"test", b"", 32).unwrap(),
            first.export_secret(b"test", b"", 32).unwrap()
        );
    }
}

fn public(msg: &MlsMessage) -> &PublicMessage {
    match msg {
        MlsMessage::PublicMessage(m) => m,
        other => panic!("not a PublicMessage: {other:?}"),
    }
}

fn commit_of(m: &mut PublicMessage) -> &mut Commit {
    match &mut m.content.content {
        FramedContentBody::Commit(c) => c,
        _ => panic!("not a commit"),
    }
}

/// Re-signs a modified external commit as its sender would, so that a
/// receiver gets past the signature to the rule under test. (The
/// confirmation tag is left as it was.)
fn resign(
    cs: &dyn CipherSuiteProvider,
    mut m: PublicMessage,
    gi: &GroupInfo,
    signer: &Identity,
) -> MlsMessage {
    let signed = SignedContent::sign(
        cs,
        WireFormat::PUBLIC_MESSAGE,
        m.content.clone(),
        Some(&gi.group_context),
        signer.signer(),
    )
    .unwrap();
    m.auth.signature = signed.signature;
    MlsMessage::PublicMessage(m)
}

fn process_err(g: &mut Group, msg: &MlsMessage) -> Error {
    let epoch = g.epoch();
    let err = g.process_message(msg, &(), Some(NOW)).unwrap_err();
    assert_eq!(
        g.epoch(),
        epoch,
        "a failed commit leaves the group as it was"
    );
    err
}

#[test]
fn fourth_member_joins_by_external_commit_every_suite() {
    for suite in CipherSuite::ALL {
        let Setup {
            provider,
            cs,
            mut groups,
            ..
        } = group_of_three(suite, vec![]);
        let dave_id = identity(&*cs, "dave");
        let gi = group_info_of(&groups[1], true);
        assert!(gi.extensions.parse::<ExternalPub>().unwrap().is_some());
        let (mut dave, commit) = Group::join_external(
            &provider,
            GroupConfig::default(),
            &gi,
            &dave_id,
            ExternalJoinOptions::default(),
            &(),
            Some(NOW),
        )
        .unwrap();
        assert_eq!(dave.own_leaf(), LeafIndex(3), "{suite:?}");
        assert_eq!(dave.epoch(), gi.group_context.epoch + 1);
        let m = public(&commit);
        assert_eq!(m.content.sender, Sender::NewMemberCommit);
        assert!(m.membership_tag.is_none(), "§6.2: no membership tag");
        for g in groups.iter_mut() {
            let staged = stage(g, &commit);
            let s = staged.summary();
            assert_eq!(s.committer, Sender::NewMemberCommit);
            assert_eq!(s.added, [(LeafIndex(3), Credential::basic("dave"))]);
            assert!(s.removed.is_empty());
            g.merge_staged_commit(staged).unwrap();
        }
        let all: Vec<&Group> = groups.iter().chain([&dave]).collect();
        assert_agree(&all);
        assert_eq!(dave.members().len(), 4);

        // Dave's secret tree works: his application message reaches everyone.
        let hello = dave.encrypt_application(b"hello", b"").unwrap();
        for g in groups.iter_mut() {
            match g.process_message(&hello, &(), Some(NOW)).unwrap() {
                ProcessedMessage::Application { sender, data, .. } => {
                    assert_eq!((sender, data.as_slice()), (LeafIndex(3), &b"hello"[..]));
                }
                other => panic!("unexpected {other:?}"),
            }
        }

        // Dave's keys work: he commits with a path and everyone follows,
        // then Carol commits and Dave follows.
        let out = dave
            .commit(
                CommitOptions {
                    force_path: true,
                    ..Default::default()
                },
                &(),
                Some(NOW),
            )
            .unwrap();
        dave.merge_pending_commit().unwrap();
        for g in groups.iter_mut() {
            apply(g, &out.commit);
        }
        let out = groups[2]
            .commit(
                CommitOptions {
                    force_path: true,
                    ..Default::default()
                },
                &(),
                Some(NOW),
            )
            .unwrap();
        groups[2].merge_pending_commit().unwrap();
        for g in groups[..2].iter_mut().chain([&mut dave]) {
            apply(g, &out.commit);
        }
        let all: Vec<&Group> = groups.iter().chain([&dave]).collect();
        assert_agree(&all);
    }
}

#[test]
fn joiner_takes_the_leftmost_blank_leaf_with_the_tree_out_of_band() {
    let suite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
    let Setup {
        provider,
        cs,
        mut groups,
        ..
    } = group_of_three(suite, vec![]);
    // Alice removes Bob: leaf 1 is blank.
    let out = groups[0]
        .commit(
            CommitOptions {
                proposals: vec![Proposal::Remove(Remove { removed: 1 })],
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    groups[0].merge_pending_commit().unwrap();
    apply(&mut groups[2], &out.commit);
    groups.remove(1);

    let gi = group_info_of(&groups[1], false);
    let dave_id = identity(&*cs, "dave");
    // Without the tree the join cannot start.
    assert_eq!(
        Group::join_external(
            &provider,
            GroupConfig::default(),
            &gi,
            &dave_id,
            ExternalJoinOptions::default(),
            &(),
            Some(NOW),
        )
        .unwrap_err(),
        Error::Protocol(ProtocolError::RatchetTreeMissing)
    );
    let (dave, commit) = Group::join_external(
        &provider,
        GroupConfig::default(),
        &gi,
        &dave_id,
        ExternalJoinOptions {
            ratchet_tree: Some(groups[0].tree().to_extension()),
            authenticated_data: b"hello".to_vec(),
            ..Default::default()
        },
        &(),
        Some(NOW),
    )
    .unwrap();
    assert_eq!(dave.own_leaf(), LeafIndex(1));
    assert_eq!(public(&commit).content.authenticated_data, b"hello");
    for g in groups.iter_mut() {
        apply(g, &commit);
    }
    assert_eq!(groups[0].members().len(), 3);
    let all: Vec<&Group> = groups.iter().chain([&dave]).collect();
    assert_agree(&all);
}

#[test]
fn group_info_of_a_commit_allows_an_external_join() {
    let suite = CipherSuite::MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_ED448;
    let Setup {
        provider,
        cs,
        mut groups,
        ..
    } = group_of_three(suite, vec![]);
    let out = groups[0]
        .commit(
            CommitOptions {
                force_path: true,
                group_info: true,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    groups[0].merge_pending_commit().unwrap();
    for g in groups[1..].iter_mut() {
        apply(g, &out.commit);
    }
    let Some(MlsMessage::GroupInfo(gi)) = out.group_info else {
        panic!("no GroupInfo")
    };
    // The same external key as the one the epoch's members publish.
    assert_eq!(
        gi.extensions.parse::<ExternalPub>().unwrap(),
        group_info_of(&groups[2], false)
            .extensions
            .parse::<ExternalPub>()
            .unwrap()
    );
    let (dave, commit) = Group::join_external(
        &provider,
        GroupConfig::default(),
        &gi,
        &identity(&*cs, "dave"),
        ExternalJoinOptions::default(),
        &(),
        Some(NOW),
    )
    .unwrap();
    for g in groups.iter_mut() {
        apply(g, &commit);
    }
    let all: Vec<&Group> = groups.iter().chain([&dave]).collect();
    assert_agree(&all);
}

#[test]
fn resync_replaces_the_joiners_old_leaf_every_suite() {
    for suite in CipherSuite::ALL {
        let Setup {
            provider,
            ids,
            mut groups,
            ..
        } = group_of_three(suite, vec![]);
        // Bob lost his state: he rejoins with the same identity and removes
        // his old leaf in the same commit.
        let bob_old = groups.remove(1);
        let old_leaf = bob_old.own_leaf();
        let gi = group_info_of(&groups[0], true);
        let (bob, commit) = Group::join_external(
            &provider,
            GroupConfig::default(),
            &gi,
            &ids[1],
            ExternalJoinOptions {
                remove: Some(old_leaf),
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
        // The removal frees the leftmost leaf, which the joiner takes.
        assert_eq!(bob.own_leaf(), old_leaf, "{suite:?}");
        for g in groups.iter_mut() {
            let staged = stage(g, &commit);
            let s = staged.summary();
            assert_eq!(s.removed, [(old_leaf, Credential::basic("bob"))]);
            assert_eq!(s.added, [(old_leaf, Credential::basic("bob"))]);
            assert!(!s.self_removed);
            g.merge_staged_commit(staged).unwrap();
        }
        // The old state sees itself removed.
        let mut bob_old = bob_old;
        assert!(stage(&mut bob_old, &commit).summary().self_removed);
        assert_eq!(groups[0].members().len(), 3);
        let all: Vec<&Group> = groups.iter().chain([&bob]).collect();
        assert_agree(&all);
    }
}

#[test]
fn external_sender_proposes_remove_every_suite() {
    for suite in CipherSuite::ALL {
        let provider = RustCryptoProvider::with_seed([suite.0 as u8 + 200; 32]);
        let cs = provider.cipher_suite_provider(suite).unwrap();
        let server = identity(&*cs, "server");
        let senders = ExternalSenders(vec![ExternalSender {
            signature_key: server.signature_key().clone(),
            credential: server.credential().clone(),
        }]);
        let Setup { mut groups, .. } =
            group_of_three(suite, vec![Extension::from_typed(&senders).unwrap()]);
        let (gid, epoch) = (groups[0].group_id().to_vec(), groups[0].epoch());
        let remove_carol = Proposal::Remove(Remove { removed: 2 });
        let proposal =
            external_proposal(&*cs, &gid, epoch, 0, server.signer(), remove_carol.clone()).unwrap();
        assert!(public(&proposal).membership_tag.is_none());
        for g in groups.iter_mut() {
            match g.process_message(&proposal, &(), Some(NOW)).unwrap() {
                ProcessedMessage::Proposal {
                    sender, proposal, ..
                } => {
                    assert_eq!(sender, Sender::External(0));
                    assert_eq!(*proposal, remove_carol);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // Bob commits it, by reference.
        let out = groups[1]
            .commit(CommitOptions::default(), &(), Some(NOW))
            .unwrap();
        let mut m = public(&out.commit).clone();
        assert!(matches!(
            commit_of(&mut m).proposals[..],
            [ProposalOrRef::Reference(_)]
        ));
        groups[1].merge_pending_commit().unwrap();
        let staged = stage(&mut groups[0], &out.commit);
        assert_eq!(staged.summary().removed[0].0, LeafIndex(2));
        groups[0].merge_staged_commit(staged).unwrap();
        assert!(stage(&mut groups[2], &out.commit).summary().self_removed);
        assert_agree(&[&groups[0], &groups[1]]);
        assert_eq!(groups[0].members().len(), 2, "{suite:?}");
    }
}

#[test]
fn external_proposals_that_must_be_refused() {
    let suite = CipherSuite::MLS_256_DHKEMP384_AES256GCM_SHA384_P384;
    let provider = RustCryptoProvider::with_seed([42; 32]);
    let cs = provider.cipher_suite_provider(suite).unwrap();
    let server = identity(&*cs, "server");
    let stranger = identity(&*cs, "stranger");
    let senders = ExternalSenders(vec![ExternalSender {
        signature_key: server.signature_key().clone(),
        credential: server.credential().clone(),
    }]);
    let Setup { mut groups, .. } =
        group_of_three(suite, vec![Extension::from_typed(&senders).unwrap()]);
    let (gid, epoch) = (groups[0].group_id().to_vec(), groups[0].epoch());
    let remove = Proposal::Remove(Remove { removed: 1 });
    let alice = &mut groups[0];

    // An index past the list, and a signature by a key not in the list.
    let m = external_proposal(&*cs, &gid, epoch, 1, server.signer(), remove.clone()).unwrap();
    assert_eq!(
        process_err(alice, &m),
        Error::Protocol(ProtocolError::UnknownExternalSender(1))
    );
    let m = external_proposal(&*cs, &gid, epoch, 0, stranger.signer(), remove.clone()).unwrap();
    assert_eq!(
        process_err(alice, &m),
        Error::Crypto(CryptoError::InvalidSignature)
    );
    // Another epoch.
    let m = external_proposal(&*cs, &gid, epoch + 1, 0, server.signer(), remove).unwrap();
    assert!(matches!(
        process_err(alice, &m),
        Error::Protocol(ProtocolError::WrongEpoch { .. })
    ));
    // External senders may not send Updates (§12.1.8): refused when sending,
    // and, forged, when received.
    let leaf = alice.tree().leaf(LeafIndex(1)).unwrap().clone();
    let update = Proposal::Update(Update { leaf_node: leaf });
    assert_eq!(
        external_proposal(&*cs, &gid, epoch, 0, server.signer(), update.clone()).unwrap_err(),
        Error::Api(ApiError::InvalidArgument(
            "external senders send only Add, Remove, PSK, ReInit and GroupContextExtensions"
        ))
    );
    let ok = external_proposal(
        &*cs,
        &gid,
        epoch,
        0,
        server.signer(),
        Proposal::Remove(Remove { removed: 2 }),
    )
    .unwrap();
    let mut forged = public(&ok).clone();
    forged.content.content = FramedContentBody::Proposal(update);
    let signed = SignedContent::sign(
        &*cs,
        WireFormat::PUBLIC_MESSAGE,
        forged.content.clone(),
        None,
        server.signer(),
    )
    .unwrap();
    forged.auth.signature = signed.signature;
    assert_eq!(
        process_err(alice, &MlsMessage::PublicMessage(forged)),
        Error::Protocol(ProtocolError::ProposalSenderNotAllowed {
            proposal_type: 2,
            sender_type: 2
        })
    );
    // Nothing was kept: a commit now covers no proposal and needs no path.
    let out = alice
        .commit(CommitOptions::default(), &(), Some(NOW))
        .unwrap();
    let mut m = public(&out.commit).clone();
    assert!(commit_of(&mut m).proposals.is_empty());
    alice.discard_pending_commit();

    // Without an external_senders extension, no external sender is known.
    let Setup {
        groups: mut plain, ..
    } = group_of_three(suite, vec![]);
    let (gid, epoch) = (plain[0].group_id().to_vec(), plain[0].epoch());
    let m = external_proposal(
        &*cs,
        &gid,
        epoch,
        0,
        server.signer(),
        Proposal::Remove(Remove { removed: 1 }),
    )
    .unwrap();
    assert_eq!(
        process_err(&mut plain[0], &m),
        Error::Protocol(ProtocolError::UnknownExternalSender(0))
    );
}

#[test]
fn new_member_proposes_its_own_add_every_suite() {
    for suite in CipherSuite::ALL {
        let Setup {
            provider,
            cs,
            mut groups,
            ..
        } = group_of_three(suite, vec![]);
        let dave_id = identity(&*cs, "dave");
        let (kp, private) = generate_key_package(&*cs, &dave_id, opts()).unwrap();
        let (gid, epoch) = (groups[0].group_id().to_vec(), groups[0].epoch());
        // Only the KeyPackage's own key may sign it.
        let (other_signer, _) = cs.signature_generate_key_pair().unwrap();
        assert!(matches!(
            new_member_proposal(&*cs, &gid, epoch, kp.clone(), &other_signer),
            Err(Error::Api(_))
        ));
        let proposal =
            new_member_proposal(&*cs, &gid, epoch, kp.clone(), dave_id.signer()).unwrap();
        assert!(public(&proposal).membership_tag.is_none());
        let mut reference: Option<ProposalRef> = None;
        for g in groups.iter_mut() {
            match g.process_message(&proposal, &(), Some(NOW)).unwrap() {
                ProcessedMessage::Proposal {
                    sender,
                    reference: r,
                    ..
                } => {
                    assert_eq!(sender, Sender::NewMemberProposal);
                    assert!(reference.is_none() || reference.as_ref() == Some(&r));
                    reference = Some(r);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        // Carol commits the Add by reference; Dave joins from the Welcome.
        let out = groups[2]
            .commit(CommitOptions::default(), &(), Some(NOW))
            .unwrap();
        let mut m = public(&out.commit).clone();
        assert_eq!(
            commit_of(&mut m).proposals,
            [ProposalOrRef::Reference(reference.unwrap())]
        );
        groups[2].merge_pending_commit().unwrap();
        for g in groups[..2].iter_mut() {
            let staged = stage(g, &out.commit);
            assert_eq!(
                staged.summary().added,
                [(LeafIndex(3), Credential::basic("dave"))]
            );
            g.merge_staged_commit(staged).unwrap();
        }
        let MlsMessage::Welcome(welcome) = out.welcome.unwrap() else {
            panic!("not a Welcome")
        };
        let dave = Group::join(
            &provider,
            GroupConfig::default(),
            &welcome,
            JoinInput {
                key_package: &kp,
                key_package_private: &private,
                signer: dave_id.signer().clone(),
                ratchet_tree: None,
                psk_store: &(),
                now: Some(NOW),
            },
        )
        .unwrap();
        let all: Vec<&Group> = groups.iter().chain([&dave]).collect();
        assert_agree(&all);
    }
}

#[test]
fn external_commits_that_break_the_rules() {
    for suite in [
        CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519,
        CipherSuite::MLS_256_DHKEMX448_AES256GCM_SHA512_ED448,
        CipherSuite::MLS_256_DHKEMP521_AES256GCM_SHA512_P521,
    ] {
        let Setup {
            provider,
            cs,
            ids,
            mut groups,
        } = group_of_three(suite, vec![]);
        let cs = &*cs;
        let dave_id = identity(cs, "dave");
        let gi = group_info_of(&groups[0], true);
        let join = |options: ExternalJoinOptions| {
            Group::join_external(
                &provider,
                GroupConfig::default(),
                &gi,
                &dave_id,
                options,
                &(),
                Some(NOW),
            )
            .unwrap()
            .1
        };
        let commit = join(ExternalJoinOptions::default());
        let base = public(&commit).clone();
        let alice = &mut groups[0];
        let with_proposals = |f: &dyn Fn(&mut Vec<ProposalOrRef>)| {
            let mut m = base.clone();
            f(&mut commit_of(&mut m).proposals);
            resign(cs, m, &gi, &dave_id)
        };

        // Two ExternalInits (§12.2: exactly one).
        let m = with_proposals(&|p| {
            let first = p[0].clone();
            p.push(first)
        });
        assert_eq!(
            process_err(alice, &m),
            Error::Protocol(ProtocolError::InvalidExternalCommitProposals(
                "more than one ExternalInit"
            )),
            "{suite:?}"
        );
        // No ExternalInit.
        let m = with_proposals(&|p| p.clear());
        assert_eq!(
            process_err(alice, &m),
            Error::Protocol(ProtocolError::InvalidExternalCommitProposals(
                "no ExternalInit"
            ))
        );
        // An Update (§12.2: no other proposals; §12.1.2: only members update).
        let leaf = alice.tree().leaf(LeafIndex(1)).unwrap().clone();
        let m = with_proposals(&|p| {
            p.push(ProposalOrRef::Proposal(Box::new(Proposal::Update(
                Update {
                    leaf_node: leaf.clone(),
                },
            ))))
        });
        assert_eq!(
            process_err(alice, &m),
            Error::Protocol(ProtocolError::ProposalSenderNotAllowed {
                proposal_type: 2,
                sender_type: 4
            })
        );
        // Two Removes (§12.2: at most one).
        let m = with_proposals(&|p| {
            for removed in [1, 2] {
                p.push(ProposalOrRef::Proposal(Box::new(Proposal::Remove(
                    Remove { removed },
                ))))
            }
        });
        assert_eq!(
            process_err(alice, &m),
            Error::Protocol(ProtocolError::InvalidExternalCommitProposals(
                "more than one Remove"
            ))
        );
        // A proposal by reference (§12.4.3.2).
        let m = with_proposals(&|p| p.push(ProposalOrRef::Reference(ProposalRef(vec![7; 32]))));
        assert_eq!(
            process_err(alice, &m),
            Error::Protocol(ProtocolError::ExternalCommitProposalByReference)
        );
        // A malformed kem_output (§8.3).
        let set_kem_output = |kem_output: Vec<u8>| {
            with_proposals(&|p| {
                p[0] = ProposalOrRef::Proposal(Box::new(Proposal::ExternalInit(ExternalInit {
                    kem_output: kem_output.clone(),
                })))
            })
        };
        let kem_output = match &commit_of(&mut base.clone()).proposals[..] {
            [ProposalOrRef::Proposal(p)] => match &**p {
                Proposal::ExternalInit(e) => e.kem_output.clone(),
                other => panic!("not an ExternalInit: {other:?}"),
            },
            other => panic!("one proposal expected: {other:?}"),
        };
        for bad in [
            kem_output[1..].to_vec(),
            vec![],
            [&kem_output[..], &[0]].concat(),
        ] {
            assert_eq!(
                process_err(alice, &set_kem_output(bad)),
                Error::Protocol(ProtocolError::ExternalInitKemOutputInvalid),
                "{suite:?}"
            );
        }
        // A well-formed kem_output of another encapsulation gives another
        // init secret, which the confirmation tag exposes.
        let ExternalPub { external_pub } = gi.extensions.parse().unwrap().unwrap();
        let (other, _) = cs.hpke_export_sender(&external_pub, b"", b"x", 32).unwrap();
        assert_eq!(
            process_err(alice, &set_kem_output(other)),
            Error::Protocol(ProtocolError::ConfirmationTagMismatch)
        );
        // No path (§12.4.3.2: external commits MUST contain one).
        let mut m = base.clone();
        commit_of(&mut m).path = None;
        assert_eq!(
            process_err(alice, &MlsMessage::PublicMessage(m)),
            Error::Protocol(ProtocolError::PathRequired)
        );
        // A signature by anyone but the path's leaf key.
        let m = resign(cs, base.clone(), &gi, &ids[1]);
        assert_eq!(
            process_err(alice, &m),
            Error::Crypto(CryptoError::InvalidSignature)
        );
        // Passed off as a member's commit, it lacks the membership tag.
        let mut m = base.clone();
        m.content.sender = Sender::Member(1);
        assert_eq!(
            process_err(alice, &MlsMessage::PublicMessage(m)),
            Error::Protocol(ProtocolError::InvalidMembershipTag)
        );

        // The untouched commit is still good.
        apply(alice, &commit);
    }
}

#[test]
fn group_infos_that_cannot_be_joined() {
    let suite = CipherSuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256;
    let Setup {
        provider,
        cs,
        ids,
        groups,
    } = group_of_three(suite, vec![]);
    let dave_id = identity(&*cs, "dave");
    let join = |gi: &GroupInfo| {
        Group::join_external(
            &provider,
            GroupConfig::default(),
            gi,
            &dave_id,
            ExternalJoinOptions::default(),
            &(),
            Some(NOW),
        )
        .map(|_| ())
    };
    let gi = group_info_of(&groups[0], true);
    join(&gi).unwrap();

    // Without external_pub (re-signed by its signer, so only that is wrong).
    let mut no_pub = gi.clone();
    no_pub
        .extensions
        .retain(|e| e.extension_type != tessera::messages::ExtensionType::EXTERNAL_PUB);
    no_pub.sign(&*cs, ids[0].signer()).unwrap();
    assert_eq!(
        join(&no_pub).unwrap_err(),
        Error::Protocol(ProtocolError::ExternalPubMissing)
    );
    // A tampered GroupInfo.
    let mut tampered = gi.clone();
    tampered.group_context.epoch += 1;
    assert_eq!(
        join(&tampered).unwrap_err(),
        Error::Crypto(CryptoError::InvalidSignature)
    );
    // Signed by a non-member leaf index.
    let mut stranger = gi.clone();
    stranger.signer = 7;
    assert_eq!(
        join(&stranger).unwrap_err(),
        Error::Protocol(ProtocolError::GroupInfoSignerNotMember(7))
    );
    // A wrong tree hash in the (correctly signed) context.
    let mut bad_hash = gi.clone();
    bad_hash.group_context.tree_hash[0] ^= 1;
    bad_hash.sign(&*cs, ids[0].signer()).unwrap();
    assert_eq!(
        join(&bad_hash).unwrap_err(),
        Error::Protocol(ProtocolError::TreeHashMismatch)
    );
    // An external_pub that is not the group's: the joiner cannot tell, the
    // members reject the commit.
    let mut wrong_pub = gi.clone();
    let (_, other) = cs.hpke_generate_key_pair().unwrap();
    for e in wrong_pub.extensions.iter_mut() {
        if e.extension_type == tessera::messages::ExtensionType::EXTERNAL_PUB {
            *e = Extension::from_typed(&ExternalPub {
                external_pub: HpkePublicKey(other.as_bytes().to_vec()),
            })
            .unwrap();
        }
    }
    wrong_pub.sign(&*cs, ids[0].signer()).unwrap();
    let (_, commit) = Group::join_external(
        &provider,
        GroupConfig::default(),
        &wrong_pub,
        &dave_id,
        ExternalJoinOptions::default(),
        &(),
        Some(NOW),
    )
    .unwrap();
    let mut alice = groups.into_iter().next().unwrap();
    assert_eq!(
        process_err(&mut alice, &commit),
        Error::Protocol(ProtocolError::ConfirmationTagMismatch)
    );
}
