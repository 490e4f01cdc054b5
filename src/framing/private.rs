//! Protecting and unprotecting PrivateMessages (RFC 9420 §6.3): content
//! encryption with a key from the secret tree and a reuse guard (§6.3.1), and
//! sender data encryption keyed by a sample of the ciphertext (§6.3.2).

use zeroize::Zeroizing;

use super::PaddingPolicy;
use super::content::{check_group_and_epoch, verify_content_signature};
use crate::codec::{Decode, Encode, Reader};
use crate::crypto::{CipherSuiteProvider, SignaturePublicKey};
use crate::error::{ApiError, CryptoError, Error, ProtocolError, Result};
use crate::key_schedule::SenderDataSecret;
use crate::messages::{
    AuthenticatedContent, ContentType, FramedContent, PrivateMessage, PrivateMessageContent,
    Sender, SenderData, WireFormat,
};
use crate::secret_tree::{MessageKey, RatchetKind, SecretTree, SecretTreeUpdate};
use crate::tree_math::LeafIndex;

/// The ratchet that keys content of this type (RFC 9420 §6.3.1, §9): the
/// application ratchet for application data, the handshake ratchet for
/// proposals and commits.
pub fn ratchet_for(content_type: ContentType) -> RatchetKind {
    match content_type {
        ContentType::Application => RatchetKind::Application,
        ContentType::Proposal | ContentType::Commit => RatchetKind::Handshake,
    }
}

/// The ratchet nonce with the reuse guard XORed into its first four bytes
/// (RFC 9420 §6.3.1).
fn guarded_nonce(key: &MessageKey, reuse_guard: [u8; 4]) -> Result<crate::crypto::Secret> {
    let mut nonce = key.nonce.clone();
    let head = nonce
        .as_bytes_mut()
        .get_mut(..4)
        .ok_or(Error::Internal("AEAD nonce shorter than the reuse guard"))?;
    for (n, g) in head.iter_mut().zip(reuse_guard) {
        *n ^= g;
    }
    Ok(nonce)
}

/// Encrypts signed content as a PrivateMessage (RFC 9420 §6.3).
///
/// `content` must have been signed for [`WireFormat::PRIVATE_MESSAGE`] by a
/// member. The key and nonce are the next unused generation of the sender's
/// handshake or application ratchet in `secret_tree` (which moves on only if
/// the whole message is made: on failure `secret_tree` is unchanged), the
/// nonce is XORed with a fresh random reuse guard (§6.3.1), the plaintext is
/// padded with zeros as `padding` says, and the sender data is encrypted with
/// the key and nonce `sender_data_secret` gives for the ciphertext (§6.3.2).
pub fn protect(
    cs: &dyn CipherSuiteProvider,
    content: &AuthenticatedContent,
    secret_tree: &mut SecretTree,
    sender_data_secret: &SenderDataSecret,
    padding: PaddingPolicy,
) -> Result<PrivateMessage> {
    if content.wire_format != WireFormat::PRIVATE_MESSAGE {
        return Err(ApiError::InvalidArgument(
            "content signed for another wire format than PrivateMessage",
        )
        .into());
    }
    // RFC 9420 §6.3.2: the sender MUST verify the sender type is member.
    let Sender::Member(leaf_index) = content.content.sender else {
        return Err(ApiError::InvalidArgument("PrivateMessage senders are members").into());
    };
    let framed = &content.content;
    let content_type = framed.content_type();
    content.auth.check_for(content_type)?;

    // PrivateMessageContent: the content, its auth, then zero padding (§6.3.1).
    let mut plaintext = Zeroizing::new(Vec::new());
    framed.content.encode(&mut plaintext)?;
    content.auth.encode(&mut plaintext)?;
    let pad = padding
        .padding_for(plaintext.len())
        .ok_or(ApiError::ValueTooLarge(plaintext.len()))?;
    let padded_len = plaintext.len().saturating_add(pad);
    plaintext.resize(padded_len, 0);

    // The key is only computed here; the ratchet moves on (deleting it,
    // §9.2) once the message is complete, so a failure on the way leaves
    // `secret_tree` as it was.
    let leaf = LeafIndex(leaf_index);
    let kind = ratchet_for(content_type);
    let prepared = secret_tree.prepare_next_key(cs, leaf, kind)?;
    let key = &prepared.key;
    let mut reuse_guard = [0u8; 4];
    cs.random_bytes(&mut reuse_guard)?;
    let nonce = guarded_nonce(key, reuse_guard)?;

    let mut message = PrivateMessage {
        group_id: framed.group_id.clone(),
        epoch: framed.epoch,
        content_type,
        authenticated_data: framed.authenticated_data.clone(),
        encrypted_sender_data: Vec::new(),
        ciphertext: Vec::new(),
    };
    message.ciphertext = cs.aead_seal(
        key.key.as_bytes(),
        nonce.as_bytes(),
        &message.content_aad().to_bytes()?,
        &plaintext,
    )?;

    let sender_data = SenderData {
        leaf_index,
        generation: key.generation,
        reuse_guard,
    };
    let sd_key = sender_data_secret.key_and_nonce(cs, &message.ciphertext)?;
    message.encrypted_sender_data = cs.aead_seal(
        sd_key.key.as_bytes(),
        sd_key.nonce.as_bytes(),
        &message.sender_data_aad().to_bytes()?,
        &sender_data.to_bytes()?,
    )?;
    secret_tree.take_prepared(prepared);
    Ok(message)
}

