//! Encrypting and decrypting Welcome messages (RFC 9420 §12.4.3.1), free of
//! group state: functions over the pieces.
//!
//! A new member:
//!
//! 1. [`open_group_secrets`] finds the entry for its KeyPackage and decrypts
//!    the [`GroupSecrets`] with the KeyPackage's init private key;
//! 2. resolves the PSKs the GroupSecrets name to a `psk_secret`
//!    ([`PskSecret::compute`], or [`PskSecret::zero`] if there are none);
//! 3. [`open_group_info`] derives the `welcome_secret` and decrypts the
//!    [`GroupInfo`], keeping the key schedule's intermediate secret for the
//!    epoch secret ([`IntermediateSecret::into_epoch_secret`] with the
//!    GroupInfo's GroupContext);
//! 4. verifies the GroupInfo signature with the signer's leaf key
//!    ([`GroupInfo::verify_signature`]) and, once it has the epoch's
//!    `confirmation_key`, the confirmation tag
//!    ([`crate::transcript::verify_confirmation_tag`] over the GroupContext's
//!    confirmed transcript hash).
//!
//! The committer: [`encrypt_group_info`] with the new epoch's
//! `welcome_secret`, then [`encrypt_group_secrets`] for each new member's
//! KeyPackage (or [`seal_welcome`] for both).

use zeroize::Zeroizing;

use crate::codec::{Decode, Encode};
use crate::crypto::labeled::{decrypt_with_label, encrypt_with_label, encrypt_with_label_many};
use crate::crypto::{CipherSuiteProvider, HpkePrivateKey, HpkePublicKey};
use crate::error::{ApiError, ProtocolError, Result};
use crate::key_schedule::{IntermediateSecret, JoinerSecret, WelcomeSecret};
use crate::messages::{EncryptedGroupSecrets, GroupInfo, GroupSecrets, KeyPackage, Welcome};
use crate::psk::PskSecret;

/// The label of the HPKE encryption of GroupSecrets (RFC 9420 §12.4.3.1).
const WELCOME_LABEL: &[u8] = b"Welcome";

/// Checks the suites agree (RFC 9420 §12.4.3.1): the Welcome's must be the
/// KeyPackage's ([`ProtocolError::WelcomeCipherSuiteMismatch`]), and `cs`
/// must be that suite (an [`ApiError`] otherwise).
fn check_suites(
    cs: &dyn CipherSuiteProvider,
    welcome: &Welcome,
    key_package: &KeyPackage,
) -> Result<()> {
    if welcome.cipher_suite != key_package.cipher_suite {
        return Err(ProtocolError::WelcomeCipherSuiteMismatch.into());
    }
    if cs.cipher_suite() != welcome.cipher_suite {
        return Err(ApiError::InvalidArgument("provider suite differs from the Welcome's").into());
    }
    Ok(())
}

/// The entry of `welcome.secrets` for `key_package` (RFC 9420 §12.4.3.1),
/// found by the KeyPackage's reference under the Welcome's suite.
///
/// Fails with [`ProtocolError::WelcomeCipherSuiteMismatch`] if the suites
/// differ, or [`ProtocolError::WelcomeNotForUs`] if there is no entry.
pub fn find_group_secrets<'a>(
    cs: &dyn CipherSuiteProvider,
    welcome: &'a Welcome,
    key_package: &KeyPackage,
) -> Result<&'a EncryptedGroupSecrets> {
    check_suites(cs, welcome, key_package)?;
    let reference = key_package.reference(cs)?;
    welcome
        .secrets
        .iter()
        .find(|s| s.new_member == reference)
        .ok_or_else(|| ProtocolError::WelcomeNotForUs.into())
}

