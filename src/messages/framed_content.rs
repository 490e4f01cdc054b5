//! Framed content and its authentication data (RFC 9420 §6, §6.1).

use super::{Commit, GroupContext, Proposal, ProtocolVersion, Sender, SenderType, WireFormat};
use crate::codec::{Decode, Encode, Reader};
use crate::crypto::Tag;
use crate::error::{ApiError, DecodeError};

/// What a framed message carries (RFC 9420 §6, `ContentType`, a `uint8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// `application(1)`: application data.
    Application,
    /// `proposal(2)`: a proposal.
    Proposal,
    /// `commit(3)`: a commit.
    Commit,
}

impl ContentType {
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Application => 1,
            Self::Proposal => 2,
            Self::Commit => 3,
        }
    }

    /// The content type of a wire value; `reserved(0)` and unknown values are `None`.
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Application),
            2 => Some(Self::Proposal),
            3 => Some(Self::Commit),
            _ => None,
        }
    }
}

impl Encode for ContentType {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        out.push(self.to_u8());
        Ok(())
    }
}

impl Decode for ContentType {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::from_u8(r.read_u8()?).ok_or(DecodeError::InvalidValue("ContentType"))
    }
}

/// The content of a framed message: the `select (content_type)` part of
/// `FramedContent` and `PrivateMessageContent` (RFC 9420 §6, §6.3.1).
///
/// Its [`Encode`] impl writes only the selected value, not the content type,
/// which sits in a different place in each enclosing structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FramedContentBody {
    /// `application`: `opaque application_data<V>`.
    Application(Vec<u8>),
    /// `proposal`: a proposal.
    Proposal(Proposal),
    /// `commit`: a commit.
    Commit(Commit),
}

impl FramedContentBody {
    /// The content type this body goes with.
    pub fn content_type(&self) -> ContentType {
        match self {
            Self::Application(_) => ContentType::Application,
            Self::Proposal(_) => ContentType::Proposal,
            Self::Commit(_) => ContentType::Commit,
        }
    }

    /// Reads the body of a message whose content type is `content_type`.
    pub fn decode_for(r: &mut Reader<'_>, content_type: ContentType) -> Result<Self, DecodeError> {
        Ok(match content_type {
            ContentType::Application => Self::Application(Vec::decode(r)?),
            ContentType::Proposal => Self::Proposal(Proposal::decode(r)?),
            ContentType::Commit => Self::Commit(Commit::decode(r)?),
        })
    }
}

impl Encode for FramedContentBody {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        match self {
            Self::Application(data) => data.encode(out),
            Self::Proposal(p) => p.encode(out),
            Self::Commit(c) => c.encode(out),
        }
    }
}

/// The content of a message with its framing (RFC 9420 §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FramedContent {
    /// The group the message belongs to.
    pub group_id: Vec<u8>,
    /// The epoch the message was sent in.
    pub epoch: u64,
    /// Who sent it.
    pub sender: Sender,
    /// Application data that is authenticated but not encrypted.
    pub authenticated_data: Vec<u8>,
    /// The content (its type is `content.content_type()`).
    pub content: FramedContentBody,
}

impl FramedContent {
    /// The content type of this message.
    pub fn content_type(&self) -> ContentType {
        self.content.content_type()
    }

    /// The encoding of `self` ([`Encode`]) in pieces, with the ciphertexts
    /// of a commit's UpdatePath borrowed, not copied: they are nearly all
    /// of a large commit, which is hashed three times (RFC 9420 §6.1, §6.2,
    /// §8.2).
    pub(crate) fn encode_parts<'a>(
        &'a self,
        parts: &mut crate::codec::Parts<'a>,
    ) -> Result<(), ApiError> {
        let FramedContentBody::Commit(Commit {
            proposals,
            path: Some(path),
        }) = &self.content
        else {
            return self.encode(parts.out());
        };
        // The fields in the order of `encode`; then `Commit { proposals,
        // optional<UpdatePath> path }` with the path present.
        let out = parts.out();
        self.group_id.encode(out)?;
        self.epoch.encode(out)?;
        self.sender.encode(out)?;
        self.authenticated_data.encode(out)?;
        self.content_type().encode(out)?;
        proposals.encode(out)?;
        out.push(1);
        path.encode_parts(parts)
    }
}

impl Encode for FramedContent {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.group_id.encode(out)?;
        self.epoch.encode(out)?;
        self.sender.encode(out)?;
        self.authenticated_data.encode(out)?;
        self.content_type().encode(out)?;
        self.content.encode(out)
    }
}

impl Decode for FramedContent {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let group_id = Vec::decode(r)?;
        let epoch = u64::decode(r)?;
        let sender = Sender::decode(r)?;
        let authenticated_data = Vec::decode(r)?;
        let content_type = ContentType::decode(r)?;
        let content = FramedContentBody::decode_for(r, content_type)?;
        Ok(Self {
            group_id,
            epoch,
            sender,
            authenticated_data,
            content,
        })
    }
}

/// The authentication of a framed message (RFC 9420 §6.1): the sender's
/// signature and, for commits only, the confirmation tag.
///
/// Whether the confirmation tag is on the wire depends on the content type,
/// so this type has no [`Decode`] impl: use [`FramedContentAuthData::decode_for`].
/// Its [`Encode`] impl writes the tag if there is one; the structures that
/// contain it check it is there exactly for commits before encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FramedContentAuthData {
    /// `SignWithLabel(., "FramedContentTBS", FramedContentTBS)`.
    pub signature: Vec<u8>,
    /// `MAC(confirmation_key, confirmed_transcript_hash)`; present exactly for commits.
    pub confirmation_tag: Option<Tag>,
}

