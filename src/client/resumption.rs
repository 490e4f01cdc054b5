//! Reinitializing and branching groups through the client (RFC 9420 §11.2,
//! §11.3): the ReInit proposal and commit, the new group created from the
//! old one's resumption PSK, and joins that find the old group in the
//! client's store.
//!
//! A ReInit goes in three steps. A member commits it ([`Client::reinit`],
//! or commits another member's [`Client::propose_reinit`]); every member
//! merges the commit and gets [`Event::ReInitMerged`]: the old group is
//! closed (sending fails with [`ApiError::GroupReinitialized`]) but kept,
//! with its last epoch's `resumption_psk`, in the store. Then one member
//! creates the new group ([`Client::create_reinit_group`]) from the others'
//! KeyPackages in the new cipher suite
//! ([`Client::generate_key_packages_in`]) and sends the Welcome; each other
//! member joins it ([`Client::join_reinit`], or [`Client::join`], which
//! resolves resumption PSKs from all the client's groups), checking that it
//! resumes the old group's last epoch with the ReInit's parameters and the
//! same participants ([`IdentityValidator::participant_id`]). Delete the old
//! group once it is no longer needed.
//!
//! ```
//! use tessera::client::{Client, Event};
//! use tessera::crypto::CipherSuite;
//! use tessera::messages::{Credential, ProtocolVersion, ReInit};
//! use tessera::storage::MemoryStore;
//!
//! let alice = Client::create(Credential::basic("alice"), MemoryStore::new())?;
//! let bob = Client::create(Credential::basic("bob"), MemoryStore::new())?;
//! alice.create_group("old")?;
//! let added = alice.add("old", &[bob.generate_key_packages(1)?.remove(0)])?;
//! alice.confirm_commit("old")?;
//! bob.join(&added.welcome)?;
//!
//! // Alice commits a ReInit to another cipher suite; both merge it.
//! let suite = CipherSuite::MLS_128_DHKEMP256_AES128GCM_SHA256_P256;
//! let reinit = ReInit { group_id: b"new".to_vec(), version: ProtocolVersion::MLS10,
//!     cipher_suite: suite, extensions: vec![] };
//! let out = alice.reinit("old", reinit)?;
//! alice.confirm_commit("old")?;
//! let events = bob.process(&out.commit)?.events;
//! assert!(matches!(&events[1], Event::ReInitMerged { reinit, .. } if reinit.cipher_suite == suite));
//! assert!(bob.encrypt("old", b"hi").is_err()); // the old group is closed
//!
//! // Bob publishes a KeyPackage in the new suite; Alice creates the new group.
//! let kp = bob.generate_key_packages_in(suite, 1)?.remove(0);
//! let new = alice.create_reinit_group("old", &[kp])?;
//! bob.join_reinit("old", &new.welcome.unwrap())?;
//! assert_eq!(alice.epoch_authenticator("new")?, bob.epoch_authenticator("new")?);
//! # Ok::<(), tessera::Error>(())
//! ```

use std::cell::RefCell;

use super::commit::{CommitResult, LeftOutProposal, ensure_active};
use super::events::{Event, GroupId};
use super::hooks::{CredentialUse, IdentityValidator};
use super::{Client, poisoned};
use crate::codec::{Decode, Encode};
use crate::crypto::CipherSuite;
use crate::error::{ApiError, CredentialSubject, Error, ProtocolError, Result};
use crate::group::{
    Group, ParticipantIdentity, ResumptionEpoch, ResumptionOptions, ResumptionOutput,
    ResumptionSource,
};
use crate::messages::{Credential, KeyPackage, MlsMessage, ReInit, ResumptionPskUsage};
use crate::storage::Batch;

/// The parameters of the group a ReInit replaces a group with (RFC 9420
/// §12.1.5), as the client reports them ([`Event::ReInitMerged`],
/// [`GroupStatus::reinit`](super::GroupStatus::reinit)).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ReInitInfo {
    /// The new group's id.
    pub new_group: GroupId,
    /// Its protocol version.
    pub version: u16,
    /// Its cipher suite.
    pub cipher_suite: CipherSuite,
    /// The types of its group context extensions, in order.
    pub extension_types: Vec<u16>,
}

impl ReInitInfo {
    /// The parameters of `reinit`.
    pub fn of(reinit: &ReInit) -> Self {
        Self {
            new_group: GroupId(reinit.group_id.clone()),
            version: reinit.version.0,
            cipher_suite: reinit.cipher_suite,
            extension_types: reinit
                .extensions
                .iter()
                .map(|e| e.extension_type.0)
                .collect(),
        }
    }
}

