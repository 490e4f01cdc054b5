//! Commits and the proposals they cover (RFC 9420 §12.4).

use super::{AuthenticatedContent, FramedContentBody, Proposal, UpdatePath};
use crate::codec::{Decode, Encode, Reader};
use crate::crypto::CipherSuiteProvider;
use crate::error::{ApiError, DecodeError, Result};

/// A proposal reference: `RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent)`
/// over the AuthenticatedContent that carried the proposal (RFC 9420 §5.2).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProposalRef(pub Vec<u8>);
crate::impl_codec_newtype!(ProposalRef(Vec<u8>));

impl ProposalRef {
    /// The reference of the proposal `content` carries, with the group's suite
    /// (RFC 9420 §5.2). Fails with [`ApiError::InvalidArgument`] if `content`
    /// does not carry a proposal.
    pub fn compute(cs: &dyn CipherSuiteProvider, content: &AuthenticatedContent) -> Result<Self> {
        if !matches!(content.content.content, FramedContentBody::Proposal(_)) {
            return Err(ApiError::InvalidArgument(
                "a proposal reference is computed over content carrying a proposal",
            )
            .into());
        }
        let bytes = content.to_bytes()?;
        crate::crypto::labeled::ref_hash(cs, b"MLS 1.0 Proposal Reference", &bytes).map(Self)
    }
}

/// A proposal covered by a commit, by value or by reference (RFC 9420 §12.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProposalOrRef {
    /// `proposal(1)`: the proposal itself (boxed: a proposal is far larger than a reference).
    Proposal(Box<Proposal>),
    /// `reference(2)`: the reference of a proposal sent earlier in the epoch.
    Reference(ProposalRef),
}

impl Encode for ProposalOrRef {
    fn encode(&self, out: &mut Vec<u8>) -> core::result::Result<(), ApiError> {
        match self {
            Self::Proposal(p) => {
                out.push(1);
                p.encode(out)
            }
            Self::Reference(r) => {
                out.push(2);
                r.encode(out)
            }
        }
    }
}

impl Decode for ProposalOrRef {
    fn decode(r: &mut Reader<'_>) -> core::result::Result<Self, DecodeError> {
        match r.read_u8()? {
            1 => Box::<Proposal>::decode(r).map(Self::Proposal),
            2 => ProposalRef::decode(r).map(Self::Reference),
            _ => Err(DecodeError::InvalidValue("ProposalOrRefType")),
        }
    }
}

/// A commit (RFC 9420 §12.4): the proposals it applies and, optionally, the
/// committer's new path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The covered proposals, in order.
    pub proposals: Vec<ProposalOrRef>,
    /// The committer's UpdatePath, if any (required by some proposal types, §12.4).
    pub path: Option<UpdatePath>,
}
crate::impl_codec_struct!(Commit { proposals, path });

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::CipherSuite;
    use crate::crypto::RustCryptoProvider;
    use crate::messages::test_support::{commit, contents, round_trip};
    use crate::messages::{Sender, WireFormat};

    #[test]
    fn commit_round_trips() {
        round_trip(&commit());
        let empty = Commit {
            proposals: vec![],
            path: None,
        };
        assert_eq!(round_trip(&empty), [0, 0]);
    }

    #[test]
    fn proposal_or_ref_selector() {
        let r = ProposalOrRef::Reference(ProposalRef(vec![9, 9]));
        assert_eq!(round_trip(&r), [2, 2, 9, 9]);
        for bad in [0u8, 3, 255] {
            assert_eq!(
                ProposalOrRef::decode_exact(&[bad, 2, 9, 9]),
                Err(DecodeError::InvalidValue("ProposalOrRefType"))
            );
        }
    }

    #[test]
    fn proposal_ref_is_ref_hash_of_the_authenticated_content() {
        let cs = RustCryptoProvider::with_seed([1; 32])
            .suite(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
            .unwrap();
        let mut all = contents(Sender::Member(0))
            .into_iter()
            .map(|(content, auth)| AuthenticatedContent {
                wire_format: WireFormat::PUBLIC_MESSAGE,
                content,
                auth,
            });
        let _application = all.next().unwrap();
        let proposal = all.next().unwrap();
        let commit = all.next().unwrap();

        let r = ProposalRef::compute(&cs, &proposal).unwrap();
        let want = crate::crypto::labeled::ref_hash(
            &cs,
            b"MLS 1.0 Proposal Reference",
            &proposal.to_bytes().unwrap(),
        )
        .unwrap();
        assert_eq!(r.0, want);
        assert_eq!(r.0.len(), 32);
        // The wire format is covered.
        let mut private = proposal.clone();
        private.wire_format = WireFormat::PRIVATE_MESSAGE;
        assert_ne!(ProposalRef::compute(&cs, &private).unwrap(), r);
        // Only proposals have references.
        assert!(ProposalRef::compute(&cs, &commit).is_err());
    }
}
