//! Content authentication (RFC 9420 §6.1): signing a FramedContent, checking
//! its signature, and the content each sender type may send.

use crate::codec::Encode;
use crate::crypto::labeled::{sign_with_label, verify_with_label};
use crate::crypto::{CipherSuiteProvider, SignaturePrivateKey, SignaturePublicKey, Tag};
use crate::error::{ApiError, ProtocolError, Result};
use crate::messages::{
    AuthenticatedContent, ContentType, FramedContent, FramedContentAuthData, FramedContentBody,
    FramedContentTbs, GroupContext, Proposal, Sender, WireFormat,
};
use crate::transcript::{ConfirmedTranscriptHashInput, confirmed_transcript_hash};

/// The label of a framed content signature (RFC 9420 §6.1).
pub(crate) const SIGNATURE_LABEL: &[u8] = b"FramedContentTBS";

/// The GroupContext a `FramedContentTBS` includes for `sender` (RFC 9420 §6.1):
/// `context` for `member` and `new_member_commit` senders (an
/// [`ApiError::InvalidArgument`] if it is missing), nothing for the others
/// (whatever is passed). Callers may therefore always pass the context they have.
pub fn tbs_context<'a>(
    sender: &Sender,
    context: Option<&'a GroupContext>,
) -> Result<Option<&'a GroupContext>> {
    match sender {
        Sender::Member(_) | Sender::NewMemberCommit => context.map(Some).ok_or_else(|| {
            ApiError::InvalidArgument(
                "member and new_member_commit signatures cover the GroupContext",
            )
            .into()
        }),
        Sender::External(_) | Sender::NewMemberProposal => Ok(None),
    }
}

/// Checks that the sender type may send this content (RFC 9420 §6.1):
/// external senders send proposals, `new_member_proposal` senders send Add
/// proposals and `new_member_commit` senders send commits; members may send
/// anything. Else [`ProtocolError::InvalidSenderForContent`].
///
/// Which proposal types an external sender may send is group policy
/// (§12.1.8.1) and is left to the caller.
pub fn check_content_for_sender(content: &FramedContent) -> Result<()> {
    let allowed = matches!(
        (&content.sender, &content.content),
        (Sender::Member(_), _)
            | (Sender::External(_), FramedContentBody::Proposal(_))
            | (
                Sender::NewMemberProposal,
                FramedContentBody::Proposal(Proposal::Add(_))
            )
            | (Sender::NewMemberCommit, FramedContentBody::Commit(_))
    );
    if allowed {
        Ok(())
    } else {
        Err(ProtocolError::InvalidSenderForContent.into())
    }
}

/// Checks that a message names the group and epoch of `context` (RFC 9420 §6):
/// [`ProtocolError::WrongGroup`] or [`ProtocolError::WrongEpoch`]
/// otherwise. A receiver picks the epoch's keys by the message's epoch; this
/// is the check that it picked the right ones.
pub fn check_group_and_epoch(group_id: &[u8], epoch: u64, context: &GroupContext) -> Result<()> {
    if group_id != context.group_id.as_slice() {
        return Err(ProtocolError::WrongGroup.into());
    }
    if epoch != context.epoch {
        return Err(ProtocolError::WrongEpoch {
            message: epoch,
            current: context.epoch,
        }
        .into());
    }
    Ok(())
}

/// A FramedContent with its signature, before the confirmation tag is known
/// (RFC 9420 §6.1). For a commit the tag depends on the signature (through the
/// confirmed transcript hash, §8.2), so the two steps are separate:
/// [`SignedContent::sign`], then [`SignedContent::confirmed_transcript_hash`]
/// and the new epoch's key schedule, then [`SignedContent::into_authenticated`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedContent {
    /// The wire format the content will be sent in (covered by the signature).
    pub wire_format: WireFormat,
    /// The content.
    pub content: FramedContent,
    /// `SignWithLabel(signature_key, "FramedContentTBS", FramedContentTBS)`.
    pub signature: Vec<u8>,
}