/// A group this client created to resume another: reinitialized
/// ([`Client::create_reinit_group`]) or branched ([`Client::branch`]). It is
/// in epoch 1, stored and ready.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ResumedGroup {
    /// The new group.
    pub group: GroupId,
    /// The Welcome (an MLSMessage, with the ratchet tree) for the other
    /// members, if there are any. No commit goes with it: the new group's
    /// first commit is known to its creator only.
    pub welcome: Option<Vec<u8>>,
}

/// The participants a validator sees in credentials.
pub(super) struct ValidatorIds<'a>(pub &'a dyn IdentityValidator);

impl ParticipantIdentity for ValidatorIds<'_> {
    fn identity(&self, credential: &Credential) -> Vec<u8> {
        self.0.participant_id(credential)
    }
}

/// The client's groups as a [`ResumptionSource`] for a join: each group is
/// read (from memory or the store) when a Welcome names it. A store failure
/// is kept, to be reported instead of the join's "PSK not found".
pub(super) struct ClientGroups<'a> {
    client: &'a Client,
    /// Only this group, if set.
    only: Option<&'a [u8]>,
    error: RefCell<Option<Error>>,
}

impl<'a> ClientGroups<'a> {
    pub(super) fn new(client: &'a Client, only: Option<&'a [u8]>) -> Self {
        Self {
            client,
            only,
            error: RefCell::new(None),
        }
    }

    /// The store failure met while looking groups up, if any.
    pub(super) fn take_error(&self) -> Option<Error> {
        self.error.borrow_mut().take()
    }

    fn lookup(&self, group_id: &[u8], epoch: u64) -> Result<Option<ResumptionEpoch>> {
        if self.only.is_some_and(|only| only != group_id) || !self.client.has_group(group_id)? {
            return Ok(None);
        }
        self.client
            .read_group(group_id, |l| l.group.resumption_epoch(group_id, epoch))
    }
}

impl ResumptionSource for ClientGroups<'_> {
    fn resumption_epoch(&self, group_id: &[u8], epoch: u64) -> Option<ResumptionEpoch> {
        match self.lookup(group_id, epoch) {
            Ok(found) => found,
            Err(e) => {
                self.error.borrow_mut().get_or_insert(e);
                None
            }
        }
    }
}

/// The usage name of a resumption PSK, for errors.
pub(super) fn usage_name(usage: ResumptionPskUsage) -> &'static str {
    match usage {
        ResumptionPskUsage::Reinit => "reinit",
        ResumptionPskUsage::Branch => "branch",
        _ => "application",
    }
}

impl Client {
    /// Proposes to reinitialize the group with the parameters of `reinit`
    /// (RFC 9420 §12.1.5): a new group id, protocol version (not lower),
    /// cipher suite and group context extensions. Returns the proposal to
    /// send; it is cached, and a commit covers it only alone (§12.2): a
    /// commit with other proposals to cover leaves it out.
    ///
    /// The new group id may be this group's: the new group then replaces
    /// the old one in the client when it is created or joined. Fails with
    /// [`ApiError::GroupExists`] if the client already has another group
    /// with the new id, and with the provider's error if it lacks the
    /// cipher suite.
    pub fn propose_reinit(&self, group: impl AsRef<[u8]>, reinit: ReInit) -> Result<Vec<u8>> {
        let id = group.as_ref();
        self.check_reinit(id, &reinit)?;
        self.with_group(id, |l, _| {
            ensure_active(l)?;
            Ok(l.group.propose_reinit(reinit)?.to_bytes()?)
        })
    }

    /// Commits a ReInit of the group, alone (RFC 9420 §11.2, §12.2): every
    /// cached proposal is left out (listed in [`CommitResult::left_out`]
    /// with [`ProtocolError::ReInitNotAlone`]). Once the commit is merged
    /// ([`Client::confirm_commit`] here, [`Client::process`] elsewhere),
    /// each member gets [`Event::ReInitMerged`] and the group is closed.
    /// Checked as [`Client::propose_reinit`].
    pub fn reinit(&self, group: impl AsRef<[u8]>, reinit: ReInit) -> Result<CommitResult> {
        let id = group.as_ref();
        self.check_reinit(id, &reinit)?;
        self.with_group(id, |l, _| {
            ensure_active(l)?;
            let left_out = l
                .group
                .pending_proposals()
                .into_iter()
                .map(|p| LeftOutProposal {
                    reference: p.reference.0,
                    reason: ProtocolError::ReInitNotAlone.into(),
                })
                .collect();
            let out = l.group.commit_reinit(reinit)?;
            Ok(CommitResult {
                commit: out.commit.to_bytes()?,
                welcome: None,
                left_out,
            })
        })
    }

