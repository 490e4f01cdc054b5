//! Protecting and unprotecting PublicMessages (RFC 9420 §6.2): the membership
//! tag, on top of the signature of §6.1.

use super::content::{
    check_content_for_sender, check_group_and_epoch, tbs_context, verify_tbs_signature,
};
use crate::codec::Encode;
use crate::crypto::{CipherSuiteProvider, Secret, SignaturePublicKey, Tag};
use crate::error::{ApiError, Error, ProtocolError, Result};
use crate::messages::{
    AuthenticatedContent, AuthenticatedContentTbm, ContentType, FramedContentAuthData,
    FramedContentTbs, GroupContext, PublicMessage, Sender, WireFormat,
};

/// `membership_tag = MAC(membership_key, AuthenticatedContentTBM)` (RFC 9420 §6.2)
/// of a message from a member. `context` is the GroupContext of the epoch the
/// message is sent in, and `membership_key` that epoch's.
pub fn membership_tag(
    cs: &dyn CipherSuiteProvider,
    content: &AuthenticatedContent,
    context: &GroupContext,
    membership_key: &Secret,
) -> Result<Tag> {
    mac_tbm(
        cs,
        content.tbs(Some(context)),
        &content.auth,
        membership_key,
    )
}

/// `MAC(membership_key, AuthenticatedContentTBM { content_tbs, auth })`.
fn mac_tbm(
    cs: &dyn CipherSuiteProvider,
    content_tbs: FramedContentTbs<'_>,
    auth: &FramedContentAuthData,
    membership_key: &Secret,
) -> Result<Tag> {
    let tbm = AuthenticatedContentTbm { content_tbs, auth }.to_bytes()?;
    Ok(cs.mac(membership_key.as_bytes(), &tbm)?)
}

/// Encodes signed content as a PublicMessage (RFC 9420 §6.2), adding the
/// membership tag for member senders.
///
/// `content` must have been signed for [`WireFormat::PUBLIC_MESSAGE`]. A
/// member sender needs `context` and `membership_key` (the current epoch's);
/// other senders have no membership tag and need neither. Application data
/// is refused with [`ApiError::ApplicationMessageMustBePrivate`] (§6).
pub fn protect(
    cs: &dyn CipherSuiteProvider,
    content: AuthenticatedContent,
    context: Option<&GroupContext>,
    membership_key: Option<&Secret>,
) -> Result<PublicMessage> {
    if content.content.content_type() == ContentType::Application {
        return Err(ApiError::ApplicationMessageMustBePrivate.into());
    }
    if content.wire_format != WireFormat::PUBLIC_MESSAGE {
        return Err(ApiError::InvalidArgument(
            "content signed for another wire format than PublicMessage",
        )
        .into());
    }
    content.auth.check_for(content.content.content_type())?;
    let membership_tag = match content.content.sender {
        Sender::Member(_) => {
            let (Some(context), Some(key)) = (context, membership_key) else {
                return Err(ApiError::InvalidArgument(
                    "a member's PublicMessage needs the GroupContext and membership key",
                )
                .into());
            };
            Some(membership_tag(cs, &content, context, key)?)
        }
        Sender::External(_) | Sender::NewMemberProposal | Sender::NewMemberCommit => None,
    };
    Ok(PublicMessage {
        content: content.content,
        auth: content.auth,
        membership_tag,
    })
}

/// Rejects application data in a PublicMessage (RFC 9420 §6: applications
/// MUST use PrivateMessage for application messages) with
/// [`ProtocolError::ApplicationInPublicMessage`].
pub fn check_not_application(message: &PublicMessage) -> Result<()> {
    if message.content.content_type() == ContentType::Application {
        Err(ProtocolError::ApplicationInPublicMessage.into())
    } else {
        Ok(())
    }
}

/// Checks the membership tag of a PublicMessage (RFC 9420 §6.2) in constant
/// time: a member's message must carry
/// `MAC(membership_key, AuthenticatedContentTBM)`, else
/// [`ProtocolError::InvalidMembershipTag`]. Messages from non-members carry
/// no tag and pass.
pub fn verify_membership_tag(
    cs: &dyn CipherSuiteProvider,
    message: &PublicMessage,
    context: &GroupContext,
    membership_key: &Secret,
) -> Result<()> {
    if !matches!(message.content.sender, Sender::Member(_)) {
        return Ok(());
    }
    let tag = message
        .membership_tag
        .as_ref()
        .ok_or(ProtocolError::InvalidMembershipTag)?;
    let expected = mac_tbm(
        cs,
        message.tbs(Some(context)),
        &message.auth,
        membership_key,
    )?;
    if expected.ct_eq_bytes(tag.as_bytes()) {
        Ok(())
    } else {
        Err(ProtocolError::InvalidMembershipTag.into())
    }
}

/// Decodes a PublicMessage into the AuthenticatedContent it carries
/// (RFC 9420 §6.2), checking, in this order:
///
/// 1. the group id and epoch are `context`'s ([`check_group_and_epoch`]);
/// 2. it is not application data ([`ProtocolError::ApplicationInPublicMessage`]);
/// 3. the sender type may send this content ([`check_content_for_sender`]);
/// 4. the membership tag, for member senders ([`verify_membership_tag`]);
/// 5. the signature, with `signature_key`, the key the caller resolved from
///    `message.content.sender` ([`verify_content_signature`]).
///
/// `context` and `membership_key` are those of the message's epoch. The
/// confirmation tag of a commit is not checked here: it needs the next
/// epoch's key schedule (see [`crate::transcript`]).
pub fn unprotect(
    cs: &dyn CipherSuiteProvider,
    message: PublicMessage,
    context: &GroupContext,
    membership_key: &Secret,
    signature_key: &SignaturePublicKey,
) -> Result<AuthenticatedContent> {
    verify(cs, &message, context, membership_key, signature_key)?;
    Ok(AuthenticatedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: message.content,
        auth: message.auth,
    })
}

/// The checks of [`unprotect`], in the same order, on a borrowed message.
///
/// The `FramedContentTBS` is encoded once: the membership tag covers it
/// followed by the authentication data (`AuthenticatedContentTBM`, §6.2),
/// the signature covers it alone (§6.1), and a member's TBS includes the
/// group context in both.
pub(crate) fn verify(
    cs: &dyn CipherSuiteProvider,
    message: &PublicMessage,
    context: &GroupContext,
    membership_key: &Secret,
    signature_key: &SignaturePublicKey,
) -> Result<()> {
    check_group_and_epoch(&message.content.group_id, message.content.epoch, context)?;
    check_not_application(message)?;
    check_content_for_sender(&message.content)?;
    let tbs_ctx = tbs_context(&message.content.sender, Some(context))?;
    // `AuthenticatedContentTBM = FramedContentTBS || FramedContentAuthData`.
    let mut tbm = message.tbs(tbs_ctx).to_bytes()?;
    let tbs_len = tbm.len();
    if matches!(message.content.sender, Sender::Member(_)) {
        let tag = message
            .membership_tag
            .as_ref()
            .ok_or(ProtocolError::InvalidMembershipTag)?;
        message
            .auth
            .check_for(message.content.content_type())?;
        message.auth.encode(&mut tbm)?;
        let expected = cs.mac(membership_key.as_bytes(), &tbm)?;
        if !expected.ct_eq_bytes(tag.as_bytes()) {
            return Err(ProtocolError::InvalidMembershipTag.into());
        }
    }
    let tbs = tbm.get(..tbs_len).ok_or(Error::Internal("TBS shorter than its encoding"))?;
    verify_tbs_signature(cs, tbs, &message.auth.signature, signature_key)
}
