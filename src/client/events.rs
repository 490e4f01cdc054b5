//! What the client tells the application: plain records, one [`Event`] per
//! thing that happened.

use crate::messages::{Credential, Proposal};
use crate::tree_math::LeafIndex;

/// A group's identifier (RFC 9420 §8.1 `group_id`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GroupId(pub Vec<u8>);

impl GroupId {
    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for GroupId {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for GroupId {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl From<&[u8]> for GroupId {
    fn from(v: &[u8]) -> Self {
        Self(v.to_vec())
    }
}

impl<const N: usize> From<&[u8; N]> for GroupId {
    fn from(v: &[u8; N]) -> Self {
        Self(v.to_vec())
    }
}

impl From<&str> for GroupId {
    fn from(v: &str) -> Self {
        Self(v.as_bytes().to_vec())
    }
}

/// A member of a group: its leaf and its credential.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct MemberInfo {
    /// The member's leaf index.
    pub leaf: LeafIndex,
    /// Its credential.
    pub credential: Credential,
}

/// A member whose leaf was replaced (an Update or a committer's path).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct UpdatedMember {
    /// The leaf.
    pub leaf: LeafIndex,
    /// The credential before.
    pub old: Credential,
    /// The credential after (often the same: a key update).
    pub new: Credential,
}

/// Application data from a member.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ApplicationMessage {
    /// The group.
    pub group: GroupId,
    /// The epoch the message was sent in.
    pub epoch: u64,
    /// The sender: its leaf and its credential as of that epoch.
    pub sender: MemberInfo,
    /// The plaintext.
    pub data: Vec<u8>,
    /// The sender's authenticated (unencrypted) data.
    pub authenticated_data: Vec<u8>,
}

/// Who sent a proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum ProposalSender {
    /// A member.
    Member(MemberInfo),
    /// An external sender, by index in `external_senders`, with its credential.
    External {
        /// The index.
        index: u32,
        /// Its credential.
        credential: Credential,
    },
    /// A new member proposing to add itself.
    NewMember {
        /// Its credential.
        credential: Credential,
    },
}

/// What a proposal asks, in short.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum ProposalKind {
    /// Add a member with this credential.
    Add {
        /// The credential of the KeyPackage.
        credential: Credential,
    },
    /// Replace the sender's leaf.
    Update {
        /// The new credential.
        credential: Credential,
    },
    /// Remove a member.
    Remove {
        /// Its leaf.
        leaf: LeafIndex,
    },
    /// Inject a pre-shared key.
    PreSharedKey,
    /// Re-initialize the group.
    ReInit,
    /// Replace the group context extensions.
    GroupContextExtensions,
    /// Any other type.
    Other {
        /// The proposal type.
        proposal_type: u16,
    },
}

impl ProposalKind {
    /// The kind of `proposal`.
    pub fn of(proposal: &Proposal) -> Self {
        match proposal {
            Proposal::Add(a) => Self::Add {
                credential: a.key_package.leaf_node.credential.clone(),
            },
            Proposal::Update(u) => Self::Update {
                credential: u.leaf_node.credential.clone(),
            },
            Proposal::Remove(r) => Self::Remove {
                leaf: LeafIndex(r.removed),
            },
            Proposal::PreSharedKey(_) => Self::PreSharedKey,
            Proposal::ReInit(_) => Self::ReInit,
            Proposal::GroupContextExtensions(_) => Self::GroupContextExtensions,
            other => Self::Other {
                proposal_type: other.proposal_type().0,
            },
        }
    }
}

/// A proposal was received and cached for the next commit.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ProposalReceived {
    /// The group.
    pub group: GroupId,
    /// The epoch.
    pub epoch: u64,
    /// Who proposed it.
    pub sender: ProposalSender,
    /// Its reference (RFC 9420 §5.2), to drop it from the cache.
    pub reference: Vec<u8>,
    /// What it asks.
    pub kind: ProposalKind,
}

