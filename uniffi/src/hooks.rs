//! The app's hooks as the Client calls them: its [`CredentialValidator`]
//! and its [`ProposalPolicy`], implemented in Kotlin, Swift or Python.
//!
//! The Client's hooks answer yes or no; a foreign hook may also throw. A
//! throw is not a verdict: the hook answers "no" to the Client (so the
//! operation fails and changes nothing), and the exception is kept for
//! this thread so that the bindings report it (a `TesseraError` as thrown,
//! anything else as `Internal`) instead of the refusal. The Client calls
//! its hooks on the calling thread, so a thread-local slot is exact.

use std::cell::RefCell;
use std::sync::Arc;

use tessera::client::{self as core, Rejection};
use tessera::error::CredentialSubject as CoreSubject;
use tessera::messages::{Credential as CoreCredential, Proposal, SenderType as CoreSenderType};

use crate::error::TesseraError;
use crate::events::ProposalKind;
use crate::types::Credential;
use crate::validator::{
    CredentialCheck, CredentialSubject, CredentialUse, CredentialValidator, CredentialVerdict,
    in_callback,
};

/// The sender type of a proposal (RFC 9420 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum SenderType {
    /// A member of the group.
    Member,
    /// An external sender listed in the group's `external_senders`.
    External,
    /// A new member proposing its own addition.
    NewMemberProposal,
    /// A new member joining by external commit.
    NewMemberCommit,
}

/// Who sent a proposal, as the [`ProposalPolicy`] sees it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ProposalOrigin {
    /// The group.
    pub group_id: Vec<u8>,
    /// The sender's type.
    pub sender_type: SenderType,
    /// The sender's credential (a member's, an external sender's, or the
    /// new member's), if known.
    pub credential: Option<Credential>,
    /// Whether the proposal came inside a commit (by value) rather than alone.
    pub in_commit: bool,
}

/// The app's proposal policy (RFC 9420 §12.1: which proposals to accept
/// and which to commit are the app's choice), implemented in Kotlin, Swift
/// or Python. Without one, the Client accepts members' proposals and
/// external commits, and refuses proposals from external senders and new
/// members.
///
/// `accept` is asked for every proposal received, alone or inside a
/// commit; `false` fails processing with `ProtocolViolation` and changes
/// nothing. `commit` is asked, for each cached proposal, whether this
/// member's next commit should cover it (`false`: it is left out and
/// listed in `CommitOutput.leftOut`). Every member must answer alike for
/// the same proposal, or the group's members reach different verdicts.
/// A thrown exception fails the operation (a commit being built is
/// discarded). Like the validator, it must not call back into Tessera.
#[uniffi::export(with_foreign)]
pub trait ProposalPolicy: Send + Sync {
    /// Whether to accept `proposal` from `origin`.
    fn accept(&self, origin: ProposalOrigin, proposal: ProposalKind) -> Result<bool, TesseraError>;

    /// Whether this member's next commit should cover this cached proposal.
    fn commit(&self, group_id: Vec<u8>, proposal: ProposalKind) -> Result<bool, TesseraError>;
}

thread_local! {
    /// The first exception a hook threw during the current call.
    static FAILURE: RefCell<Option<TesseraError>> = const { RefCell::new(None) };
}

/// Forgets any failure left from an earlier call on this thread.
pub(crate) fn clear_failure() {
    FAILURE.with(|f| f.borrow_mut().take());
}

/// The first exception a hook threw since [`clear_failure`].
pub(crate) fn take_failure() -> Option<TesseraError> {
    FAILURE.with(|f| f.borrow_mut().take())
}

fn record_failure(e: TesseraError) {
    FAILURE.with(|f| {
        let mut slot = f.borrow_mut();
        if slot.is_none() {
            *slot = Some(e);
        }
    });
}

/// The app's validator as the Client's `IdentityValidator`.
pub(crate) struct ValidatorHook(pub(crate) Arc<dyn CredentialValidator>);

impl core::IdentityValidator for ValidatorHook {
    fn validate(&self, check: &core::CredentialCheck<'_>) -> Result<(), Rejection> {
        let check = CredentialCheck {
            group_id: check.group_id.to_vec(),
            subject: subject(check.subject),
            usage: usage(check.usage),
            credential: check.credential.into(),
            signature_key: check.signature_key.as_bytes().to_vec(),
        };
        match in_callback(|| self.0.validate(check)) {
            Ok(CredentialVerdict::Accept) => Ok(()),
            Ok(CredentialVerdict::Reject { reason }) => Err(Rejection(reason)),
            Err(e) => {
                let reason = format!("the validator failed: {e}");
                record_failure(e);
                Err(Rejection(reason))
            }
        }
    }

    fn same_participant(&self, old: &CoreCredential, new: &CoreCredential) -> bool {
        match in_callback(|| self.0.same_participant(old.into(), new.into())) {
            Ok(same) => same,
            Err(e) => {
                record_failure(e);
                false
            }
        }
    }
}

/// The app's policy as the Client's `ProposalPolicy`.
pub(crate) struct PolicyHook(pub(crate) Arc<dyn ProposalPolicy>);

impl core::ProposalPolicy for PolicyHook {
    fn accept(&self, origin: &core::ProposalOrigin<'_>, proposal: &Proposal) -> bool {
        let origin = ProposalOrigin {
            group_id: origin.group_id.to_vec(),
            sender_type: match origin.sender_type {
                CoreSenderType::Member => SenderType::Member,
                CoreSenderType::External => SenderType::External,
                CoreSenderType::NewMemberProposal => SenderType::NewMemberProposal,
                CoreSenderType::NewMemberCommit => SenderType::NewMemberCommit,
            },
            credential: origin.credential.map(Into::into),
            in_commit: origin.in_commit,
        };
        let kind = (&core::ProposalKind::of(proposal)).into();
        match in_callback(|| self.0.accept(origin, kind)) {
            Ok(accept) => accept,
            Err(e) => {
                record_failure(e);
                false
            }
        }
    }

    fn commit(&self, group_id: &[u8], proposal: &Proposal) -> bool {
        let kind = (&core::ProposalKind::of(proposal)).into();
        match in_callback(|| self.0.commit(group_id.to_vec(), kind)) {
            Ok(commit) => commit,
            Err(e) => {
                record_failure(e);
                false
            }
        }
    }
}

fn subject(s: CoreSubject) -> CredentialSubject {
    match s {
        CoreSubject::Leaf(index) => CredentialSubject::Leaf { index },
        CoreSubject::ExternalSender(index) => CredentialSubject::ExternalSender { index },
        // KeyPackage, and any subject added to the core later: not at a leaf.
        _ => CredentialSubject::KeyPackage,
    }
}

fn usage(u: core::CredentialUse) -> CredentialUse {
    match u {
        core::CredentialUse::TreeMember => CredentialUse::TreeMember,
        core::CredentialUse::Added => CredentialUse::Added,
        core::CredentialUse::Updated => CredentialUse::Updated,
        core::CredentialUse::CommitterPath => CredentialUse::CommitterPath,
        core::CredentialUse::ExternalJoiner => CredentialUse::ExternalJoiner,
        core::CredentialUse::ExternalSender => CredentialUse::ExternalSender,
        core::CredentialUse::ProposedAdd => CredentialUse::ProposedAdd,
        _ => CredentialUse::Other,
    }
}
