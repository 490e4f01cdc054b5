//! PrivateMessage and the structures inside and around its encryption
//! (RFC 9420 §6.3).

use super::{ContentType, FramedContentAuthData, FramedContentBody};
use crate::codec::{Decode, Encode, Reader};
use crate::error::{ApiError, DecodeError};

/// A message that is signed and encrypted (RFC 9420 §6.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivateMessage {
    /// The group the message belongs to.
    pub group_id: Vec<u8>,
    /// The epoch the message was sent in.
    pub epoch: u64,
    /// The type of the encrypted content.
    pub content_type: ContentType,
    /// Application data that is authenticated but not encrypted.
    pub authenticated_data: Vec<u8>,
    /// The encrypted [`SenderData`] (§6.3.2).
    pub encrypted_sender_data: Vec<u8>,
    /// The encrypted [`PrivateMessageContent`] (§6.3.1).
    pub ciphertext: Vec<u8>,
}
crate::impl_codec_struct!(PrivateMessage {
    group_id,
    epoch,
    content_type,
    authenticated_data,
    encrypted_sender_data,
    ciphertext
});

impl PrivateMessage {
    /// The AAD of the content encryption (RFC 9420 §6.3.1).
    pub fn content_aad(&self) -> PrivateContentAad {
        PrivateContentAad {
            group_id: self.group_id.clone(),
            epoch: self.epoch,
            content_type: self.content_type,
            authenticated_data: self.authenticated_data.clone(),
        }
    }

    /// The AAD of the sender data encryption (RFC 9420 §6.3.2).
    pub fn sender_data_aad(&self) -> SenderDataAad {
        SenderDataAad {
            group_id: self.group_id.clone(),
            epoch: self.epoch,
            content_type: self.content_type,
        }
    }
}

/// The plaintext of a PrivateMessage's `ciphertext` (RFC 9420 §6.3.1): the
/// content, its authentication and zero padding.
///
/// The content type is not on the wire (it is the PrivateMessage's), so this
/// type has no [`Decode`] impl: use [`PrivateMessageContent::decode_for`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivateMessageContent {
    /// The content.
    pub content: FramedContentBody,
    /// The signature, and the confirmation tag for commits.
    pub auth: FramedContentAuthData,
    /// The number of zero bytes of padding.
    pub padding: usize,
}

impl PrivateMessageContent {
    /// Reads a whole plaintext of content type `content_type`: the content,
    /// the authentication data, and then every remaining byte as padding, which
    /// must all be zero (§6.3.1), else [`DecodeError::NonZeroPadding`].
    pub fn decode_for(r: &mut Reader<'_>, content_type: ContentType) -> Result<Self, DecodeError> {
        let content = FramedContentBody::decode_for(r, content_type)?;
        let auth = FramedContentAuthData::decode_for(r, content_type)?;
        let padding = r.read_bytes(r.remaining())?;
        if padding.iter().any(|&b| b != 0) {
            return Err(DecodeError::NonZeroPadding);
        }
        Ok(Self {
            content,
            auth,
            padding: padding.len(),
        })
    }

    /// The content type of the content (to be put in the PrivateMessage).
    pub fn content_type(&self) -> ContentType {
        self.content.content_type()
    }
}

impl Encode for PrivateMessageContent {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.auth.check_for(self.content_type())?;
        self.content.encode(out)?;
        self.auth.encode(out)?;
        let len = (out.len())
            .checked_add(self.padding)
            .ok_or(ApiError::ValueTooLarge(self.padding))?;
        out.resize(len, 0);
        Ok(())
    }
}

/// The plaintext of a PrivateMessage's `encrypted_sender_data` (RFC 9420 §6.3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SenderData {
    /// The sender's leaf index.
    pub leaf_index: u32,
    /// The generation of the sender's ratchet that encrypted the content.
    pub generation: u32,
    /// The random value XORed into the first four bytes of the content nonce.
    pub reuse_guard: [u8; 4],
}

impl Encode for SenderData {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.leaf_index.encode(out)?;
        self.generation.encode(out)?;
        out.extend_from_slice(&self.reuse_guard);
        Ok(())
    }
}

impl Decode for SenderData {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            leaf_index: u32::decode(r)?,
            generation: u32::decode(r)?,
            reuse_guard: r.read_array()?,
        })
    }
}

