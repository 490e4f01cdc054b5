//! Transcript hashes (RFC 9420 §8.2) and the confirmation tag (§6.1).
//!
//! ```text
//! confirmed_transcript_hash_[n] = Hash(interim_transcript_hash_[n-1] || ConfirmedTranscriptHashInput_[n])
//! interim_transcript_hash_[n]   = Hash(confirmed_transcript_hash_[n] || InterimTranscriptHashInput_[n])
//! confirmation_tag_[n]          = MAC(confirmation_key_[n], confirmed_transcript_hash_[n])
//! ```
//!
//! A committer computes the confirmed hash from its signed commit
//! ([`confirmed_transcript_hash`]), derives the new epoch's
//! `confirmation_key` with the new GroupContext, computes the tag
//! ([`confirmation_tag`]) and then the interim hash
//! ([`interim_transcript_hash`]). A member processing a commit has the whole
//! [`AuthenticatedContent`] and uses [`TranscriptHashes::for_commit`], then
//! [`verify_confirmation_tag`] once it has the new `confirmation_key`. A new
//! member joining by Welcome takes the confirmed hash from the GroupInfo's
//! GroupContext and the tag from the GroupInfo ([`TranscriptHashes::from_confirmed`]).

use crate::codec::{Encode, write_opaque};
use crate::crypto::{CipherSuiteProvider, Secret, Tag};
use crate::error::{ApiError, ProtocolError, Result};
use crate::messages::{AuthenticatedContent, ContentType, FramedContent, WireFormat};

/// `ConfirmedTranscriptHashInput` (RFC 9420 §8.2): the parts of a commit's
/// [`AuthenticatedContent`] before the confirmation tag. Encode-only.
#[derive(Clone, Copy, Debug)]
pub struct ConfirmedTranscriptHashInput<'a> {
    /// The wire format the commit is sent in.
    pub wire_format: WireFormat,
    /// The commit's framed content (`content_type == commit`).
    pub content: &'a FramedContent,
    /// The commit's signature.
    pub signature: &'a [u8],
}

impl<'a> ConfirmedTranscriptHashInput<'a> {
    /// The input of a commit's authenticated content.
    pub fn of(content: &'a AuthenticatedContent) -> Self {
        Self {
            wire_format: content.wire_format,
            content: &content.content,
            signature: &content.auth.signature,
        }
    }
}

impl Encode for ConfirmedTranscriptHashInput<'_> {
    fn encode(&self, out: &mut Vec<u8>) -> core::result::Result<(), ApiError> {
        if self.content.content_type() != ContentType::Commit {
            return Err(ApiError::InvalidArgument(
                "transcript hashes are computed over commits only",
            ));
        }
        self.wire_format.encode(out)?;
        self.content.encode(out)?;
        write_opaque(out, self.signature)
    }
}

/// `Hash(interim_transcript_hash_before || ConfirmedTranscriptHashInput)` (RFC 9420 §8.2).
///
/// Fails with [`ApiError::InvalidArgument`] unless the content is a commit.
pub fn confirmed_transcript_hash(
    cs: &dyn CipherSuiteProvider,
    interim_transcript_hash_before: &[u8],
    input: &ConfirmedTranscriptHashInput<'_>,
) -> Result<Vec<u8>> {
    let mut data = interim_transcript_hash_before.to_vec();
    input.encode(&mut data)?;
    Ok(cs.hash(&data))
}

/// `Hash(confirmed_transcript_hash || InterimTranscriptHashInput)` with
/// `InterimTranscriptHashInput = { MAC confirmation_tag; }` (RFC 9420 §8.2).
pub fn interim_transcript_hash(
    cs: &dyn CipherSuiteProvider,
    confirmed_transcript_hash: &[u8],
    confirmation_tag: &Tag,
) -> Result<Vec<u8>> {
    let mut data = confirmed_transcript_hash.to_vec();
    confirmation_tag.encode(&mut data)?;
    Ok(cs.hash(&data))
}

/// `confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash)` (RFC 9420 §6.1).
pub fn confirmation_tag(
    cs: &dyn CipherSuiteProvider,
    confirmation_key: &Secret,
    confirmed_transcript_hash: &[u8],
) -> Result<Tag> {
    Ok(cs.mac(confirmation_key.as_bytes(), confirmed_transcript_hash)?)
}

/// Checks, in constant time, that `tag` is
/// `MAC(confirmation_key, confirmed_transcript_hash)` (RFC 9420 §6.1, §12.4.2),
/// else [`ProtocolError::ConfirmationTagMismatch`].
pub fn verify_confirmation_tag(
    cs: &dyn CipherSuiteProvider,
    confirmation_key: &Secret,
    confirmed_transcript_hash: &[u8],
    tag: &Tag,
) -> Result<()> {
    let expected = confirmation_tag(cs, confirmation_key, confirmed_transcript_hash)?;
    if expected.ct_eq_bytes(tag.as_bytes()) {
        Ok(())
    } else {
        Err(ProtocolError::ConfirmationTagMismatch.into())
    }
}

/// The two transcript hashes of an epoch (RFC 9420 §8.2).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TranscriptHashes {
    /// `confirmed_transcript_hash`, the value in the epoch's GroupContext.
    pub confirmed: Vec<u8>,
    /// `interim_transcript_hash`, the input to the next epoch's confirmed hash.
    pub interim: Vec<u8>,
}

impl TranscriptHashes {
    /// The hashes of epoch 0 of a new group: both zero-length (RFC 9420 §8.2).
    pub fn initial() -> Self {
        Self::default()
    }

