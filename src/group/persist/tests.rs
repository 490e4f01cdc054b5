//! Tests of group state persistence, and that a failed `process_message`
//! leaves the state byte-identical.

use std::collections::HashMap;
use std::sync::OnceLock;

use proptest::prelude::*;

use super::super::{
    CommitOptions, ExternalJoinOptions, Group, GroupConfig, Identity, JoinInput, KeyPackageOptions,
    ProcessedMessage, generate_key_package,
};
use super::{MAGIC, tag};
use crate::codec::{Decode, Encode, Reader, write_opaque};
use crate::crypto::labeled::sign_with_label;
use crate::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider, Secret, SignaturePrivateKey};
use crate::error::{CryptoError, DecodeError, Error, ProtocolError};
use crate::messages::{
    Add, Commit, Credential, EncryptedPathSecrets, FramedContentBody, MlsMessage, PreSharedKey,
    PreSharedKeyId, PrivateMessage, Proposal, ProposalOrRef, Psk, PublicMessage, Remove,
};
use crate::secret_tree::RatchetKind;
use crate::tree_math::LeafIndex;

const NOW: u64 = 1_800_000_000;
const SUITE: CipherSuite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;

/// Three members in epoch 2: Alice created the group and added Bob and
/// Carol, then Bob committed with a path.
struct World {
    provider: RustCryptoProvider,
    alice: Group,
    bob: Group,
    carol: Group,
}

fn opts() -> KeyPackageOptions {
    KeyPackageOptions::valid_for(NOW - 10, 3600)
}

fn identity(provider: &RustCryptoProvider, name: &str) -> Identity {
    let cs = provider.cipher_suite_provider(SUITE).unwrap();
    Identity::generate(&*cs, Credential::basic(name)).unwrap()
}

fn join_with(
    provider: &RustCryptoProvider,
    welcome: &MlsMessage,
    kp: &(crate::messages::KeyPackage, super::super::KeyPackagePrivate),
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
            key_package: &kp.0,
            key_package_private: &kp.1,
            signer: id.signer().clone(),
            ratchet_tree: None,
            psk_store: &(),
            now: Some(NOW),
        },
    )
    .unwrap()
}

fn apply(group: &mut Group, msg: &MlsMessage) {
    match group.process_message(msg, &(), Some(NOW)).unwrap() {
        ProcessedMessage::Commit(staged) => group.merge_staged_commit(*staged).unwrap(),
        other => panic!("unexpected {other:?}"),
    }
}

fn expect_application(group: &mut Group, msg: &MlsMessage, want: &[u8]) {
    match group.process_message(msg, &(), Some(NOW)).unwrap() {
        ProcessedMessage::Application { data, .. } => assert_eq!(data, want),
        other => panic!("unexpected {other:?}"),
    }
}

fn receive_proposal(group: &mut Group, msg: &MlsMessage) {
    assert!(matches!(
        group.process_message(msg, &(), Some(NOW)).unwrap(),
        ProcessedMessage::Proposal { .. }
    ));
}

fn world(seed: u8) -> World {
    let provider = RustCryptoProvider::with_seed([seed; 32]);
    let cs = provider.cipher_suite_provider(SUITE).unwrap();
    let ids: Vec<Identity> = ["alice", "bob", "carol"]
        .iter()
        .map(|n| identity(&provider, n))
        .collect();
    let mut alice = Group::create(
        &provider,
        GroupConfig::default(),
        SUITE,
        b"persist".to_vec(),
        &ids[0],
        opts(),
        vec![],
    )
    .unwrap();
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
    let mut bob = join_with(&provider, &welcome, &bob_kp, &ids[1]);
    let mut carol = join_with(&provider, &welcome, &carol_kp, &ids[2]);
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
    bob.merge_pending_commit().unwrap();
    assert_eq!(alice.epoch(), 2);
    World {
        provider,
        alice,
        bob,
        carol,
    }
}

fn saved(g: &Group) -> Vec<u8> {
    g.to_bytes().unwrap().as_bytes().to_vec()
}

fn restore(provider: &RustCryptoProvider, bytes: &[u8]) -> Group {
    Group::from_bytes(provider, bytes).unwrap()
}

/// Restores and checks that saving again gives the same bytes.
fn round_trip(provider: &RustCryptoProvider, g: &Group) -> Group {
    let bytes = saved(g);
    let restored = restore(provider, &bytes);
    assert_eq!(saved(&restored), bytes, "to_bytes(from_bytes(b)) != b");
    assert_eq!(saved(g), bytes, "to_bytes is not deterministic");
    restored
}

/// Uses some of a group's current secret tree as sending and receiving would.
fn use_secret_tree(g: &mut Group) {
    let cs = g.cs.clone();
    let own = g.own_leaf;
    // Not Bob's leaf (1): tests send real application messages from Bob.
    let other = LeafIndex(if own.0 == 2 { 0 } else { 2 });
    let st = &mut g.keys.secret_tree;
    for _ in 0..3 {
        st.next_key(&*cs, own, RatchetKind::Application).unwrap();
    }
    st.next_key(&*cs, own, RatchetKind::Handshake).unwrap();
    // Out of order: 5 first, so 0..5 are retained, then 2 is taken.
    st.key(&*cs, other, RatchetKind::Application, 5).unwrap();
    st.key(&*cs, other, RatchetKind::Application, 2).unwrap();
}

