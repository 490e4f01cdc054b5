//! The app's credential validator, a trait that Kotlin, Swift or Python
//! code implements (RFC 9420 §5.3.1: "the application MUST validate" every
//! credential it is shown).

use std::cell::Cell;

use tessera::error::{CredentialSubject as CoreSubject, ProtocolError};
use tessera::group::LeafChangeKind;

use crate::error::TesseraError;
use crate::types::Credential;

/// Whose credential is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CredentialSubject {
    /// The member at this leaf.
    Leaf {
        /// The leaf index.
        index: u32,
    },
    /// The KeyPackage of a member about to be added (or proposed), not yet
    /// at a leaf.
    KeyPackage,
    /// The external sender at this index of the group's `external_senders`
    /// (RFC 9420 §12.1.8.1).
    ExternalSender {
        /// The index.
        index: u32,
    },
}

/// Why the credential is shown to the validator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CredentialUse {
    /// A member of a group this member joins from a Welcome.
    TreeMember,
    /// A member added by a commit: one this member is about to send, or one
    /// it received.
    Added,
    /// A member's new leaf from an Update proposal, in a received commit.
    Updated,
    /// The committer's new leaf from its UpdatePath, in a received commit.
    CommitterPath,
    /// A new member joining by external commit, in a received commit.
    ExternalJoiner,
    /// An external sender allowed to send proposals (`external_senders`,
    /// RFC 9420 §12.1.8.1), in a group joined or a commit that changes
    /// them (the Client only).
    ExternalSender,
    /// The KeyPackage of a received Add proposal (the Client only).
    ProposedAdd,
    /// A use added to Tessera after these bindings were built.
    Other,
}

impl From<LeafChangeKind> for CredentialUse {
    fn from(kind: LeafChangeKind) -> Self {
        match kind {
            LeafChangeKind::Added => Self::Added,
            LeafChangeKind::Updated => Self::Updated,
            LeafChangeKind::CommitterPath => Self::CommitterPath,
            LeafChangeKind::ExternalJoiner => Self::ExternalJoiner,
        }
    }
}

/// A credential to validate, with where it appears.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct CredentialCheck {
    /// The group.
    pub group_id: Vec<u8>,
    /// Whose credential.
    pub subject: CredentialSubject,
    /// Why it is checked.
    pub usage: CredentialUse,
    /// The credential.
    pub credential: Credential,
    /// The signature public key it comes with: the validator must check
    /// that the credential vouches for it (RFC 9420 §5.3.1).
    pub signature_key: Vec<u8>,
}

/// The validator's answer.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum CredentialVerdict {
    /// The credential is acceptable here.
    Accept,
    /// The credential is refused; the operation fails with
    /// `ProtocolViolation` carrying `reason`, and changes nothing.
    Reject {
        /// Why, for logs and the error message.
        reason: String,
    },
}

/// The app's judge of credentials, implemented in Kotlin, Swift or Python
/// (or Rust).
///
/// Called for each member of a group joined from a Welcome, for each
/// KeyPackage this member adds (before the commit is built), and for each
/// leaf a received commit puts into the tree (added members, Updates, the
/// committer's new leaf, an external joiner), before anything in the
/// group changes. A `Reject` makes
/// the operation fail with `TesseraError.ProtocolViolation` and leaves the
/// group as it was; so does an exception thrown by the validator
/// (a `TesseraError` is passed on as thrown, anything else becomes
/// `Internal`). Every member with the same validator reaches the same
/// verdict only if the validator decides from the credential alone (and
/// the app's own stable data), never from which member asks or when.
///
/// The Client also asks [`CredentialValidator::same_participant`] when a
/// leaf's credential changes (an Update or a committer's path with a new
/// credential, an external commit replacing the member's old leaf); a
/// `false` fails the operation with `ProtocolViolation`.
///
/// The validator runs on the calling thread while the group is locked: it
/// must not call back into Tessera objects (such a call fails with
/// `ApiMisuse` instead of deadlocking).
#[uniffi::export(with_foreign)]
pub trait CredentialValidator: Send + Sync {
    /// Whether the credential is acceptable where it appears.
    fn validate(&self, check: CredentialCheck) -> Result<CredentialVerdict, TesseraError>;

    /// Whether `new` names the same participant as `old` (RFC 9420
    /// §5.3.1, §12.1.2, §12.4.3.2); only asked when they differ. An app
    /// without credential rotation answers `false`.
    fn same_participant(&self, old: Credential, new: Credential) -> Result<bool, TesseraError>;
}

thread_local! {
    /// Set while a validator runs on this thread.
    static IN_VALIDATOR: Cell<bool> = const { Cell::new(false) };
}

/// Fails if called from inside a validator callback on this thread.
pub(crate) fn not_in_validator() -> Result<(), TesseraError> {
    if IN_VALIDATOR.with(Cell::get) {
        return Err(TesseraError::api(
            "a Tessera object was called from inside a credential validator or proposal policy",
        ));
    }
    Ok(())
}

/// Asks `validator` about each check, in order; the first refusal (or
/// error) fails the whole operation.
pub(crate) fn validate_all(
    validator: &dyn CredentialValidator,
    checks: Vec<CredentialCheck>,
) -> Result<(), TesseraError> {
    for check in checks {
        let subject = check.subject;
        let verdict = in_callback(|| validator.validate(check));
        match verdict? {
            CredentialVerdict::Accept => {}
            CredentialVerdict::Reject { reason } => {
                // The core's own error, worded as the Client words it.
                let subject = match subject {
                    CredentialSubject::Leaf { index } => CoreSubject::Leaf(index),
                    CredentialSubject::KeyPackage => CoreSubject::KeyPackage,
                    CredentialSubject::ExternalSender { index } => {
                        CoreSubject::ExternalSender(index)
                    }
                };
                return Err(tessera::Error::from(ProtocolError::CredentialRejected {
                    subject,
                    reason,
                })
                .into());
            }
        }
    }
    Ok(())
}

/// Runs an app callback with the re-entrance flag set on this thread.
pub(crate) fn in_callback<T>(f: impl FnOnce() -> T) -> T {
    IN_VALIDATOR.with(|f| f.set(true));
    // The flag is reset even if the callback panics (a Rust
    // implementation) before the panic is caught by the guard.
    let _reset = ResetOnDrop;
    f()
}

struct ResetOnDrop;

impl Drop for ResetOnDrop {
    fn drop(&mut self) {
        IN_VALIDATOR.with(|f| f.set(false));
    }
}
