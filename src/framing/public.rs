//! Protecting and unprotecting PublicMessages (RFC 9420 §6.2): the membership
//! tag, on top of the signature of §6.1.

use super::content::{
    SIGNATURE_LABEL, check_content_for_sender, check_group_and_epoch, tbs_context,
};
use crate::codec::Encode;
use crate::crypto::labeled::verify_with_label_in_place;
use crate::crypto::{CipherSuiteProvider, Secret, SignaturePublicKey, Tag};
use crate::error::{ApiError, Error, ProtocolError, Result};
use crate::messages::{
    AuthenticatedContent, AuthenticatedContentTbm, ContentType, FramedContent,
    FramedContentAuthData, FramedContentBody, FramedContentTbs, GroupContext, ProtocolVersion,
    PublicMessage, Sender, WireFormat,
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
    verify(cs, &message, context, membership_key, signature_key, None)?;
    Ok(AuthenticatedContent {
        wire_format: WireFormat::PUBLIC_MESSAGE,
        content: message.content,
        auth: message.auth,
    })
}

/// Room left before the encoded `FramedContentTBS` in [`EncodedContent`]'s
/// buffer: enough for the `SignContent` header of the signature (at most
/// 1 + 24 + 4 bytes) and for a transcript hash (at most 64 bytes) before the
/// wire format, which follows the 2-byte version.
const ROOM: usize = 64;

/// A PublicMessage's content as [`verify`] encoded it, kept to compute the
/// confirmed transcript hash of a commit (RFC 9420 §8.2) without encoding
/// the content again.
#[derive(Debug)]
pub(crate) struct EncodedContent {
    /// `ROOM` bytes, then `FramedContentTBS` up to the end of the content.
    buf: Vec<u8>,
    /// The confirmed transcript hash, computed beside the signature check
    /// (large commits, several threads), with the interim hash it started
    /// from.
    transcript: Option<(Vec<u8>, Vec<u8>)>,
}

impl EncodedContent {
    /// `Hash(interim_transcript_hash_before || ConfirmedTranscriptHashInput)`
    /// with `ConfirmedTranscriptHashInput = { wire_format; content; signature<V> }`:
    /// the interim hash is written over the bytes before the wire format and
    /// the signature after the content, and the whole is hashed in place.
    pub(crate) fn confirmed_transcript_hash(
        mut self,
        cs: &dyn CipherSuiteProvider,
        interim_transcript_hash_before: &[u8],
        signature: &[u8],
    ) -> Result<Vec<u8>> {
        if let Some((interim, hash)) = self.transcript.take()
            && interim == interim_transcript_hash_before
        {
            return Ok(hash);
        }
        transcript_in_place(&mut self.buf, cs, interim_transcript_hash_before, signature)
    }
}

/// The confirmed transcript hash over `buf` (as in [`EncodedContent`]): the
/// interim hash is written over the bytes before the wire format and the
/// signature appended after the content, and the whole is hashed in place.
fn transcript_in_place(
    buf: &mut Vec<u8>,
    cs: &dyn CipherSuiteProvider,
    interim_transcript_hash_before: &[u8],
    signature: &[u8],
) -> Result<Vec<u8>> {
    {
        let buf = &mut *buf;
        // The wire format follows the 2-byte protocol version.
        let wire_format_at = ROOM + 2;
        let start = wire_format_at
            .checked_sub(interim_transcript_hash_before.len())
            .ok_or(Error::Internal("transcript hash longer than the room left"))?;
        buf.get_mut(start..wire_format_at)
            .ok_or(Error::Internal("transcript hash out of range"))?
            .copy_from_slice(interim_transcript_hash_before);
        crate::codec::write_opaque(buf, signature)?;
        let input = buf
            .get(start..)
            .ok_or(Error::Internal("transcript input out of range"))?;
        Ok(cs.hash(input))
    }
}

/// Content above this size (bytes) is hashed on two threads when the pool
/// has them: the signature on one, the membership tag and the transcript
/// hash on a copy of the content on the other (copying costs a tenth of
/// hashing).
const PARALLEL_HASH_BYTES: usize = 256 * 1024;

/// About the size of `content` encoded: the bulk of a large one is the
/// UpdatePath's ciphertexts. Only sizes a buffer.
fn size_hint(content: &FramedContent) -> usize {
    let path = match &content.content {
        FramedContentBody::Commit(c) => c.path.as_ref(),
        _ => None,
    };
    let ciphertexts: usize = path.map_or(0, |p| {
        p.nodes
            .iter()
            .map(|n| n.encrypted_path_secret.encoded_body_len() + 8)
            .sum()
    });
    ciphertexts + content.authenticated_data.len() + 2048
}

