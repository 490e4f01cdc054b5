//! Reinitialization and branching from end to end (RFC 9420 §11.2, §11.3,
//! §12.4.3.1), in every cipher suite: the genuine flows, the old group closed
//! after its ReInit, and each check a joiner runs on a resumed group fed a
//! Welcome that breaks it and nothing else.

use super::*;
use crate::crypto::Secret;
use crate::error::{ApiError, ProtocolError};
use crate::group::resumption::{CredentialIdentity, ResumptionOptions, ResumptionSource};
use crate::messages::{
    PreSharedKeyId, ProtocolVersion, Psk, ReInit, Remove, ResumptionPsk, ResumptionPskUsage,
};

const ALL_SUITES: [CipherSuite; 7] = [
    CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519,
    CipherSuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
    CipherSuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519,
    CipherSuite::MLS_256_DHKEMX448_AES256GCM_SHA512_ED448,
    CipherSuite::MLS_256_DHKEMP521_AES256GCM_SHA512_P521,
    CipherSuite::MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_ED448,
    CipherSuite::MLS_256_DHKEMP384_AES256GCM_SHA384_P384,
];

const NAMES: [&str; 5] = ["alice", "bob", "carol", "dave", "erin"];
const DAVE: usize = 3;
const ERIN: usize = 4;

/// The suite after `suite` in 0x0001..=0x0007, wrapping: the target of each
/// suite's ReInit, so that every suite is left and entered once.
fn next_suite(suite: CipherSuite) -> CipherSuite {
    CipherSuite(suite.0 % 7 + 1)
}

/// A participant's identity and a fresh KeyPackage in `suite`.
struct Fresh {
    id: Identity,
    kp: (KeyPackage, KeyPackagePrivate),
}

fn fresh(provider: &RustCryptoProvider, suite: CipherSuite, name: &str, ext: bool) -> Fresh {
    let cs = provider.cipher_suite_provider(suite).unwrap();
    let id = Identity::generate(&*cs, Credential::basic(name)).unwrap();
    let kp = generate_key_package(&*cs, &id, kp_options(ext)).unwrap();
    Fresh { id, kp }
}

/// `n` members (named from [`NAMES`]) in `suite`: Alice adds the others,
/// then Bob commits with a path, so the tree has parent nodes.
struct Net {
    provider: RustCryptoProvider,
    groups: Vec<Group>,
}

impl Net {
    fn new(suite: CipherSuite, n: usize, seed: u8) -> Self {
        Self::with_extensions(suite, n, seed, Vec::new())
    }

    fn with_extensions(suite: CipherSuite, n: usize, seed: u8, extensions: Vec<Extension>) -> Self {
        let provider = RustCryptoProvider::with_seed([seed; 32]);
        let founder = fresh(&provider, suite, NAMES[0], true);
        let mut alice = Group::create(
            &provider,
            GroupConfig::default(),
            suite,
            format!("old group {seed}").into_bytes(),
            &founder.id,
            kp_options(true),
            extensions,
        )
        .unwrap();
        let others: Vec<Fresh> = NAMES[1..n]
            .iter()
            .map(|name| fresh(&provider, suite, name, true))
            .collect();
        let out = alice
            .commit(
                CommitOptions {
                    proposals: others.iter().map(|f| add(&f.kp.0)).collect(),
                    ..Default::default()
                },
                &(),
                Some(NOW),
            )
            .unwrap();
        alice.merge_pending_commit().unwrap();
        let welcome = welcome_of(&out.welcome.unwrap());
        let mut groups = vec![alice];
        for f in &others {
            groups.push(join(&provider, &welcome, &f.kp, &f.id, None, &()).unwrap());
        }
        valid_commit(&mut groups, BOB);
        Self { provider, groups }
    }

    /// Every other member processes and merges `commit` from `committer`.
    fn deliver_commit(&mut self, committer: usize, commit: &MlsMessage) {
        for (i, g) in self.groups.iter_mut().enumerate() {
            if i != committer {
                apply(g, commit);
            }
        }
    }

    /// Every member but `proposer` receives the proposal.
    fn deliver_proposal(&mut self, proposer: usize, proposal: &MlsMessage) {
        for (i, g) in self.groups.iter_mut().enumerate() {
            if i != proposer {
                receive_proposal(g, proposal);
            }
        }
    }

    /// `committer` commits a ReInit to `reinit`; everyone merges it.
    fn reinit(&mut self, committer: usize, reinit: &ReInit) {
        let out = self.groups[committer]
            .commit_reinit(reinit.clone())
            .unwrap();
        let summary = self.groups[committer].merge_pending_commit().unwrap();
        assert_eq!(summary.reinit.as_ref(), Some(reinit));
        self.deliver_commit(committer, &out.commit);
    }
}