/// Decrypts the sender data of a PrivateMessage (RFC 9420 §6.3.2), the first
/// step of unprotecting it.
///
/// Fails with [`ProtocolError::SenderDataInvalid`] if it does not decrypt
/// under the key and nonce derived from the ciphertext sample and the
/// `SenderDataAAD` (tampered sender data, ciphertext sample, group id, epoch
/// or content type) or is not a `SenderData`.
///
/// The caller MUST then check that `leaf_index` is a non-blank leaf of its
/// ratchet tree (§6.3.2) before going on with [`decrypt_content`].
pub fn decrypt_sender_data(
    cs: &dyn CipherSuiteProvider,
    message: &PrivateMessage,
    sender_data_secret: &SenderDataSecret,
) -> Result<SenderData> {
    let key = sender_data_secret.key_and_nonce(cs, &message.ciphertext)?;
    let plaintext = cs
        .aead_open(
            key.key.as_bytes(),
            key.nonce.as_bytes(),
            &message.sender_data_aad().to_bytes()?,
            &message.encrypted_sender_data,
        )
        .map_err(|e| match e {
            CryptoError::AeadOpenFailed => Error::from(ProtocolError::SenderDataInvalid),
            other => other.into(),
        })?;
    SenderData::decode_exact(&plaintext).map_err(|_| ProtocolError::SenderDataInvalid.into())
}

/// Decrypts the content of a PrivateMessage whose sender data has been
/// decrypted and checked (RFC 9420 §6.3.1), giving the AuthenticatedContent
/// it carries. The signature is not checked here (see [`unprotect`]).
///
/// The key is taken from `secret_tree` for the sender's leaf, the ratchet of
/// the message's content type and the sender data's generation, and is
/// deleted from the tree (§9.2) if decryption succeeds, so a replay fails
/// with [`ProtocolError::KeyAlreadyUsed`]; if it fails the tree is unchanged
/// (see [`decrypt_content_staged`] to delete the key only once the whole
/// message is accepted). Failures: [`CryptoError::AeadOpenFailed`]
/// (tampered ciphertext, AAD or reuse guard), a
/// [`DecodeError`](crate::error::DecodeError) for a malformed plaintext, in
/// particular [`DecodeError::NonZeroPadding`](crate::error::DecodeError::NonZeroPadding).
///
/// The content is decoded as the type the PrivateMessage announces, which the
/// AEAD binds (it is in both AADs), so the content type always matches.
pub fn decrypt_content(
    cs: &dyn CipherSuiteProvider,
    message: &PrivateMessage,
    sender_data: &SenderData,
    secret_tree: &mut SecretTree,
) -> Result<AuthenticatedContent> {
    let (content, update) = decrypt_content_staged(cs, message, sender_data, secret_tree)?;
    secret_tree.apply(update)?;
    Ok(content)
}

