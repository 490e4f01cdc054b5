//! What the Client tells the app, as records and enums: events, group
//! status, commit outputs, proposals.

use tessera::client as core;

use crate::types::{CipherSuite, Credential, Member};

/// A member's leaf whose node was replaced (an Update, or a committer's
/// path), with its credential before and after (often the same).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UpdatedMember {
    /// The leaf index.
    pub leaf_index: u32,
    /// The credential before.
    pub old_credential: Credential,
    /// The credential after.
    pub new_credential: Credential,
}

/// Who sent a proposal.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ProposalSender {
    /// A member of the group.
    Member {
        /// Its leaf and credential.
        member: Member,
    },
    /// An external sender of the group (RFC 9420 §12.1.8.1).
    External {
        /// Its index in `external_senders`.
        index: u32,
        /// Its credential.
        credential: Credential,
    },
    /// A new member proposing to add itself (RFC 9420 §12.1.8).
    NewMember {
        /// Its credential.
        credential: Credential,
    },
    /// A sender kind added to Tessera after these bindings were built.
    Other,
}

/// What a proposal asks, in short.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ProposalKind {
    /// Add a member with this credential.
    Add {
        /// The KeyPackage's credential.
        credential: Credential,
    },
    /// Replace the sender's leaf.
    Update {
        /// The new credential.
        credential: Credential,
    },
    /// Remove the member at a leaf.
    Remove {
        /// The leaf index.
        leaf_index: u32,
    },
    /// Inject a pre-shared key.
    PreSharedKey,
    /// Re-initialize the group.
    ReInit,
    /// Replace the group context extensions.
    GroupContextExtensions,
    /// Any other proposal type.
    Other {
        /// Its code point (RFC 9420 §17.4).
        proposal_type: u16,
    },
}

/// Why a group can no longer be sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum InactiveReason {
    /// This member was removed.
    Removed,
    /// The group was re-initialized (RFC 9420 §12.1.5).
    ReInit,
}

/// Something that happened in one of the client's groups.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum Event {
    /// Application data from a member.
    Application {
        /// The group.
        group_id: Vec<u8>,
        /// The epoch the message was sent in (a past epoch is kept a while
        /// for late messages).
        epoch: u64,
        /// The sender: its leaf and its credential as of that epoch (the
        /// leaf may hold someone else since).
        sender: Member,
        /// The plaintext.
        data: Vec<u8>,
        /// The sender's authenticated, unencrypted data.
        authenticated_data: Vec<u8>,
    },
    /// A proposal was received and cached for the next commit.
    ProposalReceived {
        /// The group.
        group_id: Vec<u8>,
        /// The epoch.
        epoch: u64,
        /// Who proposed it.
        sender: ProposalSender,
        /// Its reference (RFC 9420 §5.2).
        reference: Vec<u8>,
        /// What it asks.
        kind: ProposalKind,
    },
    /// A commit was merged: the group is in a new epoch.
    CommitMerged {
        /// The group.
        group_id: Vec<u8>,
        /// The new epoch.
        epoch: u64,
        /// The committer's leaf (none: an external joiner, listed in `added`).
        committer_leaf: Option<u32>,
        /// Whether this member made the commit.
        own: bool,
        /// Members added.
        added: Vec<Member>,
        /// Members removed, with the credential they had.
        removed: Vec<Member>,
        /// Members whose leaf was replaced.
        updated: Vec<UpdatedMember>,
        /// Whether the group context extensions changed.
        extensions_changed: bool,
        /// Whether the commit re-initializes the group (it is inactive now).
        reinit: bool,
    },
    /// This member was removed by a commit. The group stays in `epoch`, is
    /// inactive (sending fails with `ApiMisuse`), and its history can
    /// still be read until it is deleted.
    Removed {
        /// The group.
        group_id: Vec<u8>,
        /// The epoch this member stays in.
        epoch: u64,
        /// The committer's leaf (none: an external committer).
        by_leaf: Option<u32>,
    },
    /// A commit re-initialized the group (RFC 9420 §11.2): it is closed
    /// (sending and committing fail with `ApiMisuse`). Creating and joining
    /// the new group is not wrapped by these bindings yet.
    ReInitMerged {
        /// The old group.
        group_id: Vec<u8>,
        /// Its last epoch.
        epoch: u64,
        /// The new group's id.
        new_group_id: Vec<u8>,
        /// The new group's cipher suite (none: not one of RFC 9420's seven).
        new_cipher_suite: Option<CipherSuite>,
    },
    /// This client joined a group.
    Joined {
        /// The group.
        group_id: Vec<u8>,
        /// The epoch it joined in.
        epoch: u64,
        /// Its members, this client included.
        members: Vec<Member>,
    },
    /// A message for a later epoch was held; it is processed once the
    /// group reaches that epoch.
    MessageHeld {
        /// The group.
        group_id: Vec<u8>,
        /// The message's epoch.
        epoch: u64,
    },
    /// A held message, retried once the group reached its epoch, failed.
    HeldMessageFailed {
        /// The group.
        group_id: Vec<u8>,
        /// The message's epoch.
        epoch: u64,
        /// Why (the error's text).
        reason: String,
    },
    /// An event added to Tessera after these bindings were built.
    Other {
        /// The group.
        group_id: Vec<u8>,
        /// The event, as Tessera prints it.
        description: String,
    },
}