/// All groups are in the same epoch with the same epoch authenticator,
/// exporter secret, tree hash and members.
fn assert_agree(groups: &[Group]) {
    let first = &groups[0];
    let export = |g: &Group| g.export_secret(b"tessera test", b"ctx", 32).unwrap();
    for g in groups {
        assert_eq!(g.group_id(), first.group_id());
        assert_eq!(g.epoch(), first.epoch());
        assert_eq!(g.cipher_suite(), first.cipher_suite());
        assert_eq!(g.epoch_authenticator(), first.epoch_authenticator());
        assert_eq!(export(g), export(first));
        assert_eq!(g.tree_hash(), first.tree_hash());
        assert_eq!(g.members(), first.members());
    }
}

fn join_resumed(
    provider: &RustCryptoProvider,
    welcome: &MlsMessage,
    joiner: &Fresh,
    source: &dyn ResumptionSource,
) -> Result<Group> {
    Group::join_with_resumption(
        provider,
        GroupConfig::default(),
        &welcome_of(welcome),
        JoinInput {
            key_package: &joiner.kp.0,
            key_package_private: &joiner.kp.1,
            signer: joiner.id.signer().clone(),
            ratchet_tree: None,
            psk_store: &(),
            now: Some(NOW),
        },
        source,
        &CredentialIdentity,
    )
}

fn resumption_options(ext: bool) -> ResumptionOptions {
    ResumptionOptions {
        now: Some(NOW),
        ..ResumptionOptions::new(kp_options(ext))
    }
}

/// The PSKs the Welcome gives `joiner`.
fn welcome_psks(
    provider: &RustCryptoProvider,
    welcome: &MlsMessage,
    joiner: &Fresh,
) -> Vec<PreSharedKeyId> {
    let cs = provider
        .cipher_suite_provider(joiner.kp.0.cipher_suite)
        .unwrap();
    crate::welcome::open_group_secrets(
        &*cs,
        &welcome_of(welcome),
        &joiner.kp.0,
        &joiner.kp.1.init_key,
    )
    .unwrap()
    .psks
}

fn reinit_params(suite: CipherSuite, group_id: &[u8]) -> ReInit {
    ReInit {
        group_id: group_id.to_vec(),
        version: ProtocolVersion::MLS10,
        cipher_suite: suite,
        extensions: vec![Extension {
            extension_type: EXT,
            extension_data: b"new group".to_vec(),
        }],
    }
}

