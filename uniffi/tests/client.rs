//! The Client's adapter (`MlsClient`, `ClientGroup`) called from Rust, as
//! the foreign code calls it (without the FFI): the paths the Kotlin and
//! Python scenarios take, plus what only Rust can do (hooks that panic).

use std::sync::{Arc, Mutex};

use tessera_uniffi::{
    CipherSuite, ClientGroup, Credential, CredentialCheck, CredentialUse, CredentialValidator,
    CredentialVerdict, Event, MlsClient, ProposalKind, ProposalOrigin, ProposalPolicy, SenderType,
    StoreSettings, TesseraError, generate_store_key,
};

mod common;
use common::{Names, basic, name};

/// A validator whose backend fails.
struct Throws;

impl CredentialValidator for Throws {
    fn validate(&self, _: CredentialCheck) -> Result<CredentialVerdict, TesseraError> {
        Err(TesseraError::Storage {
            detail: "keychain locked".into(),
        })
    }

    fn same_participant(&self, _: Credential, _: Credential) -> Result<bool, TesseraError> {
        Ok(false)
    }
}

/// A validator with a bug that panics (only a Rust implementation can).
struct Panics;

impl CredentialValidator for Panics {
    fn validate(&self, _: CredentialCheck) -> Result<CredentialVerdict, TesseraError> {
        panic!("validator bug")
    }

    fn same_participant(&self, _: Credential, _: Credential) -> Result<bool, TesseraError> {
        panic!("validator bug")
    }
}

/// A policy that accepts everything but removals proposed by `refuse`,
/// and throws when asked whether to commit (if `throw_on_commit`).
struct Policy {
    refuse_removes_from: &'static str,
    throw_on_commit: bool,
    seen: Mutex<Vec<(SenderType, ProposalKind)>>,
}

impl ProposalPolicy for Policy {
    fn accept(&self, origin: ProposalOrigin, proposal: ProposalKind) -> Result<bool, TesseraError> {
        self.seen
            .lock()
            .unwrap()
            .push((origin.sender_type, proposal.clone()));
        let from = origin.credential.as_ref().map(name).unwrap_or_default();
        Ok(!(from == self.refuse_removes_from && matches!(proposal, ProposalKind::Remove { .. })))
    }

    fn commit(&self, _group_id: Vec<u8>, _proposal: ProposalKind) -> Result<bool, TesseraError> {
        if self.throw_on_commit {
            return Err(TesseraError::Storage {
                detail: "policy store unavailable".into(),
            });
        }
        Ok(true)
    }
}

struct Dir {
    dir: tempfile::TempDir,
    key: Vec<u8>,
}

impl Dir {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            key: generate_store_key().unwrap(),
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir
            .path()
            .join(format!("{name}.db"))
            .to_string_lossy()
            .into_owned()
    }

    fn create(&self, name: &str, validator: Arc<dyn CredentialValidator>) -> Arc<MlsClient> {
        MlsClient::create(
            self.path(name),
            self.key.clone(),
            basic(name),
            validator,
            None,
            None,
            None,
        )
        .unwrap()
    }
}

fn kp(c: &MlsClient) -> Vec<u8> {
    c.generate_key_packages(1).unwrap().remove(0)
}

fn text(events: Vec<Event>) -> (u32, String) {
    match events.as_slice() {
        [Event::Application { sender, data, .. }] => {
            (sender.leaf_index, String::from_utf8(data.clone()).unwrap())
        }
        other => panic!("expected one application message, got {other:?}"),
    }
}

/// Alice's group "g" with Bob and Carol.
fn three(d: &Dir) -> [(Arc<MlsClient>, Arc<ClientGroup>); 3] {
    let alice = d.create("alice", Names::blocking(&["mallory"]));
    let bob = d.create("bob", Names::blocking(&["mallory"]));
    let carol = d.create("carol", Names::blocking(&["mallory"]));
    let ga = alice.clone().create_group(b"g".to_vec()).unwrap();
    let out = ga.add(vec![kp(&bob), kp(&carol)]).unwrap();
    ga.confirm_commit().unwrap();
    let welcome = out.welcome.unwrap();
    let gb = bob.clone().join(welcome.clone()).unwrap();
    let gc = carol.clone().join(welcome).unwrap();
    [(alice, ga), (bob, gb), (carol, gc)]
}

