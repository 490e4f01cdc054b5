//! # Tessera for Kotlin, Swift and Python
//!
//! UniFFI bindings over Tessera (MLS, RFC 9420). This crate only adapts:
//! byte arrays in and out, objects for identities and groups, records and
//! enums for what comes back, the app's credential validator as a foreign
//! trait, and one error type whose variant is its category. Every protocol
//! decision stays in `tessera`.
//!
//! What apps use is [`MlsClient`]: the Client (`tessera::client`) on its
//! SQLite store, one encrypted database file per device, with the app's
//! [`CredentialValidator`] and [`ProposalPolicy`]; its groups are
//! [`ClientGroup`]s; what happens comes back as [`Event`]s. The low-level
//! [`tessera::group::Group`] is there too ([`MlsGroup`], state in memory
//! only, for apps that keep state themselves). See `uniffi/README.md` for
//! building and using the bindings.
//!
//! No panic crosses the boundary: every exported call runs inside a guard
//! that turns a panic into [`TesseraError::Internal`], and UniFFI's own
//! scaffolding catches anything else (the library must be built with
//! `panic = "unwind"`, the default).
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented,
        clippy::indexing_slicing
    )
)]

uniffi::setup_scaffolding!();

pub mod client;
pub mod error;
pub mod events;
pub mod group;
pub mod hooks;
pub mod identity;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;
pub mod validator;

pub use client::{
    ClientGroup, MlsClient, StoreSettings, default_store_settings, generate_store_key,
};
pub use error::TesseraError;
pub use events::{
    CommitOutput, Event, GroupStatus, InactiveReason, LeftOutProposal, PendingProposal,
    ProposalKind, ProposalSender, UpdatedMember,
};
pub use group::MlsGroup;
pub use hooks::{ProposalOrigin, ProposalPolicy, SenderType};
pub use identity::{Identity, KeyPackageBundle};
pub use types::{CipherSuite, CommitBundle, CommitSummary, Credential, Member, Received};
pub use validator::{
    CredentialCheck, CredentialSubject, CredentialUse, CredentialValidator, CredentialVerdict,
};

/// The current time in seconds since the Unix epoch, from the system clock.
pub(crate) fn now() -> Result<u64, TesseraError> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| TesseraError::internal("the system clock is before 1970"))
}