/// [`decrypt_content`] without changing `secret_tree`: the content and the
/// [`SecretTreeUpdate`] that deletes its key, to apply with
/// [`SecretTree::apply`] once the message has been accepted (RFC 9420 §9.2).
/// The cost does not depend on how many ratchets the tree holds.
pub fn decrypt_content_staged(
    cs: &dyn CipherSuiteProvider,
    message: &PrivateMessage,
    sender_data: &SenderData,
    secret_tree: &SecretTree,
) -> Result<(AuthenticatedContent, SecretTreeUpdate)> {
    let (key, update) = secret_tree.stage_key(
        cs,
        LeafIndex(sender_data.leaf_index),
        ratchet_for(message.content_type),
        sender_data.generation,
    )?;
    let nonce = guarded_nonce(&key, sender_data.reuse_guard)?;
    let plaintext = Zeroizing::new(cs.aead_open(
        key.key.as_bytes(),
        nonce.as_bytes(),
        &message.content_aad().to_bytes()?,
        &message.ciphertext,
    )?);
    drop(key);
    let pmc =
        PrivateMessageContent::decode_for(&mut Reader::new(&plaintext), message.content_type)?;
    if pmc.content_type() != message.content_type {
        return Err(Error::Internal(
            "decoded content type differs from the announced one",
        ));
    }
    let content = AuthenticatedContent {
        wire_format: WireFormat::PRIVATE_MESSAGE,
        content: FramedContent {
            group_id: message.group_id.clone(),
            epoch: message.epoch,
            sender: Sender::Member(sender_data.leaf_index),
            authenticated_data: message.authenticated_data.clone(),
            content: pmc.content,
        },
        auth: pmc.auth,
    };
    Ok((content, update))
}

/// Unprotects a PrivateMessage (RFC 9420 §6.3) in one call:
///
/// 1. checks the group id and epoch are `context`'s;
/// 2. decrypts the sender data ([`decrypt_sender_data`]);
/// 3. asks `signature_key_for` for the signature key of the sender's leaf:
///    the caller checks there that the leaf is in its tree and not blank
///    (§6.3.2) and fails if not, before any ratchet key is spent;
/// 4. decrypts the content ([`decrypt_content_staged`]);
/// 5. verifies the signature over the reconstructed FramedContent with
///    `context` ([`verify_content_signature`]);
/// 6. only then deletes the key from `secret_tree`: a message that fails
///    any step leaves the tree unchanged.
///
/// `context`, `sender_data_secret` and `secret_tree` are those of the
/// message's epoch.
pub fn unprotect(
    cs: &dyn CipherSuiteProvider,
    message: &PrivateMessage,
    context: &crate::messages::GroupContext,
    sender_data_secret: &SenderDataSecret,
    secret_tree: &mut SecretTree,
    signature_key_for: impl FnOnce(LeafIndex) -> Result<SignaturePublicKey>,
) -> Result<AuthenticatedContent> {
    check_group_and_epoch(&message.group_id, message.epoch, context)?;
    let sender_data = decrypt_sender_data(cs, message, sender_data_secret)?;
    let signature_key = signature_key_for(LeafIndex(sender_data.leaf_index))?;
    let (content, update) = decrypt_content_staged(cs, message, &sender_data, secret_tree)?;
    verify_content_signature(cs, &content, Some(context), &signature_key)?;
    secret_tree.apply(update)?;
    Ok(content)
}