/// §11.2 from end to end in a 5-member group: Bob proposes a ReInit to the
/// next suite, Carol commits it by reference, the old group is closed (late
/// messages of earlier epochs still open; nothing of the last epoch does),
/// then Dave (neither proposer nor committer) recreates the group and the
/// other four join it; all agree, and the new group carries on.
fn reinit_to_next_suite(suite: CipherSuite, seed: u8) {
    let mut net = Net::new(suite, 5, seed);
    let new_suite = next_suite(suite);
    let reinit = reinit_params(new_suite, b"reinitialized");
    let proposal = net.groups[BOB].propose_reinit(reinit.clone()).unwrap();
    net.deliver_proposal(BOB, &proposal);
    // Erin's message of the last ordinary epoch, delivered after the ReInit.
    let late = net.groups[ERIN].encrypt_application(b"late", b"").unwrap();
    let out = net.groups[CAROL]
        .commit(CommitOptions::default(), &(), Some(NOW))
        .unwrap();
    let summary = net.groups[CAROL].merge_pending_commit().unwrap();
    assert_eq!(summary.reinit.as_ref(), Some(&reinit));
    net.deliver_commit(CAROL, &out.commit);
    assert_agree(&net.groups);
    let last_epoch = net.groups[ALICE].epoch();
    for g in &net.groups {
        assert_eq!(g.reinit(), Some(&reinit));
    }
    match deliver(&mut net.groups[ALICE], &late, &()).unwrap() {
        ProcessedMessage::Application { data, .. } => assert_eq!(data, b"late"),
        other => panic!("not the late message: {other:?}"),
    }

    // The old group refuses to send, whatever the operation.
    let closed =
        |r: Result<MlsMessage>| assert_eq!(r.unwrap_err(), ApiError::GroupReinitialized.into());
    for g in net.groups.iter_mut() {
        closed(g.encrypt_application(b"no", b""));
        closed(g.propose(Proposal::Remove(Remove { removed: 0 })));
        closed(g.propose_reinit(reinit.clone()));
        closed(g.group_info(true));
        let err = g
            .commit(
                CommitOptions {
                    force_path: true,
                    ..Default::default()
                },
                &(),
                Some(NOW),
            )
            .unwrap_err();
        assert_eq!(err, ApiError::GroupReinitialized.into());
    }
    // Messages of the last epoch are refused: a copy of Dave's state that
    // ignores the ReInit sends an application message and a commit.
    let mut rogue = Group::from_bytes(
        &net.provider,
        net.groups[DAVE].to_bytes().unwrap().as_bytes(),
    )
    .unwrap();
    assert_eq!(rogue.reinit(), Some(&reinit), "the ReInit survives a save");
    rogue.reinit = None;
    let app = rogue.encrypt_application(b"after", b"").unwrap();
    let commit = rogue
        .commit(
            CommitOptions {
                force_path: true,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap()
        .commit;
    for m in [&app, &commit] {
        assert_rejected_with(
            &mut net.groups,
            ALICE,
            m,
            &(),
            ProtocolError::MessageAfterReInit,
        );
    }

    // Dave recreates the group in the new suite from the others' KeyPackages.
    let new: Vec<Fresh> = NAMES
        .iter()
        .map(|n| fresh(&net.provider, new_suite, n, true))
        .collect();
    let kps: Vec<KeyPackage> = new
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != DAVE)
        .map(|(_, f)| f.kp.0.clone())
        .collect();
    let (dave2, out) = net.groups[DAVE]
        .reinit_group(
            &net.provider,
            &new[DAVE].id,
            &kps,
            resumption_options(true),
            &CredentialIdentity,
        )
        .unwrap();
    let welcome = out.welcome.unwrap();
    // The Welcome names the `reinit` PSK of the old group's last epoch.
    let psks = welcome_psks(&net.provider, &welcome, &new[ALICE]);
    assert_eq!(psks.len(), 1);
    assert_eq!(
        psks[0].psk,
        Psk::Resumption(ResumptionPsk {
            usage: ResumptionPskUsage::Reinit,
            psk_group_id: net.groups[ALICE].group_id().to_vec(),
            psk_epoch: last_epoch,
        })
    );
    assert_eq!(
        psks[0].psk_nonce.len(),
        net.provider
            .cipher_suite_provider(new_suite)
            .unwrap()
            .kdf_len()
    );
    let mut groups = Vec::new();
    for (i, f) in new.iter().enumerate() {
        if i == DAVE {
            continue;
        }
        groups.push(join_resumed(&net.provider, &welcome, f, &net.groups[i]).unwrap());
    }
    groups.insert(DAVE, dave2);
    assert_agree(&groups);
    let g = &groups[ALICE];
    assert_eq!(
        (g.epoch(), g.cipher_suite(), g.group_id()),
        (1, new_suite, &b"reinitialized"[..])
    );
    assert_eq!(g.context().extensions, reinit.extensions);
    assert_eq!(g.members().len(), 5);
    assert_eq!(g.reinit(), None);

    // The new group lives: a message each way and a commit from a joiner.
    let m = groups[ERIN]
        .encrypt_application(b"hello new group", b"")
        .unwrap();
    match deliver(&mut groups[DAVE], &m, &()).unwrap() {
        ProcessedMessage::Application { data, .. } => assert_eq!(data, b"hello new group"),
        other => panic!("not an application message: {other:?}"),
    }
    valid_commit(&mut groups, ERIN);
    assert_eq!(groups[ALICE].epoch(), 2);
}

/// §11.3 from end to end: Erin branches a subgroup of herself, Alice and
/// Carol (3 of 5); they join with the parent group as PSK source and agree;
/// the parent group is unchanged and carries on.
fn branch_three_of_five(suite: CipherSuite, seed: u8) {
    let mut net = Net::new(suite, 5, seed);
    let parent_epoch = net.groups[ALICE].epoch();
    let parent_auth = net.groups[ALICE].epoch_authenticator().clone();
    let joiners: Vec<(usize, Fresh)> = [ALICE, CAROL]
        .iter()
        .map(|&i| (i, fresh(&net.provider, suite, NAMES[i], true)))
        .collect();
    let kps: Vec<KeyPackage> = joiners.iter().map(|(_, f)| f.kp.0.clone()).collect();
    let (erin2, out) = net.groups[ERIN]
        .branch(
            &net.provider,
            b"subgroup".to_vec(),
            &kps,
            resumption_options(true),
            &CredentialIdentity,
        )
        .unwrap();
    let welcome = out.welcome.unwrap();
    let psks = welcome_psks(&net.provider, &welcome, &joiners[0].1);
    assert_eq!(
        psks.iter().map(|p| &p.psk).collect::<Vec<_>>(),
        [&Psk::Resumption(ResumptionPsk {
            usage: ResumptionPskUsage::Branch,
            psk_group_id: net.groups[ALICE].group_id().to_vec(),
            psk_epoch: parent_epoch,
        })]
    );
    let mut sub = vec![erin2];
    for (i, f) in &joiners {
        sub.push(join_resumed(&net.provider, &welcome, f, &net.groups[*i]).unwrap());
    }
    assert_agree(&sub);
    let g = &sub[0];
    assert_eq!(
        (g.epoch(), g.cipher_suite(), g.group_id()),
        (1, suite, &b"subgroup"[..])
    );
    assert_eq!(g.members().len(), 3);
    assert_eq!(
        g.context().extensions,
        net.groups[ALICE].context().extensions
    );
    assert_ne!(g.epoch_authenticator(), &parent_auth);
    // Bob, not in the subgroup, cannot join it even with the parent's PSK.
    let bob = fresh(&net.provider, suite, "bob", true);
    assert_eq!(
        join_resumed(&net.provider, &welcome, &bob, &net.groups[BOB]).unwrap_err(),
        ProtocolError::WelcomeNotForUs.into()
    );
    // Both groups carry on independently.
    valid_commit(&mut sub, 1);
    assert_eq!(net.groups[ALICE].epoch(), parent_epoch);
    assert_eq!(net.groups[ALICE].epoch_authenticator(), &parent_auth);
    valid_commit(&mut net.groups, BOB);
}

/// A Welcome forged by Alice (who holds the old group) with the ReInit's
/// parameters changed by `edit`, for Bob and Carol, as `create_resumed`
/// builds the genuine one.
struct Forger<'a> {
    net: &'a Net,
    reinit: ReInit,
}