// --- Round trips -------------------------------------------------------------

#[test]
fn round_trip_mid_life_continues_identically() {
    let World {
        provider,
        mut alice,
        mut bob,
        mut carol,
    } = world(1);
    let cs = provider.cipher_suite_provider(SUITE).unwrap();

    // Carol proposes adding Dave; everyone caches the proposal.
    let dave = identity(&provider, "dave");
    let dave_kp = generate_key_package(&*cs, &dave, opts()).unwrap();
    let proposal = carol
        .propose(Proposal::Add(Add {
            key_package: dave_kp.0.clone(),
        }))
        .unwrap();
    receive_proposal(&mut alice, &proposal);
    receive_proposal(&mut bob, &proposal);
    use_secret_tree(&mut alice);

    let mut restored = round_trip(&provider, &alice);
    assert_eq!(restored.epoch(), alice.epoch());
    assert_eq!(restored.epoch_authenticator(), alice.epoch_authenticator());
    assert_eq!(restored.proposals.len(), 1);
    assert!(!restored.past_epochs.is_empty());
    assert!(!restored.resumption_psks.is_empty());

    // The secret tree goes on exactly where it was.
    let carol_leaf = carol.own_leaf();
    for g in [&mut alice, &mut restored] {
        let cs = g.cs.clone();
        let own = g.own_leaf;
        let st = &mut g.keys.secret_tree;
        assert_eq!(
            st.next_key(&*cs, own, RatchetKind::Application)
                .unwrap()
                .generation,
            3
        );
        assert_eq!(
            st.key(&*cs, carol_leaf, RatchetKind::Application, 2),
            Err(Error::Protocol(ProtocolError::KeyAlreadyUsed(2)))
        );
    }
    let cs_ = cs.clone();
    let k = |g: &mut Group, generation| {
        g.keys
            .secret_tree
            .key(&*cs_, carol_leaf, RatchetKind::Application, generation)
            .unwrap()
    };
    assert_eq!(k(&mut alice, 4), k(&mut restored, 4));
    assert_eq!(k(&mut alice, 9), k(&mut restored, 9));
    assert_eq!(saved(&alice), saved(&restored));

    // Application messages from Bob, received out of order across a save.
    let sent: Vec<MlsMessage> = (0..3u8)
        .map(|i| bob.encrypt_application(&[i], b"ad").unwrap())
        .collect();
    for g in [&mut alice, &mut restored] {
        expect_application(g, &sent[2], &[2]);
    }
    let mut restored = round_trip(&provider, &restored);
    for g in [&mut alice, &mut restored] {
        expect_application(g, &sent[0], &[0]);
        assert_eq!(
            g.process_message(&sent[2], &(), Some(NOW)).unwrap_err(),
            Error::Protocol(ProtocolError::KeyAlreadyUsed(2))
        );
    }
    let mut restored = round_trip(&provider, &restored);
    expect_application(&mut restored, &sent[1], &[1]);
    expect_application(&mut alice, &sent[1], &[1]);
    assert_eq!(saved(&alice), saved(&restored));

    // Bob commits Carol's proposal: the restored Alice follows, and ends in
    // exactly the state the original reaches.
    let out = bob
        .commit(CommitOptions::default(), &(), Some(NOW))
        .unwrap();
    bob.merge_pending_commit().unwrap();
    apply(&mut alice, &out.commit);
    apply(&mut restored, &out.commit);
    apply(&mut carol, &out.commit);
    assert_eq!(saved(&alice), saved(&restored));
    let dave_group = join_with(&provider, &out.welcome.unwrap(), &dave_kp, &dave);
    for g in [&bob, &carol, &dave_group] {
        assert_eq!(g.epoch_authenticator(), restored.epoch_authenticator());
    }

    // The restored Alice commits with a path; everyone follows.
    let mut restored = round_trip(&provider, &restored);
    let out = restored
        .commit(
            CommitOptions {
                force_path: true,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    restored.merge_pending_commit().unwrap();
    apply(&mut bob, &out.commit);
    apply(&mut carol, &out.commit);
    assert_eq!(bob.epoch_authenticator(), restored.epoch_authenticator());
    assert_eq!(carol.epoch_authenticator(), restored.epoch_authenticator());
    assert_eq!(
        bob.export_secret(b"label", b"ctx", 32).unwrap(),
        restored.export_secret(b"label", b"ctx", 32).unwrap()
    );
    // And it processes the next commit of another member.
    let out = carol
        .commit(
            CommitOptions {
                force_path: true,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    carol.merge_pending_commit().unwrap();
    let mut restored = round_trip(&provider, &restored);
    apply(&mut restored, &out.commit);
    assert_eq!(carol.epoch_authenticator(), restored.epoch_authenticator());
}

#[test]
fn round_trip_with_pending_commit() {
    for format in [
        super::HandshakeFormat::Public,
        super::HandshakeFormat::Private,
    ] {
        let World {
            provider,
            mut alice,
            mut bob,
            ..
        } = world(2);
        alice.config.handshake_format = format;
        let out = alice
            .commit(
                CommitOptions {
                    proposals: vec![Proposal::Remove(Remove { removed: 2 })],
                    ..Default::default()
                },
                &(),
                Some(NOW),
            )
            .unwrap();
        assert_eq!(
            matches!(out.commit, MlsMessage::PrivateMessage(_)),
            format == super::HandshakeFormat::Private
        );
        let mut echoed = round_trip(&provider, &alice);
        let mut merged = round_trip(&provider, &alice);
        assert!(echoed.has_pending_commit());

        // The echo from the delivery service merges the restored pending commit.
        apply(&mut echoed, &out.commit);
        merged.merge_pending_commit().unwrap();
        alice.merge_pending_commit().unwrap();
        apply(&mut bob, &out.commit);
        assert_eq!(saved(&echoed), saved(&alice));
        assert_eq!(saved(&merged), saved(&alice));
        assert_eq!(bob.epoch_authenticator(), echoed.epoch_authenticator());
        assert_eq!(echoed.members().len(), 2);
    }
}

#[test]
fn round_trip_after_external_join() {
    let World {
        provider,
        mut alice,
        mut bob,
        mut carol,
    } = world(7);
    let MlsMessage::GroupInfo(gi) = bob.group_info(true).unwrap() else {
        panic!("not a GroupInfo")
    };
    let dave = identity(&provider, "dave");
    let (dave, commit) = Group::join_external(
        &provider,
        GroupConfig::default(),
        &gi,
        &dave,
        ExternalJoinOptions::default(),
        &(),
        Some(NOW),
    )
    .unwrap();
    let mut dave = round_trip(&provider, &dave);
    for g in [&mut alice, &mut bob, &mut carol] {
        apply(g, &commit);
        assert_eq!(g.epoch_authenticator(), dave.epoch_authenticator());
    }
    let out = dave.commit(path_commit(), &(), Some(NOW)).unwrap();
    let mut dave = round_trip(&provider, &dave);
    apply(&mut dave, &out.commit);
    apply(&mut alice, &out.commit);
    assert_eq!(alice.epoch_authenticator(), dave.epoch_authenticator());
}

#[test]
fn round_trip_every_suite_and_fresh_group() {
    for suite in CipherSuite::ALL {
        let provider = RustCryptoProvider::with_seed([suite.0 as u8; 32]);
        let cs = provider.cipher_suite_provider(suite).unwrap();
        let id = Identity::generate(&*cs, Credential::basic("solo")).unwrap();
        let mut g = Group::create(
            &provider,
            GroupConfig::default(),
            suite,
            b"solo".to_vec(),
            &id,
            opts(),
            vec![],
        )
        .unwrap();
        let restored = round_trip(&provider, &g);
        assert_eq!(restored.epoch_authenticator(), g.epoch_authenticator());
        // Several epochs: past epochs and resumption PSKs are kept.
        for _ in 0..4 {
            g.commit(
                CommitOptions {
                    force_path: true,
                    ..Default::default()
                },
                &(),
                Some(NOW),
            )
            .unwrap();
            g.merge_pending_commit().unwrap();
        }
        use_secret_tree_single(&mut g);
        let restored = round_trip(&provider, &g);
        assert_eq!(restored.past_epochs.len(), 2, "{suite:?}");
        assert_eq!(restored.resumption_psks.len(), 4);
        assert_eq!(restored.resumption_psk(1), g.resumption_psk(1));
        assert_eq!(restored.tree_hash(), g.tree_hash());
    }
}

fn use_secret_tree_single(g: &mut Group) {
    let cs = g.cs.clone();
    let st = &mut g.keys.secret_tree;
    st.key(&*cs, LeafIndex(0), RatchetKind::Handshake, 3)
        .unwrap();
}

#[test]
fn config_round_trips() {
    use crate::framing::PaddingPolicy;
    let provider = RustCryptoProvider::with_seed([3; 32]);
    let id = identity(&provider, "solo");
    let paddings = [
        PaddingPolicy::None,
        PaddingPolicy::MultipleOf(core::num::NonZeroUsize::new(7).unwrap()),
        PaddingPolicy::PowerOfTwo { min: 64 },
        PaddingPolicy::Fixed(usize::MAX),
    ];
    for (i, padding) in paddings.into_iter().enumerate() {
        let config = GroupConfig {
            handshake_format: if i % 2 == 0 {
                super::HandshakeFormat::Private
            } else {
                super::HandshakeFormat::Public
            },
            padding,
            max_past_epochs: i,
            max_resumption_psks: 1,
            secret_tree: crate::secret_tree::SecretTreeConfig {
                max_forward_distance: 5,
                max_retained_keys: 3,
            },
            max_group_size: 1000 + i as u32,
        };
        let g = Group::create(
            &provider,
            config.clone(),
            SUITE,
            b"g".to_vec(),
            &id,
            opts(),
            vec![],
        )
        .unwrap();
        assert_eq!(round_trip(&provider, &g).config, config);
    }
}

// --- Malformed input ---------------------------------------------------------

/// The (tag, value) sections of a state.
fn sections(bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let mut r = Reader::new(&bytes[6..]);
    let mut v = Vec::new();
    while !r.is_empty() {
        v.push((
            u16::decode(&mut r).unwrap(),
            Vec::<u8>::decode(&mut r).unwrap(),
        ));
    }
    v
}

fn assemble(version: u16, sections: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    version.encode(&mut out).unwrap();
    for (t, body) in sections {
        t.encode(&mut out).unwrap();
        write_opaque(&mut out, body).unwrap();
    }
    out
}

fn decode_err(provider: &RustCryptoProvider, bytes: &[u8]) -> Error {
    Group::from_bytes(provider, bytes).unwrap_err()
}

fn is_decode(e: &Error) -> bool {
    matches!(e, Error::Decode(_))
}

/// A state with a pending commit, proposals, past epochs and a used secret tree.
fn rich_state() -> &'static (RustCryptoProvider, Vec<u8>) {
    static STATE: OnceLock<(RustCryptoProvider, Vec<u8>)> = OnceLock::new();
    STATE.get_or_init(|| {
        let World {
            provider,
            mut alice,
            mut carol,
            ..
        } = world(4);
        let p = carol
            .propose(Proposal::Remove(Remove { removed: 1 }))
            .unwrap();
        receive_proposal(&mut alice, &p);
        use_secret_tree(&mut alice);
        alice
            .commit(CommitOptions::default(), &(), Some(NOW))
            .unwrap();
        let bytes = saved(&alice);
        (provider, bytes)
    })
}

#[test]
fn rejects_wrong_magic_and_version() {
    let (provider, bytes) = rich_state();
    assert_eq!(
        decode_err(provider, &[]),
        Error::Decode(DecodeError::WrongMagic("group state"))
    );
    assert_eq!(
        decode_err(provider, b"TSG"),
        Error::Decode(DecodeError::WrongMagic("group state"))
    );
    let mut other = bytes.clone();
    other[0] ^= 1;
    assert_eq!(
        decode_err(provider, &other),
        Error::Decode(DecodeError::WrongMagic("group state"))
    );
    for version in [0u16, 2, 0xffff] {
        let mut v = bytes.clone();
        v[4..6].copy_from_slice(&version.to_be_bytes());
        assert_eq!(
            decode_err(provider, &v),
            Error::Decode(DecodeError::UnsupportedFormatVersion(version))
        );
    }
    assert_eq!(
        decode_err(provider, &bytes[..5]),
        Error::Decode(DecodeError::Truncated)
    );
}

#[test]
fn rejects_truncation_and_trailing_bytes() {
    let (provider, bytes) = rich_state();
    // Every prefix is an error (every byte near the ends, a sample in between).
    let n = bytes.len();
    for cut in (0..n).filter(|c| *c < 64 || *c + 64 > n || c % 13 == 0) {
        assert!(
            is_decode(&decode_err(provider, &bytes[..cut])),
            "prefix of {cut} bytes"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(is_decode(&decode_err(provider, &longer)));
}

#[test]
fn rejects_section_structure_errors() {
    let (provider, bytes) = rich_state();
    let secs = sections(bytes);
    assert_eq!(secs.len(), 13);
    assert_eq!(secs.last().unwrap().0, tag::PENDING_COMMIT);
    // Reassembling unchanged gives the same bytes, and decodes.
    assert_eq!(&assemble(1, &secs), bytes);

    let invalid = |s: &[(u16, Vec<u8>)]| {
        let e = decode_err(provider, &assemble(1, s));
        assert!(
            matches!(e, Error::Decode(DecodeError::InvalidValue(_))),
            "{e:?}"
        );
    };
    // Unknown section, at the end and in between.
    let mut s = secs.clone();
    s.push((99, vec![]));
    invalid(&s);
    let mut s = secs.clone();
    s.insert(0, (0, vec![]));
    invalid(&s);
    // Repeated and swapped sections.
    let mut s = secs.clone();
    s.insert(3, s[2].clone());
    invalid(&s);
    let mut s = secs.clone();
    s.swap(4, 5);
    invalid(&s);
    // Each required section missing.
    for i in 0..12 {
        let mut s = secs.clone();
        s.remove(i);
        invalid(&s);
    }
    // Without the optional pending commit it still decodes.
    let g = Group::from_bytes(provider, &assemble(1, &secs[..12])).unwrap();
    assert!(!g.has_pending_commit());
    // A section with trailing bytes inside.
    let mut s = secs.clone();
    s[5].1.push(0);
    assert!(is_decode(&decode_err(provider, &assemble(1, &s))));
}

#[test]
fn rejects_inconsistent_parts() {
    // Sections from another member, or another epoch, do not fit.
    let World {
        provider,
        mut alice,
        bob,
        ..
    } = world(5);
    let a = sections(&saved(&alice));
    let b = sections(&saved(&bob));
    let old = {
        let before = saved(&alice);
        alice
            .commit(
                CommitOptions {
                    force_path: true,
                    ..Default::default()
                },
                &(),
                Some(NOW),
            )
            .unwrap();
        alice.merge_pending_commit().unwrap();
        let now = sections(&saved(&alice));
        (sections(&before), now)
    };
    let swap = |base: &[(u16, Vec<u8>)], from: &[(u16, Vec<u8>)], tags: &[u16]| {
        let s: Vec<_> = base
            .iter()
            .map(|(t, v)| {
                if tags.contains(t) {
                    from.iter().find(|(u, _)| u == t).unwrap().clone()
                } else {
                    (*t, v.clone())
                }
            })
            .collect();
        decode_err(&provider, &assemble(1, &s))
    };
    let e = |what| Error::Decode(DecodeError::InvalidValue(what));
    assert_eq!(
        swap(&a, &b, &[tag::SIGNER]),
        e("signature key does not match the own leaf")
    );
    assert_eq!(
        swap(&a, &b, &[tag::PATH_KEYS]),
        e("private tree keys are for another leaf")
    );
    assert_eq!(
        swap(&a, &b, &[tag::OWN_LEAF]),
        e("signature key does not match the own leaf")
    );
    assert_eq!(
        swap(&old.0, &old.1, &[tag::TREE]),
        e("tree hash does not match the group context")
    );
    // (Epoch keys of another epoch cannot be told apart: the confirmation
    // key, the only one checkable against the context, is deleted.)
    assert_eq!(
        swap(&old.0, &old.1, &[tag::PAST_EPOCHS]),
        e("past epochs out of order")
    );
    assert_eq!(
        swap(&old.0, &old.1, &[tag::RESUMPTION_PSKS]),
        e("resumption PSK epochs out of order")
    );
    assert_eq!(
        swap(&old.0, &old.1, &[tag::INTERIM_TRANSCRIPT_HASH]),
        e("interim transcript hash does not match the epoch")
    );
    // Alice's path keys of one epoch against the tree of the next.
    assert_eq!(
        swap(&old.1, &old.0, &[tag::PATH_KEYS]),
        e("private tree keys do not match the tree")
    );
    // Bob's own signer and leaf, with Alice's path keys.
    assert_eq!(
        swap(&a, &b, &[tag::SIGNER, tag::OWN_LEAF]),
        e("private tree keys are for another leaf")
    );
}

#[test]
fn rejects_bad_config_values() {
    let (provider, bytes) = rich_state();
    let secs = sections(bytes);
    // Config layout: handshake format (1), padding kind (1) and value (8),
    // max_past_epochs (8), ...
    let with = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut s = secs.clone();
        edit(&mut s[0].1);
        decode_err(provider, &assemble(1, &s))
    };
    let e = |what| Error::Decode(DecodeError::InvalidValue(what));
    assert_eq!(with(&|c| c[0] = 2), e("config: handshake format"));
    assert_eq!(with(&|c| c[1] = 4), e("config: padding"));
    // MultipleOf(0), and None with a value.
    assert_eq!(
        with(&|c| {
            c[1] = 1;
            c[2..10].copy_from_slice(&0u64.to_be_bytes());
        }),
        e("config: padding")
    );
    assert_eq!(
        with(&|c| {
            c[1] = 0;
            c[2..10].copy_from_slice(&1u64.to_be_bytes());
        }),
        e("config: padding")
    );
    // Fewer past epochs allowed than are kept.
    assert_eq!(
        with(&|c| c[10..18].copy_from_slice(&0u64.to_be_bytes())),
        e("more past epochs than the config keeps")
    );
}

#[test]
fn unsupported_suite_is_reported() {
    struct NoSuites;
    impl CryptoProvider for NoSuites {
        fn cipher_suite_provider(
            &self,
            suite: CipherSuite,
        ) -> Result<std::sync::Arc<dyn crate::crypto::CipherSuiteProvider>, CryptoError> {
            Err(CryptoError::UnsupportedCipherSuite(suite.0))
        }
        fn supported_cipher_suites(&self) -> Vec<CipherSuite> {
            Vec::new()
        }
    }
    let (_, bytes) = rich_state();
    assert_eq!(
        Group::from_bytes(&NoSuites, bytes).unwrap_err(),
        Error::Crypto(CryptoError::UnsupportedCipherSuite(SUITE.0))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let (provider, _) = rich_state();
        prop_assert!(Group::from_bytes(provider, &bytes).is_err());
        // Past the envelope, into the section parser.
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&1u16.to_be_bytes());
        v.extend_from_slice(&bytes);
        let _ = Group::from_bytes(provider, &v);
    }

    #[test]
    fn mutated_state_never_panics(
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
        cut in proptest::option::of(any::<proptest::sample::Index>()),
    ) {
        let (provider, bytes) = rich_state();
        let mut v = bytes.clone();
        for (at, byte) in edits {
            let i = at.index(v.len());
            v[i] = byte;
        }
        if let Some(cut) = cut {
            v.truncate(cut.index(v.len()));
        }
        // Either an error, or a state that saves back to exactly these bytes.
        if let Ok(g) = Group::from_bytes(provider, &v) {
            prop_assert_eq!(saved(&g), v);
        }
    }
}

// --- Failed processing leaves the state unchanged -----------------------------

/// Re-signs (if `signer` is given) and re-MACs a PublicMessage as a member
/// of `g`'s epoch would, so that a change reaches the checks behind them.
fn reauth(m: &mut PublicMessage, signer: Option<&SignaturePrivateKey>, g: &Group) {
    if let Some(signer) = signer {
        let tbs = m.to_be_signed(Some(&g.context)).unwrap();
        m.auth.signature = sign_with_label(&*g.cs, signer, b"FramedContentTBS", &tbs).unwrap();
    }
    let tbm = m.to_be_maced(&g.context).unwrap();
    m.membership_tag = Some(g.cs.mac(g.keys.membership_key.as_bytes(), &tbm).unwrap());
}

/// Re-signs a message of a non-member sender whose signature covers the
/// group context (an external commit), leaving it without membership tag.
fn resign(m: &mut PublicMessage, signer: &SignaturePrivateKey, g: &Group) {
    let tbs = m.to_be_signed(Some(&g.context)).unwrap();
    m.auth.signature = sign_with_label(&*g.cs, signer, b"FramedContentTBS", &tbs).unwrap();
}

fn public(msg: &MlsMessage) -> PublicMessage {
    match msg {
        MlsMessage::PublicMessage(m) => m.clone(),
        other => panic!("not a PublicMessage: {other:?}"),
    }
}

fn commit_of(m: &mut PublicMessage) -> &mut Commit {
    match &mut m.content.content {
        FramedContentBody::Commit(c) => c,
        _ => panic!("not a commit"),
    }
}

/// A fresh commit of Bob's (force_path), dropped from his pending state.
fn bob_commit(
    bob: &mut Group,
    options: CommitOptions,
    psks: &HashMap<Vec<u8>, Secret>,
) -> PublicMessage {
    public(&bob_commit_message(bob, options, psks))
}

/// A fresh commit of Bob's as sent, dropped from his pending state.
fn bob_commit_message(
    bob: &mut Group,
    options: CommitOptions,
    psks: &HashMap<Vec<u8>, Secret>,
) -> MlsMessage {
    let out = bob.commit(options, psks, Some(NOW)).unwrap();
    bob.discard_pending_commit();
    out.commit
}

fn private(msg: &MlsMessage) -> PrivateMessage {
    match msg {
        MlsMessage::PrivateMessage(m) => m.clone(),
        other => panic!("not a PrivateMessage: {other:?}"),
    }
}

const PSK_ID: &[u8] = b"shared";

/// A store with the external PSK Bob uses and Alice lacks.
fn psk_store() -> HashMap<Vec<u8>, Secret> {
    [(PSK_ID.to_vec(), Secret::from(vec![9; 32]))]
        .into_iter()
        .collect()
}

fn psk_id() -> PreSharedKeyId {
    PreSharedKeyId {
        psk: Psk::External {
            psk_id: PSK_ID.to_vec(),
        },
        psk_nonce: vec![1; 32],
    }
}

/// A commit of only a PreSharedKey proposal, with a path.
fn psk_commit() -> CommitOptions {
    let psk = Proposal::PreSharedKey(PreSharedKey { psk: psk_id() });
    CommitOptions {
        proposals: vec![psk],
        include_pending: false,
        force_path: true,
        ..Default::default()
    }
}

fn path_commit() -> CommitOptions {
    CommitOptions {
        force_path: true,
        ..Default::default()
    }
}

/// Cases of invalid messages for Alice, each with a check of the error.
type Case = (&'static str, MlsMessage, fn(&Error) -> bool);

fn invalid_messages(w: &mut World) -> Vec<Case> {
    let no_psks = HashMap::new();
    let bob_signer = w.bob.signer.clone();

    // PrivateMessages: application data Alice already received (a replay),
    // tampered ones, and commits sent as PrivateMessage.
    let received = w.bob.encrypt_application(b"once", b"").unwrap();
    expect_application(&mut w.alice, &received, b"once");
    let app = private(&w.bob.encrypt_application(b"data", b"ad").unwrap());
    w.bob.config.handshake_format = super::HandshakeFormat::Private;
    let private_commit = private(&bob_commit_message(&mut w.bob, path_commit(), &no_psks));
    let private_psk_commit = private(&bob_commit_message(&mut w.bob, psk_commit(), &psk_store()));
    w.bob.config.handshake_format = super::HandshakeFormat::Public;

    // External commits by Dave, from Alice's GroupInfo.
    let dave = identity(&w.provider, "dave");
    let external = |options: ExternalJoinOptions, psks: &HashMap<Vec<u8>, Secret>| {
        let MlsMessage::GroupInfo(gi) = w.alice.group_info(true).unwrap() else {
            panic!("not a GroupInfo")
        };
        let (_, commit) = Group::join_external(
            &w.provider,
            GroupConfig::default(),
            &gi,
            &dave,
            options,
            psks,
            Some(NOW),
        )
        .unwrap();
        public(&commit)
    };
    let external_commit = external(ExternalJoinOptions::default(), &no_psks);
    let external_psk_commit = external(
        ExternalJoinOptions {
            psks: vec![psk_id()],
            ..Default::default()
        },
        &psk_store(),
    );

    let alice = &w.alice;
    let mut cases: Vec<Case> = Vec::new();
    let mut private_cases: Vec<Case> = Vec::new();
    let mut add = |name, m: PublicMessage, check: fn(&Error) -> bool| {
        cases.push((name, MlsMessage::PublicMessage(m), check));
    };
    let mut add_private = |name, m: PrivateMessage, check: fn(&Error) -> bool| {
        private_cases.push((name, MlsMessage::PrivateMessage(m), check));
    };

    let good = bob_commit(&mut w.bob, path_commit(), &no_psks);

    let mut m = good.clone();
    let last = m.auth.signature.len() - 1;
    m.auth.signature[last] ^= 1;
    reauth(&mut m, None, alice);
    add("flipped signature byte", m, |e| {
        matches!(e, Error::Crypto(CryptoError::InvalidSignature))
    });

    let mut m = good.clone();
    if let Some(t) = &mut m.membership_tag {
        let mut b = t.as_bytes().to_vec();
        b[0] ^= 1;
        *t = b.into();
    }
    add("bad membership tag", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::InvalidMembershipTag))
    });

    let mut m = good.clone();
    m.membership_tag = None;
    add("no membership tag", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::InvalidMembershipTag))
    });

    let mut m = good.clone();
    m.content.epoch -= 1;
    add("previous epoch", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::WrongEpoch { .. }))
    });

    let mut m = good.clone();
    m.content.epoch += 1;
    add("next epoch", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::WrongEpoch { .. }))
    });

    let mut m = good.clone();
    m.content.group_id = b"other".to_vec();
    add("other group", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::WrongGroup))
    });

    let mut m = good.clone();
    m.content.sender = crate::messages::Sender::Member(7);
    add("sender not a member", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::SenderNotMember(7)))
    });

    let mut m = good.clone();
    if let Some(t) = &mut m.auth.confirmation_tag {
        let mut b = t.as_bytes().to_vec();
        b[0] ^= 1;
        *t = b.into();
    }
    reauth(&mut m, None, alice);
    add("confirmation tag mismatch", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::ConfirmationTagMismatch))
    });

    let mut m = good.clone();
    for node in &mut commit_of(&mut m).path.as_mut().unwrap().nodes {
        let flipped = node.encrypted_path_secret.iter().map(|mut ct| {
            let last = ct.ciphertext.len() - 1;
            ct.ciphertext[last] ^= 1;
            ct
        });
        node.encrypted_path_secret = EncryptedPathSecrets::try_from_iter(flipped).unwrap();
    }
    reauth(&mut m, Some(&bob_signer), alice);
    add("corrupt path ciphertext", m, |e| {
        matches!(e, Error::Crypto(_))
    });

    let mut m = good.clone();
    commit_of(&mut m).proposals = vec![ProposalOrRef::Proposal(Box::new(Proposal::Remove(
        Remove { removed: 3 },
    )))];
    reauth(&mut m, Some(&bob_signer), alice);
    add("remove of a blank leaf", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::RemoveOfBlankLeaf(3)))
    });

    let mut m = good.clone();
    commit_of(&mut m).path = None;
    commit_of(&mut m).proposals = vec![];
    reauth(&mut m, Some(&bob_signer), alice);
    add("empty commit without path", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::PathRequired))
    });

    let mut m = external_commit.clone();
    m.auth.signature[0] ^= 1;
    add("external commit with flipped signature byte", m, |e| {
        matches!(e, Error::Crypto(CryptoError::InvalidSignature))
    });
    // Another kem_output gives another init secret: found out by the
    // confirmation tag, after the path is decrypted.
    let mut m = external_commit;
    for p in &mut commit_of(&mut m).proposals {
        if let ProposalOrRef::Proposal(p) = p
            && let Proposal::ExternalInit(e) = &mut **p
        {
            e.kem_output[0] ^= 1;
        }
    }
    resign(&mut m, dave.signer(), alice);
    add("external commit with another kem_output", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::ConfirmationTagMismatch))
    });
    add(
        "external commit with an unknown PSK",
        external_psk_commit,
        |e| matches!(e, Error::Protocol(ProtocolError::PskNotFound)),
    );

    // A proposal Alice never received, committed by reference.
    let p = w
        .carol
        .propose(Proposal::Remove(Remove { removed: 0 }))
        .unwrap();
    receive_proposal(&mut w.bob, &p);
    let m = bob_commit(&mut w.bob, CommitOptions::default(), &no_psks);
    assert!(matches!(
        commit_of(&mut m.clone()).proposals[..],
        [ProposalOrRef::Reference(_)]
    ));
    add("unknown proposal reference", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::UnknownProposalReference))
    });

    // An external PSK that Bob has and Alice lacks: fails after the path
    // is decrypted, just before the key schedule.
    let m = bob_commit(&mut w.bob, psk_commit(), &psk_store());
    add("unknown PSK", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::PskNotFound))
    });

    // A proposal with a bad signature.
    let mut m = public(
        &w.carol
            .propose(Proposal::Remove(Remove { removed: 1 }))
            .unwrap(),
    );
    m.auth.signature[0] ^= 1;
    reauth(&mut m, None, alice);
    add("proposal with flipped signature byte", m, |e| {
        matches!(e, Error::Crypto(CryptoError::InvalidSignature))
    });

    cases.push(("replayed application message", received, |e| {
        matches!(e, Error::Protocol(ProtocolError::KeyAlreadyUsed(0)))
    }));
    let mut m = app.clone();
    let last = m.ciphertext.len() - 1;
    m.ciphertext[last] ^= 1;
    add_private("application message with flipped ciphertext byte", m, |e| {
        matches!(e, Error::Crypto(CryptoError::AeadOpenFailed))
    });
    let mut m = app.clone();
    m.authenticated_data = b"other".to_vec();
    add_private(
        "application message with other authenticated data",
        m,
        |e| matches!(e, Error::Crypto(CryptoError::AeadOpenFailed)),
    );
    let mut m = app.clone();
    m.encrypted_sender_data[0] ^= 1;
    add_private(
        "application message with flipped sender data byte",
        m,
        |e| matches!(e, Error::Protocol(ProtocolError::SenderDataInvalid)),
    );
    let mut m = app.clone();
    m.epoch = 1;
    add_private("application message claiming a past epoch", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::SenderDataInvalid))
    });
    let mut m = app.clone();
    m.epoch = 99;
    add_private("application message of a future epoch", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::WrongEpoch { .. }))
    });
    let mut m = app.clone();
    m.group_id = b"other".to_vec();
    add_private("application message of another group", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::WrongGroup))
    });
    let mut m = private_commit.clone();
    let last = m.ciphertext.len() - 1;
    m.ciphertext[last] ^= 1;
    add_private("private commit with flipped ciphertext byte", m, |e| {
        matches!(e, Error::Crypto(CryptoError::AeadOpenFailed))
    });
    let mut m = private_commit;
    m.content_type = crate::messages::ContentType::Proposal;
    // The content type is in the sender data's AAD (RFC 9420 §6.3.2).
    add_private("private commit claiming to be a proposal", m, |e| {
        matches!(e, Error::Protocol(ProtocolError::SenderDataInvalid))
    });
    // Decrypts and verifies (a handshake key is used), then fails late.
    add_private(
        "private commit with an unknown PSK",
        private_psk_commit,
        |e| matches!(e, Error::Protocol(ProtocolError::PskNotFound)),
    );
    cases.extend(private_cases);

    // Other wire formats.
    let welcome = MlsMessage::Welcome(crate::messages::Welcome {
        cipher_suite: SUITE,
        secrets: vec![],
        encrypted_group_info: vec![],
    });
    cases.push(("welcome", welcome, |e| {
        matches!(e, Error::Protocol(ProtocolError::UnsupportedWireFormat(_)))
    }));
    cases
}