/// `DecryptWithLabel(init_key_priv, "Welcome", encrypted_group_info, kem_output, ciphertext)`
/// and decodes the [`GroupSecrets`] (RFC 9420 §12.4.3.1). The plaintext is
/// wiped after decoding.
pub fn decrypt_group_secrets(
    cs: &dyn CipherSuiteProvider,
    init_private_key: &HpkePrivateKey,
    secrets: &EncryptedGroupSecrets,
    encrypted_group_info: &[u8],
) -> Result<GroupSecrets> {
    let plaintext = Zeroizing::new(decrypt_with_label(
        cs,
        init_private_key,
        WELCOME_LABEL,
        encrypted_group_info,
        &secrets.encrypted_group_secrets,
    )?);
    Ok(GroupSecrets::decode_exact(&plaintext)?)
}

/// Finds and decrypts our [`GroupSecrets`] in a Welcome: [`find_group_secrets`]
/// then [`decrypt_group_secrets`] with the init private key of `key_package`.
pub fn open_group_secrets(
    cs: &dyn CipherSuiteProvider,
    welcome: &Welcome,
    key_package: &KeyPackage,
    init_private_key: &HpkePrivateKey,
) -> Result<GroupSecrets> {
    let secrets = find_group_secrets(cs, welcome, key_package)?;
    decrypt_group_secrets(cs, init_private_key, secrets, &welcome.encrypted_group_info)
}

/// Decrypts and decodes the GroupInfo of a Welcome with the
/// `welcome_key` and `welcome_nonce` of `welcome_secret` and an empty AAD
/// (RFC 9420 §12.4.3.1). Fails with
/// [`ProtocolError::GroupInfoDecryptFailed`] under the wrong secret (a wrong
/// joiner secret or PSK). The signature is not checked here.
pub fn decrypt_group_info(
    cs: &dyn CipherSuiteProvider,
    welcome_secret: &WelcomeSecret,
    encrypted_group_info: &[u8],
) -> Result<GroupInfo> {
    let key = welcome_secret.key_and_nonce(cs)?;
    let plaintext = cs
        .aead_open(
            key.key.as_bytes(),
            key.nonce.as_bytes(),
            &[],
            encrypted_group_info,
        )
        .map_err(|_| ProtocolError::GroupInfoDecryptFailed)?;
    Ok(GroupInfo::decode_exact(&plaintext)?)
}

/// From the GroupSecrets' `joiner_secret` and the `psk_secret` of the PSKs
/// they name, derives the `welcome_secret` and decrypts the GroupInfo
/// (RFC 9420 §8, §12.4.3.1). Returns the GroupInfo and the key schedule's
/// intermediate secret, from which the epoch secret follows with the
/// GroupInfo's GroupContext.
pub fn open_group_info(
    cs: &dyn CipherSuiteProvider,
    joiner_secret: JoinerSecret,
    psk_secret: PskSecret,
    encrypted_group_info: &[u8],
) -> Result<(GroupInfo, IntermediateSecret)> {
    let intermediate = joiner_secret.into_intermediate(cs, psk_secret)?;
    let welcome_secret = intermediate.welcome_secret(cs)?;
    let group_info = decrypt_group_info(cs, &welcome_secret, encrypted_group_info)?;
    Ok((group_info, intermediate))
}

/// Encrypts a (signed) GroupInfo with the `welcome_key` and `welcome_nonce`
/// of the new epoch's `welcome_secret` (RFC 9420 §12.4.3.1).
pub fn encrypt_group_info(
    cs: &dyn CipherSuiteProvider,
    welcome_secret: &WelcomeSecret,
    group_info: &GroupInfo,
) -> Result<Vec<u8>> {
    let key = welcome_secret.key_and_nonce(cs)?;
    Ok(cs.aead_seal(
        key.key.as_bytes(),
        key.nonce.as_bytes(),
        &[],
        &group_info.to_bytes()?,
    )?)
}

