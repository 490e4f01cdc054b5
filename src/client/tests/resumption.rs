//! ReInit and branch through the client (RFC 9420 §11.2, §11.3): in every
//! cipher suite, five clients reinitialize their group to the next suite
//! (with a restart of every client in between) and branch to three of them;
//! Welcomes whose PSK or parameters do not match are refused, each with its
//! own error, changing nothing.

use super::*;
use crate::crypto::Secret;
use crate::group::{CommitOptions, Group, KeyPackageOptions};
use crate::messages::{
    Add, KeyPackage, PreSharedKeyId, Proposal, ProtocolVersion, Psk, ReInit, ResumptionPsk,
    ResumptionPskUsage,
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
const NEW: &[u8] = b"reinitialized";
const SUB: &[u8] = b"subgroup";

/// The suite after `suite` in 0x0001..=0x0007, wrapping: every suite is
/// left once and entered once.
fn next_suite(suite: CipherSuite) -> CipherSuite {
    CipherSuite(suite.0 % 7 + 1)
}

fn reinit_to(suite: CipherSuite) -> ReInit {
    ReInit {
        group_id: NEW.to_vec(),
        version: ProtocolVersion::MLS10,
        cipher_suite: suite,
        extensions: Vec::new(),
    }
}

/// Five clients in `suite`, all in [`GROUP`] at epoch 2 (Bob's path update
/// gave the tree parent nodes).
fn five_in(suite: CipherSuite) -> Vec<Member> {
    let config = ClientConfig {
        cipher_suite: suite,
        ..ClientConfig::default()
    };
    let m: Vec<Member> = NAMES
        .iter()
        .map(|n| Member::with(n, config.clone(), DefaultProposalPolicy::default()))
        .collect();
    setup(&m);
    update(&m, 1);
    m
}

/// Every member of `members` is in `group` at the same epoch with the same
/// epoch authenticator and exporter secret.
fn assert_agree_in(members: &[&Member], group: &[u8]) {
    let first = members[0].client.status(group).unwrap().epoch;
    let auth = members[0].client.epoch_authenticator(group).unwrap();
    let export = members[0]
        .client
        .export_secret(group, b"x", b"", 32)
        .unwrap();
    for m in &members[1..] {
        assert_eq!(m.client.status(group).unwrap().epoch, first);
        assert_eq!(m.client.epoch_authenticator(group).unwrap(), auth);
        assert_eq!(
            m.client.export_secret(group, b"x", b"", 32).unwrap(),
            export
        );
    }
}

/// `from` sends a message in `group`; every other member of `members` reads it.
fn chat(members: &[&Member], group: &[u8], from: usize) {
    let msg = members[from].client.encrypt(group, b"hello").unwrap();
    for (i, m) in members.iter().enumerate() {
        if i != from {
            assert_eq!(m.client.process(&msg).unwrap().data(), Some(&b"hello"[..]));
        }
    }
}

/// `from` commits a path update in `group`; the others of `members` merge it.
fn update_in(members: &[&Member], group: &[u8], from: usize) {
    let out = members[from].client.update(group).unwrap();
    members[from].client.confirm_commit(group).unwrap();
    for (i, m) in members.iter().enumerate() {
        if i != from {
            m.client.process(&out.commit).unwrap();
        }
    }
    assert_agree_in(members, group);
}

/// Five clients in `suite`: Bob proposes a ReInit to the next suite, Carol's
/// commit covers it, every client merges it and is restarted, then Dave
/// creates the new group and the others join it (through `join_reinit`,
/// `join` and `process`); all agree, talk and commit in the new group,
/// and the old group refuses to send.
fn reinit_in(suite: CipherSuite) {
    let m = five_in(suite);
    let new_suite = next_suite(suite);
    let reinit = reinit_to(new_suite);
    let proposal = m[1].client.propose_reinit(GROUP, reinit.clone()).unwrap();
    broadcast(&m, 1, &proposal);
    let out = m[2].client.commit(GROUP).unwrap();
    assert!(out.left_out.is_empty());
    let last = m[0].client.status(GROUP).unwrap().epoch + 1;
    let info = ReInitInfo {
        new_group: GroupId(NEW.to_vec()),
        version: 1,
        cipher_suite: new_suite,
        extension_types: Vec::new(),
    };
    let expected = Event::ReInitMerged {
        group: GroupId(GROUP.to_vec()),
        epoch: last,
        reinit: info.clone(),
    };
    let events = m[2].client.confirm_commit(GROUP).unwrap();
    assert!(matches!(&events[0], Event::CommitMerged(c) if c.reinit && c.own));
    assert_eq!(events[1], expected);
    for p in broadcast(&m, 2, &out.commit) {
        assert!(matches!(&p.events[0], Event::CommitMerged(c) if c.reinit && !c.own));
        assert_eq!(p.events[1], expected);
    }
    assert_agree(&m);

    // Every client restarts; the old group is closed, and keeps its last
    // epoch's resumption PSK in the store.
    let m: Vec<Member> = m.iter().map(Member::reopen).collect();
    for member in &m {
        let status = member.client.status(GROUP).unwrap();
        assert_eq!(status.inactive, Some(InactiveReason::ReInit));
        assert_eq!(status.reinit, Some(info.clone()));
        assert_eq!(status.epoch, last);
        let c = &member.client;
        let closed: Error = ApiError::GroupReinitialized.into();
        assert_eq!(c.encrypt(GROUP, b"late").unwrap_err(), closed);
        assert_eq!(c.update(GROUP).unwrap_err(), closed);
        assert_eq!(c.commit(GROUP).unwrap_err(), closed);
        assert_eq!(c.propose_remove(GROUP, LeafIndex(1)).unwrap_err(), closed);
        assert_eq!(c.reinit(GROUP, reinit_to(suite)).unwrap_err(), closed);
        assert_eq!(c.branch(GROUP, SUB, &[] as &[Vec<u8>]).unwrap_err(), closed);
    }

    // The others publish KeyPackages in the new suite (with their new
    // signature keys); Dave creates the new group.
    let kps: Vec<Vec<u8>> = [0, 1, 2, 4]
        .iter()
        .map(|&i| {
            let kp = m[i].client.generate_key_packages_in(new_suite, 1).unwrap();
            kp.into_iter().next().unwrap()
        })
        .collect();
    let created = m[3].client.create_reinit_group(GROUP, &kps).unwrap();
    assert_eq!(created.group, GroupId(NEW.to_vec()));
    let welcome = created.welcome.unwrap();
    let joined = m[0].client.join_reinit(GROUP, &welcome).unwrap();
    assert!(matches!(joined, Event::Joined { epoch: 1, ref members, .. } if members.len() == 5));
    m[1].client.join_reinit(GROUP, &welcome).unwrap();
    m[2].client.join(&welcome).unwrap();
    m[4].client.process(&welcome).unwrap();
    let all: Vec<&Member> = m.iter().collect();
    assert_agree_in(&all, NEW);
    assert_eq!(m[0].client.status(NEW).unwrap().epoch, 1);
    // The same participants, with their keys of the new suite.
    let members = m[0].client.members(NEW).unwrap();
    for (i, member) in m.iter().enumerate() {
        let key = member.client.signature_key_in(new_suite).unwrap();
        assert!(
            members
                .iter()
                .any(|x| x.credential == Credential::basic(NAMES[i]))
        );
        assert_eq!(
            m[0].client.members(NEW).unwrap().len(),
            m[0].client.members(GROUP).unwrap().len()
        );
        m[0].client
            .read_group(NEW, |l| {
                assert!(
                    l.group
                        .tree()
                        .members()
                        .any(|(_, n)| n.signature_key == key)
                );
                assert_eq!(l.group.cipher_suite(), new_suite);
            })
            .unwrap();
    }
    chat(&all, NEW, 4);
    update_in(&all, NEW, 1);
    chat(&all, NEW, 0);
    // The new group survives a restart too; the old one stays closed.
    let m: Vec<Member> = m.iter().map(Member::reopen).collect();
    let all: Vec<&Member> = m.iter().collect();
    update_in(&all, NEW, 3);
    for member in &m {
        assert_eq!(
            member.client.encrypt(GROUP, b"late").unwrap_err(),
            ApiError::GroupReinitialized.into()
        );
    }
}

/// Branch to three of five (Alice, Carol, Erin), in `suite`, after the
/// parent moved one epoch on: the subgroup resumes the epoch it was created
/// in; the parent goes on unchanged.
fn branch_in(suite: CipherSuite) {
    let m = five_in(suite);
    let parent_auth = m[0].client.epoch_authenticator(GROUP).unwrap();
    let kps = [m[2].key_package(), m[4].key_package()];
    let created = m[0].client.branch(GROUP, SUB, &kps).unwrap();
    assert_eq!(m[0].client.epoch_authenticator(GROUP).unwrap(), parent_auth);
    // The parent moves on before the joiners get the Welcome.
    update(&m, 3);
    let welcome = created.welcome.unwrap();
    m[2].client.join_branch(GROUP, &welcome).unwrap();
    m[4].client.join(&welcome).unwrap();
    let sub = [&m[0], &m[2], &m[4]];
    assert_agree_in(&sub, SUB);
    assert_eq!(m[0].client.status(SUB).unwrap().epoch, 1);
    assert_eq!(m[0].client.members(SUB).unwrap().len(), 3);
    chat(&sub, SUB, 2);
    update_in(&sub, SUB, 1);
    // The parent is as it was, and goes on.
    update(&m, 0);
    chat(&m.iter().collect::<Vec<_>>(), GROUP, 4);
}

macro_rules! in_every_suite {
    ($($name:ident: $suite:expr;)*) => {$(
        mod $name {
            use super::*;
            #[test]
            fn client_reinit_to_next_suite_with_restart() {
                reinit_in($suite);
            }
            #[test]
            fn client_branch_3_of_5() {
                branch_in($suite);
            }
            #[test]
            fn client_refuses_mismatched_reinit_welcomes() {
                mismatched_welcomes_in($suite);
            }
        }
    )*};
}

in_every_suite! {
    suite_0001: ALL_SUITES[0];
    suite_0002: ALL_SUITES[1];
    suite_0003: ALL_SUITES[2];
    suite_0004: ALL_SUITES[3];
    suite_0005: ALL_SUITES[4];
    suite_0006: ALL_SUITES[5];
    suite_0007: ALL_SUITES[6];
}

/// The KeyPackage of an MLSMessage.
fn key_package_of(bytes: &[u8]) -> KeyPackage {
    use crate::codec::Decode;
    match MlsMessage::decode_exact(bytes).unwrap() {
        MlsMessage::KeyPackage(kp) => kp,
        other => panic!("not a KeyPackage: {other:?}"),
    }
}

/// A Welcome Alice builds as `create_reinit_group` does, but into a group
/// `params`, with the resumption PSK `psk` (id and value) of her old group,
/// and Bob and Carol's KeyPackages (`kps`).
fn forged_welcome(
    alice: &Member,
    params: &ReInit,
    mut psk: (PreSharedKeyId, Secret),
    kps: &[Vec<u8>],
) -> Vec<u8> {
    use crate::codec::Encode;
    // The nonce has KDF.Nh bytes of the new group's suite (RFC 9420 §8.4).
    let nh = alice
        .client
        .provider
        .cipher_suite_provider(params.cipher_suite)
        .unwrap()
        .kdf_len();
    psk.0.psk_nonce = vec![7; nh];
    let identity = alice
        .client
        .with_identity(params.cipher_suite, |id, _| Ok(id.clone()))
        .unwrap();
    let mut g = Group::create(
        &*alice.client.provider,
        GroupConfig::default(),
        params.cipher_suite,
        params.group_id.clone(),
        &identity,
        KeyPackageOptions::valid_for(NOW - 3600, 30 * DAY),
        params.extensions.clone(),
    )
    .unwrap();
    let out = g
        .commit_inner(
            CommitOptions {
                proposals: kps
                    .iter()
                    .map(|kp| {
                        Proposal::Add(Add {
                            key_package: key_package_of(kp),
                        })
                    })
                    .collect(),
                ..Default::default()
            },
            &(),
            Some(NOW),
            &[psk],
        )
        .unwrap();
    out.welcome.unwrap().to_bytes().unwrap()
}

/// The resumption PSK of Alice's old group in `epoch`, with `usage` (its
/// nonce is set by [`forged_welcome`]).
fn old_psk(alice: &Member, usage: ResumptionPskUsage, epoch: u64) -> (PreSharedKeyId, Secret) {
    let secret = alice
        .client
        .read_group(GROUP, |l| l.group.resumption_psk(epoch).cloned())
        .unwrap()
        .unwrap();
    let id = PreSharedKeyId {
        psk: Psk::Resumption(ResumptionPsk {
            usage,
            psk_group_id: GROUP.to_vec(),
            psk_epoch: epoch,
        }),
        psk_nonce: Vec::new(),
    };
    (id, secret)
}

/// Welcomes into the reinitialized group whose PSK or parameters do not
/// match are refused by the client, each with its own error, changing
/// nothing (the KeyPackage stays, the old group too); the genuine Welcome
/// then joins.
fn mismatched_welcomes_in(suite: CipherSuite) {
    let new_suite = next_suite(suite);
    let config = ClientConfig {
        cipher_suite: suite,
        ..ClientConfig::default()
    };
    let m: Vec<Member> = NAMES[..3]
        .iter()
        .map(|n| Member::with(n, config.clone(), DefaultProposalPolicy::default()))
        .collect();
    setup(&m);
    update(&m, 1);
    let out = m[0].client.reinit(GROUP, reinit_to(new_suite)).unwrap();
    m[0].client.confirm_commit(GROUP).unwrap();
    broadcast(&m, 0, &out.commit);
    let last = m[0].client.status(GROUP).unwrap().epoch;
    let kps = [
        m[1].client
            .generate_key_packages_in(new_suite, 1)
            .unwrap()
            .remove(0),
        m[2].client
            .generate_key_packages_in(new_suite, 1)
            .unwrap()
            .remove(0),
    ];
    let bob = &m[1];
    let genuine_psk = old_psk(&m[0], ResumptionPskUsage::Reinit, last);
    let params = reinit_to(new_suite);
    let refused = |welcome: &[u8], expected: ProtocolError| {
        let before = Snapshot::of(bob);
        assert_refused(
            bob,
            &before,
            bob.client.join_reinit(GROUP, welcome),
            expected.clone(),
        );
        assert_refused(bob, &before, bob.client.join(welcome), expected);
    };

    // The PSK's value is wrong: the GroupInfo does not open.
    let wrong = (
        genuine_psk.0.clone(),
        Secret::from(vec![0x55; genuine_psk.1.len()]),
    );
    refused(
        &forged_welcome(&m[0], &params, wrong, &kps),
        ProtocolError::GroupInfoDecryptFailed,
    );
    // It names an epoch before the ReInit.
    refused(
        &forged_welcome(
            &m[0],
            &params,
            old_psk(&m[0], ResumptionPskUsage::Reinit, last - 1),
            &kps,
        ),
        ProtocolError::ReInitNotCommitted,
    );
    // Another group id, cipher suite, or extensions than the ReInit's.
    let other_id = ReInit {
        group_id: b"elsewhere".to_vec(),
        ..params.clone()
    };
    refused(
        &forged_welcome(&m[0], &other_id, genuine_psk.clone(), &kps),
        ProtocolError::ReInitParameterMismatch("group_id"),
    );
    let other_suite = ReInit {
        cipher_suite: suite,
        ..params.clone()
    };
    let old_suite_kps = [m[1].key_package(), m[2].key_package()];
    refused(
        &forged_welcome(&m[0], &other_suite, genuine_psk.clone(), &old_suite_kps),
        ProtocolError::ReInitParameterMismatch("cipher_suite"),
    );
    let other_ext = ReInit {
        extensions: vec![
            crate::messages::Extension::from_typed(&crate::messages::RequiredCapabilities {
                extension_types: Vec::new(),
                proposal_types: Vec::new(),
                credential_types: Vec::new(),
            })
            .unwrap(),
        ],
        ..params.clone()
    };
    refused(
        &forged_welcome(&m[0], &other_ext, genuine_psk.clone(), &kps),
        ProtocolError::ReInitParameterMismatch("extensions"),
    );
    // Not all the old members (Carol is missing).
    refused(
        &forged_welcome(&m[0], &params, genuine_psk.clone(), &kps[..1]),
        ProtocolError::ReInitMembersMismatch,
    );
    // A branch PSK of the old group, joined as a ReInit: its own error.
    let branch = forged_welcome(
        &m[0],
        &ReInit {
            cipher_suite: suite,
            ..params.clone()
        },
        old_psk(&m[0], ResumptionPskUsage::Branch, last),
        &old_suite_kps,
    );
    let before = Snapshot::of(bob);
    assert_refused(
        bob,
        &before,
        bob.client.join_reinit(GROUP, &branch),
        ProtocolError::UnexpectedResumption("reinit"),
    );
    // A Welcome that resumes nothing, joined as a ReInit.
    let carol = Member::with(
        "carol2",
        ClientConfig {
            cipher_suite: new_suite,
            ..ClientConfig::default()
        },
        DefaultProposalPolicy::default(),
    );
    carol.client.create_group(b"plain").unwrap();
    let plain = carol.client.add(b"plain", &[kps[0].clone()]).unwrap();
    assert_refused(
        bob,
        &before,
        bob.client.join_reinit(GROUP, &plain.welcome),
        ProtocolError::UnexpectedResumption("reinit"),
    );
    // Joined as a ReInit of a group the client does not have.
    assert_refused(
        bob,
        &before,
        bob.client.join_reinit(b"unknown", &plain.welcome),
        ApiError::UnknownGroup,
    );

    // The genuine Welcome, after all that.
    let created = m[0].client.create_reinit_group(GROUP, &kps).unwrap();
    let welcome = created.welcome.unwrap();
    // As a branch it is refused, with the expected usage named.
    assert_refused(
        bob,
        &before,
        bob.client.join_branch(GROUP, &welcome),
        ProtocolError::UnexpectedResumption("branch"),
    );
    bob.client.join_reinit(GROUP, &welcome).unwrap();
    m[2].client.join_reinit(GROUP, &welcome).unwrap();
    assert_agree_in(&m.iter().collect::<Vec<_>>(), NEW);
}

/// What the client refuses to do with a ReInit or branch, changing nothing.
#[test]
fn client_reinit_and_branch_misuse() {
    let m = group_of(&["alice", "bob", "carol"]);
    let alice = &m[0];
    let c = &alice.client;
    c.create_group(b"other").unwrap();
    let before = Snapshot::of(alice);
    let taken = ReInit {
        group_id: b"other".to_vec(),
        ..reinit_to(ALL_SUITES[1])
    };
    assert_refused(
        alice,
        &before,
        c.reinit(GROUP, taken),
        ApiError::GroupExists,
    );
    let unknown_suite = ReInit {
        cipher_suite: CipherSuite(0x7777),
        ..reinit_to(ALL_SUITES[1])
    };
    assert!(c.reinit(GROUP, unknown_suite).is_err());
    assert_eq!(Snapshot::of(alice), before);
    // Not reinitialized yet.
    assert_refused(
        alice,
        &before,
        c.create_reinit_group(GROUP, &[m[1].key_package()]),
        ApiError::InvalidArgument("no ReInit was committed in this group"),
    );
    // A branch into an existing group id, or with a stranger.
    assert_refused(
        alice,
        &before,
        c.branch(GROUP, b"other", &[m[1].key_package()]),
        ApiError::GroupExists,
    );
    let stranger = Member::new("mallory");
    let before = Snapshot::of(alice);
    assert_refused(
        alice,
        &before,
        c.branch(GROUP, SUB, &[stranger.key_package()]),
        ApiError::InvalidArgument("a KeyPackage names no member of this group"),
    );

    // A pending proposal is left out of a ReInit commit, with the rule it breaks.
    let p = m[1].client.propose_remove(GROUP, LeafIndex(2)).unwrap();
    alice.client.process(&p).unwrap();
    let out = c.reinit(GROUP, reinit_to(ALL_SUITES[1])).unwrap();
    assert_eq!(out.left_out.len(), 1);
    assert_eq!(out.left_out[0].reason, ProtocolError::ReInitNotAlone.into());
    c.confirm_commit(GROUP).unwrap();
    // Recreating with KeyPackages that are not exactly the other members.
    let kp = m[1]
        .client
        .generate_key_packages_in(ALL_SUITES[1], 1)
        .unwrap()
        .remove(0);
    let before = Snapshot::of(alice);
    assert_refused(
        alice,
        &before,
        c.create_reinit_group(GROUP, &[kp]),
        ApiError::InvalidArgument(
            "identity and KeyPackages must name exactly the old group's members",
        ),
    );
    // The old group's own message echoed after the ReInit: the commit's
    // echo is its own, later ones of that epoch are refused.
    let later = MlsMessage::PrivateMessage(crate::messages::PrivateMessage {
        group_id: GROUP.to_vec(),
        epoch: c.status(GROUP).unwrap().epoch + 1,
        content_type: crate::messages::ContentType::Application,
        authenticated_data: Vec::new(),
        encrypted_sender_data: vec![0; 16],
        ciphertext: vec![0; 32],
    });
    use crate::codec::Encode;
    assert_refused(
        alice,
        &before,
        c.process(&later.to_bytes().unwrap()),
        ProtocolError::MessageAfterReInit,
    );
}

/// A branch Welcome to a member that no longer keeps the parent's epoch
/// (older than `max_past_epochs`) is refused with
/// [`ProtocolError::ResumptionMembersUnavailable`], changing nothing; a
/// member that keeps more past epochs joins.
#[test]
fn client_late_branch_join() {
    let keeps = |n: usize| ClientConfig {
        group: GroupConfig {
            max_past_epochs: n,
            ..GroupConfig::default()
        },
        ..ClientConfig::default()
    };
    let m = vec![
        Member::with("alice", keeps(2), DefaultProposalPolicy::default()),
        Member::with("bob", keeps(2), DefaultProposalPolicy::default()),
        Member::with("carol", keeps(8), DefaultProposalPolicy::default()),
    ];
    setup(&m);
    let epoch = m[0].client.status(GROUP).unwrap().epoch;
    let created = m[0]
        .client
        .branch(GROUP, SUB, &[m[1].key_package(), m[2].key_package()])
        .unwrap();
    for i in 0..3 {
        update(&m, i);
    }
    let welcome = created.welcome.unwrap();
    let before = Snapshot::of(&m[1]);
    assert_refused(
        &m[1],
        &before,
        m[1].client.join_branch(GROUP, &welcome),
        ProtocolError::ResumptionMembersUnavailable(epoch),
    );
    m[2].client.join_branch(GROUP, &welcome).unwrap();
    assert_agree_in(&[&m[0], &m[2]], SUB);
}

/// A store whose scans fail when told (a group is loaded by scans).
struct FlakyStore {
    inner: Arc<MemoryStore>,
    fail_scans: Arc<std::sync::atomic::AtomicBool>,
}

impl crate::storage::Storage for FlakyStore {
    fn get(
        &self,
        kind: crate::storage::RecordKind,
        key: &[u8],
    ) -> Result<Option<crate::storage::Value>, crate::error::StorageError> {
        self.inner.get(kind, key)
    }
    fn scan(
        &self,
        kind: crate::storage::RecordKind,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, crate::storage::Value)>, crate::error::StorageError> {
        if self.fail_scans.load(Ordering::SeqCst) {
            return Err(crate::error::StorageError::Backend("scan failed".into()));
        }
        self.inner.scan(kind, prefix)
    }
    fn apply(&self, batch: crate::storage::Batch) -> Result<(), crate::error::StorageError> {
        self.inner.apply(batch)
    }
}

/// A store that fails while the join looks the old group up reports the
/// store's error, not a missing PSK, and the join works once it recovers.
#[test]
fn client_join_reinit_reports_store_failure() {
    let m = group_of(&["alice", "bob"]);
    let new_suite = ALL_SUITES[2];
    let out = m[0].client.reinit(GROUP, reinit_to(new_suite)).unwrap();
    m[0].client.confirm_commit(GROUP).unwrap();
    broadcast(&m, 0, &out.commit);
    let kp = m[1]
        .client
        .generate_key_packages_in(new_suite, 1)
        .unwrap()
        .remove(0);
    let welcome = m[0]
        .client
        .create_reinit_group(GROUP, &[kp])
        .unwrap()
        .welcome
        .unwrap();
    // Bob restarts: the old group is read from the store at the join.
    let fail_scans = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bob = Client::builder()
        .open(FlakyStore {
            inner: m[1].store.clone(),
            fail_scans: fail_scans.clone(),
        })
        .unwrap();
    fail_scans.store(true, Ordering::SeqCst);
    let err = bob.join_reinit(GROUP, &welcome).unwrap_err();
    assert_eq!(
        err,
        crate::error::StorageError::Backend("scan failed".into()).into()
    );
    fail_scans.store(false, Ordering::SeqCst);
    bob.join_reinit(GROUP, &welcome).unwrap();
    assert_eq!(
        bob.epoch_authenticator(NEW).unwrap(),
        m[0].client.epoch_authenticator(NEW).unwrap()
    );
}

/// The same ReInit with every client in its own SQLite file, each closed
/// and opened again between the ReInit's merge and the join: the old
/// group's last epoch (its resumption PSK) and the identity in the new
/// suite come back from disk.
#[cfg(feature = "sqlite")]
#[test]
fn client_reinit_across_sqlite_restart() {
    use crate::storage::{SqliteStore, StoreKey};
    let dir = tempfile::tempdir().unwrap();
    let key = StoreKey::new([3; 32]);
    let path = |name: &str| dir.path().join(format!("{name}.db"));
    let open = |name: &str| {
        Client::builder()
            .open(SqliteStore::open(path(name), &key).unwrap())
            .unwrap()
    };
    let names = ["alice", "bob", "carol"];
    let clients: Vec<Client> = names
        .iter()
        .map(|n| {
            Client::create(
                Credential::basic(*n),
                SqliteStore::open(path(n), &key).unwrap(),
            )
            .unwrap()
        })
        .collect();
    clients[0].create_group(GROUP).unwrap();
    let kps: Vec<Vec<u8>> = clients[1..]
        .iter()
        .map(|c| c.generate_key_packages(1).unwrap().remove(0))
        .collect();
    let added = clients[0].add(GROUP, &kps).unwrap();
    clients[0].confirm_commit(GROUP).unwrap();
    for c in &clients[1..] {
        c.join(&added.welcome).unwrap();
    }
    let new_suite = ALL_SUITES[6];
    let out = clients[1].reinit(GROUP, reinit_to(new_suite)).unwrap();
    clients[1].confirm_commit(GROUP).unwrap();
    for i in [0, 2] {
        clients[i].process(&out.commit).unwrap();
    }
    // Bob and Carol publish KeyPackages in the new suite, then everyone
    // restarts.
    let kps: Vec<Vec<u8>> = [1, 2]
        .iter()
        .map(|&i| {
            clients[i]
                .generate_key_packages_in(new_suite, 1)
                .unwrap()
                .remove(0)
        })
        .collect();
    let keys: Vec<_> = [1, 2]
        .iter()
        .map(|&i| clients[i].signature_key_in(new_suite).unwrap())
        .collect();
    drop(clients);
    let clients: Vec<Client> = names.iter().map(|n| open(n)).collect();
    for c in &clients {
        assert_eq!(
            c.status(GROUP).unwrap().inactive,
            Some(InactiveReason::ReInit)
        );
    }
    for (k, i) in keys.iter().zip([1, 2]) {
        assert_eq!(&clients[i].signature_key_in(new_suite).unwrap(), k);
    }
    let welcome = clients[0]
        .create_reinit_group(GROUP, &kps)
        .unwrap()
        .welcome
        .unwrap();
    drop(clients);
    let clients: Vec<Client> = names.iter().map(|n| open(n)).collect();
    for c in &clients[1..] {
        c.join_reinit(GROUP, &welcome).unwrap();
    }
    let auth = clients[0].epoch_authenticator(NEW).unwrap();
    for c in &clients[1..] {
        assert_eq!(c.epoch_authenticator(NEW).unwrap(), auth);
    }
    let msg = clients[2].encrypt(NEW, b"on disk").unwrap();
    assert_eq!(
        clients[0].process(&msg).unwrap().data(),
        Some(&b"on disk"[..])
    );
}

/// A ReInit that keeps the group id (to another suite): the new group
/// replaces the old one in each client, created or joined (RFC 9420
/// §12.4.3.1 asks a group id unique among the groups a client participates
/// in, and the old one is closed); a Welcome for it before the ReInit is
/// refused as for any group the client has.
#[test]
fn client_reinit_keeping_the_group_id() {
    let m = group_of(&["alice", "bob", "carol"]);
    let new_suite = ALL_SUITES[2];
    let same_id = ReInit {
        group_id: GROUP.to_vec(),
        ..reinit_to(new_suite)
    };
    let out = m[1].client.reinit(GROUP, same_id).unwrap();
    m[1].client.confirm_commit(GROUP).unwrap();
    broadcast(&m, 1, &out.commit);
    let kps: Vec<Vec<u8>> = [0, 2]
        .iter()
        .map(|&i| {
            m[i].client
                .generate_key_packages_in(new_suite, 1)
                .unwrap()
                .remove(0)
        })
        .collect();
    let created = m[1].client.create_reinit_group(GROUP, &kps).unwrap();
    assert_eq!(m[1].client.status(GROUP).unwrap().epoch, 1);
    assert_eq!(m[1].client.status(GROUP).unwrap().inactive, None);
    let welcome = created.welcome.unwrap();
    m[0].client.join_reinit(GROUP, &welcome).unwrap();
    // Carol restarts first: the old group comes from the store.
    let carol = m[2].reopen();
    carol.client.join(&welcome).unwrap();
    let mut m: Vec<Member> = m.into_iter().take(2).collect();
    m.push(carol);
    assert_agree(&m);
    assert_eq!(m[0].client.groups().unwrap(), [GroupId(GROUP.to_vec())]);
    update(&m, 2);
    let msg = m[0].client.encrypt(GROUP, b"same id").unwrap();
    assert_eq!(
        m[2].client.process(&msg).unwrap().data(),
        Some(&b"same id"[..])
    );
    // The Welcome's KeyPackage is used up: joining again is refused.
    let before = Snapshot::of(&m[0]);
    assert_refused(
        &m[0],
        &before,
        m[0].client.join(&welcome),
        ProtocolError::WelcomeNotForUs,
    );
}

/// The ReInit's event, the closed group's status and a resumed group
/// round-trip through JSON.
#[cfg(feature = "serde")]
#[test]
fn reinit_records_serialize() {
    let m = group_of(&["alice", "bob"]);
    let out = m[0].client.reinit(GROUP, reinit_to(ALL_SUITES[1])).unwrap();
    m[0].client.confirm_commit(GROUP).unwrap();
    let processed = m[1].client.process(&out.commit).unwrap();
    assert!(matches!(processed.events[1], Event::ReInitMerged { .. }));
    let json = serde_json::to_string(&processed).unwrap();
    assert_eq!(serde_json::from_str::<Processed>(&json).unwrap(), processed);
    let status = m[1].client.status(GROUP).unwrap();
    assert!(status.reinit.is_some());
    let json = serde_json::to_string(&status).unwrap();
    assert_eq!(serde_json::from_str::<GroupStatus>(&json).unwrap(), status);
    let kp = m[1]
        .client
        .generate_key_packages_in(ALL_SUITES[1], 1)
        .unwrap()
        .remove(0);
    let created = m[0].client.create_reinit_group(GROUP, &[kp]).unwrap();
    let json = serde_json::to_string(&created).unwrap();
    assert_eq!(
        serde_json::from_str::<ResumedGroup>(&json).unwrap(),
        created
    );
}