    /// What this client checks of a ReInit it sends.
    fn check_reinit(&self, id: &[u8], reinit: &ReInit) -> Result<()> {
        if reinit.group_id != id && self.has_group(&reinit.group_id)? {
            return Err(ApiError::GroupExists.into());
        }
        self.provider.cipher_suite_provider(reinit.cipher_suite)?;
        Ok(())
    }

    /// Decodes KeyPackages (MLSMessages) and shows each to the identity
    /// validator as a member added to group `group_id`.
    fn key_packages_for(
        &self,
        group_id: &[u8],
        key_packages: &[impl AsRef<[u8]>],
    ) -> Result<Vec<KeyPackage>> {
        key_packages
            .iter()
            .map(|bytes| {
                let kp = match MlsMessage::decode_exact(bytes.as_ref())? {
                    MlsMessage::KeyPackage(kp) => kp,
                    _ => return Err(ApiError::InvalidArgument("not a KeyPackage").into()),
                };
                self.validate(
                    group_id,
                    CredentialSubject::KeyPackage,
                    CredentialUse::Added,
                    &kp.leaf_node.credential,
                    &kp.leaf_node.signature_key,
                )?;
                Ok(kp)
            })
            .collect()
    }

    /// Options for a new group's creator leaf.
    fn resumption_options(&self) -> ResumptionOptions {
        ResumptionOptions {
            config: self.config.group.clone(),
            now: Some(self.clock.now()),
            ..ResumptionOptions::new(self.leaf_options())
        }
    }

    /// Creates the group that replaces `old_group` after its ReInit (RFC
    /// 9420 §11.2 step 3), with the ReInit's group id, version, cipher suite
    /// and extensions, this client (with its identity in the new suite, see
    /// [`Client::signature_key_in`]) and the other members of the old group,
    /// from `key_packages` (MLSMessages in the new suite, one per other
    /// member; each shown to the identity validator and its lifetime
    /// checked). The group is stored in epoch 1, its first commit injecting
    /// the `reinit` resumption PSK of the old group's last epoch; send
    /// [`ResumedGroup::welcome`] to the others ([`Client::join_reinit`]).
    /// If the ReInit kept the group id, the new group replaces the old one
    /// in this client (in the same write).
    ///
    /// Fails, changing nothing, if no ReInit was merged in `old_group`, if
    /// the KeyPackages do not name exactly the old group's other members
    /// (as [`IdentityValidator::participant_id`] sees them), with
    /// [`ApiError::GroupExists`] if the client has the new group already.
    pub fn create_reinit_group(
        &self,
        old_group: impl AsRef<[u8]>,
        key_packages: &[impl AsRef<[u8]>],
    ) -> Result<ResumedGroup> {
        let old = old_group.as_ref();
        let reinit = self.read_group(old, |l| l.group.reinit().cloned())?.ok_or(
            ApiError::InvalidArgument("no ReInit was committed in this group"),
        )?;
        let key_packages = self.key_packages_for(&reinit.group_id, key_packages)?;
        self.validate_external_senders(&reinit.group_id, &reinit.extensions, &[])?;
        let options = self.resumption_options();
        let ids = ValidatorIds(&*self.validator);
        let _guard = self.membership.lock().map_err(poisoned)?;
        // This client's identity in the new suite, stored with the group
        // if it is new.
        self.with_identity(reinit.cipher_suite, |identity, batch| {
            self.store_resumed(&reinit.group_id, Some(old), batch, |client| {
                client.read_group(old, |l| {
                    l.group
                        .reinit_group(&*client.provider, identity, &key_packages, options, &ids)
                })?
            })
        })
    }