/// The checks of [`unprotect`], in the same order, on a borrowed message.
///
/// The `FramedContentTBS` is encoded once, into one buffer: the membership
/// tag covers it followed by the authentication data
/// (`AuthenticatedContentTBM`, §6.2), the signature covers it behind its
/// `SignContent` header (§6.1, §5.1.2), written into room left before it,
/// and a member's TBS includes the group context in both. The content's
/// encoding is returned for the transcript hash
/// ([`EncodedContent::confirmed_transcript_hash`]).
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
    let tbs_ctx = tbs_context(&message.content.sender, Some(context))?;
    // `FramedContentTBS = version || wire_format || content || [context]`,
    // encoded as `FramedContentTbs::encode` does, noting where the content ends.
    let tbs = message.tbs(tbs_ctx);
    let mut buf = Vec::with_capacity(ROOM + size_hint(&message.content));
    buf.resize(ROOM, 0);
    ProtocolVersion::MLS10.encode(&mut buf)?;
    tbs.wire_format.encode(&mut buf)?;
    message.content.encode(&mut buf)?;
    let content_end = buf.len();
    if let Some(c) = tbs.context {
        c.encode(&mut buf)?;
    }
    let tbs_end = buf.len();
    debug_assert_eq!(buf.get(ROOM..), tbs.to_bytes().ok().as_deref());
    if let Some(interim) = interim_transcript_hash
        && matches!(message.content.content, FramedContentBody::Commit(_))
        && content_end >= PARALLEL_HASH_BYTES
        && crate::parallel::threads() > 1
    {
        return verify_parallel(
            cs,
            message,
            membership_key,
            signature_key,
            buf,
            content_end,
            tbs_end,
            interim,
        );
    }
    check_membership_tag(cs, message, membership_key, &mut buf, tbs_end)?;
    verify_with_label_in_place(
        cs,
        signature_key,
        SIGNATURE_LABEL,
        &mut buf,
        ROOM..tbs_end,
        &message.auth.signature,
    )?;
    buf.truncate(content_end);
    Ok(EncodedContent {
        buf,
        transcript: None,
    })
}

/// A member sender's membership tag (RFC 9420 §6.2) over `buf` (`ROOM`
/// bytes, then the `FramedContentTBS` up to `tbs_end`):
/// `AuthenticatedContentTBM = FramedContentTBS || FramedContentAuthData` is
/// formed by appending the authentication data, which is removed again.
/// Other senders have no tag.
fn check_membership_tag(
    cs: &dyn CipherSuiteProvider,
    message: &PublicMessage,
    membership_key: &Secret,
    buf: &mut Vec<u8>,
    tbs_end: usize,
) -> Result<()> {
    if !matches!(message.content.sender, Sender::Member(_)) {
        return Ok(());
    }
    let tag = message
        .membership_tag
        .as_ref()
        .ok_or(ProtocolError::InvalidMembershipTag)?;
    message.auth.check_for(message.content.content_type())?;
    message.auth.encode(buf)?;
    let tbm = buf.get(ROOM..).ok_or(Error::Internal("TBM out of range"))?;
    let expected = cs.mac(membership_key.as_bytes(), tbm)?;
    if !expected.ct_eq_bytes(tag.as_bytes()) {
        return Err(ProtocolError::InvalidMembershipTag.into());
    }
    buf.truncate(tbs_end);
    Ok(())
}

/// The checks of [`verify`] on a large commit, on two threads: the
/// signature over `buf` on one; the membership tag, then the confirmed
/// transcript hash (RFC 9420 §8.2), over a copy on the other. Both sides
/// run to the end; the error is the one the sequential order gives
/// (membership tag, then signature).
#[allow(clippy::too_many_arguments)]
fn verify_parallel(
    cs: &dyn CipherSuiteProvider,
    message: &PublicMessage,
    membership_key: &Secret,
    signature_key: &SignaturePublicKey,
    mut buf: Vec<u8>,
    content_end: usize,
    tbs_end: usize,
    interim: &[u8],
) -> Result<EncodedContent> {
    let mut copy = buf.clone();
    let (signed, tagged) = crate::parallel::join(
        || {
            verify_with_label_in_place(
                cs,
                signature_key,
                SIGNATURE_LABEL,
                &mut buf,
                ROOM..tbs_end,
                &message.auth.signature,
            )
        },
        || -> Result<Vec<u8>> {
            check_membership_tag(cs, message, membership_key, &mut copy, tbs_end)?;
            copy.truncate(content_end);
            transcript_in_place(&mut copy, cs, interim, &message.auth.signature)
        },
    );
    let transcript = tagged?;
    signed?;
    buf.truncate(content_end);
    Ok(EncodedContent {
        buf,
        transcript: Some((interim.to_vec(), transcript)),
    })
}
