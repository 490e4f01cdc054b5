//! PublicMessage (RFC 9420 §6.2).

use super::{
    AuthenticatedContentTbm, FramedContent, FramedContentAuthData, FramedContentTbs, GroupContext,
    Sender, WireFormat,
};
use crate::codec::{Decode, Encode, Reader};
use crate::crypto::Tag;
use crate::error::{ApiError, DecodeError, Result};

/// A message that is signed but not encrypted (RFC 9420 §6.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicMessage {
    /// The content.
    pub content: FramedContent,
    /// The signature, and the confirmation tag for commits.
    pub auth: FramedContentAuthData,
    /// `MAC(membership_key, AuthenticatedContentTBM)`; present exactly for member senders.
    pub membership_tag: Option<Tag>,
}

impl PublicMessage {
    /// The `FramedContentTBS` (RFC 9420 §6.1) of this message, with wire
    /// format `mls_public_message`. `context` must be given exactly for
    /// `member` and `new_member_commit` senders.
    pub fn tbs<'a>(&'a self, context: Option<&'a GroupContext>) -> FramedContentTbs<'a> {
        FramedContentTbs {
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: &self.content,
            context,
        }
    }

    /// The encoded `FramedContentTBS` of this message (see [`Self::tbs`]).
    pub fn to_be_signed(&self, context: Option<&GroupContext>) -> Result<Vec<u8>> {
        Ok(self.tbs(context).to_bytes()?)
    }

    /// The encoded `AuthenticatedContentTBM` (RFC 9420 §6.2) the membership
    /// tag is computed over. Only member senders have one, and a member's
    /// `FramedContentTBS` always includes the group context.
    pub fn to_be_maced(&self, context: &GroupContext) -> Result<Vec<u8>> {
        let tbm = AuthenticatedContentTbm {
            content_tbs: self.tbs(Some(context)),
            auth: &self.auth,
        };
        Ok(tbm.to_bytes()?)
    }
}

impl Encode for PublicMessage {
    fn encode(&self, out: &mut Vec<u8>) -> core::result::Result<(), ApiError> {
        self.auth.check_for(self.content.content_type())?;
        let is_member = matches!(self.content.sender, Sender::Member(_));
        if is_member != self.membership_tag.is_some() {
            return Err(ApiError::InvalidArgument(
                "PublicMessage has a membership tag exactly for member senders",
            ));
        }
        self.content.encode(out)?;
        self.auth.encode(out)?;
        match &self.membership_tag {
            Some(tag) => tag.encode(out),
            None => Ok(()),
        }
    }
}

impl Decode for PublicMessage {
    fn decode(r: &mut Reader<'_>) -> core::result::Result<Self, DecodeError> {
        let content = FramedContent::decode(r)?;
        let auth = FramedContentAuthData::decode_for(r, content.content_type())?;
        let membership_tag = match content.sender {
            Sender::Member(_) => Some(Tag::decode(r)?),
            _ => None,
        };
        Ok(Self {
            content,
            auth,
            membership_tag,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::test_support::{contents, group_context, round_trip};

    #[test]
    fn membership_tag_exactly_for_members() {
        for sender in [
            Sender::Member(0),
            Sender::External(1),
            Sender::NewMemberProposal,
            Sender::NewMemberCommit,
        ] {
            let member = matches!(sender, Sender::Member(_));
            for (content, auth) in contents(sender) {
                let tag = Some(Tag::from(vec![0xab; 32]));
                let mut m = PublicMessage {
                    content,
                    auth,
                    membership_tag: if member { tag.clone() } else { None },
                };
                let bytes = round_trip(&m);
                // The tag, if any, is the last field.
                let head = m.content.to_bytes().unwrap().len() + m.auth.to_bytes().unwrap().len();
                match &m.membership_tag {
                    Some(t) => {
                        assert_eq!(bytes[head..], t.to_bytes().unwrap());
                    }
                    None => assert_eq!(bytes.len(), head),
                }
                // Encoding refuses the wrong presence.
                m.membership_tag = if member { None } else { tag };
                assert!(m.to_bytes().is_err());
            }
        }
    }

    #[test]
    fn to_be_maced_covers_tbs_with_context_then_auth() {
        let ctx = group_context();
        let (content, auth) = contents(Sender::Member(3)).remove(2);
        let m = PublicMessage {
            content,
            auth,
            membership_tag: Some(Tag::from(vec![1; 32])),
        };
        let mut want = vec![0, 1, 0, 1];
        want.extend(m.content.to_bytes().unwrap());
        want.extend(ctx.to_bytes().unwrap());
        assert_eq!(m.to_be_signed(Some(&ctx)).unwrap(), want);
        want.extend(m.auth.to_bytes().unwrap());
        assert_eq!(m.to_be_maced(&ctx).unwrap(), want);
    }
}
