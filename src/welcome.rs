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
use crate::crypto::labeled::{decrypt_with_label, encrypt_with_label};
use crate::crypto::{CipherSuiteProvider, HpkePrivateKey};
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
/// [`CryptoError::AeadOpenFailed`](crate::error::CryptoError::AeadOpenFailed)
/// under the wrong secret. The signature is not checked here.
pub fn decrypt_group_info(
    cs: &dyn CipherSuiteProvider,
    welcome_secret: &WelcomeSecret,
    encrypted_group_info: &[u8],
) -> Result<GroupInfo> {
    let key = welcome_secret.key_and_nonce(cs)?;
    let plaintext = cs.aead_open(
        key.key.as_bytes(),
        key.nonce.as_bytes(),
        &[],
        encrypted_group_info,
    )?;
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
    let secrets = new_members
        .into_iter()
        .map(|(kp, gs)| encrypt_group_secrets(cs, kp, gs, &encrypted_group_info))
        .collect::<Result<Vec<_>>>()?;
    Ok(Welcome {
        cipher_suite: cs.cipher_suite(),
        secrets,
        encrypted_group_info,
    })
}
