//! RFC 9420 §12.4.3.1 (joining via Welcome): each test spoils one part of a
//! genuine Welcome (re-encrypting and, where the rule is not the signature,
//! re-signing as the committer), then checks that the genuine Welcome still
//! joins with the same KeyPackage.

use super::*;
use crate::crypto::labeled::{decrypt_with_label, encrypt_with_label};
use crate::crypto::{SignaturePrivateKey, Tag};
use crate::error::{CryptoError, ProtocolError};
use crate::group::join::resolve_psks;
use crate::key_schedule::JoinerSecret;
use crate::messages::{
    EncryptedGroupSecrets, GroupInfo, GroupSecrets, Node, PathSecret, PreSharedKeyId, Psk,
    RatchetTreeExtension,
};
use crate::tree::RatchetTree;

/// Dave, added by Alice with a path; the Welcome carries the tree unless
/// `tree_in_welcome` is false, then `tree` is the one to hand him.
struct Joining {
    fx: Fixture,
    dave: Identity,
    kp: (KeyPackage, KeyPackagePrivate),
    welcome: Welcome,
    tree: Option<RatchetTreeExtension>,
    /// The tree of the epoch before, without Dave.
    previous_tree: RatchetTreeExtension,
}

fn joining(seed: u8, tree_in_welcome: bool) -> Joining {
    let mut fx = Fixture::new(seed);
    let (dave, kp, private) = fx.new_client("dave");
    let previous_tree = fx.groups[ALICE].tree.to_extension();
    let out = fx.groups[ALICE]
        .commit(
            CommitOptions {
                proposals: vec![add(&kp)],
                force_path: true,
                ratchet_tree_in_welcome: tree_in_welcome,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    fx.groups[ALICE].merge_pending_commit().unwrap();
    Joining {
        welcome: welcome_of(&out.welcome.unwrap()),
        tree: out.ratchet_tree.filter(|_| !tree_in_welcome),
        fx,
        dave,
        kp: (kp, private),
        previous_tree,
    }
}

impl Joining {
    fn signer(&self, member: usize) -> &SignaturePrivateKey {
        self.fx.ids[member].signer()
    }

    /// Dave joins with `welcome` (and `tree` out of band), which must fail
    /// with `expected`; then the genuine Welcome must still work.
    fn assert_rejected(
        &self,
        welcome: &Welcome,
        tree: Option<RatchetTreeExtension>,
        expected: impl Into<Error>,
    ) {
        let err = join(&self.fx.provider, welcome, &self.kp, &self.dave, tree, &()).unwrap_err();
        assert_eq!(err, expected.into());
        let dave = join(
            &self.fx.provider,
            &self.welcome,
            &self.kp,
            &self.dave,
            self.tree.clone(),
            &(),
        )
        .unwrap();
        assert_eq!(
            dave.epoch_authenticator(),
            self.fx.groups[ALICE].epoch_authenticator()
        );
    }

    /// The Welcome with Dave's GroupSecrets and the GroupInfo changed by
    /// `edit`, the GroupInfo signed again by `resign` if given, encrypted
    /// again with the genuine welcome key, then its ciphertext changed by
    /// `edit_ciphertext`; the GroupSecrets are encrypted to Dave again with
    /// the final ciphertext as context.
    fn rewrap(
        &self,
        edit: impl FnOnce(&mut GroupSecrets, &mut GroupInfo),
        resign: Option<&SignaturePrivateKey>,
        edit_ciphertext: impl FnOnce(&mut Vec<u8>),
    ) -> Welcome {
        let cs = &*self.fx.cs;
        let reference = self.kp.0.reference(cs).unwrap();
        let entry = self
            .welcome
            .secrets
            .iter()
            .find(|s| s.new_member == reference)
            .unwrap();
        let plaintext = decrypt_with_label(
            cs,
            &self.kp.1.init_key,
            b"Welcome",
            &self.welcome.encrypted_group_info,
            &entry.encrypted_group_secrets,
        )
        .unwrap();
        let mut secrets = GroupSecrets::decode_exact(&plaintext).unwrap();
        let psk = resolve_psks(cs, &secrets.psks, &(), &|_| None).unwrap();
        let kn = JoinerSecret::from_secret(secrets.joiner_secret.clone())
            .into_intermediate(cs, psk)
            .unwrap()
            .welcome_secret(cs)
            .unwrap()
            .key_and_nonce(cs)
            .unwrap();
        let (key, nonce) = (kn.key.as_bytes(), kn.nonce.as_bytes());
        let info = cs
            .aead_open(key, nonce, &[], &self.welcome.encrypted_group_info)
            .unwrap();
        let mut info = GroupInfo::decode_exact(&info).unwrap();
        edit(&mut secrets, &mut info);
        if let Some(signer) = resign {
            info.sign(cs, signer).unwrap();
        }
        let mut encrypted_group_info = cs
            .aead_seal(key, nonce, &[], &info.to_bytes().unwrap())
            .unwrap();
        edit_ciphertext(&mut encrypted_group_info);
        let encrypted_group_secrets = encrypt_with_label(
            cs,
            &self.kp.0.init_key,
            b"Welcome",
            &encrypted_group_info,
            &secrets.to_bytes().unwrap(),
        )
        .unwrap();
        Welcome {
            cipher_suite: self.welcome.cipher_suite,
            secrets: vec![EncryptedGroupSecrets {
                new_member: reference,
                encrypted_group_secrets,
            }],
            encrypted_group_info,
        }
    }

    /// [`Joining::rewrap`] of the GroupInfo only, signed again by Alice.
    fn with_group_info(&self, edit: impl FnOnce(&mut GroupInfo)) -> Welcome {
        self.rewrap(|_, gi| edit(gi), Some(self.signer(ALICE)), |_| {})
    }
}

#[test]
fn a_rewrapped_welcome_without_changes_is_valid() {
    // The control for every test here.
    let j = joining(100, true);
    let w = j.with_group_info(|_| {});
    let dave = join(&j.fx.provider, &w, &j.kp, &j.dave, None, &()).unwrap();
    assert_eq!(
        dave.epoch_authenticator(),
        j.fx.groups[ALICE].epoch_authenticator()
    );
}

#[test]
fn welcome_for_another_key_package() {
    // "If no such field exists ... return an error."
    let j = joining(101, true);
    let other = generate_key_package(&*j.fx.cs, &j.dave, kp_options(false)).unwrap();
    let err = join(&j.fx.provider, &j.welcome, &other, &j.dave, None, &()).unwrap_err();
    assert_eq!(err, ProtocolError::WelcomeNotForUs.into());
    // The genuine KeyPackage still joins.
    join(&j.fx.provider, &j.welcome, &j.kp, &j.dave, None, &()).unwrap();
}

#[test]
fn welcome_of_another_cipher_suite() {
    // "... or if the cipher suite indicated in the KeyPackage does not match
    // the one in the Welcome message, return an error."
    let j = joining(102, true);
    let mut w = j.welcome.clone();
    w.cipher_suite = CipherSuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519;
    j.assert_rejected(&w, None, ProtocolError::WelcomeCipherSuiteMismatch);
}

#[test]
fn group_info_of_another_cipher_suite() {
    // "Verify that the cipher_suite in the GroupInfo matches the cipher_suite
    // in the KeyPackage."
    let j = joining(103, true);
    let w = j.with_group_info(|gi| {
        gi.group_context.cipher_suite =
            CipherSuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_ED25519
    });
    j.assert_rejected(&w, None, ProtocolError::WelcomeCipherSuiteMismatch);
}

#[test]
fn group_info_that_does_not_decrypt() {
    let j = joining(104, true);
    let w = j.rewrap(|_, _| {}, None, |c| c[3] ^= 1);
    j.assert_rejected(&w, None, ProtocolError::GroupInfoDecryptFailed);
}

#[test]
fn welcome_naming_a_psk_the_joiner_does_not_have() {
    // "If a PreSharedKeyID is part of the GroupSecrets and the client is not
    // in possession of the corresponding PSK, return an error."
    let j = joining(105, true);
    let w = j.rewrap(
        |gs, _| {
            gs.psks.push(PreSharedKeyId {
                psk: Psk::External {
                    psk_id: b"unknown".to_vec(),
                },
                psk_nonce: vec![1; 32],
            })
        },
        None,
        |_| {},
    );
    j.assert_rejected(&w, None, ProtocolError::PskNotFound);
}

#[test]
fn group_info_signed_by_another_member() {
    // "Verify the signature on the GroupInfo object ... The public key is
    // taken from the LeafNode of the ratchet tree with leaf index signer."
    // Bob signs a GroupInfo that names Alice as its signer.
    let j = joining(106, true);
    let w = j.rewrap(|_, _| {}, Some(j.signer(BOB)), |_| {});
    j.assert_rejected(&w, None, CryptoError::InvalidSignature);
}

#[test]
fn group_info_signer_that_is_not_a_member() {
    // "If the node is blank ... return an error."
    let j = joining(107, true);
    let w = j.with_group_info(|gi| gi.signer = 7);
    j.assert_rejected(&w, None, ProtocolError::GroupInfoSignerNotMember(7));
}

#[test]
fn no_ratchet_tree_anywhere() {
    // "the client MUST download the tree before processing the Welcome".
    let j = joining(108, false);
    j.assert_rejected(&j.welcome, None, ProtocolError::RatchetTreeMissing);
}

#[test]
fn tampered_ratchet_tree_out_of_band() {
    // "Verify that the tree hash of the ratchet tree matches the tree_hash
    // field in GroupInfo." The tree from the delivery service has another
    // key at the root.
    let j = joining(109, false);
    let mut tree = j.tree.clone().unwrap();
    match tree.0[3].as_mut().map(std::sync::Arc::make_mut) {
        Some(Node::Parent(p)) => p.encryption_key = j.fx.cs.hpke_generate_key_pair().unwrap().1,
        other => panic!("root is {other:?}"),
    }
    j.assert_rejected(&j.welcome, Some(tree), ProtocolError::TreeHashMismatch);
}

#[test]
fn tree_without_the_joiner() {
    // "Identify a leaf whose LeafNode is identical to the one in the
    // KeyPackage. If no such field exists, return an error." Alice sends the
    // previous epoch's (valid) tree with its tree hash, signed.
    let j = joining(110, true);
    let w = j.with_group_info(|gi| {
        gi.group_context.tree_hash = RatchetTree::from_extension(SUITE, j.previous_tree.clone())
            .unwrap()
            .tree_hash(&*j.fx.cs)
            .unwrap();
        for e in &mut gi.extensions {
            if e.extension_type == ExtensionType::RATCHET_TREE {
                *e = Extension::from_typed(&j.previous_tree).unwrap();
            }
        }
    });
    j.assert_rejected(&w, None, ProtocolError::OwnLeafNotFound);
}

#[test]
fn path_secret_that_does_not_derive_the_trees_keys() {
    // "The private key MUST be the private key that corresponds to the public
    // key in the node." The common ancestor of Dave (leaf 3) and Alice is the
    // root, node 3.
    let j = joining(111, true);
    let w = j.rewrap(
        |gs, _| {
            gs.path_secret = Some(PathSecret {
                path_secret: crate::crypto::Secret::from(vec![0x33; 32]),
            })
        },
        None,
        |_| {},
    );
    j.assert_rejected(&w, None, ProtocolError::PathSecretPublicKeyMismatch(3));
}

#[test]
fn group_info_with_a_wrong_confirmation_tag() {
    // "Verify the confirmation tag in the GroupInfo using the derived
    // confirmation key and the confirmed_transcript_hash from the GroupInfo."
    let j = joining(112, true);
    let w = j.with_group_info(|gi| {
        let mut tag = gi.confirmation_tag.as_bytes().to_vec();
        tag[0] ^= 1;
        gi.confirmation_tag = Tag::from(tag);
    });
    j.assert_rejected(&w, None, ProtocolError::ConfirmationTagMismatch);
}

#[test]
fn group_context_extension_the_joiner_does_not_support() {
    // RFC 9420 §12.4.3: "Extensions in GroupInfo.group_context.extensions ...
    // MUST be supported by the new joiner." Dave does not support EXT.
    let j = joining(113, true);
    let w = j.with_group_info(|gi| {
        gi.group_context.extensions.push(Extension {
            extension_type: EXT,
            extension_data: Vec::new(),
        })
    });
    j.assert_rejected(
        &w,
        None,
        ProtocolError::UnsupportedGroupContextExtensions(3),
    );
}

#[test]
fn item10_welcome_group_info_with_duplicate_extensions_refused() {
    // RFC 9420 §13.4: "Any field containing a list of extensions MUST NOT
    // have more than one extension of any given type." GroupInfo.extensions
    // (outside the group context) with an unknown type twice, signed.
    let j = joining(114, true);
    let unknown = || Extension {
        extension_type: ExtensionType(0xff0a),
        extension_data: vec![1],
    };
    let w = j.with_group_info(|gi| {
        gi.extensions.push(unknown());
        gi.extensions.push(unknown());
    });
    j.assert_rejected(&w, None, ProtocolError::DuplicateExtension(0xff0a));
    // Once, it is ignored (§13.4: unknown GroupInfo extensions are ignored).
    let w = j.with_group_info(|gi| gi.extensions.push(unknown()));
    join(&j.fx.provider, &w, &j.kp, &j.dave, None, &()).unwrap();
}

#[test]
fn item10_unmerged_leaves_out_of_order_refused() {
    // RFC 9420 §7.1: "The entries in the unmerged_leaves vector MUST be
    // sorted in increasing order." The tree handed to Dave out of band lists
    // leaves 3 and 2 at the root, in that order.
    let j = joining(115, false);
    let mut tree = j.tree.clone().unwrap();
    match tree.0[3].as_mut().map(std::sync::Arc::make_mut) {
        Some(Node::Parent(p)) => p.unmerged_leaves = vec![3, 2],
        other => panic!("root is {other:?}"),
    }
    j.assert_rejected(
        &j.welcome,
        Some(tree.clone()),
        ProtocolError::UnmergedLeavesNotSorted { node: 3, leaf: 2 },
    );
    // The same entries in order pass this check (and fail the tree hash).
    match tree.0[3].as_mut().map(std::sync::Arc::make_mut) {
        Some(Node::Parent(p)) => p.unmerged_leaves = vec![2, 3],
        other => panic!("root is {other:?}"),
    }
    j.assert_rejected(&j.welcome, Some(tree), ProtocolError::TreeHashMismatch);
}
