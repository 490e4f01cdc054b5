//! The sender of a framed message (RFC 9420 §6).

use crate::codec::{Decode, Encode, Reader};
use crate::error::{ApiError, DecodeError};

/// The kind of sender of a message (RFC 9420 §6, `SenderType`, a `uint8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SenderType {
    /// `member(1)`: a member of the group, by leaf index.
    Member,
    /// `external(2)`: a sender listed in the `external_senders` extension.
    External,
    /// `new_member_proposal(3)`: a client proposing its own addition.
    NewMemberProposal,
    /// `new_member_commit(4)`: a client joining by external commit.
    NewMemberCommit,
}

impl SenderType {
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Member => 1,
            Self::External => 2,
            Self::NewMemberProposal => 3,
            Self::NewMemberCommit => 4,
        }
    }

    /// The sender type of a wire value; `reserved(0)` and unknown values are `None`.
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Self::Member),
            2 => Some(Self::External),
            3 => Some(Self::NewMemberProposal),
            4 => Some(Self::NewMemberCommit),
            _ => None,
        }
    }
}

impl Encode for SenderType {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        out.push(self.to_u8());
        Ok(())
    }
}

impl Decode for SenderType {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Self::from_u8(r.read_u8()?).ok_or(DecodeError::InvalidValue("SenderType"))
    }
}

/// Who sent a message (RFC 9420 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Sender {
    /// A member, by leaf index.
    Member(u32),
    /// An external sender, by index into the `external_senders` extension (§12.1.8.1).
    External(u32),
    /// A new member proposing its own addition (§12.1.8).
    NewMemberProposal,
    /// A new member joining by external commit (§12.4.3.2).
    NewMemberCommit,
}

impl Sender {
    /// The sender type this sender is encoded with.
    pub fn sender_type(&self) -> SenderType {
        match self {
            Self::Member(_) => SenderType::Member,
            Self::External(_) => SenderType::External,
            Self::NewMemberProposal => SenderType::NewMemberProposal,
            Self::NewMemberCommit => SenderType::NewMemberCommit,
        }
    }
}

impl Encode for Sender {
    fn encode(&self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        self.sender_type().encode(out)?;
        match self {
            Self::Member(i) | Self::External(i) => i.encode(out),
            Self::NewMemberProposal | Self::NewMemberCommit => Ok(()),
        }
    }
}

impl Decode for Sender {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match SenderType::decode(r)? {
            SenderType::Member => Self::Member(u32::decode(r)?),
            SenderType::External => Self::External(u32::decode(r)?),
            SenderType::NewMemberProposal => Self::NewMemberProposal,
            SenderType::NewMemberCommit => Self::NewMemberCommit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::test_support::round_trip;

    #[test]
    fn senders_round_trip() {
        assert_eq!(round_trip(&Sender::Member(0x0102_0304)), [1, 1, 2, 3, 4]);
        assert_eq!(round_trip(&Sender::External(5)), [2, 0, 0, 0, 5]);
        assert_eq!(round_trip(&Sender::NewMemberProposal), [3]);
        assert_eq!(round_trip(&Sender::NewMemberCommit), [4]);
    }

    #[test]
    fn rejects_unknown_sender_types() {
        for bad in [0u8, 5, 255] {
            assert_eq!(
                Sender::decode_exact(&[bad, 0, 0, 0, 0]),
                Err(DecodeError::InvalidValue("SenderType"))
            );
        }
    }
}
