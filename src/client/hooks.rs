//! What the application decides: which credentials are acceptable, which
//! proposals to accept and commit, and what time it is.
//!
//! The hooks are traits objects (`Send + Sync`, object-safe), so that they
//! can be implemented in Rust or, through bindings, in Kotlin or Swift. The
//! client calls them at the same points on every member, and turns a "no"
//! into the same typed error everywhere: a group whose members share the
//! application's policy reaches the same verdict on every message.

use crate::crypto::SignaturePublicKey;
use crate::error::CredentialSubject;
use crate::messages::{Credential, Proposal, SenderType};

/// Why a credential is shown to the [`IdentityValidator`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum CredentialUse {
    /// A member of a group this client joins (by Welcome or external commit).
    TreeMember,
    /// A member added by a commit (this client's or a received one).
    Added,
    /// A member's new leaf from an Update proposal.
    Updated,
    /// A committer's new leaf from its UpdatePath.
    CommitterPath,
    /// A new member joining by external commit.
    ExternalJoiner,
    /// An external sender allowed to send proposals (`external_senders`,
    /// RFC 9420 §12.1.8.1), in a group joined or a commit that changes them.
    ExternalSender,
    /// The KeyPackage of a received Add proposal (from a member, an
    /// external sender, or the new member itself).
    ProposedAdd,
}

/// A credential to validate, with where it appears.
#[derive(Clone, Copy, Debug)]
pub struct CredentialCheck<'a> {
    /// The group.
    pub group_id: &'a [u8],
    /// Whose credential: a leaf, an external sender, a proposed KeyPackage.
    pub subject: CredentialSubject,
    /// Why it is checked.
    pub usage: CredentialUse,
    /// The credential.
    pub credential: &'a Credential,
    /// The signature key it comes with: the application must check that the
    /// credential vouches for it (RFC 9420 §5.3.1).
    pub signature_key: &'a SignaturePublicKey,
}

/// A validator's "no", with its reason (shown in
/// [`ProtocolError::CredentialRejected`](crate::error::ProtocolError::CredentialRejected)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection(pub String);