impl SignedContent {
    /// Signs `content` for sending in `wire_format` (RFC 9420 §6.1). The
    /// signature covers `context` for `member` and `new_member_commit`
    /// senders (see [`tbs_context`]).
    ///
    /// Refuses, with [`ApiError`]s, application data in a PublicMessage (§6),
    /// a PrivateMessage from a non-member (§6.3.2), content the sender type may
    /// not send (§6.1) and wire formats other than the two framed ones.
    pub fn sign(
        cs: &dyn CipherSuiteProvider,
        wire_format: WireFormat,
        content: FramedContent,
        context: Option<&GroupContext>,
        signature_key: &SignaturePrivateKey,
    ) -> Result<Self> {
        match wire_format {
            WireFormat::PUBLIC_MESSAGE => {
                if content.content_type() == ContentType::Application {
                    return Err(ApiError::ApplicationMessageMustBePrivate.into());
                }
            }
            WireFormat::PRIVATE_MESSAGE => {
                if !matches!(content.sender, Sender::Member(_)) {
                    return Err(
                        ApiError::InvalidArgument("PrivateMessage senders are members").into(),
                    );
                }
            }
            _ => {
                return Err(ApiError::InvalidArgument(
                    "framed content is sent as PublicMessage or PrivateMessage",
                )
                .into());
            }
        }
        if check_content_for_sender(&content).is_err() {
            return Err(
                ApiError::InvalidArgument("content not allowed for this sender type").into(),
            );
        }
        let tbs = FramedContentTbs {
            wire_format,
            content: &content,
            context: tbs_context(&content.sender, context)?,
        };
        let signature = sign_with_label(cs, signature_key, SIGNATURE_LABEL, &tbs.to_bytes()?)?;
        Ok(Self {
            wire_format,
            content,
            signature,
        })
    }

    /// The confirmed transcript hash after this commit (RFC 9420 §8.2), from
    /// the interim transcript hash of the epoch it is sent in.
    pub fn confirmed_transcript_hash(
        &self,
        cs: &dyn CipherSuiteProvider,
        interim_transcript_hash_before: &[u8],
    ) -> Result<Vec<u8>> {
        confirmed_transcript_hash(
            cs,
            interim_transcript_hash_before,
            &ConfirmedTranscriptHashInput {
                wire_format: self.wire_format,
                content: &self.content,
                signature: &self.signature,
            },
        )
    }

    /// The authenticated content, with `confirmation_tag` attached: required
    /// for commits and refused for other content (RFC 9420 §6.1).
    pub fn into_authenticated(self, confirmation_tag: Option<Tag>) -> Result<AuthenticatedContent> {
        let auth = FramedContentAuthData {
            signature: self.signature,
            confirmation_tag,
        };
        auth.check_for(self.content.content_type())?;
        Ok(AuthenticatedContent {
            wire_format: self.wire_format,
            content: self.content,
            auth,
        })
    }
}

/// Signs `content` and attaches `confirmation_tag` in one step, for content
/// whose tag does not depend on the signature (everything but commits, which
/// take `None`) or is already known. See [`SignedContent`].
pub fn sign_content(
    cs: &dyn CipherSuiteProvider,
    wire_format: WireFormat,
    content: FramedContent,
    context: Option<&GroupContext>,
    signature_key: &SignaturePrivateKey,
    confirmation_tag: Option<Tag>,
) -> Result<AuthenticatedContent> {
    SignedContent::sign(cs, wire_format, content, context, signature_key)?
        .into_authenticated(confirmation_tag)
}

/// Verifies the signature of `content` (RFC 9420 §6.1) with `signature_key`,
/// the key the caller resolved from the sender (the leaf's for a member, the
/// `external_senders` entry's for an external sender, the one in the Commit's
/// path or the KeyPackage for new members). `context` is the GroupContext of
/// the epoch the message was sent in (see [`tbs_context`]).
///
/// Fails with [`CryptoError::InvalidSignature`](crate::error::CryptoError::InvalidSignature).
pub fn verify_content_signature(
    cs: &dyn CipherSuiteProvider,
    content: &AuthenticatedContent,
    context: Option<&GroupContext>,
    signature_key: &SignaturePublicKey,
) -> Result<()> {
    let tbs = content.tbs(tbs_context(&content.content.sender, context)?);
    verify_tbs_signature(cs, &tbs.to_bytes()?, &content.auth.signature, signature_key)
}

/// Verifies `signature` over an encoded `FramedContentTBS` (RFC 9420 §6.1),
/// for callers that have encoded it already.
pub(crate) fn verify_tbs_signature(
    cs: &dyn CipherSuiteProvider,
    tbs: &[u8],
    signature: &[u8],
    signature_key: &SignaturePublicKey,
) -> Result<()> {
    verify_with_label(cs, signature_key, SIGNATURE_LABEL, tbs, signature)
}
