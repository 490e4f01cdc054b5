//! AuthenticatedContent and the membership-tag input (RFC 9420 §6, §6.2).

use super::{FramedContent, FramedContentAuthData, FramedContentTbs, GroupContext, WireFormat};
use crate::codec::{Decode, Encode, Reader};
use crate::error::{ApiError, DecodeError, Result};

/// A framed message with its authentication, independent of how it is
/// protected on the wire (RFC 9420 §6). Proposal references (§5.2) and the
/// transcript hashes (§8.2) are computed over its encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticatedContent {
    /// The wire format the message is sent in.
    pub wire_format: WireFormat,
    /// The content.
    pub content: FramedContent,
    /// The signature, and the confirmation tag for commits.
    pub auth: FramedContentAuthData,
}

impl AuthenticatedContent {
    /// The encoded `FramedContentTBS` (RFC 9420 §6.1) for this content.
    /// `context` must be given exactly for `member` and `new_member_commit` senders.
    pub fn to_be_signed(&self, context: Option<&GroupContext>) -> Result<Vec<u8>> {
        Ok(self.tbs(context).to_bytes()?)
    }

    /// The `FramedContentTBS` of this content.
    pub fn tbs<'a>(&'a self, context: Option<&'a GroupContext>) -> FramedContentTbs<'a> {
        FramedContentTbs {
            wire_format: self.wire_format,
            content: &self.content,
            context,
        }
    }
}

impl Encode for AuthenticatedContent {
    fn encode(&self, out: &mut Vec<u8>) -> core::result::Result<(), ApiError> {
        self.auth.check_for(self.content.content_type())?;
        self.wire_format.encode(out)?;
        self.content.encode(out)?;
        self.auth.encode(out)
    }
}

impl Decode for AuthenticatedContent {
    fn decode(r: &mut Reader<'_>) -> core::result::Result<Self, DecodeError> {
        let wire_format = WireFormat::decode(r)?;
        let content = FramedContent::decode(r)?;
        let auth = FramedContentAuthData::decode_for(r, content.content_type())?;
        Ok(Self {
            wire_format,
            content,
            auth,
        })
    }
}

/// `AuthenticatedContentTBM` (RFC 9420 §6.2): what a PublicMessage's
/// membership tag covers. Encode-only; it borrows the parts it covers.
#[derive(Clone, Copy, Debug)]
pub struct AuthenticatedContentTbm<'a> {
    /// The signed content.
    pub content_tbs: FramedContentTbs<'a>,
    /// Its authentication data.
    pub auth: &'a FramedContentAuthData,
}

impl Encode for AuthenticatedContentTbm<'_> {
    fn encode(&self, out: &mut Vec<u8>) -> core::result::Result<(), ApiError> {
        self.auth
            .check_for(self.content_tbs.content.content_type())?;
        self.content_tbs.encode(out)?;
        self.auth.encode(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Tag;
    use crate::messages::Sender;
    use crate::messages::test_support::{contents, group_context, round_trip};

    #[test]
    fn round_trips_and_refuses_inconsistent_auth() {
        for (content, auth) in contents(Sender::NewMemberCommit) {
            let mut ac = AuthenticatedContent {
                wire_format: WireFormat::PRIVATE_MESSAGE,
                content,
                auth,
            };
            let bytes = round_trip(&ac);
            assert_eq!(bytes[..2], [0, 2]);
            ac.auth.confirmation_tag = match ac.auth.confirmation_tag {
                Some(_) => None,
                None => Some(Tag::from(vec![1])),
            };
            assert!(ac.to_bytes().is_err());
        }
    }

    #[test]
    fn tbm_is_tbs_then_auth() {
        let ctx = group_context();
        for (content, auth) in contents(Sender::Member(4)) {
            let ac = AuthenticatedContent {
                wire_format: WireFormat::PUBLIC_MESSAGE,
                content,
                auth,
            };
            let tbm = AuthenticatedContentTbm {
                content_tbs: ac.tbs(Some(&ctx)),
                auth: &ac.auth,
            };
            let mut want = ac.to_be_signed(Some(&ctx)).unwrap();
            want.extend(ac.auth.to_bytes().unwrap());
            assert_eq!(tbm.to_bytes().unwrap(), want);
        }
    }
}