impl Rejection {
    /// A rejection with this reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// The application's judge of credentials (RFC 9420 §5.3.1: "the
/// application MUST validate" every credential it is shown).
///
/// The client calls [`IdentityValidator::validate`] for every credential
/// that enters or changes a group: each leaf of a tree it joins (by
/// Welcome or external commit), each added KeyPackage (its own adds and
/// received ones), each Update, each committer's new path leaf, each
/// external joiner, each external sender, each proposed Add. When a leaf's
/// credential changes (an Update or path with a new credential, an external
/// commit that replaces its old leaf), it also asks
/// [`IdentityValidator::same_participant`].
///
/// A rejection fails the operation with
/// [`ProtocolError::CredentialRejected`](crate::error::ProtocolError::CredentialRejected)
/// naming the leaf (or
/// [`ProtocolError::CredentialChangesParticipant`](crate::error::ProtocolError::CredentialChangesParticipant)),
/// and changes nothing: a received message is refused whole, as every
/// member with the same validator refuses it. A validator must therefore
/// decide from the credential alone (and its own stable data), never from
/// which member asks.
///
/// ```
/// use tessera::client::{CredentialCheck, IdentityValidator, Rejection};
/// use tessera::messages::Credential;
///
/// /// Accepts basic credentials with an identity ending in "@example.com".
/// struct ExampleDotCom;
///
/// impl IdentityValidator for ExampleDotCom {
///     fn validate(&self, check: &CredentialCheck<'_>) -> Result<(), Rejection> {
///         match check.credential {
///             Credential::Basic(id) if id.ends_with(b"@example.com") => Ok(()),
///             _ => Err(Rejection::new("not an example.com identity")),
///         }
///     }
/// }
/// ```
pub trait IdentityValidator: Send + Sync {
    /// Whether the credential is acceptable where it appears.
    fn validate(&self, check: &CredentialCheck<'_>) -> Result<(), Rejection>;

    /// Whether `new` names the same participant as `old` (RFC 9420
    /// §12.1.2, §12.4.3.2). Only asked when they differ. The default: they
    /// must be equal, so it answers `false`.
    fn same_participant(&self, old: &Credential, new: &Credential) -> bool {
        old == new
    }
}

/// Accepts every credential; a changed credential must be equal to the old
/// one. For tests and examples: an application must validate credentials.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptAllCredentials;

impl IdentityValidator for AcceptAllCredentials {
    fn validate(&self, _check: &CredentialCheck<'_>) -> Result<(), Rejection> {
        Ok(())
    }
}

/// Who sent a proposal, as the [`ProposalPolicy`] sees it.
#[derive(Clone, Copy, Debug)]
pub struct ProposalOrigin<'a> {
    /// The group.
    pub group_id: &'a [u8],
    /// The sender's type: a member, an external sender, a new member
    /// proposing itself, or a new member committing itself in.
    pub sender_type: SenderType,
    /// The sender's credential (a member's, an external sender's, or the
    /// new member's), if known.
    pub credential: Option<&'a Credential>,
    /// Whether the proposal came in a commit (by value) rather than alone.
    pub in_commit: bool,
}

/// The application's proposal policy (RFC 9420 §12.1: which proposals to
/// accept and which to commit are the application's choice).
///
/// [`ProposalPolicy::accept`] is asked for every proposal received, alone
/// or by value in a commit; a refusal fails processing with
/// [`ProtocolError::ProposalNotAccepted`](crate::error::ProtocolError::ProposalNotAccepted)
/// and changes nothing. A proposal refused alone is not cached, so a
/// commit that covers it by reference is refused too.
/// [`ProposalPolicy::commit`] is asked, for each cached proposal, whether
/// this member's next commit should cover it.
///
/// ```
/// use tessera::client::{ProposalOrigin, ProposalPolicy};
/// use tessera::messages::{Proposal, SenderType};
///
/// /// Members may propose anything but new group context extensions.
/// struct NoExtensionChanges;
///
/// impl ProposalPolicy for NoExtensionChanges {
///     fn accept(&self, origin: &ProposalOrigin<'_>, proposal: &Proposal) -> bool {
///         origin.sender_type == SenderType::Member
///             && !matches!(proposal, Proposal::GroupContextExtensions(_))
///     }
/// }
/// ```
pub trait ProposalPolicy: Send + Sync {
    /// Whether to accept `proposal` from `origin`.
    fn accept(&self, origin: &ProposalOrigin<'_>, proposal: &Proposal) -> bool;

    /// Whether this member's commit should cover this cached proposal.
    /// The default: yes.
    fn commit(&self, group_id: &[u8], proposal: &Proposal) -> bool {
        let _ = (group_id, proposal);
        true
    }
}

/// The default policy: members' proposals are accepted; proposals from
/// external senders and new members' own Adds only if allowed; external
/// commits are accepted (a group is joinable by external commit only if
/// a member publishes its GroupInfo).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DefaultProposalPolicy {
    /// Accept proposals from the group's external senders (RFC 9420 §12.1.8.1).
    pub allow_external_senders: bool,
    /// Accept new members' proposals to add themselves (RFC 9420 §12.1.8).
    pub allow_new_member_proposals: bool,
}

impl ProposalPolicy for DefaultProposalPolicy {
    fn accept(&self, origin: &ProposalOrigin<'_>, proposal: &Proposal) -> bool {
        let _ = proposal;
        match origin.sender_type {
            SenderType::Member | SenderType::NewMemberCommit => true,
            SenderType::External => self.allow_external_senders,
            SenderType::NewMemberProposal => self.allow_new_member_proposals,
        }
    }
}

/// The application's clock: seconds since the Unix epoch. The client reads
/// it to set KeyPackage lifetimes and to check added KeyPackages' lifetimes.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> u64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// Any `Fn() -> u64` is a clock.
impl<F: Fn() -> u64 + Send + Sync> Clock for F {
    fn now(&self) -> u64 {
        self()
    }
}