/// A group as the client holds it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GroupStatus {
    /// The group.
    pub group_id: Vec<u8>,
    /// The current epoch.
    pub epoch: u64,
    /// This member's leaf.
    pub own_leaf_index: u32,
    /// The number of members.
    pub member_count: u32,
    /// Why the group is inactive, if it is.
    pub inactive: Option<InactiveReason>,
    /// Whether a commit of this member awaits `confirmCommit` or
    /// `discardCommit`.
    pub pending_commit: bool,
    /// How many proposals are cached.
    pub pending_proposals: u32,
    /// The epochs of the messages held for later epochs, in arrival order.
    pub held_messages: Vec<u64>,
}

/// A cached proposal a commit left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct LeftOutProposal {
    /// Its reference (RFC 9420 §5.2).
    pub reference: Vec<u8>,
    /// Why (Tessera's error text): the rule it breaks, or the proposal
    /// policy did not want it committed. It stays cached until the epoch ends.
    pub reason: String,
}

/// A commit this member made, pending until `confirmCommit` (the delivery
/// service accepted it; or its echo is processed) or `discardCommit`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CommitOutput {
    /// The commit (an MLSMessage) for the group.
    pub commit: Vec<u8>,
    /// A Welcome (an MLSMessage) for the members it adds, if any: send it
    /// once the commit is accepted.
    pub welcome: Option<Vec<u8>>,
    /// The cached proposals it did not cover, and why.
    pub left_out: Vec<LeftOutProposal>,
}

/// A cached proposal.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PendingProposal {
    /// Its reference (RFC 9420 §5.2).
    pub reference: Vec<u8>,
    /// What it asks.
    pub kind: ProposalKind,
}

pub(crate) fn member(m: &core::MemberInfo) -> Member {
    Member {
        leaf_index: m.leaf.0,
        credential: (&m.credential).into(),
    }
}

fn members(list: &[core::MemberInfo]) -> Vec<Member> {
    list.iter().map(member).collect()
}

impl From<&core::ProposalKind> for ProposalKind {
    fn from(k: &core::ProposalKind) -> Self {
        match k {
            core::ProposalKind::Add { credential } => Self::Add {
                credential: credential.into(),
            },
            core::ProposalKind::Update { credential } => Self::Update {
                credential: credential.into(),
            },
            core::ProposalKind::Remove { leaf } => Self::Remove { leaf_index: leaf.0 },
            core::ProposalKind::PreSharedKey => Self::PreSharedKey,
            core::ProposalKind::ReInit => Self::ReInit,
            core::ProposalKind::GroupContextExtensions => Self::GroupContextExtensions,
            core::ProposalKind::Other { proposal_type } => Self::Other {
                proposal_type: *proposal_type,
            },
            // A kind added to the core after these bindings: its code
            // point is not known here (0 is reserved, RFC 9420 §17.4).
            _ => Self::Other { proposal_type: 0 },
        }
    }
}