/// `PrivateContentAAD`: the AAD of the content encryption (RFC 9420 §6.3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivateContentAad {
    /// The PrivateMessage's group identifier.
    pub group_id: Vec<u8>,
    /// The PrivateMessage's epoch.
    pub epoch: u64,
    /// The PrivateMessage's content type.
    pub content_type: ContentType,
    /// The PrivateMessage's authenticated data.
    pub authenticated_data: Vec<u8>,
}
crate::impl_codec_struct!(PrivateContentAad {
    group_id,
    epoch,
    content_type,
    authenticated_data
});

/// `SenderDataAAD`: the AAD of the sender data encryption, the first three
/// fields of the PrivateMessage (RFC 9420 §6.3.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SenderDataAad {
    /// The PrivateMessage's group identifier.
    pub group_id: Vec<u8>,
    /// The PrivateMessage's epoch.
    pub epoch: u64,
    /// The PrivateMessage's content type.
    pub content_type: ContentType,
}
crate::impl_codec_struct!(SenderDataAad {
    group_id,
    epoch,
    content_type
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Tag;
    use crate::messages::Sender;
    use crate::messages::test_support::{contents, round_trip};

    fn decode(bytes: &[u8], ct: ContentType) -> Result<PrivateMessageContent, DecodeError> {
        PrivateMessageContent::decode_for(&mut Reader::new(bytes), ct)
    }

    #[test]
    fn content_round_trips_with_any_padding() {
        for (content, auth) in contents(Sender::Member(0)) {
            let ct = content.content_type();
            for padding in [0, 1, 17, 1000] {
                let pmc = PrivateMessageContent {
                    content: content.content.clone(),
                    auth: auth.clone(),
                    padding,
                };
                let bytes = pmc.to_bytes().unwrap();
                let unpadded = bytes.len() - padding;
                assert!(bytes[unpadded..].iter().all(|&b| b == 0));
                assert_eq!(decode(&bytes, ct).unwrap(), pmc);
                // Truncating the content or auth is an error, not padding.
                assert!(decode(&bytes[..unpadded - 1], ct).is_err());
            }
        }
    }

    #[test]
    fn rejects_non_zero_padding() {
        let (content, auth) = contents(Sender::Member(0)).remove(2);
        let pmc = PrivateMessageContent {
            content: content.content,
            auth,
            padding: 8,
        };
        let bytes = pmc.to_bytes().unwrap();
        for i in bytes.len() - 8..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] = 0x80;
            assert_eq!(
                decode(&bad, ContentType::Commit),
                Err(DecodeError::NonZeroPadding)
            );
        }
    }

    #[test]
    fn content_refuses_inconsistent_auth() {
        let (content, mut auth) = contents(Sender::Member(0)).remove(0);
        auth.confirmation_tag = Some(Tag::from(vec![1]));
        let pmc = PrivateMessageContent {
            content: content.content,
            auth,
            padding: 0,
        };
        assert!(pmc.to_bytes().is_err());
    }

    #[test]
    fn sender_data_layout() {
        let sd = SenderData {
            leaf_index: 0x0102_0304,
            generation: 0x0506_0708,
            reuse_guard: [9, 10, 11, 12],
        };
        assert_eq!(round_trip(&sd), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    }

    #[test]
    fn message_and_aads() {
        let m = PrivateMessage {
            group_id: vec![0xaa],
            epoch: 2,
            content_type: ContentType::Proposal,
            authenticated_data: vec![0xbb, 0xcc],
            encrypted_sender_data: vec![0xdd],
            ciphertext: vec![0xee],
        };
        let bytes = round_trip(&m);
        assert_eq!(
            bytes,
            [
                1, 0xaa, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 0xbb, 0xcc, 1, 0xdd, 1, 0xee
            ]
        );
        // The AADs are prefixes of the message's encoding.
        assert_eq!(round_trip(&m.sender_data_aad()), bytes[..11]);
        assert_eq!(round_trip(&m.content_aad()), bytes[..14]);
        let mut bad = bytes.clone();
        bad[10] = 0;
        assert_eq!(
            PrivateMessage::decode_exact(&bad),
            Err(DecodeError::InvalidValue("ContentType"))
        );
    }
}