impl Forger<'_> {
    /// Fresh identities and KeyPackages of `names` in `suite`.
    fn people(&self, suite: CipherSuite, names: &[&str]) -> Vec<Fresh> {
        names
            .iter()
            .map(|n| fresh(&self.net.provider, suite, n, true))
            .collect()
    }

    /// The Welcome of a group `params` created by `creator` with `joiners`
    /// and the given resumption PSKs of Alice's old group.
    fn welcome(
        &self,
        params: &ReInit,
        creator: &Fresh,
        joiners: &[&Fresh],
        psks: &[(PreSharedKeyId, Secret)],
    ) -> MlsMessage {
        let mut g = Group::create(
            &self.net.provider,
            GroupConfig::default(),
            params.cipher_suite,
            params.group_id.clone(),
            &creator.id,
            kp_options(true),
            params.extensions.clone(),
        )
        .unwrap();
        let out = g
            .commit_inner(
                CommitOptions {
                    proposals: joiners.iter().map(|f| add(&f.kp.0)).collect(),
                    ..Default::default()
                },
                &(),
                Some(NOW),
                psks,
            )
            .unwrap();
        out.welcome.unwrap()
    }

    /// The genuine resumption PSK of the old group's epoch with `usage`,
    /// with a nonce for `suite`.
    fn psk(
        &self,
        usage: ResumptionPskUsage,
        epoch: u64,
        suite: CipherSuite,
    ) -> (PreSharedKeyId, Secret) {
        let old = &self.net.groups[ALICE];
        let nh = self
            .net
            .provider
            .cipher_suite_provider(suite)
            .unwrap()
            .kdf_len();
        (
            PreSharedKeyId {
                psk: Psk::Resumption(ResumptionPsk {
                    usage,
                    psk_group_id: old.group_id().to_vec(),
                    psk_epoch: epoch,
                }),
                psk_nonce: vec![7; nh],
            },
            old.resumption_psk(epoch).unwrap().clone(),
        )
    }
}