impl From<&core::ProposalSender> for ProposalSender {
    fn from(s: &core::ProposalSender) -> Self {
        match s {
            core::ProposalSender::Member(m) => Self::Member { member: member(m) },
            core::ProposalSender::External { index, credential } => Self::External {
                index: *index,
                credential: credential.into(),
            },
            core::ProposalSender::NewMember { credential } => Self::NewMember {
                credential: credential.into(),
            },
            _ => Self::Other,
        }
    }
}

impl From<core::InactiveReason> for InactiveReason {
    fn from(r: core::InactiveReason) -> Self {
        match r {
            core::InactiveReason::Removed => Self::Removed,
            core::InactiveReason::ReInit => Self::ReInit,
        }
    }
}

impl From<core::Event> for Event {
    fn from(e: core::Event) -> Self {
        match e {
            core::Event::Application(m) => Self::Application {
                group_id: m.group.0,
                epoch: m.epoch,
                sender: member(&m.sender),
                data: m.data,
                authenticated_data: m.authenticated_data,
            },
            core::Event::ProposalReceived(p) => Self::ProposalReceived {
                group_id: p.group.0,
                epoch: p.epoch,
                sender: (&p.sender).into(),
                reference: p.reference,
                kind: (&p.kind).into(),
            },
            core::Event::CommitMerged(c) => Self::CommitMerged {
                group_id: c.group.0,
                epoch: c.epoch,
                committer_leaf: c.committer.map(|l| l.0),
                own: c.own,
                added: members(&c.added),
                removed: members(&c.removed),
                updated: c
                    .updated
                    .iter()
                    .map(|u| UpdatedMember {
                        leaf_index: u.leaf.0,
                        old_credential: (&u.old).into(),
                        new_credential: (&u.new).into(),
                    })
                    .collect(),
                extensions_changed: c.extensions_changed,
                reinit: c.reinit,
            },
            core::Event::Removed { group, epoch, by } => Self::Removed {
                group_id: group.0,
                epoch,
                by_leaf: by.map(|l| l.0),
            },
            core::Event::ReInitMerged {
                group,
                epoch,
                reinit,
            } => Self::ReInitMerged {
                group_id: group.0,
                epoch,
                new_group_id: reinit.new_group.0,
                new_cipher_suite: CipherSuite::from_core(reinit.cipher_suite),
            },
            core::Event::Joined {
                group,
                epoch,
                members: list,
            } => Self::Joined {
                group_id: group.0,
                epoch,
                members: members(&list),
            },
            core::Event::MessageHeld { group, epoch } => Self::MessageHeld {
                group_id: group.0,
                epoch,
            },
            core::Event::HeldMessageFailed {
                group,
                epoch,
                reason,
            } => Self::HeldMessageFailed {
                group_id: group.0,
                epoch,
                reason,
            },
            other => Self::Other {
                group_id: other.group().0.clone(),
                description: format!("{other:?}"),
            },
        }
    }
}

impl From<core::GroupStatus> for GroupStatus {
    fn from(s: core::GroupStatus) -> Self {
        Self {
            group_id: s.group.0,
            epoch: s.epoch,
            own_leaf_index: s.own_leaf.0,
            member_count: s.member_count,
            inactive: s.inactive.map(Into::into),
            pending_commit: s.pending_commit,
            pending_proposals: u32::try_from(s.pending_proposals).unwrap_or(u32::MAX),
            held_messages: s.held_messages,
        }
    }
}

fn left_out(list: Vec<core::LeftOutProposal>) -> Vec<LeftOutProposal> {
    list.into_iter()
        .map(|l| LeftOutProposal {
            reference: l.reference,
            reason: l.reason.to_string(),
        })
        .collect()
}

impl From<core::CommitResult> for CommitOutput {
    fn from(r: core::CommitResult) -> Self {
        Self {
            commit: r.commit,
            welcome: r.welcome,
            left_out: left_out(r.left_out),
        }
    }
}

impl From<core::AddResult> for CommitOutput {
    fn from(r: core::AddResult) -> Self {
        Self {
            commit: r.commit,
            welcome: Some(r.welcome),
            left_out: left_out(r.left_out),
        }
    }
}