/// `EncryptWithLabel(init_key, "Welcome", encrypted_group_info, group_secrets)`
/// for the new member of `key_package`, with its reference (RFC 9420 §12.4.3.1).
/// The encoded secrets are wiped after encryption.
pub fn encrypt_group_secrets(
    cs: &dyn CipherSuiteProvider,
    key_package: &KeyPackage,
    group_secrets: &GroupSecrets,
    encrypted_group_info: &[u8],
) -> Result<EncryptedGroupSecrets> {
    if key_package.cipher_suite != cs.cipher_suite() {
        return Err(
            ApiError::InvalidArgument("KeyPackage suite differs from the provider's").into(),
        );
    }
    let plaintext = Zeroizing::new(group_secrets.to_bytes()?);
    Ok(EncryptedGroupSecrets {
        new_member: key_package.reference(cs)?,
        encrypted_group_secrets: encrypt_with_label(
            cs,
            &key_package.init_key,
            WELCOME_LABEL,
            encrypted_group_info,
            &plaintext,
        )?,
    })
}

/// A Welcome for `new_members`, each with the GroupSecrets meant for it:
/// [`encrypt_group_info`] then [`encrypt_group_secrets`] for each (RFC 9420 §12.4.3.1).
pub fn seal_welcome<'a>(
    cs: &dyn CipherSuiteProvider,
    welcome_secret: &WelcomeSecret,
    group_info: &GroupInfo,
    new_members: impl IntoIterator<Item = (&'a KeyPackage, &'a GroupSecrets)>,
) -> Result<Welcome> {
    let encrypted_group_info = encrypt_group_info(cs, welcome_secret, group_info)?;
    let mut refs = Vec::new();
    let mut plaintexts = Vec::new();
    let mut keys = Vec::new();
    for (kp, gs) in new_members {
        if kp.cipher_suite != cs.cipher_suite() {
            return Err(
                ApiError::InvalidArgument("KeyPackage suite differs from the provider's").into(),
            );
        }
        refs.push(kp.reference(cs)?);
        plaintexts.push(Zeroizing::new(gs.to_bytes()?));
        keys.push(&kp.init_key);
    }
    let recipients: Vec<(&HpkePublicKey, &[u8])> = keys
        .iter()
        .zip(&plaintexts)
        .map(|(k, pt)| (*k, pt.as_slice()))
        .collect();
    // One EncryptContext (it holds the whole encrypted GroupInfo) for all.
    let ciphertexts =
        encrypt_with_label_many(cs, WELCOME_LABEL, &encrypted_group_info, &recipients)?;
    let secrets = refs
        .into_iter()
        .zip(ciphertexts)
        .map(
            |(new_member, encrypted_group_secrets)| EncryptedGroupSecrets {
                new_member,
                encrypted_group_secrets,
            },
        )
        .collect();
    Ok(Welcome {
        cipher_suite: cs.cipher_suite(),
        secrets,
        encrypted_group_info,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::crypto::{
        CipherSuite, CryptoProvider, HpkeCiphertext, RustCryptoProvider, Secret, SignaturePublicKey,
    };
    use crate::error::{CryptoError, Error};
    use crate::key_schedule::{InitSecret, KeySchedule};
    use crate::messages::{
        Capabilities, Credential, GroupContext, LeafNode, LeafNodeSource, Lifetime, PathSecret,
        ProtocolVersion,
    };
    use crate::transcript::{confirmation_tag, verify_confirmation_tag};

    fn cs() -> Arc<dyn CipherSuiteProvider> {
        RustCryptoProvider::with_seed([3; 32])
            .cipher_suite_provider(CipherSuite(1))
            .unwrap()
    }

    /// A KeyPackage with a real init key (the rest is not looked at here).
    fn key_package(cs: &dyn CipherSuiteProvider, name: &[u8]) -> (KeyPackage, HpkePrivateKey) {
        let (init_priv, init_key) = cs.hpke_generate_key_pair().unwrap();
        let kp = KeyPackage {
            version: ProtocolVersion::MLS10,
            cipher_suite: cs.cipher_suite(),
            init_key,
            leaf_node: LeafNode {
                encryption_key: cs.hpke_generate_key_pair().unwrap().1,
                signature_key: SignaturePublicKey(vec![0x22; 32]),
                credential: Credential::basic(name.to_vec()),
                capabilities: Capabilities::default(),
                leaf_node_source: LeafNodeSource::KeyPackage(Lifetime {
                    not_before: 0,
                    not_after: u64::MAX,
                }),
                extensions: vec![],
                signature: vec![0x33; 64],
            },
            extensions: vec![],
            signature: vec![0x55; 64],
        };
        (kp, init_priv)
    }

    struct Sent {
        welcome: Welcome,
        group_info: GroupInfo,
        schedule: KeySchedule,
        signer: SignaturePublicKey,
        members: Vec<(KeyPackage, HpkePrivateKey, GroupSecrets)>,
    }

    /// A committer's Welcome for two new members, with a signed GroupInfo
    /// whose confirmation tag is the epoch's.
    fn send(cs: &dyn CipherSuiteProvider) -> Sent {
        let context = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: cs.cipher_suite(),
            group_id: b"group".to_vec(),
            epoch: 5,
            tree_hash: vec![1; 32],
            confirmed_transcript_hash: vec![2; 32],
            extensions: vec![],
        };
        let schedule = KeySchedule::derive(
            cs,
            InitSecret::from_secret(Secret::from(vec![7; 32])),
            Secret::from(vec![8; 32]),
            PskSecret::zero(cs),
            &context,
        )
        .unwrap();
        let tag = confirmation_tag(
            cs,
            &schedule.epoch_secrets.confirmation_key,
            &context.confirmed_transcript_hash,
        )
        .unwrap();
        let (sk, signer) = cs.signature_generate_key_pair().unwrap();
        let mut group_info = GroupInfo {
            group_context: context,
            extensions: vec![],
            confirmation_tag: tag,
            signer: 0,
            signature: vec![],
        };
        group_info.sign(cs, &sk).unwrap();
        let members: Vec<_> = [&b"bob"[..], b"carol"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let (kp, priv_key) = key_package(cs, name);
                let gs = GroupSecrets {
                    joiner_secret: schedule.joiner_secret.as_secret().clone(),
                    path_secret: Some(PathSecret {
                        path_secret: Secret::from(vec![i as u8; 32]),
                    }),
                    psks: vec![],
                };
                (kp, priv_key, gs)
            })
            .collect();
        let welcome = seal_welcome(
            cs,
            &schedule.welcome_secret,
            &group_info,
            members.iter().map(|(kp, _, gs)| (kp, gs)),
        )
        .unwrap();
        Sent {
            welcome,
            group_info,
            schedule,
            signer,
            members,
        }
    }

    #[test]
    fn each_new_member_opens_its_welcome() {
        let cs = cs();
        let cs = cs.as_ref();
        let sent = send(cs);
        assert_eq!(sent.welcome.secrets.len(), 2);
        for (kp, init_priv, gs) in &sent.members {
            let got = open_group_secrets(cs, &sent.welcome, kp, init_priv).unwrap();
            assert_eq!(&got, gs);
            let (gi, intermediate) = open_group_info(
                cs,
                JoinerSecret::from_secret(got.joiner_secret),
                PskSecret::zero(cs),
                &sent.welcome.encrypted_group_info,
            )
            .unwrap();
            assert_eq!(gi, sent.group_info);
            gi.verify_signature(cs, &sent.signer).unwrap();
            // The joiner reaches the committer's epoch and confirms it.
            let epoch = intermediate
                .into_epoch_secret(cs, &gi.group_context)
                .unwrap()
                .into_epoch_secrets(cs)
                .unwrap();
            assert_eq!(epoch, sent.schedule.epoch_secrets);
            verify_confirmation_tag(
                cs,
                &epoch.confirmation_key,
                &gi.group_context.confirmed_transcript_hash,
                &gi.confirmation_tag,
            )
            .unwrap();
        }
    }

    #[test]
    fn welcome_without_our_key_package_is_refused() {
        let cs = cs();
        let cs = cs.as_ref();
        let sent = send(cs);
        let (stranger, init_priv) = key_package(cs, b"dave");
        assert_eq!(
            open_group_secrets(cs, &sent.welcome, &stranger, &init_priv),
            Err(ProtocolError::WelcomeNotForUs.into())
        );
        let mut empty = sent.welcome.clone();
        empty.secrets.clear();
        let (kp, init_priv, _) = &sent.members[0];
        assert_eq!(
            open_group_secrets(cs, &empty, kp, init_priv),
            Err(ProtocolError::WelcomeNotForUs.into())
        );
    }

    #[test]
    fn welcome_for_another_suite_is_refused() {
        let cs = cs();
        let cs = cs.as_ref();
        let sent = send(cs);
        let (kp, init_priv, _) = &sent.members[0];
        let mut other = kp.clone();
        other.cipher_suite = CipherSuite(3);
        assert_eq!(
            find_group_secrets(cs, &sent.welcome, &other).map(|_| ()),
            Err(ProtocolError::WelcomeCipherSuiteMismatch.into())
        );
        let mut welcome = sent.welcome.clone();
        welcome.cipher_suite = CipherSuite(3);
        assert!(matches!(
            open_group_secrets(cs, &welcome, kp, init_priv),
            Err(Error::Protocol(ProtocolError::WelcomeCipherSuiteMismatch))
        ));
    }

    #[test]
    fn group_secrets_are_bound_to_key_and_group_info() {
        let cs = cs();
        let cs = cs.as_ref();
        let sent = send(cs);
        let (kp, _, _) = &sent.members[0];
        let (_, carol_priv, _) = &sent.members[1];
        // Another member's init key.
        assert_eq!(
            open_group_secrets(cs, &sent.welcome, kp, carol_priv),
            Err(CryptoError::HpkeOpenFailed.into())
        );
        // The encrypted GroupInfo is the HPKE context: changing it breaks the secrets.
        let (_, bob_priv, _) = &sent.members[0];
        let mut welcome = sent.welcome.clone();
        welcome.encrypted_group_info[0] ^= 1;
        assert_eq!(
            open_group_secrets(cs, &welcome, kp, bob_priv),
            Err(CryptoError::HpkeOpenFailed.into())
        );
        // Tampered HPKE ciphertext.
        let mut welcome = sent.welcome.clone();
        let HpkeCiphertext { ciphertext, .. } = &mut welcome.secrets[0].encrypted_group_secrets;
        ciphertext[0] ^= 1;
        assert_eq!(
            open_group_secrets(cs, &welcome, kp, bob_priv),
            Err(CryptoError::HpkeOpenFailed.into())
        );
    }

    #[test]
    fn group_info_needs_the_right_psk_secret() {
        let cs = cs();
        let cs = cs.as_ref();
        let sent = send(cs);
        let (kp, init_priv, _) = &sent.members[0];
        let gs = open_group_secrets(cs, &sent.welcome, kp, init_priv).unwrap();
        let wrong = PskSecret::from_secret(Secret::from(vec![1; 32]));
        assert_eq!(
            open_group_info(
                cs,
                JoinerSecret::from_secret(gs.joiner_secret),
                wrong,
                &sent.welcome.encrypted_group_info
            )
            .map(|(gi, _)| gi),
            Err(ProtocolError::GroupInfoDecryptFailed.into())
        );
    }

    #[test]
    fn forged_confirmation_tag_is_refused() {
        let cs = cs();
        let cs = cs.as_ref();
        let sent = send(cs);
        let mut gi = sent.group_info.clone();
        let mut tag = gi.confirmation_tag.as_bytes().to_vec();
        tag[0] ^= 1;
        gi.confirmation_tag = crate::crypto::Tag::from(tag);
        assert_eq!(
            verify_confirmation_tag(
                cs,
                &sent.schedule.epoch_secrets.confirmation_key,
                &gi.group_context.confirmed_transcript_hash,
                &gi.confirmation_tag,
            ),
            Err(ProtocolError::ConfirmationTagMismatch.into())
        );
        // The tag is signed too.
        assert_eq!(
            gi.verify_signature(cs, &sent.signer),
            Err(CryptoError::InvalidSignature.into())
        );
    }
}