/// Each check of a Welcome into a reinitialized group (§11.2, §12.4.3.1) is
/// fed a Welcome that breaks it alone, in a 3-member group whose ReInit
/// moves to the next suite; Bob must refuse each with its own error, and the
/// genuine Welcome (checked last) must still work.
fn reinit_welcome_checks(suite: CipherSuite, seed: u8) {
    let mut net = Net::new(suite, 3, seed);
    let new_suite = next_suite(suite);
    let reinit = reinit_params(new_suite, b"reinit checks");
    net.reinit(CAROL, &reinit);
    let last = net.groups[ALICE].epoch();
    let f = Forger {
        net: &net,
        reinit: reinit.clone(),
    };
    let people = f.people(new_suite, &NAMES[..3]);
    let (alice, bob, carol) = (&people[ALICE], &people[BOB], &people[CAROL]);
    let psk = f.psk(ResumptionPskUsage::Reinit, last, new_suite);
    let bob_old = &net.groups[BOB];
    let refused = |welcome: &MlsMessage, source: &dyn ResumptionSource, expected: ProtocolError| {
        assert_eq!(
            join_resumed(&net.provider, welcome, bob, source).unwrap_err(),
            expected.into()
        );
    };

    let genuine = f.welcome(&f.reinit, alice, &[bob, carol], std::slice::from_ref(&psk));
    // The PSK: not held (no source, or the plain join), ...
    refused(&genuine, &(), ProtocolError::PskNotFound);
    let plain = Group::join(
        &net.provider,
        GroupConfig::default(),
        &welcome_of(&genuine),
        JoinInput {
            key_package: &bob.kp.0,
            key_package_private: &bob.kp.1,
            signer: bob.id.signer().clone(),
            ratchet_tree: None,
            psk_store: &(),
            now: Some(NOW),
        },
    );
    assert_eq!(plain.unwrap_err(), ProtocolError::PskNotFound.into());
    // ... of another group, ...
    let mut other_group = psk.clone();
    if let Psk::Resumption(r) = &mut other_group.0.psk {
        r.psk_group_id = b"another group".to_vec();
    }
    refused(
        &f.welcome(&reinit, alice, &[bob, carol], &[other_group]),
        bob_old,
        ProtocolError::PskNotFound,
    );
    // ... of an epoch before the ReInit (its PSK is still held), ...
    let earlier = f.psk(ResumptionPskUsage::Reinit, last - 1, new_suite);
    refused(
        &f.welcome(&reinit, alice, &[bob, carol], &[earlier]),
        bob_old,
        ProtocolError::ReInitNotCommitted,
    );
    // ... with the right id but the wrong value, ...
    let wrong_value = (psk.0.clone(), Secret::from(vec![0x55; psk.1.len()]));
    refused(
        &f.welcome(&reinit, alice, &[bob, carol], &[wrong_value]),
        bob_old,
        ProtocolError::GroupInfoDecryptFailed,
    );
    // ... or twice (as reinit and as branch).
    let twice = [
        psk.clone(),
        f.psk(ResumptionPskUsage::Branch, last, new_suite),
    ];
    refused(
        &f.welcome(&reinit, alice, &[bob, carol], &twice),
        bob_old,
        ProtocolError::ResumptionPskNotUnique,
    );

    // The parameters of the ReInit, one at a time.
    let mut p = reinit.clone();
    p.group_id = b"another id".to_vec();
    refused(
        &f.welcome(&p, alice, &[bob, carol], std::slice::from_ref(&psk)),
        bob_old,
        ProtocolError::ReInitParameterMismatch("group_id"),
    );
    let mut p = reinit.clone();
    p.extensions.clear();
    refused(
        &f.welcome(&p, alice, &[bob, carol], std::slice::from_ref(&psk)),
        bob_old,
        ProtocolError::ReInitParameterMismatch("extensions"),
    );
    let mut p = reinit.clone();
    p.cipher_suite = next_suite(new_suite);
    let third = f.people(p.cipher_suite, &NAMES[..3]);
    let third_psk = f.psk(ResumptionPskUsage::Reinit, last, p.cipher_suite);
    let w = f.welcome(
        &p,
        &third[ALICE],
        &[&third[BOB], &third[CAROL]],
        &[third_psk],
    );
    assert_eq!(
        join_resumed(&net.provider, &w, &third[BOB], bob_old).unwrap_err(),
        ProtocolError::ReInitParameterMismatch("cipher_suite").into()
    );
    // The members: Carol left out, or a stranger let in.
    refused(
        &f.welcome(&reinit, alice, &[bob], std::slice::from_ref(&psk)),
        bob_old,
        ProtocolError::ReInitMembersMismatch,
    );
    let mallory = f.people(new_suite, &["mallory"]);
    refused(
        &f.welcome(
            &reinit,
            alice,
            &[bob, carol, &mallory[0]],
            std::slice::from_ref(&psk),
        ),
        bob_old,
        ProtocolError::ReInitMembersMismatch,
    );
    // Epoch 2 instead of 1: a first commit without members, then the adds.
    let mut g = Group::create(
        &net.provider,
        GroupConfig::default(),
        new_suite,
        reinit.group_id.clone(),
        &alice.id,
        kp_options(true),
        reinit.extensions.clone(),
    )
    .unwrap();
    g.commit_inner(
        CommitOptions::default(),
        &(),
        Some(NOW),
        std::slice::from_ref(&psk),
    )
    .unwrap();
    g.merge_pending_commit().unwrap();
    let out = g
        .commit_inner(
            CommitOptions {
                proposals: vec![add(&bob.kp.0), add(&carol.kp.0)],
                ..Default::default()
            },
            &(),
            Some(NOW),
            std::slice::from_ref(&psk),
        )
        .unwrap();
    refused(
        &out.welcome.unwrap(),
        bob_old,
        ProtocolError::ResumptionEpochNotOne(2),
    );

    // The genuine Welcome joins.
    let bob_new = join_resumed(&net.provider, &genuine, bob, bob_old).unwrap();
    assert_eq!(bob_new.epoch(), 1);

    // The version: a ReInit to a later version, and a new group in MLS 1.0.
    let mut net2 = Net::new(suite, 3, seed.wrapping_add(100));
    let mut v2 = reinit.clone();
    v2.version = ProtocolVersion(2);
    net2.reinit(ALICE, &v2);
    assert_eq!(
        net2.groups[ALICE]
            .reinit_group(
                &net2.provider,
                &alice.id,
                &[bob.kp.0.clone(), carol.kp.0.clone()],
                resumption_options(true),
                &CredentialIdentity
            )
            .unwrap_err(),
        ApiError::InvalidArgument("only MLS 1.0 groups can be created").into()
    );
    let f2 = Forger {
        net: &net2,
        reinit: v2,
    };
    let last2 = net2.groups[ALICE].epoch();
    let w = f2.welcome(
        &reinit,
        alice,
        &[bob, carol],
        &[f2.psk(ResumptionPskUsage::Reinit, last2, new_suite)],
    );
    assert_eq!(
        join_resumed(&net2.provider, &w, bob, &net2.groups[BOB]).unwrap_err(),
        ProtocolError::ReInitParameterMismatch("version").into()
    );
    assert_eq!(f2.reinit.version, ProtocolVersion(2));
}

