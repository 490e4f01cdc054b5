//! Issue 11, items 8 and 9: what the secret tree keeps and changes.
//!
//! * Item 8: a PrivateMessage changes the secret tree only once the whole
//!   message is accepted (a staged update, applied on success); a refused
//!   one leaves the group byte for byte as it was; the secret tree bounds of
//!   the config are themselves bounded.

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
    SecretTree::read_state(&mut Reader::new(&out)).unwrap()
}

/// Application data from `from`'s leaf, signed with `signer`, sealed with a
/// copy of `from`'s secret tree: the next generation `from` would use, and
/// `from` does not move.
fn private_application(from: &Group, signer: &SignaturePrivateKey, data: &[u8]) -> MlsMessage {
    let content = FramedContent {
        group_id: from.context.group_id.clone(),
        epoch: from.context.epoch,
        sender: Sender::Member(from.own_leaf.0),
        authenticated_data: Vec::new(),
        content: FramedContentBody::Application(data.to_vec()),
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