impl FramedContentAuthData {
    /// Reads the authentication data of a message whose content type is
    /// `content_type`: a confirmation tag follows the signature exactly for commits.
    pub fn decode_for(r: &mut Reader<'_>, content_type: ContentType) -> Result<Self, DecodeError> {
        let signature = Vec::decode(r)?;
        let confirmation_tag = match content_type {
            ContentType::Commit => Some(Tag::decode(r)?),
            ContentType::Application | ContentType::Proposal => None,
        };
        Ok(Self {
            signature,
            confirmation_tag,
        })
    }

    /// Checks the confirmation tag is present exactly if `content_type` is commit,
    /// so that the encoding can be read back.
    pub fn check_for(&self, content_type: ContentType) -> Result<(), ApiError> {
        if self.confirmation_tag.is_some() == (content_type == ContentType::Commit) {
            Ok(())
        } else {
            Err(ApiError::InvalidArgument(
                "FramedContentAuthData has a confirmation tag exactly for commits",
            ))
        }
    }
}

impl Encode for FramedContentAuthData {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.signature.encode(out)?;
        match &self.confirmation_tag {
            Some(tag) => tag.encode(out),
            None => Ok(()),
        }
    }
}

/// `FramedContentTBS` (RFC 9420 §6.1): what a framed message's signature
/// covers. Encode-only; it borrows the parts it covers.
#[derive(Clone, Copy, Debug)]
pub struct FramedContentTbs<'a> {
    /// The wire format the message will be (or was) sent in.
    pub wire_format: WireFormat,
    /// The content.
    pub content: &'a FramedContent,
    /// The group context of the epoch: required for `member` and
    /// `new_member_commit` senders, absent for the others.
    pub context: Option<&'a GroupContext>,
}

impl Encode for FramedContentTbs<'_> {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        let needs_context = matches!(
            self.content.sender.sender_type(),
            SenderType::Member | SenderType::NewMemberCommit
        );
        if needs_context != self.context.is_some() {
            return Err(ApiError::InvalidArgument(
                "FramedContentTBS has a group context exactly for member and new_member_commit senders",
            ));
        }
        ProtocolVersion::MLS10.encode(out)?;
        self.wire_format.encode(out)?;
        self.content.encode(out)?;
        match self.context {
            Some(c) => c.encode(out),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::test_support::{contents, group_context, round_trip};

    #[test]
    fn framed_content_round_trips_for_every_content_type() {
        for (content, _) in contents(Sender::Member(1)) {
            let bytes = round_trip(&content);
            // group_id, epoch, sender, authenticated_data, then the content type.
            assert_eq!(bytes[6 + 8 + 5 + 4], content.content_type().to_u8());
        }
    }

    #[test]
    fn rejects_unknown_content_types() {
        for bad in [0u8, 4, 255] {
            assert_eq!(
                ContentType::decode_exact(&[bad]),
                Err(DecodeError::InvalidValue("ContentType"))
            );
        }
        let (content, _) = contents(Sender::Member(1)).remove(0);
        let mut bytes = content.to_bytes().unwrap();
        bytes[6 + 8 + 5 + 4] = 0;
        assert_eq!(
            FramedContent::decode_exact(&bytes),
            Err(DecodeError::InvalidValue("ContentType"))
        );
    }

    #[test]
    fn confirmation_tag_exactly_for_commits() {
        let auth = FramedContentAuthData {
            signature: vec![1, 2],
            confirmation_tag: Some(Tag::from(vec![3, 4, 5])),
        };
        let bytes = auth.to_bytes().unwrap();
        assert_eq!(bytes, [2, 1, 2, 3, 3, 4, 5]);

        // A commit reads the tag after the signature.
        let mut r = Reader::new(&bytes);
        assert_eq!(
            FramedContentAuthData::decode_for(&mut r, ContentType::Commit).unwrap(),
            auth
        );
        assert!(r.is_empty());
        // Application and proposal content has no tag: the same bytes leave it unread.
        for ct in [ContentType::Application, ContentType::Proposal] {
            let mut r = Reader::new(&bytes);
            let got = FramedContentAuthData::decode_for(&mut r, ct).unwrap();
            assert_eq!(got.confirmation_tag, None);
            assert_eq!(r.remaining(), 4);
            assert!(got.check_for(ct).is_ok());
            assert!(got.check_for(ContentType::Commit).is_err());
        }
        // A commit without its tag is truncated.
        let mut r = Reader::new(&bytes[..3]);
        assert_eq!(
            FramedContentAuthData::decode_for(&mut r, ContentType::Commit),
            Err(DecodeError::Truncated)
        );
        assert!(auth.check_for(ContentType::Commit).is_ok());
        assert!(auth.check_for(ContentType::Proposal).is_err());
    }

    #[test]
    fn tbs_has_group_context_exactly_for_member_and_new_member_commit() {
        let ctx = group_context();
        for sender in [
            Sender::Member(0),
            Sender::External(0),
            Sender::NewMemberProposal,
            Sender::NewMemberCommit,
        ] {
            let needs = matches!(sender, Sender::Member(_) | Sender::NewMemberCommit);
            let (content, _) = contents(sender).remove(0);
            let tbs = |context| FramedContentTbs {
                wire_format: WireFormat::PUBLIC_MESSAGE,
                content: &content,
                context,
            };
            assert_eq!(tbs(Some(&ctx)).to_bytes().is_ok(), needs);
            assert_eq!(tbs(None).to_bytes().is_ok(), !needs);
            let bytes = tbs(needs.then_some(&ctx)).to_bytes().unwrap();
            let mut want = vec![0, 1, 0, 1];
            want.extend(content.to_bytes().unwrap());
            if needs {
                want.extend(ctx.to_bytes().unwrap());
            }
            assert_eq!(bytes, want);
        }
    }
}