/// Each check of a Welcome into a branched group (§11.3, §12.4.3.1), in a
/// 4-member group: members outside the parent (a joiner, or the creator
/// itself), another suite, a parent epoch no longer kept; and the
/// creator's own refusal of a KeyPackage from outside the parent.
fn branch_welcome_checks(suite: CipherSuite, seed: u8) {
    let mut net = Net::new(suite, 4, seed);
    let epoch = net.groups[ALICE].epoch();
    let f = Forger {
        net: &net,
        reinit: ReInit {
            group_id: b"branch checks".to_vec(),
            version: ProtocolVersion::MLS10,
            cipher_suite: suite,
            extensions: Vec::new(),
        },
    };
    let people = f.people(suite, &["alice", "bob", "carol", "mallory"]);
    let (alice, bob, carol, mallory) = (&people[0], &people[1], &people[2], &people[3]);
    let psk = f.psk(ResumptionPskUsage::Branch, epoch, suite);
    let bob_old = &net.groups[BOB];
    let refused = |welcome: &MlsMessage, joiner: &Fresh, expected: ProtocolError| {
        assert_eq!(
            join_resumed(&net.provider, welcome, joiner, bob_old).unwrap_err(),
            expected.into()
        );
    };
    // A stranger among the members (leaf 2), or as the creator (leaf 0).
    refused(
        &f.welcome(
            &f.reinit,
            alice,
            &[bob, mallory],
            std::slice::from_ref(&psk),
        ),
        bob,
        ProtocolError::BranchMemberNotInParent(2),
    );
    refused(
        &f.welcome(
            &f.reinit,
            mallory,
            &[bob, carol],
            std::slice::from_ref(&psk),
        ),
        bob,
        ProtocolError::BranchMemberNotInParent(0),
    );
    // Another cipher suite.
    let other = next_suite(suite);
    let mut p = f.reinit.clone();
    p.cipher_suite = other;
    let people2 = f.people(other, &["alice", "bob"]);
    let w = f.welcome(
        &p,
        &people2[0],
        &[&people2[1]],
        &[f.psk(ResumptionPskUsage::Branch, epoch, other)],
    );
    refused(
        &w,
        &people2[1],
        ProtocolError::BranchParameterMismatch("cipher_suite"),
    );
    // The creator refuses a KeyPackage of a non-member.
    assert_eq!(
        net.groups[ALICE]
            .branch(
                &net.provider,
                b"b".to_vec(),
                std::slice::from_ref(&mallory.kp.0),
                resumption_options(true),
                &CredentialIdentity
            )
            .unwrap_err(),
        ApiError::InvalidArgument("a KeyPackage names no member of this group").into()
    );

    // The genuine branch, with an application-defined identity (the first
    // byte of the name: "carol" and "chris" are the same participant).
    let first_byte = |c: &Credential| match c {
        Credential::Basic(id) => id.iter().take(1).copied().collect(),
        _ => Vec::new(),
    };
    let chris = fresh(&net.provider, suite, "chris", true);
    let (_alice_sub, out) = net.groups[ALICE]
        .branch(
            &net.provider,
            b"sub".to_vec(),
            &[bob.kp.0.clone(), chris.kp.0.clone()],
            resumption_options(true),
            &first_byte,
        )
        .unwrap();
    let welcome = out.welcome.unwrap();
    let strict = join_resumed(&net.provider, &welcome, bob, &net.groups[BOB]);
    assert_eq!(
        strict.unwrap_err(),
        ProtocolError::BranchMemberNotInParent(2).into()
    );
    let lenient = |g: &Group| {
        Group::join_with_resumption(
            &net.provider,
            GroupConfig::default(),
            &welcome_of(&welcome),
            JoinInput {
                key_package: &bob.kp.0,
                key_package_private: &bob.kp.1,
                signer: bob.id.signer().clone(),
                ratchet_tree: None,
                psk_store: &(),
                now: Some(NOW),
            },
            g,
            &first_byte,
        )
    };
    assert_eq!(lenient(&net.groups[BOB]).unwrap().epoch(), 1);

    // The parent moves on: one epoch later Bob still has its tree; after
    // `max_past_epochs` + 1 he keeps the PSK but not the membership.
    drop(f);
    valid_commit(&mut net.groups, CAROL);
    assert_eq!(lenient(&net.groups[BOB]).unwrap().epoch(), 1);
    valid_commit(&mut net.groups, CAROL);
    valid_commit(&mut net.groups, CAROL);
    assert!(net.groups[BOB].resumption_psk(epoch).is_some());
    assert_eq!(
        lenient(&net.groups[BOB]).unwrap_err(),
        ProtocolError::ResumptionMembersUnavailable(epoch).into()
    );
}

