//! Two and three members through create, add, path commits and remove.

use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
use tessera::group::{
    CommitOptions, Group, GroupConfig, Identity, JoinInput, KeyPackageOptions, ProcessedMessage,
    generate_key_package,
};
use tessera::messages::{Add, Credential, MlsMessage, Proposal, Remove};

const NOW: u64 = 1_800_000_000;

fn join(
    provider: &RustCryptoProvider,
    welcome: &MlsMessage,
    kp_and_priv: (
        tessera::messages::KeyPackage,
        tessera::group::KeyPackagePrivate,
    ),
    id: &Identity,
) -> Group {
    let MlsMessage::Welcome(w) = welcome else {
        panic!("not a welcome")
    };
    Group::join(
        provider,
        GroupConfig::default(),
        w,
        JoinInput {
            key_package: &kp_and_priv.0,
            key_package_private: &kp_and_priv.1,
            signer: id.signer().clone(),
            ratchet_tree: None,
            psk_store: &(),
            now: Some(NOW),
        },
    )
    .expect("join")
}

fn apply(group: &mut Group, msg: &MlsMessage) {
    match group.process_message(msg, &(), Some(NOW)).expect("process") {
        ProcessedMessage::Commit(staged) => group.merge_staged_commit(*staged).expect("merge"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn create_add_update_remove_every_suite() {
    for suite in CipherSuite::ALL {
        let provider = RustCryptoProvider::with_seed([suite.0 as u8; 32]);
        let cs = provider.cipher_suite_provider(suite).unwrap();
        let ids: Vec<Identity> = ["alice", "bob", "carol"]
            .iter()
            .map(|n| Identity::generate(&*cs, Credential::basic(*n)).unwrap())
            .collect();
        let opts = || KeyPackageOptions::valid_for(NOW - 10, 3600);
        let mut alice = Group::create(
            &provider,
            GroupConfig::default(),
            suite,
            b"group".to_vec(),
            &ids[0],
            opts(),
            vec![],
        )
        .unwrap();

        // Alice adds Bob and Carol in one commit.
        let bob_kp = generate_key_package(&*cs, &ids[1], opts()).unwrap();
        let carol_kp = generate_key_package(&*cs, &ids[2], opts()).unwrap();
        let out = alice
            .commit(
                CommitOptions {
                    proposals: vec![
                        Proposal::Add(Add {
                            key_package: bob_kp.0.clone(),
                        }),
                        Proposal::Add(Add {
                            key_package: carol_kp.0.clone(),
                        }),
                    ],
                    ..Default::default()
                },
                &(),
                Some(NOW),
            )
            .unwrap();
        alice.merge_pending_commit().unwrap();
        let welcome = out.welcome.unwrap();
        let mut bob = join(&provider, &welcome, bob_kp, &ids[1]);
        let mut carol = join(&provider, &welcome, carol_kp, &ids[2]);
        assert_eq!(bob.epoch_authenticator(), alice.epoch_authenticator());
        assert_eq!(carol.epoch_authenticator(), alice.epoch_authenticator());

        // Bob commits with a full path; Alice and Carol follow.
        let out = bob
            .commit(
                CommitOptions {
                    force_path: true,
                    ..Default::default()
                },
                &(),
                Some(NOW),
            )
            .unwrap();
        apply(&mut alice, &out.commit);
        apply(&mut carol, &out.commit);
        // Bob's own echo merges his pending commit.
        apply(&mut bob, &out.commit);
        assert_eq!(bob.epoch_authenticator(), alice.epoch_authenticator());
        assert_eq!(carol.epoch_authenticator(), alice.epoch_authenticator());
        assert_eq!(bob.tree_hash(), alice.tree_hash());

        // Carol proposes removing Bob; Alice commits it.
        let proposal = carol
            .propose(Proposal::Remove(Remove {
                removed: bob.own_leaf().0,
            }))
            .unwrap();
        for g in [&mut alice, &mut bob] {
            assert!(matches!(
                g.process_message(&proposal, &(), Some(NOW)).unwrap(),
                ProcessedMessage::Proposal { .. }
            ));
        }
        let out = alice
            .commit(CommitOptions::default(), &(), Some(NOW))
            .unwrap();
        alice.merge_pending_commit().unwrap();
        apply(&mut carol, &out.commit);
        match bob.process_message(&out.commit, &(), Some(NOW)).unwrap() {
            ProcessedMessage::Commit(staged) => assert!(staged.summary().self_removed),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(carol.epoch_authenticator(), alice.epoch_authenticator());
        assert_eq!(alice.members().len(), 2, "suite {suite:?}");
    }
}

#[test]
fn private_handshakes_and_late_application_messages() {
    let suite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
    let provider = RustCryptoProvider::with_seed([9; 32]);
    let cs = provider.cipher_suite_provider(suite).unwrap();
    let config = GroupConfig {
        handshake_format: tessera::group::HandshakeFormat::Private,
        ..GroupConfig::default()
    };
    let alice_id = Identity::generate(&*cs, Credential::basic("alice")).unwrap();
    let bob_id = Identity::generate(&*cs, Credential::basic("bob")).unwrap();
    let opts = || KeyPackageOptions::valid_for(NOW - 10, 3600);
    let mut alice = Group::create(
        &provider,
        config.clone(),
        suite,
        b"g".to_vec(),
        &alice_id,
        opts(),
        vec![],
    )
    .unwrap();
    let bob_kp = generate_key_package(&*cs, &bob_id, opts()).unwrap();
    let out = alice
        .commit(
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: bob_kp.0.clone(),
                })],
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    alice.merge_pending_commit().unwrap();
    let mut bob = join(&provider, &out.welcome.unwrap(), bob_kp, &bob_id);

    // Two application messages; the second arrives first.
    let m1 = alice.encrypt_application(b"one", b"ad").unwrap();
    let m2 = alice.encrypt_application(b"two", b"").unwrap();
    assert!(matches!(m1, MlsMessage::PrivateMessage(_)));
    for (m, want) in [(&m2, &b"two"[..]), (&m1, &b"one"[..])] {
        match bob.process_message(m, &(), Some(NOW)).unwrap() {
            ProcessedMessage::Application { data, .. } => assert_eq!(data, want),
            other => panic!("unexpected {other:?}"),
        }
    }
    // A replay is refused with its own error, and changes nothing.
    let err = bob.process_message(&m1, &(), Some(NOW)).unwrap_err();
    assert_eq!(
        err,
        tessera::Error::Protocol(tessera::error::ProtocolError::KeyAlreadyUsed(0))
    );
    // Alice's own message echoed back is recognised.
    assert!(matches!(
        alice.process_message(&m1, &(), Some(NOW)).unwrap(),
        ProcessedMessage::OwnMessage { .. }
    ));

    // A message sent before a commit still decrypts after it (past epochs).
    let late = bob.encrypt_application(b"late", b"").unwrap();
    let out = bob
        .commit(
            CommitOptions {
                force_path: true,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    apply(&mut alice, &out.commit);
    apply(&mut bob, &out.commit);
    assert_eq!(alice.epoch_authenticator(), bob.epoch_authenticator());
    match alice.process_message(&late, &(), Some(NOW)).unwrap() {
        ProcessedMessage::Application { data, .. } => assert_eq!(data, b"late"),
        other => panic!("unexpected {other:?}"),
    }

    // Alice's handshakes are PrivateMessages; Bob follows, Alice merges her echo.
    let out = alice
        .commit(
            CommitOptions {
                force_path: true,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    assert!(matches!(out.commit, MlsMessage::PrivateMessage(_)));
    apply(&mut bob, &out.commit);
    apply(&mut alice, &out.commit);
    assert_eq!(alice.epoch_authenticator(), bob.epoch_authenticator());
    assert_eq!(alice.epoch(), 3);
}
