//! Protecting and unprotecting PublicMessages (RFC 9420 §6.2): the membership
//! tag, on top of the signature of §6.1.

use super::content::{
    SIGNATURE_LABEL, check_content_for_sender, check_group_and_epoch, tbs_context,
};
use crate::codec::Encode;
use crate::codec::Parts;
use crate::crypto::labeled::verify_with_label_parts;
use crate::crypto::{CipherSuiteProvider, Secret, SignaturePublicKey, Tag};
use crate::error::{ApiError, ProtocolError, Result};
use crate::messages::{
    AuthenticatedContent, AuthenticatedContentTbm, ContentType, FramedContentAuthData,
    FramedContentBody, FramedContentTbs, GroupContext, ProtocolVersion, PublicMessage, Sender,
    WireFormat,
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
    check_tag(message, || {
        mac_tbm(
            cs,
            message.tbs(Some(context)),
            &message.auth,
            membership_key,
        )
    })
}

/// Decodes a PublicMessage into the AuthenticatedContent it carries
/// (RFC 9420 §6.2), checking, in this order:
///
/// 1. the group id and epoch are `context`'s ([`check_group_and_epoch`]);
/// 2. it is not application data ([`ProtocolError::ApplicationInPublicMessage`]);
/// 3. the sender type may send this content ([`check_content_for_sender`]);
/// 4. the membership tag, for member senders ([`verify_membership_tag`]);
/// 5. the signature, with `signature_key`, the key the caller resolved from
///    `message.content.sender` ([`verify_content_signature`](super::verify_content_signature)).
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
    verify(cs, &message, context, membership_key, signature_key, None)?;
    Ok(AuthenticatedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: message.content,
        auth: message.auth,
    })
}

/// What [`verify`] learnt of a PublicMessage's content beyond its verdict:
/// the confirmed transcript hash of a commit (RFC 9420 §8.2), computed
/// from the same pieces as the signature and the membership tag, with the
/// interim hash it started from.
#[derive(Debug)]
pub(crate) struct EncodedContent {
    transcript: Option<(Vec<u8>, Vec<u8>)>,
}

impl EncodedContent {
    /// The confirmed transcript hash from `interim_transcript_hash_before`,
    /// if [`verify`] computed it (a commit, with that interim hash).
    pub(crate) fn confirmed_transcript_hash(
        self,
        interim_transcript_hash_before: &[u8],
    ) -> Option<Vec<u8>> {
        self.transcript
            .filter(|(interim, _)| interim == interim_transcript_hash_before)
            .map(|(_, hash)| hash)
    }
}

/// Content above this size (bytes) is hashed on two threads when the pool
/// has them: the signature on one, the membership tag and the transcript
/// hash on the other.
const PARALLEL_HASH_BYTES: usize = 256 * 1024;

/// A member sender's membership tag (RFC 9420 §6.2) checked in constant time
/// against `expected()`, the MAC of its `AuthenticatedContentTBM`; a
/// missing tag fails. Other senders have no tag and pass.
fn check_tag(message: &PublicMessage, expected: impl FnOnce() -> Result<Tag>) -> Result<()> {
    if !matches!(message.content.sender, Sender::Member(_)) {
        return Ok(());
    }
    let tag = message
        .membership_tag
        .as_ref()
        .ok_or(ProtocolError::InvalidMembershipTag)?;
    if expected()?.ct_eq_bytes(tag.as_bytes()) {
        Ok(())
    } else {
        Err(ProtocolError::InvalidMembershipTag.into())
    }
}

/// The checks of [`unprotect`], in the same order, on a borrowed message.
///
/// The content is encoded once, in pieces ([`FramedContent::encode_parts`]:
/// a commit's path ciphertexts are borrowed from the message, not copied),
/// and the three hashes the RFC makes of it read the same pieces:
/// `FramedContentTBS = version || wire_format || content || [context]`
/// behind its `SignContent` header for the signature (§6.1, §5.1.2), with
/// the authentication data after it for the membership tag
/// (`AuthenticatedContentTBM`, §6.2), and, for a commit when
/// `interim_transcript_hash` is given, `interim || wire_format || content
/// || signature` for the confirmed transcript hash (§8.2), returned in
/// [`EncodedContent`].
pub(crate) fn verify(
    cs: &dyn CipherSuiteProvider,
    message: &PublicMessage,
    context: &GroupContext,
    membership_key: &Secret,
    signature_key: &SignaturePublicKey,
    interim_transcript_hash: Option<&[u8]>,
) -> Result<EncodedContent> {
    check_group_and_epoch(&message.content.group_id, message.content.epoch, context)?;
    check_not_application(message)?;
    check_content_for_sender(&message.content)?;
    let tbs = message.tbs(tbs_context(&message.content.sender, Some(context))?);
    // version || wire_format, the content, [context]: the FramedContentTBS.
    let mut head = Vec::with_capacity(4);
    ProtocolVersion::MLS10.encode(&mut head)?;
    tbs.wire_format.encode(&mut head)?;
    let mut content = Parts::default();
    message.content.encode_parts(&mut content)?;
    let content = content.slices();
    let group_context = tbs.context.map(Encode::to_bytes).transpose()?;
    let mut tbs_parts = Vec::with_capacity(content.len() + 2);
    tbs_parts.push(head.as_slice());
    tbs_parts.extend_from_slice(&content);
    tbs_parts.extend(group_context.as_deref());
    debug_assert_eq!(Some(tbs_parts.concat()), tbs.to_bytes().ok());

    let tagged = || {
        check_tag(message, || {
            message.auth.check_for(message.content.content_type())?;
            let auth = message.auth.to_bytes()?;
            let mut tbm = tbs_parts.clone();
            tbm.push(&auth);
            Ok(cs.mac_parts(membership_key.as_bytes(), &tbm)?)
        })
    };
    let signed = || {
        verify_with_label_parts(
            cs,
            signature_key,
            SIGNATURE_LABEL,
            &tbs_parts,
            &message.auth.signature,
        )
    };
    let transcript = |interim: &[u8]| -> Result<(Vec<u8>, Vec<u8>)> {
        // ConfirmedTranscriptHashInput = wire_format || content || signature<V>.
        let mut signature = Vec::with_capacity(message.auth.signature.len() + 4);
        crate::codec::write_opaque(&mut signature, &message.auth.signature)?;
        let mut input = Vec::with_capacity(content.len() + 3);
        input.push(interim);
        input.push(head.get(2..).unwrap_or_default());
        input.extend_from_slice(&content);
        input.push(&signature);
        Ok((interim.to_vec(), cs.hash_parts(&input)))
    };
    let interim = interim_transcript_hash
        .filter(|_| matches!(message.content.content, FramedContentBody::Commit(_)));
    let size: usize = content.iter().map(|p| p.len()).sum();
    let transcript = if let Some(interim) = interim
        && size >= PARALLEL_HASH_BYTES
        && crate::parallel::threads() > 1
    {
        // Both sides run to the end; the error is the one of the
        // sequential order below (membership tag, then signature).
        let (signed, tagged) = crate::parallel::join(signed, || {
            tagged()?;
            transcript(interim)
        });
        let transcript = tagged?;
        signed?;
        Some(transcript)
    } else {
        tagged()?;
        signed()?;
        interim.map(transcript).transpose()?
    };
    Ok(EncodedContent { transcript })
}