#[test]
fn three_clients_talk_remove_and_one_reopens_from_its_database() {
    let d = Dir::new();
    let [(alice, ga), (bob, gb), (carol, gc)] = three(&d);
    assert_eq!(
        gc.members()
            .unwrap()
            .iter()
            .map(|m| name(&m.credential))
            .collect::<Vec<_>>(),
        ["alice", "bob", "carol"]
    );
    for (i, g) in [&ga, &gb, &gc].into_iter().enumerate() {
        let ct = g
            .encrypt_with_authenticated_data(format!("from {i}").into_bytes(), b"ad".to_vec())
            .unwrap();
        for (j, c) in [&alice, &bob, &carol].into_iter().enumerate() {
            if i != j {
                assert_eq!(
                    text(c.process(ct.clone()).unwrap()),
                    (i as u32, format!("from {i}"))
                );
            }
        }
    }

    // Bob's app stops; Alice writes meanwhile; Bob reopens his file.
    let epoch = gb.epoch().unwrap();
    bob.close_store().unwrap();
    assert!(matches!(gb.epoch(), Err(TesseraError::ApiMisuse { .. })));
    drop((bob, gb));
    let missed = ga.encrypt(b"while you were away".to_vec()).unwrap();
    let wrong = MlsClient::open(
        d.path("bob"),
        generate_store_key().unwrap(),
        Names::blocking(&[]),
        None,
        None,
    );
    assert!(
        matches!(wrong, Err(TesseraError::Storage { .. })),
        "{wrong:?}"
    );
    let bob = MlsClient::open(
        d.path("bob"),
        d.key.clone(),
        Names::blocking(&[]),
        None,
        None,
    )
    .unwrap();
    assert_eq!(bob.group_ids().unwrap(), [b"g".to_vec()]);
    let gb = bob.clone().group(b"g".to_vec()).unwrap();
    assert_eq!(gb.epoch().unwrap(), epoch);
    assert_eq!(text(bob.process(missed).unwrap()).1, "while you were away");
    let reply = gb.encrypt(b"back".to_vec()).unwrap();
    assert_eq!(text(alice.process(reply).unwrap()).1, "back");

    // Alice removes Carol.
    let out = ga.remove(vec![2]).unwrap();
    assert!(out.welcome.is_none());
    let merged = ga.confirm_commit().unwrap();
    assert!(
        matches!(merged.as_slice(), [Event::CommitMerged { own: true, removed, .. }] if name(&removed[0].credential) == "carol")
    );
    let seen = bob.process(out.commit.clone()).unwrap();
    assert!(
        matches!(
            seen.as_slice(),
            [Event::CommitMerged {
                own: false,
                epoch: 2,
                ..
            }]
        ),
        "{seen:?}"
    );
    let seen = carol.process(out.commit).unwrap();
    assert!(
        matches!(
            seen.as_slice(),
            [Event::Removed {
                by_leaf: Some(0),
                ..
            }]
        ),
        "{seen:?}"
    );
    assert!(gc.status().unwrap().inactive.is_some());
    assert!(matches!(
        gc.encrypt(b"x".to_vec()),
        Err(TesseraError::ApiMisuse { .. })
    ));
    let after = ga.encrypt(b"members only".to_vec()).unwrap();
    assert_eq!(text(bob.process(after.clone()).unwrap()).1, "members only");
    assert!(carol.process(after).is_err());
    assert_eq!(
        ga.epoch_authenticator().unwrap(),
        gb.epoch_authenticator().unwrap()
    );
}

#[test]
fn a_refused_credential_rejects_the_commit_and_changes_nothing() {
    let d = Dir::new();
    let alice = d.create("alice", Names::blocking(&[]));
    let bob_validator = Names::blocking(&["mallory"]);
    let bob = d.create("bob", bob_validator.clone());
    let mallory = d.create("mallory", Names::blocking(&[]));
    let ga = alice.clone().create_group(b"g".to_vec()).unwrap();
    let out = ga.add(vec![kp(&bob)]).unwrap();
    ga.confirm_commit().unwrap();
    let gb = bob.clone().join(out.welcome.unwrap()).unwrap();
    let before = gb.epoch_authenticator().unwrap();

    let out = ga.add(vec![kp(&mallory)]).unwrap();
    match bob.process(out.commit) {
        Err(TesseraError::ProtocolViolation { detail }) => {
            assert!(detail.contains("mallory is blocked"), "{detail}")
        }
        other => panic!("expected ProtocolViolation, got {other:?}"),
    }
    assert_eq!(gb.epoch().unwrap(), 1);
    assert_eq!(gb.epoch_authenticator().unwrap(), before);
    assert!(
        bob_validator
            .seen
            .lock()
            .unwrap()
            .contains(&(CredentialUse::Added, "mallory".into()))
    );
    assert!(ga.discard_commit().unwrap());
    let ct = ga.encrypt(b"still here".to_vec()).unwrap();
    assert_eq!(text(bob.process(ct).unwrap()).1, "still here");

    // Bob's own add of mallory: refused before any commit is built.
    assert!(matches!(
        gb.add(vec![kp(&mallory)]),
        Err(TesseraError::ProtocolViolation { .. })
    ));
    assert!(!gb.status().unwrap().pending_commit);
}