macro_rules! in_every_suite {
    ($($name:ident: $suite:expr, $seed:expr;)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn reinit_to_next_suite_in_5_member_group() {
                reinit_to_next_suite($suite, $seed);
            }
            #[test]
            fn reinit_welcome_mismatches_refused() {
                reinit_welcome_checks($suite, $seed);
            }
            #[test]
            fn branch_3_of_5_members() {
                branch_three_of_five($suite, $seed);
            }
            #[test]
            fn branch_welcome_mismatches_refused() {
                branch_welcome_checks($suite, $seed);
            }
        }
    )*};
}

in_every_suite! {
    suite_0001: ALL_SUITES[0], 0x61;
    suite_0002: ALL_SUITES[1], 0x62;
    suite_0003: ALL_SUITES[2], 0x63;
    suite_0004: ALL_SUITES[3], 0x64;
    suite_0005: ALL_SUITES[4], 0x65;
    suite_0006: ALL_SUITES[5], 0x66;
    suite_0007: ALL_SUITES[6], 0x67;
}

/// A pending ReInit gives way to any other pending proposal (§12.2: "SHOULD
/// prefer them over the ReInit proposal"), and is committed when alone.
#[test]
fn pending_reinit_gives_way_to_other_proposals() {
    let mut net = Net::new(ALL_SUITES[0], 4, 0x70);
    let reinit = reinit_params(ALL_SUITES[1], b"later");
    let p = net.groups[BOB].propose_reinit(reinit.clone()).unwrap();
    net.deliver_proposal(BOB, &p);
    let p = net.groups[CAROL]
        .propose(Proposal::Remove(Remove {
            removed: DAVE as u32,
        }))
        .unwrap();
    net.deliver_proposal(CAROL, &p);
    let out = net.groups[ALICE]
        .commit(CommitOptions::default(), &(), Some(NOW))
        .unwrap();
    let summary = net.groups[ALICE].merge_pending_commit().unwrap();
    assert_eq!(summary.reinit, None);
    assert_eq!(summary.removed.len(), 1);
    net.groups.truncate(DAVE);
    for i in [BOB, CAROL] {
        apply(&mut net.groups[i], &out.commit);
    }
    assert_agree(&net.groups);
    assert!(net.groups.iter().all(|g| g.reinit().is_none()));
    // Proposed again, alone, it is committed.
    let p = net.groups[BOB].propose_reinit(reinit.clone()).unwrap();
    net.deliver_proposal(BOB, &p);
    let out = net.groups[CAROL]
        .commit(CommitOptions::default(), &(), Some(NOW))
        .unwrap();
    assert_eq!(
        net.groups[CAROL].merge_pending_commit().unwrap().reinit,
        Some(reinit.clone())
    );
    net.deliver_commit(CAROL, &out.commit);
    assert!(net.groups.iter().all(|g| g.reinit() == Some(&reinit)));
}

