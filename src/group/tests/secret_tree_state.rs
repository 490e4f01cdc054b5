//! Issue 11, items 8 and 9: what the secret tree keeps and changes.
//!
//! * Item 8: a PrivateMessage changes the secret tree only once the whole
//!   message is accepted (a staged update, applied on success); a refused
//!   one leaves the group byte for byte as it was; the secret tree bounds of
//!   the config are themselves bounded.
//! * Item 9: when an epoch ends, its secret tree keeps only what late
//!   application messages can use, in memory and in the saved state.

use super::*;
use crate::codec::Reader;
use crate::crypto::SignaturePrivateKey;
use crate::error::{ApiError, CryptoError, DecodeError};
use crate::framing::PaddingPolicy;
use crate::messages::{FramedContent, FramedContentBody, Sender, WireFormat};
use crate::secret_tree::{SecretTree, SecretTreeConfig};

/// A copy of a secret tree (through its saved state).
fn copy(t: &SecretTree) -> SecretTree {
    let mut out = Vec::new();
    t.write_state(&mut out).unwrap();
    SecretTree::read_state(&mut Reader::new(&out), t.is_retired()).unwrap()
}

/// Application data from `from`'s leaf, signed with `signer`, sealed with a
/// copy of `from`'s secret tree: the next generation `from` would use, and
/// `from` does not move.
fn private_application(from: &Group, signer: &SignaturePrivateKey, data: &[u8]) -> MlsMessage {
    private_message(from, signer, FramedContentBody::Application(data.to_vec()))
}

/// `body` from `from`'s leaf as a PrivateMessage, as [`private_application`].
fn private_message(
    from: &Group,
    signer: &SignaturePrivateKey,
    body: FramedContentBody,
) -> MlsMessage {
    let content = FramedContent {
        group_id: from.context.group_id.clone(),
        epoch: from.context.epoch,
        sender: Sender::Member(from.own_leaf.0),
        authenticated_data: Vec::new(),
        content: body,
    };
    let auth = crate::framing::sign_content(
        &*from.cs,
        WireFormat::PRIVATE_MESSAGE,
        content,
        Some(&from.context),
        signer,
        None,
    )
    .unwrap();
    let m = crate::framing::private::protect(
        &*from.cs,
        &auth,
        &mut copy(&from.keys.secret_tree),
        &from.keys.sender_data_secret,
        PaddingPolicy::None,
    )
    .unwrap();
    MlsMessage::PrivateMessage(m)
}

#[test]
fn item8_refused_private_message_leaves_the_group_unchanged() {
    let mut fx = Fixture::new(120);
    // Alice's next application message, signed by Carol: it decrypts, then
    // fails its signature.
    let forged = private_application(&fx.groups[ALICE], fx.ids[CAROL].signer(), b"forged");
    let before = fx.groups[BOB].to_bytes().unwrap();
    assert_eq!(
        deliver(&mut fx.groups[BOB], &forged, &()).unwrap_err(),
        CryptoError::InvalidSignature.into()
    );
    assert_eq!(fx.groups[BOB].to_bytes().unwrap(), before);
    // The genuine message of the same generation still decrypts.
    let genuine = fx.groups[ALICE].encrypt_application(b"hi", &[]).unwrap();
    match deliver(&mut fx.groups[BOB], &genuine, &()).unwrap() {
        ProcessedMessage::Application { data, .. } => assert_eq!(data, b"hi"),
        other => panic!("{other:?}"),
    }
    // And its key is gone now.
    assert!(deliver(&mut fx.groups[BOB], &genuine, &()).is_err());
    assert_ne!(fx.groups[BOB].to_bytes().unwrap(), before);
}