#[test]
fn a_hook_that_throws_fails_the_operation_with_its_own_error() {
    let d = Dir::new();
    let alice = d.create("alice", Names::blocking(&[]));
    let ga = alice.clone().create_group(b"g".to_vec()).unwrap();
    let bob = d.create("bob", Arc::new(Throws));
    let out = ga.add(vec![kp(&bob)]).unwrap();
    ga.confirm_commit().unwrap();
    let welcome = out.welcome.unwrap();
    assert_eq!(
        bob.clone().join(welcome.clone()).unwrap_err(),
        TesseraError::Storage {
            detail: "keychain locked".into()
        }
    );
    assert!(bob.group_ids().unwrap().is_empty());

    // A panicking Rust validator: Internal, and no panic escapes.
    let carol = d.create("carol", Arc::new(Panics));
    let out = ga.add(vec![kp(&carol)]).unwrap();
    ga.confirm_commit().unwrap();
    assert!(matches!(
        carol.clone().join(out.welcome.unwrap()),
        Err(TesseraError::Internal { .. })
    ));
}

#[test]
fn the_proposal_policy_decides_and_its_throw_discards_the_commit() {
    let d = Dir::new();
    let policy = Arc::new(Policy {
        refuse_removes_from: "carol",
        throw_on_commit: false,
        seen: Mutex::default(),
    });
    let alice = MlsClient::create(
        d.path("alice"),
        d.key.clone(),
        basic("alice"),
        Names::blocking(&[]),
        Some(policy.clone()),
        Some(StoreSettings {
            durable: true,
            busy_timeout_ms: 1000,
        }),
        None,
    )
    .unwrap();
    let bob = d.create("bob", Names::blocking(&[]));
    let carol = d.create("carol", Names::blocking(&[]));
    let ga = alice.clone().create_group(b"g".to_vec()).unwrap();
    let out = ga.add(vec![kp(&bob), kp(&carol)]).unwrap();
    ga.confirm_commit().unwrap();
    let welcome = out.welcome.unwrap();
    let gb = bob.clone().join(welcome.clone()).unwrap();
    let gc = carol.clone().join(welcome).unwrap();

    // Carol proposes to remove Bob: alice's policy refuses it.
    let proposal = gc.propose_remove(1).unwrap();
    assert!(matches!(
        alice.process(proposal),
        Err(TesseraError::ProtocolViolation { .. })
    ));
    // Bob leaves: accepted and cached.
    let leave = gb.leave().unwrap();
    let events = alice.process(leave).unwrap();
    assert!(
        matches!(
            events.as_slice(),
            [Event::ProposalReceived {
                kind: ProposalKind::Remove { leaf_index: 1 },
                ..
            }]
        ),
        "{events:?}"
    );
    assert_eq!(ga.pending_proposals().unwrap().len(), 1);
    assert_eq!(policy.seen.lock().unwrap().len(), 2);

    // A policy that throws while the commit is built: the commit is discarded.
    drop((ga, alice));
    let thrower = Arc::new(Policy {
        refuse_removes_from: "",
        throw_on_commit: true,
        seen: Mutex::default(),
    });
    let alice = MlsClient::open(
        d.path("alice"),
        d.key.clone(),
        Names::blocking(&[]),
        Some(thrower),
        None,
    )
    .unwrap();
    let ga = alice.clone().group(b"g".to_vec()).unwrap();
    assert_eq!(
        ga.commit().unwrap_err(),
        TesseraError::Storage {
            detail: "policy store unavailable".into()
        }
    );
    assert!(!ga.status().unwrap().pending_commit);
    assert_eq!(ga.epoch().unwrap(), 1);
}