/// A commit was merged: the group is in a new epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CommitMerged {
    /// The group.
    pub group: GroupId,
    /// The new epoch.
    pub epoch: u64,
    /// The committer's leaf, if a member committed (`None`: an external
    /// joiner, listed in `added`).
    pub committer: Option<LeafIndex>,
    /// Whether this member made the commit.
    pub own: bool,
    /// Members added.
    pub added: Vec<MemberInfo>,
    /// Members removed, with the credential they had.
    pub removed: Vec<MemberInfo>,
    /// Members whose leaf was replaced, with old and new credential.
    pub updated: Vec<UpdatedMember>,
    /// Whether the group context extensions changed.
    pub extensions_changed: bool,
    /// Whether the commit re-initializes the group: it must not be used
    /// any more (RFC 9420 §12.1.5); the client marks it inactive.
    pub reinit: bool,
}

/// Why a group became inactive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum InactiveReason {
    /// This member was removed.
    Removed,
    /// The group was re-initialized (RFC 9420 §12.1.5).
    ReInit,
}

/// Something that happened in one of the client's groups.
///
/// ```
/// # use tessera::client::Event;
/// fn show(event: &Event) {
///     match event {
///         Event::Application(m) => println!("{:?}: {:?}", m.sender.credential, m.data),
///         Event::CommitMerged(c) => println!("epoch {}: +{} -{}", c.epoch, c.added.len(), c.removed.len()),
///         Event::Removed { .. } => println!("we were removed"),
///         other => println!("{other:?}"),
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Event {
    /// Application data from a member.
    Application(ApplicationMessage),
    /// A proposal was received and cached.
    ProposalReceived(ProposalReceived),
    /// A commit was merged.
    CommitMerged(CommitMerged),
    /// This member was removed from the group by a commit of `by` (a leaf;
    /// `None` for an external committer). The group stays in `epoch`, is
    /// inactive (sending fails with
    /// [`ApiError::GroupInactive`](crate::error::ApiError::GroupInactive)),
    /// and its history can still be read until it is deleted.
    Removed {
        /// The group.
        group: GroupId,
        /// The epoch this member stays in.
        epoch: u64,
        /// The committer.
        by: Option<LeafIndex>,
    },
    /// This client joined a group.
    Joined {
        /// The group.
        group: GroupId,
        /// The epoch it joined in.
        epoch: u64,
        /// Its members, this client included.
        members: Vec<MemberInfo>,
    },
    /// A message for a later epoch was held, to be processed once the group
    /// reaches that epoch (see [`GroupStatus::held_messages`](super::GroupStatus::held_messages)).
    MessageHeld {
        /// The group.
        group: GroupId,
        /// The message's epoch.
        epoch: u64,
    },
    /// A held message, retried once the group reached its epoch, failed.
    HeldMessageFailed {
        /// The group.
        group: GroupId,
        /// The message's epoch.
        epoch: u64,
        /// Why (the error's text).
        reason: String,
    },
}

impl Event {
    /// The group the event is about.
    pub fn group(&self) -> &GroupId {
        match self {
            Event::Application(m) => &m.group,
            Event::ProposalReceived(p) => &p.group,
            Event::CommitMerged(c) => &c.group,
            Event::Removed { group, .. }
            | Event::Joined { group, .. }
            | Event::MessageHeld { group, .. }
            | Event::HeldMessageFailed { group, .. } => group,
        }
    }

    /// The application message, if this is one.
    pub fn as_application(&self) -> Option<&ApplicationMessage> {
        match self {
            Event::Application(m) => Some(m),
            _ => None,
        }
    }
}

/// What processing one message gave: usually one event; none for an echo
/// of this member's own message; several when a commit releases held
/// messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Processed {
    /// The events, in order.
    pub events: Vec<Event>,
}

impl Processed {
    /// The application messages among the events.
    pub fn messages(&self) -> impl Iterator<Item = &ApplicationMessage> {
        self.events.iter().filter_map(Event::as_application)
    }

    /// The data of the first application message, if any.
    ///
    /// ```
    /// # use tessera::client::Processed;
    /// assert_eq!(Processed::default().data(), None);
    /// ```
    pub fn data(&self) -> Option<&[u8]> {
        self.messages().next().map(|m| m.data.as_slice())
    }
}