#[test]
fn item8_group_config_bounds_validated() {
    let provider = RustCryptoProvider::with_seed([121; 32]);
    let cs = provider.cipher_suite_provider(SUITE).unwrap();
    let alice = Identity::generate(&*cs, Credential::basic("alice")).unwrap();
    let mut config = GroupConfig::default();
    config.secret_tree.max_forward_distance = SecretTreeConfig::MAX_FORWARD_DISTANCE + 1;
    let create = |config: GroupConfig| {
        Group::create(
            &provider,
            config,
            SUITE,
            b"g".to_vec(),
            &alice,
            kp_options(false),
            vec![],
        )
    };
    let expected = ApiError::ConfigOutOfRange {
        field: "SecretTreeConfig.max_forward_distance",
        value: u64::from(SecretTreeConfig::MAX_FORWARD_DISTANCE) + 1,
        min: 0,
        max: SecretTreeConfig::MAX_FORWARD_DISTANCE.into(),
    };
    assert_eq!(create(config.clone()).unwrap_err(), expected.clone().into());
    // A saved state with such a config is refused too.
    let mut g = create(GroupConfig::default()).unwrap();
    g.config = config;
    assert_eq!(
        Group::from_bytes(&provider, g.to_bytes().unwrap().as_bytes()).unwrap_err(),
        DecodeError::InvalidValue("config: value out of range").into()
    );
    // Joining with it is refused before anything else.
    let mut fx = Fixture::new(122);
    let (dave, kp, private) = fx.new_client("dave");
    let out = fx.groups[ALICE]
        .commit(
            CommitOptions {
                proposals: vec![add(&kp)],
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    let mut config = GroupConfig::default();
    config.secret_tree.max_retained_keys = SecretTreeConfig::MAX_RETAINED_KEYS + 1;
    let err = Group::join(
        &fx.provider,
        config,
        &welcome_of(&out.welcome.unwrap()),
        JoinInput {
            key_package: &kp,
            key_package_private: &private,
            signer: dave.signer().clone(),
            ratchet_tree: None,
            psk_store: &(),
            now: Some(NOW),
        },
    )
    .unwrap_err();
    assert!(matches!(
        err,
        Error::Api(ApiError::ConfigOutOfRange {
            field: "SecretTreeConfig.max_retained_keys",
            ..
        })
    ));
}

#[test]
fn item9_past_epoch_keeps_only_application_keys() {
    let mut fx = Fixture::new(123);
    // Epoch 2: Alice sends twice (Bob reads the first), Bob sends, Carol
    // does not. Alice also sends a proposal as a PrivateMessage, which Bob
    // has not read when the epoch ends.
    let first = fx.groups[ALICE].encrypt_application(b"1", &[]).unwrap();
    let late_alice = fx.groups[ALICE].encrypt_application(b"2", &[]).unwrap();
    let late_carol = fx.groups[CAROL].encrypt_application(b"3", &[]).unwrap();
    let late_proposal = private_message(
        &fx.groups[ALICE],
        fx.ids[ALICE].signer(),
        FramedContentBody::Proposal(crate::messages::Proposal::Remove(crate::messages::Remove {
            removed: CAROL as u32,
        })),
    );
    deliver(&mut fx.groups[BOB], &first, &()).unwrap();
    fx.groups[BOB].encrypt_application(b"bob", &[]).unwrap();
    let unretired = copy(&fx.groups[BOB].keys.secret_tree);
    fx.valid_commit(CAROL);

    let bob = &fx.groups[BOB];
    let past = bob.past_epochs.back().unwrap();
    assert_eq!(past.epoch, 2);
    let st = &past.secret_tree;
    assert!(st.is_retired());
    // Nothing of Bob's own leaf, no handshake keys. (Leaf 3 is blank: the
    // secret of node 5, over Carol and leaf 3, is kept for Carol.)
    let mut other = copy(st);
    for (leaf, kind) in [
        (ALICE, crate::secret_tree::RatchetKind::Handshake),
        (CAROL, crate::secret_tree::RatchetKind::Handshake),
        (BOB, crate::secret_tree::RatchetKind::Application),
    ] {
        assert_eq!(
            other
                .key(&*fx.cs, crate::tree_math::LeafIndex(leaf as u32), kind, 0)
                .unwrap_err(),
            crate::error::ProtocolError::KeyAlreadyUsed(0).into(),
            "leaf {leaf} {kind:?}"
        );
    }
    // Smaller than the epoch's tree was.
    let size = |t: &SecretTree| {
        let mut out = Vec::new();
        t.write_state(&mut out).unwrap();
        out.len()
    };
    assert!(
        size(st) < size(&unretired),
        "{} >= {}",
        size(st),
        size(&unretired)
    );

    // A late handshake message of the past epoch is refused, changing nothing.
    let before = fx.groups[BOB].to_bytes().unwrap();
    assert_eq!(
        deliver(&mut fx.groups[BOB], &late_proposal, &()).unwrap_err(),
        crate::error::ProtocolError::WrongEpoch {
            message: 2,
            current: 3
        }
        .into()
    );
    assert_eq!(fx.groups[BOB].to_bytes().unwrap(), before);

    // Saved and restored: the same bytes, the same past epoch.
    let restored = Group::from_bytes(&fx.provider, before.as_bytes()).unwrap();
    assert_eq!(restored.to_bytes().unwrap(), before);

    // Late application messages still decrypt: Alice's next one, and
    // Carol's first (her leaf's secret comes from the node secrets kept).
    for (m, want) in [(&late_alice, b"2"), (&late_carol, b"3")] {
        match deliver(&mut fx.groups[BOB], m, &()).unwrap() {
            ProcessedMessage::Application { data, .. } => assert_eq!(data, want),
            other => panic!("{other:?}"),
        }
    }
    let st = &fx.groups[BOB].past_epochs.back().unwrap().secret_tree;
    let mut after = copy(st);
    after.retire(|r| r.contains(&(ALICE as u32)) || r.contains(&(CAROL as u32)));
    assert_eq!(size(&after), size(st), "no unusable secret kept after use");

    // A state saved by an older build (the whole tree kept for the past
    // epoch) is reduced when read.
    let mut old = Group::from_bytes(&fx.provider, before.as_bytes()).unwrap();
    old.past_epochs.back_mut().unwrap().secret_tree = unretired;
    let old_bytes = old.to_bytes().unwrap();
    assert_ne!(old_bytes, before);
    let read = Group::from_bytes(&fx.provider, old_bytes.as_bytes()).unwrap();
    assert_eq!(read.to_bytes().unwrap(), before);
}