    /// Creates a subgroup `new_group` of `group` (RFC 9420 §11.3) with this
    /// client and the members whose `key_packages` are given (MLSMessages
    /// in the group's cipher suite, fresh ones of members of `group`; each
    /// shown to the identity validator and its lifetime checked). The
    /// subgroup has the group's version, cipher suite and extensions, and is
    /// stored in epoch 1, its first commit injecting the `branch` resumption
    /// PSK of the group's current epoch; `group` does not change. Send
    /// [`ResumedGroup::welcome`] to the others ([`Client::join_branch`]):
    /// they can join while they keep that epoch's membership (their current
    /// epoch and `GroupConfig::max_past_epochs` before it), else they fail
    /// with [`ProtocolError::ResumptionMembersUnavailable`].
    ///
    /// Fails, changing nothing, if a KeyPackage names no member of `group`
    /// (as [`IdentityValidator::participant_id`] sees them), if this member
    /// can no longer send in `group`, or with [`ApiError::GroupExists`].
    pub fn branch(
        &self,
        group: impl AsRef<[u8]>,
        new_group: impl AsRef<[u8]>,
        key_packages: &[impl AsRef<[u8]>],
    ) -> Result<ResumedGroup> {
        let (parent, new_id) = (group.as_ref(), new_group.as_ref());
        let key_packages = self.key_packages_for(new_id, key_packages)?;
        let options = self.resumption_options();
        let ids = ValidatorIds(&*self.validator);
        let _guard = self.membership.lock().map_err(poisoned)?;
        self.store_resumed(new_id, None, Batch::default(), |client| {
            client.read_group(parent, |l| {
                ensure_active(l)?;
                l.group.branch(
                    &*client.provider,
                    new_id.to_vec(),
                    &key_packages,
                    options,
                    &ids,
                )
            })?
        })
    }

    /// Creates a resumed group `id` with `create` and stores it with `extra`
    /// in one write; it may replace `reinitialized`, a group closed by a
    /// ReInit to the same id. The caller holds the membership lock.
    fn store_resumed(
        &self,
        id: &[u8],
        reinitialized: Option<&[u8]>,
        extra: Batch,
        create: impl FnOnce(&Self) -> Result<(Group, ResumptionOutput)>,
    ) -> Result<ResumedGroup> {
        if reinitialized != Some(id) && self.has_group(id)? {
            return Err(ApiError::GroupExists.into());
        }
        let (group, out) = create(self)?;
        if group.group_id() != id {
            return Err(Error::Internal("resumed group has another id"));
        }
        self.store_new_group(group, extra)?;
        Ok(ResumedGroup {
            group: GroupId(id.to_vec()),
            welcome: out.welcome.map(|w| w.to_bytes()).transpose()?,
        })
    }

    /// Joins the group that reinitializes `old_group`, from a Welcome (an
    /// MLSMessage carrying the ratchet tree) to one of this client's
    /// KeyPackages in the new cipher suite. Besides what [`Client::join`]
    /// checks, the Welcome must name a `reinit` resumption PSK of
    /// `old_group` (else [`ProtocolError::UnexpectedResumption`]), which
    /// RFC 9420 §12.4.3.1 then checks: the PSK is of the epoch the ReInit
    /// commit started ([`ProtocolError::ReInitNotCommitted`]), the new group
    /// has the ReInit's parameters
    /// ([`ProtocolError::ReInitParameterMismatch`]), is in epoch 1
    /// ([`ProtocolError::ResumptionEpochNotOne`]) and has exactly the old
    /// group's participants ([`ProtocolError::ReInitMembersMismatch`]); a
    /// PSK value that does not match fails to decrypt the GroupInfo.
    /// `old_group` is read from the store if need be (it survives restarts).
    pub fn join_reinit(&self, old_group: impl AsRef<[u8]>, welcome: &[u8]) -> Result<Event> {
        self.join_resuming(old_group.as_ref(), ResumptionPskUsage::Reinit, welcome)
    }

    /// Joins a subgroup branched from `group` (RFC 9420 §11.3), from a
    /// Welcome to one of this client's KeyPackages. Besides what
    /// [`Client::join`] checks, the Welcome must name a `branch` resumption
    /// PSK of `group` (else [`ProtocolError::UnexpectedResumption`]); the
    /// subgroup must be in epoch 1, with `group`'s version and cipher suite
    /// ([`ProtocolError::BranchParameterMismatch`]), and each of its
    /// members must have been a participant of `group` in the PSK's epoch
    /// ([`ProtocolError::BranchMemberNotInParent`];
    /// [`ProtocolError::ResumptionMembersUnavailable`] if this member no
    /// longer keeps that epoch).
    pub fn join_branch(&self, group: impl AsRef<[u8]>, welcome: &[u8]) -> Result<Event> {
        self.join_resuming(group.as_ref(), ResumptionPskUsage::Branch, welcome)
    }

    fn join_resuming(
        &self,
        old: &[u8],
        usage: ResumptionPskUsage,
        welcome: &[u8],
    ) -> Result<Event> {
        let welcome = match MlsMessage::decode_exact(welcome)? {
            MlsMessage::Welcome(w) => w,
            _ => return Err(ApiError::InvalidArgument("not a Welcome").into()),
        };
        if !self.has_group(old)? {
            return Err(ApiError::UnknownGroup.into());
        }
        self.join_welcome(&welcome, None, Some((old, usage)))
    }
}
