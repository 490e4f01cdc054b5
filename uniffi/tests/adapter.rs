//! The low-level adapter (`MlsGroup`) called from Rust, as the foreign code
//! calls it (without the FFI): the paths the Kotlin and Python scenarios take, plus what only Rust
//! can do (a validator that panics).

use std::sync::{Arc, Mutex};

use tessera_uniffi::{
    CipherSuite, Credential, CredentialCheck, CredentialSubject, CredentialUse,
    CredentialValidator, CredentialVerdict, Identity, KeyPackageBundle, MlsGroup, Received,
    TesseraError,
};

const SUITE: CipherSuite = CipherSuite::Mls128Dhkemx25519Aes128gcmSha256Ed25519;
const VALIDITY: u64 = 86_400;

mod common;
use common::{Names as Policy, basic, name};

struct Panics;

impl CredentialValidator for Panics {
    fn validate(&self, _check: CredentialCheck) -> Result<CredentialVerdict, TesseraError> {
        panic!("validator bug")
    }

    fn same_participant(&self, old: Credential, new: Credential) -> Result<bool, TesseraError> {
        Ok(old == new)
    }
}

fn identity(n: &str) -> Arc<Identity> {
    Identity::new(basic(n), SUITE).unwrap()
}

/// Alice's group with Bob in it, plus Bob's KeyPackage-free state.
fn pair(
    alice_policy: Arc<dyn CredentialValidator>,
    bob_policy: Arc<dyn CredentialValidator>,
) -> (Arc<MlsGroup>, Arc<MlsGroup>) {
    let bob = identity("bob");
    let kp = bob.generate_key_package(VALIDITY).unwrap();
    let alice = MlsGroup::create(identity("alice"), b"g".to_vec(), alice_policy).unwrap();
    let out = alice.add_members(vec![kp.key_package()]).unwrap();
    alice.merge_pending_commit().unwrap();
    let bob = MlsGroup::join(bob, kp, out.welcome.unwrap(), bob_policy).unwrap();
    (alice, bob)
}

fn text(r: Received) -> String {
    match r {
        Received::Application { data, .. } => String::from_utf8(data).unwrap(),
        other => panic!("expected an application message, got {other:?}"),
    }
}