/// The ReInit API checks what a sender must: no lower version, and only a
/// reinitialized group can be recreated, with exactly its members.
#[test]
fn reinit_api_misuse() {
    let mut net = Net::new(ALL_SUITES[0], 3, 0x71);
    let mut lower = reinit_params(ALL_SUITES[1], b"x");
    lower.version = ProtocolVersion(0);
    let misuse = ApiError::InvalidArgument("a ReInit may not lower the version");
    assert_eq!(
        net.groups[ALICE].propose_reinit(lower.clone()).unwrap_err(),
        misuse.clone().into()
    );
    assert_eq!(
        net.groups[ALICE].commit_reinit(lower).unwrap_err(),
        misuse.into()
    );
    let new: Vec<Fresh> = NAMES[..3]
        .iter()
        .map(|n| fresh(&net.provider, ALL_SUITES[1], n, true))
        .collect();
    let kps = [new[BOB].kp.0.clone(), new[CAROL].kp.0.clone()];
    let not_yet = net.groups[ALICE].reinit_group(
        &net.provider,
        &new[ALICE].id,
        &kps,
        resumption_options(true),
        &CredentialIdentity,
    );
    assert_eq!(
        not_yet.unwrap_err(),
        ApiError::InvalidArgument("no ReInit was committed in this group").into()
    );
    net.reinit(ALICE, &reinit_params(ALL_SUITES[1], b"x"));
    // The closed state is kept whole and in pieces (for a client's store).
    for g in &net.groups {
        let pieces = g.state_pieces().unwrap();
        let restored = Group::from_pieces(
            &net.provider,
            pieces.iter().map(|(p, v)| (p.clone(), v.as_bytes())),
        )
        .unwrap();
        assert_eq!(restored.reinit(), g.reinit());
        assert!(restored.reinit().is_some());
        assert_eq!(
            restored.to_bytes().unwrap().as_bytes(),
            g.to_bytes().unwrap().as_bytes()
        );
    }
    let members = ApiError::InvalidArgument(
        "identity and KeyPackages must name exactly the old group's members",
    );
    let missing = net.groups[BOB].reinit_group(
        &net.provider,
        &new[BOB].id,
        &kps[1..],
        resumption_options(true),
        &CredentialIdentity,
    );
    assert_eq!(missing.unwrap_err(), members.clone().into());
    let twice = [kps[0].clone(), kps[1].clone(), kps[1].clone()];
    let extra = net.groups[ALICE].reinit_group(
        &net.provider,
        &new[ALICE].id,
        &twice,
        resumption_options(true),
        &CredentialIdentity,
    );
    assert_eq!(extra.unwrap_err(), members.into());
    let (g, _) = net.groups[ALICE]
        .reinit_group(
            &net.provider,
            &new[ALICE].id,
            &kps,
            resumption_options(true),
            &CredentialIdentity,
        )
        .unwrap();
    assert_eq!(g.epoch(), 1);
}

/// A branch of a group whose context requires an extension: the creator's
/// new leaf takes the capabilities of its leaf in the parent, so the
/// subgroup meets the requirement although the options name none.
#[test]
fn branch_keeps_required_capabilities() {
    use crate::messages::RequiredCapabilities;
    let required = Extension::from_typed(&RequiredCapabilities {
        extension_types: vec![EXT],
        proposal_types: Vec::new(),
        credential_types: Vec::new(),
    })
    .unwrap();
    let net = Net::with_extensions(ALL_SUITES[0], 3, 0x72, vec![required.clone()]);
    let bob = fresh(&net.provider, ALL_SUITES[0], "bob", true);
    let (sub, out) = net.groups[ALICE]
        .branch(
            &net.provider,
            b"sub".to_vec(),
            std::slice::from_ref(&bob.kp.0),
            resumption_options(false),
            &CredentialIdentity,
        )
        .unwrap();
    assert_eq!(sub.context().extensions, vec![required]);
    let bob_sub =
        join_resumed(&net.provider, &out.welcome.unwrap(), &bob, &net.groups[BOB]).unwrap();
    assert_agree(&[sub, bob_sub]);
}