    /// The hashes after the commit `content`, from the interim hash before it
    /// (RFC 9420 §8.2). The commit's confirmation tag is taken as it is: check
    /// it with [`verify_confirmation_tag`] against `self.confirmed` once the
    /// new epoch's `confirmation_key` is known.
    ///
    /// Fails with [`ApiError::InvalidArgument`] unless `content` is a commit
    /// with a confirmation tag.
    pub fn for_commit(
        cs: &dyn CipherSuiteProvider,
        interim_transcript_hash_before: &[u8],
        content: &AuthenticatedContent,
    ) -> Result<Self> {
        let tag = content
            .auth
            .confirmation_tag
            .as_ref()
            .ok_or(ApiError::InvalidArgument(
                "a commit carries a confirmation tag",
            ))?;
        let confirmed = confirmed_transcript_hash(
            cs,
            interim_transcript_hash_before,
            &ConfirmedTranscriptHashInput::of(content),
        )?;
        let interim = interim_transcript_hash(cs, &confirmed, tag)?;
        Ok(Self { confirmed, interim })
    }

    /// The hashes a new member starts from: the confirmed hash of the
    /// GroupInfo's GroupContext and the interim hash computed with the
    /// GroupInfo's confirmation tag (RFC 9420 §8.2, §12.4.3.1).
    pub fn from_confirmed(
        cs: &dyn CipherSuiteProvider,
        confirmed_transcript_hash: Vec<u8>,
        confirmation_tag: &Tag,
    ) -> Result<Self> {
        let interim = interim_transcript_hash(cs, &confirmed_transcript_hash, confirmation_tag)?;
        Ok(Self {
            confirmed: confirmed_transcript_hash,
            interim,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{CipherSuite, RustCryptoProvider};
    use crate::messages::{Commit, FramedContentAuthData, FramedContentBody, Sender};

    fn commit_content() -> AuthenticatedContent {
        AuthenticatedContent {
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: FramedContent {
                group_id: b"group".to_vec(),
                epoch: 7,
                sender: Sender::Member(2),
                authenticated_data: vec![],
                content: FramedContentBody::Commit(Commit {
                    proposals: vec![],
                    path: None,
                }),
            },
            auth: FramedContentAuthData {
                signature: vec![0x55; 64],
                confirmation_tag: None,
            },
        }
    }

    #[test]
    fn hashes_chain_as_the_rfc_says() {
        let cs = RustCryptoProvider::new().suite(CipherSuite(1)).unwrap();
        let key = Secret::from(vec![9; 32]);
        let interim_before = vec![1; 32];
        let mut ac = commit_content();
        let confirmed =
            confirmed_transcript_hash(&cs, &interim_before, &ConfirmedTranscriptHashInput::of(&ac))
                .unwrap();
        let mut want = interim_before.clone();
        ac.wire_format.encode(&mut want).unwrap();
        ac.content.encode(&mut want).unwrap();
        ac.auth.signature.encode(&mut want).unwrap();
        assert_eq!(confirmed, cs.hash(&want));

        let tag = confirmation_tag(&cs, &key, &confirmed).unwrap();
        assert_eq!(tag, cs.mac(key.as_bytes(), &confirmed).unwrap());
        ac.auth.confirmation_tag = Some(tag.clone());
        let hashes = TranscriptHashes::for_commit(&cs, &interim_before, &ac).unwrap();
        assert_eq!(hashes.confirmed, confirmed);
        let mut want = confirmed.clone();
        tag.encode(&mut want).unwrap();
        assert_eq!(hashes.interim, cs.hash(&want));
        // A joiner gets the same interim hash from the GroupInfo's values.
        assert_eq!(
            TranscriptHashes::from_confirmed(&cs, confirmed.clone(), &tag).unwrap(),
            hashes
        );
        verify_confirmation_tag(&cs, &key, &confirmed, &tag).unwrap();
    }

    #[test]
    fn confirmation_tag_mismatch_is_refused() {
        let cs = RustCryptoProvider::new().suite(CipherSuite(1)).unwrap();
        let key = Secret::from(vec![9; 32]);
        let confirmed = vec![3; 32];
        let tag = confirmation_tag(&cs, &key, &confirmed).unwrap();
        let mut bad = tag.as_bytes().to_vec();
        bad[0] ^= 1;
        let err = Err(ProtocolError::ConfirmationTagMismatch.into());
        assert_eq!(
            verify_confirmation_tag(&cs, &key, &confirmed, &Tag::from(bad)),
            err
        );
        // A different key or transcript gives a different tag.
        let other_key = Secret::from(vec![8; 32]);
        assert_eq!(
            verify_confirmation_tag(&cs, &other_key, &confirmed, &tag),
            err
        );
        assert_eq!(verify_confirmation_tag(&cs, &key, &[4; 32], &tag), err);
        // A truncated tag does not match.
        let short = Tag::from(tag.as_bytes()[..16].to_vec());
        assert_eq!(verify_confirmation_tag(&cs, &key, &confirmed, &short), err);
    }

    #[test]
    fn only_commits_enter_the_transcript() {
        let cs = RustCryptoProvider::new().suite(CipherSuite(1)).unwrap();
        let mut ac = commit_content();
        // No confirmation tag yet.
        assert!(TranscriptHashes::for_commit(&cs, &[], &ac).is_err());
        ac.content.content = FramedContentBody::Application(vec![1]);
        assert!(
            confirmed_transcript_hash(&cs, &[], &ConfirmedTranscriptHashInput::of(&ac)).is_err()
        );
    }
}