fn check_unchanged(g: &mut Group, cases: &[Case]) {
    for (name, msg, check) in cases {
        let before = saved(g);
        let err = match g.process_message(msg, &(), Some(NOW)) {
            Ok(r) => panic!("{name}: accepted: {r:?}"),
            Err(e) => e,
        };
        assert!(check(&err), "{name}: unexpected error {err:?}");
        assert!(saved(g) == before, "{name}: state changed");
    }
}

#[test]
fn failed_process_leaves_state_unchanged() {
    let mut w = world(6);
    // Alice holds a cached proposal and has used her secret tree.
    let p = w
        .carol
        .propose(Proposal::Remove(Remove { removed: 1 }))
        .unwrap();
    receive_proposal(&mut w.alice, &p);
    receive_proposal(&mut w.bob, &p);
    use_secret_tree(&mut w.alice);
    let cases = invalid_messages(&mut w);
    check_unchanged(&mut w.alice, &cases);

    // The same with a commit of Alice's pending: it stays pending.
    let own = w.alice.commit(path_commit(), &(), Some(NOW)).unwrap();
    check_unchanged(&mut w.alice, &cases);
    assert!(w.alice.has_pending_commit());

    // Alice's own commit after she discarded it.
    w.alice.discard_pending_commit();
    check_unchanged(
        &mut w.alice,
        &[("own commit not pending", own.commit, |e| {
            matches!(e, Error::Protocol(ProtocolError::OwnCommitNotPending))
        })],
    );

    // A truncated message never reaches the group: decoding it fails.
    let bytes = cases[0].1.to_bytes().unwrap();
    for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        assert!(MlsMessage::decode_exact(&bytes[..cut]).is_err());
    }

    // After all that, Alice still follows Bob's next commit.
    let options = CommitOptions {
        include_pending: false,
        ..path_commit()
    };
    let out = w.bob.commit(options, &(), Some(NOW)).unwrap();
    w.bob.merge_pending_commit().unwrap();
    apply(&mut w.alice, &out.commit);
    assert_eq!(w.alice.epoch_authenticator(), w.bob.epoch_authenticator());
}

#[test]
fn key_package_private_round_trip_and_errors() {
    let provider = RustCryptoProvider::with_seed([8; 32]);
    let cs = provider.cipher_suite_provider(SUITE).unwrap();
    let id = identity(&provider, "kp");
    let (_, private) = generate_key_package(&*cs, &id, opts()).unwrap();
    let bytes = private.to_bytes().unwrap();
    let back = super::super::KeyPackagePrivate::from_bytes(&bytes).unwrap();
    assert_eq!(back, private);
    assert_eq!(back.to_bytes().unwrap(), bytes);
    let mut other = bytes.clone();
    other[0] = 2;
    assert_eq!(
        super::super::KeyPackagePrivate::from_bytes(&other),
        Err(DecodeError::InvalidValue(
            "KeyPackagePrivate format version"
        ))
    );
    for cut in 0..bytes.len() {
        assert!(super::super::KeyPackagePrivate::from_bytes(&bytes[..cut]).is_err());
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        super::super::KeyPackagePrivate::from_bytes(&longer),
        Err(DecodeError::TrailingBytes(1))
    );
}