#[test]
fn errors_come_by_category_and_bad_paths_are_errors() {
    let d = Dir::new();
    let [(alice, ga), ..] = three(&d);
    assert!(matches!(
        alice.process(vec![1, 2, 3]),
        Err(TesseraError::BadBytes { .. })
    ));
    assert!(matches!(
        ga.add(vec![vec![]]),
        Err(TesseraError::BadBytes { .. })
    ));
    assert!(matches!(
        alice.clone().group(b"nope".to_vec()),
        Err(TesseraError::ApiMisuse { .. })
    ));
    assert!(matches!(
        alice.clone().create_group(b"g".to_vec()),
        Err(TesseraError::ApiMisuse { .. })
    ));
    assert!(matches!(
        ga.confirm_commit(),
        Err(TesseraError::ApiMisuse { .. })
    ));
    // Store paths and keys.
    let bad_dir = d
        .dir
        .path()
        .join("no/such/dir/x.db")
        .to_string_lossy()
        .into_owned();
    let r = MlsClient::create(
        bad_dir,
        d.key.clone(),
        basic("x"),
        Names::blocking(&[]),
        None,
        None,
        None,
    );
    assert!(matches!(r, Err(TesseraError::Storage { .. })), "{r:?}");
    let r = MlsClient::open(
        d.path("absent"),
        d.key.clone(),
        Names::blocking(&[]),
        None,
        None,
    );
    assert!(matches!(r, Err(TesseraError::Storage { .. })), "{r:?}");
    let r = MlsClient::create(
        d.path("y"),
        vec![0; 31],
        basic("y"),
        Names::blocking(&[]),
        None,
        None,
        None,
    );
    assert!(matches!(r, Err(TesseraError::ApiMisuse { .. })), "{r:?}");
    let r = MlsClient::create(
        d.path("alice"),
        d.key.clone(),
        basic("a2"),
        Names::blocking(&[]),
        None,
        None,
        None,
    );
    assert!(
        matches!(r, Err(TesseraError::ApiMisuse { .. })),
        "a second client in one file: {r:?}"
    );
    std::fs::write(d.path("garbage"), b"not a database at all, not even close").unwrap();
    let r = MlsClient::open(
        d.path("garbage"),
        d.key.clone(),
        Names::blocking(&[]),
        None,
        None,
    );
    assert!(matches!(r, Err(TesseraError::Storage { .. })), "{r:?}");
}

/// A validator that calls back into the client (a bug): refused, not a deadlock.
struct Reentrant(Mutex<Option<Arc<MlsClient>>>, Mutex<Option<TesseraError>>);

impl CredentialValidator for Reentrant {
    fn validate(&self, _: CredentialCheck) -> Result<CredentialVerdict, TesseraError> {
        if let Some(c) = self.0.lock().unwrap().as_ref() {
            *self.1.lock().unwrap() = c.group_ids().err();
        }
        Ok(CredentialVerdict::Accept)
    }

    fn same_participant(&self, old: Credential, new: Credential) -> Result<bool, TesseraError> {
        Ok(old == new)
    }
}

#[test]
fn a_hook_calling_back_into_the_client_is_refused() {
    let d = Dir::new();
    let validator = Arc::new(Reentrant(Mutex::default(), Mutex::default()));
    let alice = d.create("alice", validator.clone());
    *validator.0.lock().unwrap() = Some(alice.clone());
    let bob = d.create("bob", Names::blocking(&[]));
    let ga = alice.clone().create_group(b"g".to_vec()).unwrap();
    ga.add(vec![kp(&bob)]).unwrap();
    assert!(matches!(
        validator.1.lock().unwrap().take(),
        Some(TesseraError::ApiMisuse { .. })
    ));
    validator.0.lock().unwrap().take();
}

#[test]
fn a_client_of_another_cipher_suite_keeps_it_and_joins_from_process() {
    let d = Dir::new();
    let suite = CipherSuite::Mls128Dhkemp256Aes128gcmSha256P256;
    let create = |name: &str| {
        MlsClient::create(
            d.path(name),
            d.key.clone(),
            basic(name),
            Names::blocking(&[]),
            None,
            None,
            Some(suite),
        )
        .unwrap()
    };
    let (alice, bob) = (create("alice"), create("bob"));
    assert_eq!(alice.cipher_suite().unwrap(), suite);
    let ga = alice.clone().create_group(b"p256".to_vec()).unwrap();
    let out = ga.add(vec![kp(&bob)]).unwrap();
    ga.confirm_commit().unwrap();
    // A Welcome given to process joins too.
    let joined = bob.process(out.welcome.unwrap()).unwrap();
    assert!(
        matches!(joined.as_slice(), [Event::Joined { epoch: 1, members, .. }] if members.len() == 2),
        "{joined:?}"
    );
    drop(bob);
    let bob = MlsClient::open(
        d.path("bob"),
        d.key.clone(),
        Names::blocking(&[]),
        None,
        None,
    )
    .unwrap();
    assert_eq!(bob.cipher_suite().unwrap(), suite);
    let ct = ga.encrypt(b"p-256".to_vec()).unwrap();
    assert_eq!(text(bob.process(ct).unwrap()).1, "p-256");
}