#[test]
fn two_members_exchange_messages_and_agree() {
    let policy = Policy::blocking(&[]);
    let (alice, bob) = pair(policy.clone(), policy.clone());
    let seen = policy.seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (CredentialUse::Added, "bob".to_owned()),
            (CredentialUse::TreeMember, "alice".to_owned()),
            (CredentialUse::TreeMember, "bob".to_owned()),
        ],
        "alice's add checked bob's KeyPackage, bob's join checked both leaves"
    );
    assert_eq!(
        text(
            bob.process(alice.encrypt(b"hi bob".to_vec()).unwrap())
                .unwrap()
        ),
        "hi bob"
    );
    assert_eq!(
        text(
            alice
                .process(bob.encrypt(b"hi alice".to_vec()).unwrap())
                .unwrap()
        ),
        "hi alice"
    );
    let ct = alice
        .encrypt_with_authenticated_data(b"with ad".to_vec(), b"ad".to_vec())
        .unwrap();
    match bob.process(ct).unwrap() {
        Received::Application {
            sender,
            epoch,
            data,
            authenticated_data,
        } => assert_eq!(
            (
                sender.leaf_index,
                name(&sender.credential),
                epoch,
                data,
                authenticated_data
            ),
            (
                0,
                "alice".to_owned(),
                1,
                b"with ad".to_vec(),
                b"ad".to_vec()
            )
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(alice.epoch().unwrap(), 1);
    assert_eq!(
        alice.epoch_authenticator().unwrap(),
        bob.epoch_authenticator().unwrap()
    );
    assert_eq!(bob.own_leaf_index().unwrap(), 1);
    assert_eq!(alice.cipher_suite().unwrap(), SUITE);
}

#[test]
fn bytes_that_are_not_a_welcome_are_bad_bytes_and_keep_the_key_package() {
    let bob = identity("bob");
    let kp = bob.generate_key_package(VALIDITY).unwrap();
    for bad in [vec![], vec![0xff; 7], kp.key_package()] {
        let err = MlsGroup::join(bob.clone(), kp.clone(), bad, Policy::blocking(&[])).unwrap_err();
        assert!(matches!(err, TesseraError::BadBytes { .. }), "{err:?}");
    }
    assert!(!kp.is_spent());
}

#[test]
fn garbage_and_replays_are_refused_by_category() {
    let (alice, bob) = pair(Policy::blocking(&[]), Policy::blocking(&[]));
    assert!(matches!(
        bob.process(vec![1, 2, 3]),
        Err(TesseraError::BadBytes { .. })
    ));
    let ct = alice.encrypt(b"once".to_vec()).unwrap();
    assert_eq!(text(bob.process(ct.clone()).unwrap()), "once");
    assert!(matches!(
        bob.process(ct),
        Err(TesseraError::ProtocolViolation { .. })
    ));
    assert!(matches!(
        bob.merge_pending_commit(),
        Err(TesseraError::ApiMisuse { .. })
    ));
    // Every truncation of a real message is refused with a typed error.
    let ct = alice.encrypt(b"cut".to_vec()).unwrap();
    for len in 0..ct.len() {
        assert!(
            bob.process(ct[..len].to_vec()).is_err(),
            "prefix of {len} bytes"
        );
    }
    assert_eq!(text(bob.process(ct).unwrap()), "cut");
}

#[test]
fn a_refused_join_keeps_the_key_package_for_a_retry() {
    let bob = identity("bob");
    let kp = bob.generate_key_package(VALIDITY).unwrap();
    let alice = MlsGroup::create(identity("alice"), b"g".to_vec(), Policy::blocking(&[])).unwrap();
    let welcome = alice
        .add_members(vec![kp.key_package()])
        .unwrap()
        .welcome
        .unwrap();
    alice.merge_pending_commit().unwrap();
    let err = MlsGroup::join(
        bob.clone(),
        kp.clone(),
        welcome.clone(),
        Policy::blocking(&["alice"]),
    )
    .unwrap_err();
    match err {
        TesseraError::ProtocolViolation { detail } => {
            assert!(
                detail.contains("leaf 0") && detail.contains("alice is blocked"),
                "{detail}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(!kp.is_spent());
    MlsGroup::join(
        bob.clone(),
        kp.clone(),
        welcome.clone(),
        Policy::blocking(&[]),
    )
    .unwrap();
    assert!(kp.is_spent());
    assert!(matches!(
        MlsGroup::join(bob, kp, welcome, Policy::blocking(&[])),
        Err(TesseraError::ApiMisuse { .. })
    ));
}

#[test]
fn an_own_add_refused_by_the_validator_builds_no_commit() {
    let alice = MlsGroup::create(
        identity("alice"),
        b"g".to_vec(),
        Policy::blocking(&["mallory"]),
    )
    .unwrap();
    let kp: Arc<KeyPackageBundle> = identity("mallory").generate_key_package(VALIDITY).unwrap();
    assert!(matches!(
        alice.add_members(vec![kp.key_package()]),
        Err(TesseraError::ProtocolViolation { .. })
    ));
    assert!(!alice.has_pending_commit().unwrap());
    assert_eq!(alice.epoch().unwrap(), 0);
}

#[test]
fn a_received_commit_refused_by_the_validator_leaves_the_group_unchanged() {
    let (alice, bob) = pair(Policy::blocking(&[]), Policy::blocking(&["mallory"]));
    let kp = identity("mallory").generate_key_package(VALIDITY).unwrap();
    let commit = alice.add_members(vec![kp.key_package()]).unwrap().commit;
    let before = (
        bob.epoch().unwrap(),
        bob.epoch_authenticator().unwrap(),
        bob.members().unwrap(),
    );
    assert!(matches!(
        bob.process(commit.clone()),
        Err(TesseraError::ProtocolViolation { .. })
    ));
    let after = (
        bob.epoch().unwrap(),
        bob.epoch_authenticator().unwrap(),
        bob.members().unwrap(),
    );
    assert_eq!(before, after);
    // Refused again, alike: the verdict does not depend on what came before.
    assert!(matches!(
        bob.process(commit),
        Err(TesseraError::ProtocolViolation { .. })
    ));
    alice.discard_pending_commit().unwrap();
    assert_eq!(
        text(bob.process(alice.encrypt(b"on".to_vec()).unwrap()).unwrap()),
        "on"
    );
}

#[test]
fn a_commit_and_its_echo_are_reported_and_merged() {
    let (alice, bob) = pair(Policy::blocking(&[]), Policy::blocking(&[]));
    let carol = identity("carol");
    let kp = carol.generate_key_package(VALIDITY).unwrap();
    let out = alice.add_members(vec![kp.key_package()]).unwrap();
    // The delivery service echoes alice's own commit back: it is merged.
    match alice.process(out.commit.clone()).unwrap() {
        Received::Commit { summary } => {
            assert_eq!(summary.epoch, 2);
            assert_eq!(summary.committer_leaf, Some(0));
            assert_eq!(
                summary
                    .added
                    .iter()
                    .map(|m| name(&m.credential))
                    .collect::<Vec<_>>(),
                ["carol"]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        bob.process(out.commit).unwrap(),
        Received::Commit { .. }
    ));
    let carol = MlsGroup::join(carol, kp, out.welcome.unwrap(), Policy::blocking(&[])).unwrap();
    assert_eq!(carol.members().unwrap().len(), 3);
    assert_eq!(
        alice.epoch_authenticator().unwrap(),
        carol.epoch_authenticator().unwrap()
    );
}

#[test]
fn a_removed_member_is_told_and_can_no_longer_send() {
    let (alice, bob) = pair(Policy::blocking(&[]), Policy::blocking(&[]));
    let out = alice.remove_members(vec![1]).unwrap();
    assert_eq!(out.welcome, None);
    alice.merge_pending_commit().unwrap();
    match bob.process(out.commit).unwrap() {
        Received::Removed { summary } => {
            assert_eq!(
                summary
                    .removed
                    .iter()
                    .map(|m| m.leaf_index)
                    .collect::<Vec<_>>(),
                [1]
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(!bob.is_active().unwrap());
    assert!(matches!(
        bob.encrypt(b"x".to_vec()),
        Err(TesseraError::ApiMisuse { .. })
    ));
    assert!(matches!(
        bob.add_members(vec![]),
        Err(TesseraError::ApiMisuse { .. })
    ));
    assert!(
        bob.process(alice.encrypt(b"secret".to_vec()).unwrap())
            .is_err()
    );
}

#[test]
fn a_panicking_validator_is_an_internal_error_not_a_crash() {
    let bob = identity("bob");
    let kp = bob.generate_key_package(VALIDITY).unwrap();
    let alice = MlsGroup::create(identity("alice"), b"g".to_vec(), Policy::blocking(&[])).unwrap();
    let welcome = alice
        .add_members(vec![kp.key_package()])
        .unwrap()
        .welcome
        .unwrap();
    alice.merge_pending_commit().unwrap();
    match MlsGroup::join(bob.clone(), kp.clone(), welcome.clone(), Arc::new(Panics)) {
        Err(TesseraError::Internal { detail }) => {
            assert!(detail.contains("validator bug"), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert!(!kp.is_spent());
    // The "inside a validator" flag was reset by the unwinding: calls work.
    assert_eq!(alice.epoch().unwrap(), 1);
    MlsGroup::join(bob, kp, welcome, Policy::blocking(&[])).unwrap();
}

#[test]
fn the_validator_is_shown_credentials_of_every_type() {
    // Pairs of one type: every member must support every credential type
    // in use (RFC 9420 §7.3), and a leaf lists only basic and its own.
    let x509 = |n: &str| Credential::X509 {
        certificates: vec![format!("{n} cert").into_bytes(), b"ca cert".to_vec()],
    };
    let other = |n: &str| Credential::Other {
        credential_type: 0xf000,
        data: n.as_bytes().to_vec(),
    };
    for (creator, joiner) in [(x509("alice"), x509("bob")), (other("alice"), other("bob"))] {
        let id = Identity::new(joiner.clone(), SUITE).unwrap();
        assert_eq!(id.credential(), joiner);
        let kp = id.generate_key_package(VALIDITY).unwrap();
        let seen = Policy::blocking(&[]);
        let creator_id = Identity::new(creator.clone(), SUITE).unwrap();
        let alice = MlsGroup::create(creator_id, b"g".to_vec(), seen.clone()).unwrap();
        let welcome = alice
            .add_members(vec![kp.key_package()])
            .unwrap()
            .welcome
            .unwrap();
        alice.merge_pending_commit().unwrap();
        let joined = MlsGroup::join(id, kp, welcome, Policy::blocking(&[])).unwrap();
        let members: Vec<_> = joined
            .members()
            .unwrap()
            .into_iter()
            .map(|m| m.credential)
            .collect();
        assert_eq!(members, [creator, joiner.clone()]);
        assert_eq!(seen.seen.lock().unwrap()[0].1, name(&joiner));
    }
}

#[test]
fn every_cipher_suite_works_through_the_adapter() {
    for suite in [
        CipherSuite::Mls128Dhkemx25519Aes128gcmSha256Ed25519,
        CipherSuite::Mls128Dhkemp256Aes128gcmSha256P256,
        CipherSuite::Mls128Dhkemx25519Chacha20poly1305Sha256Ed25519,
        CipherSuite::Mls256Dhkemx448Aes256gcmSha512Ed448,
        CipherSuite::Mls256Dhkemp521Aes256gcmSha512P521,
        CipherSuite::Mls256Dhkemx448Chacha20poly1305Sha512Ed448,
        CipherSuite::Mls256Dhkemp384Aes256gcmSha384P384,
    ] {
        let alice = Identity::new(basic("alice"), suite).unwrap();
        let bob = Identity::new(basic("bob"), suite).unwrap();
        let kp = bob.generate_key_package(VALIDITY).unwrap();
        let ga = MlsGroup::create(alice, b"g".to_vec(), Policy::blocking(&[])).unwrap();
        let welcome = ga
            .add_members(vec![kp.key_package()])
            .unwrap()
            .welcome
            .unwrap();
        ga.merge_pending_commit().unwrap();
        let gb = MlsGroup::join(bob, kp, welcome, Policy::blocking(&[])).unwrap();
        assert_eq!(gb.cipher_suite().unwrap(), suite);
        assert_eq!(
            text(gb.process(ga.encrypt(b"x".to_vec()).unwrap()).unwrap()),
            "x"
        );
    }
}

#[test]
fn a_group_is_shared_between_threads() {
    let (alice, bob) = pair(Policy::blocking(&[]), Policy::blocking(&[]));
    let senders: Vec<_> = (0..4)
        .map(|t| {
            let alice = alice.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|i| alice.encrypt(format!("{t}-{i}").into_bytes()).unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut read: Vec<String> = senders
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .map(|ct| text(bob.process(ct).unwrap()))
        .collect();
    read.sort();
    assert_eq!(read.len(), 40);
    read.dedup();
    assert_eq!(read.len(), 40);
}

/// Records every check whole.
#[derive(Default)]
struct Recorder(Mutex<Vec<CredentialCheck>>);

impl CredentialValidator for Recorder {
    fn validate(&self, check: CredentialCheck) -> Result<CredentialVerdict, TesseraError> {
        self.0.lock().unwrap().push(check);
        Ok(CredentialVerdict::Accept)
    }

    fn same_participant(&self, old: Credential, new: Credential) -> Result<bool, TesseraError> {
        Ok(old == new)
    }
}

#[test]
fn the_validator_sees_signature_keys_and_every_leaf_a_commit_brings() {
    let alice_id = identity("alice");
    let bob_id = identity("bob");
    let carol_id = identity("carol");
    let recorder = Arc::new(Recorder::default());
    let alice = MlsGroup::create(alice_id.clone(), b"g".to_vec(), Policy::blocking(&[])).unwrap();
    let (bob_kp, carol_kp) = (
        bob_id.generate_key_package(VALIDITY).unwrap(),
        carol_id.generate_key_package(VALIDITY).unwrap(),
    );
    let out = alice
        .add_members(vec![bob_kp.key_package(), carol_kp.key_package()])
        .unwrap();
    alice.merge_pending_commit().unwrap();
    let welcome = out.welcome.unwrap();
    let bob = MlsGroup::join(bob_id.clone(), bob_kp, welcome.clone(), recorder.clone()).unwrap();
    MlsGroup::join(carol_id, carol_kp, welcome, Policy::blocking(&[])).unwrap();
    {
        let seen = recorder.0.lock().unwrap();
        let joined: Vec<_> = seen
            .iter()
            .map(|c| (c.usage, c.subject, name(&c.credential)))
            .collect();
        assert_eq!(
            joined,
            [
                (
                    CredentialUse::TreeMember,
                    CredentialSubject::Leaf { index: 0 },
                    "alice".into()
                ),
                (
                    CredentialUse::TreeMember,
                    CredentialSubject::Leaf { index: 1 },
                    "bob".into()
                ),
                (
                    CredentialUse::TreeMember,
                    CredentialSubject::Leaf { index: 2 },
                    "carol".into()
                ),
            ]
        );
        assert_eq!(seen[0].signature_key, alice_id.signature_key());
        assert_eq!(seen[1].signature_key, bob_id.signature_key());
        assert!(seen.iter().all(|c| c.group_id == b"g"));
    }
    recorder.0.lock().unwrap().clear();
    // A remove needs a path: the committer's new leaf is shown too.
    let remove = alice.remove_members(vec![2]).unwrap();
    alice.merge_pending_commit().unwrap();
    assert!(matches!(
        bob.process(remove.commit).unwrap(),
        Received::Commit { .. }
    ));
    let seen = recorder.0.lock().unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].usage, CredentialUse::CommitterPath);
    assert_eq!(seen[0].subject, CredentialSubject::Leaf { index: 0 });
    assert_eq!(seen[0].signature_key, alice_id.signature_key());
}
