//! One member's view of one group: `tessera::group::Group` behind a lock,
//! with the app's credential validator applied where credentials enter.

use std::sync::{Arc, Mutex, MutexGuard};

use tessera::codec::{Decode, Encode};
use tessera::crypto::RustCryptoProvider;
use tessera::group::{
    CommitOptions, Group, GroupConfig, Incoming, JoinInput, KeyPackageOptions, ProcessedMessage,
};
use tessera::messages::{Add, MlsMessage, Proposal, Remove};

use crate::error::{TesseraError, guard};
use crate::identity::{Identity, KeyPackageBundle};
use crate::types::{CipherSuite, CommitBundle, CommitSummary, Member, Received};
use crate::validator::{
    CredentialCheck, CredentialSubject, CredentialUse, CredentialValidator, not_in_validator,
    validate_all,
};

/// How long the creator's own leaf is valid, in seconds (90 days). Received
/// leaves already in a tree are not lifetime-checked (see [`MlsGroup::join`]).
const CREATOR_LEAF_VALIDITY: u64 = 90 * 86_400;

/// One member's state of one group.
///
/// Every method is safe to call from several threads (calls on one group
/// run one at a time). A method that fails leaves the group as it was.
/// This wraps the low-level `Group`; the Client (with its store) will be
/// wrapped the same way.
#[derive(uniffi::Object)]
pub struct MlsGroup {
    group_id: Vec<u8>,
    state: Mutex<State>,
    validator: Arc<dyn CredentialValidator>,
}

struct State {
    group: Group,
    /// False once a received commit removed this member: it may still
    /// read, but not send or commit.
    active: bool,
}

impl std::fmt::Debug for MlsGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlsGroup")
            .field("group_id", &self.group_id)
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl MlsGroup {
    /// A new group with this member alone in it, at epoch 0.
    #[uniffi::constructor]
    pub fn create(
        identity: Arc<Identity>,
        group_id: Vec<u8>,
        validator: Arc<dyn CredentialValidator>,
    ) -> Result<Arc<Self>, TesseraError> {
        guard(|| {
            not_in_validator()?;
            let group = Group::create(
                &RustCryptoProvider::new(),
                GroupConfig::default(),
                identity.suite.into(),
                group_id.clone(),
                &identity.inner,
                KeyPackageOptions::valid_for(crate::now()?, CREATOR_LEAF_VALIDITY),
                vec![],
            )?;
            Ok(Self::wrap(group, validator))
        })
    }

    /// Joins a group from a Welcome (an MLSMessage with the ratchet tree
    /// inside) sent to `key_package`. The validator is asked about every
    /// member of the group first; a refusal fails the join. On success the
    /// KeyPackage's private keys are deleted.
    ///
    /// Leaf lifetimes of members already in the tree are not checked (a
    /// long-lived group's creator leaf may have passed its `not_after`).
    #[uniffi::constructor]
    pub fn join(
        identity: Arc<Identity>,
        key_package: Arc<KeyPackageBundle>,
        welcome: Vec<u8>,
        validator: Arc<dyn CredentialValidator>,
    ) -> Result<Arc<Self>, TesseraError> {
        guard(|| {
            not_in_validator()?;
            let MlsMessage::Welcome(welcome) = MlsMessage::decode_exact(&welcome)? else {
                return Err(TesseraError::bad_bytes("not a Welcome"));
            };
            key_package.consume(|kp, private| {
                let group = Group::join(
                    &RustCryptoProvider::new(),
                    GroupConfig::default(),
                    &welcome,
                    JoinInput {
                        key_package: kp,
                        key_package_private: private,
                        signer: identity.inner.signer().clone(),
                        ratchet_tree: None,
                        psk_store: &(),
                        now: None,
                    },
                )?;
                let checks = group
                    .members()
                    .into_iter()
                    .map(|m| CredentialCheck {
                        group_id: group.group_id().to_vec(),
                        subject: CredentialSubject::Leaf { index: m.index.0 },
                        usage: CredentialUse::TreeMember,
                        credential: (&m.credential).into(),
                        signature_key: m.leaf_node.signature_key.as_bytes().to_vec(),
                    })
                    .collect();
                validate_all(&*validator, checks)?;
                Ok(Self::wrap(group, validator.clone()))
            })
        })
    }

    /// The group id.
    pub fn group_id(&self) -> Vec<u8> {
        self.group_id.clone()
    }

    /// The current epoch.
    pub fn epoch(&self) -> Result<u64, TesseraError> {
        self.with(|s| Ok(s.group.epoch()))
    }

    /// The group's cipher suite.
    pub fn cipher_suite(&self) -> Result<CipherSuite, TesseraError> {
        self.with(|s| {
            CipherSuite::from_core(s.group.cipher_suite())
                .ok_or_else(|| TesseraError::internal("group with an unknown cipher suite"))
        })
    }

    /// This member's leaf index.
    pub fn own_leaf_index(&self) -> Result<u32, TesseraError> {
        self.with(|s| Ok(s.group.own_leaf().0))
    }

    /// The members, by leaf index.
    pub fn members(&self) -> Result<Vec<Member>, TesseraError> {
        self.with(|s| {
            Ok(s.group
                .members()
                .iter()
                .map(|m| Member {
                    leaf_index: m.index.0,
                    credential: (&m.credential).into(),
                })
                .collect())
        })
    }

    /// The epoch authenticator (RFC 9420 §8.7): equal on every member in
    /// the same epoch of the same group. Compare a code derived from it out
    /// of band to detect a fork or an active attacker.
    pub fn epoch_authenticator(&self) -> Result<Vec<u8>, TesseraError> {
        self.with(|s| Ok(s.group.epoch_authenticator().as_bytes().to_vec()))
    }

    /// False once a received commit removed this member.
    pub fn is_active(&self) -> Result<bool, TesseraError> {
        self.with(|s| Ok(s.active))
    }

    /// Whether a commit of this member awaits merge or discard.
    pub fn has_pending_commit(&self) -> Result<bool, TesseraError> {
        self.with(|s| Ok(s.group.has_pending_commit()))
    }

    /// Commits the addition of these members (KeyPackages as MLSMessages),
    /// and any proposals received in this epoch. The validator is asked
    /// about each KeyPackage's credential first. The commit stays pending
    /// until `merge_pending_commit` or `discard_pending_commit`.
    pub fn add_members(&self, key_packages: Vec<Vec<u8>>) -> Result<CommitBundle, TesseraError> {
        self.with_active(|s| {
            let mut proposals = Vec::with_capacity(key_packages.len());
            let mut checks = Vec::with_capacity(key_packages.len());
            for bytes in &key_packages {
                let MlsMessage::KeyPackage(kp) = MlsMessage::decode_exact(bytes)? else {
                    return Err(TesseraError::bad_bytes("not a KeyPackage"));
                };
                checks.push(CredentialCheck {
                    group_id: self.group_id.clone(),
                    subject: CredentialSubject::KeyPackage,
                    usage: CredentialUse::Added,
                    credential: (&kp.leaf_node.credential).into(),
                    signature_key: kp.leaf_node.signature_key.as_bytes().to_vec(),
                });
                proposals.push(Proposal::Add(Add { key_package: kp }));
            }
            validate_all(&*self.validator, checks)?;
            Self::commit(s, proposals, Some(crate::now()?))
        })
    }

    /// Commits the removal of the members at these leaves, and any
    /// proposals received in this epoch. Pending like `add_members`.
    pub fn remove_members(&self, leaf_indices: Vec<u32>) -> Result<CommitBundle, TesseraError> {
        self.with_active(|s| {
            let proposals = leaf_indices
                .into_iter()
                .map(|removed| Proposal::Remove(Remove { removed }))
                .collect();
            Self::commit(s, proposals, None)
        })
    }

    /// Merges this member's pending commit (the delivery service accepted
    /// it): the new epoch starts.
    pub fn merge_pending_commit(&self) -> Result<CommitSummary, TesseraError> {
        self.with(|s| Ok((&s.group.merge_pending_commit()?).into()))
    }

    /// Drops this member's pending commit (the delivery service refused it).
    pub fn discard_pending_commit(&self) -> Result<(), TesseraError> {
        self.with(|s| {
            s.group.discard_pending_commit();
            Ok(())
        })
    }

    /// Encrypts application data for the group (a PrivateMessage, as an
    /// MLSMessage).
    pub fn encrypt(&self, plaintext: Vec<u8>) -> Result<Vec<u8>, TesseraError> {
        self.encrypt_with_authenticated_data(plaintext, Vec::new())
    }

    /// Like `encrypt`, with `authenticated_data` sent in the clear but
    /// authenticated (the receiver gets it in `Received.Application`).
    ///
    /// (A separate method rather than an argument of `encrypt`: every byte
    /// array argument costs the foreign side one more call across the FFI.)
    pub fn encrypt_with_authenticated_data(
        &self,
        plaintext: Vec<u8>,
        authenticated_data: Vec<u8>,
    ) -> Result<Vec<u8>, TesseraError> {
        self.with_active(|s| {
            Ok(s.group
                .encrypt_application(&plaintext, &authenticated_data)?
                .to_bytes()?)
        })
    }

    /// Processes one message received for this group (an MLSMessage). A
    /// commit is validated (the validator is asked about every leaf it puts
    /// into the tree, before anything changes) and merged before this
    /// returns. On any error the group is unchanged.
    ///
    /// KeyPackage lifetimes in a received commit are not checked: a member
    /// that processes a commit late must still follow the group.
    pub fn process(&self, message: Vec<u8>) -> Result<Received, TesseraError> {
        self.with(|s| {
            let message = MlsMessage::decode_exact(&message)?;
            let epoch = match &message {
                MlsMessage::PrivateMessage(m) => m.epoch,
                MlsMessage::PublicMessage(m) => m.content.epoch,
                _ => s.group.epoch(),
            };
            // The validator's verdict is taken inside the core's
            // processing, after every RFC check and before anything
            // changes; an error the validator itself raised is kept to be
            // returned as it was.
            let mut raised: Option<TesseraError> = None;
            let validator = &*self.validator;
            let group_id = &self.group_id;
            let mut check = |_: &Group, incoming: Incoming<'_>| -> tessera::Result<()> {
                let Incoming::Commit { leaves, .. } = incoming else {
                    return Ok(());
                };
                let checks = leaves
                    .iter()
                    .map(|l| CredentialCheck {
                        group_id: group_id.clone(),
                        subject: CredentialSubject::Leaf { index: l.leaf.0 },
                        usage: l.kind.into(),
                        credential: (&l.new.credential).into(),
                        signature_key: l.new.signature_key.as_bytes().to_vec(),
                    })
                    .collect();
                validate_all(validator, checks).map_err(|e| {
                    raised = Some(e);
                    tessera::Error::Internal("refused by the credential validator")
                })
            };
            let processed = s
                .group
                .process_message_with(&message, &(), None, &mut check);
            let processed = match processed {
                Ok(p) => p,
                Err(e) => return Err(raised.take().unwrap_or_else(|| e.into())),
            };
            match processed {
                ProcessedMessage::Application {
                    sender,
                    data,
                    authenticated_data,
                } => {
                    // As of the message's epoch: the leaf may hold someone
                    // else now.
                    let credential = s
                        .group
                        .leaf_at(epoch, sender)
                        .map(|n| (&n.credential).into())
                        .ok_or_else(|| {
                            TesseraError::internal("sender verified but not in the tree")
                        })?;
                    Ok(Received::Application {
                        sender: Member {
                            leaf_index: sender.0,
                            credential,
                        },
                        epoch,
                        data,
                        authenticated_data,
                    })
                }
                ProcessedMessage::Proposal {
                    reference,
                    proposal,
                    ..
                } => Ok(Received::Proposal {
                    proposal_type: proposal.proposal_type().0,
                    reference: reference.0,
                }),
                ProcessedMessage::Commit(staged) => {
                    let summary = CommitSummary::from(staged.summary());
                    if staged.summary().self_removed {
                        // The group ends here for this member; its state
                        // stays at the last epoch it was in.
                        s.active = false;
                        return Ok(Received::Removed { summary });
                    }
                    s.group.merge_staged_commit(*staged)?;
                    Ok(Received::Commit { summary })
                }
                ProcessedMessage::OwnMessage { .. } => Ok(Received::OwnMessage),
                _ => Err(TesseraError::internal(
                    "a kind of processed message the bindings do not know",
                )),
            }
        })
    }
}

impl MlsGroup {
    fn wrap(group: Group, validator: Arc<dyn CredentialValidator>) -> Arc<Self> {
        Arc::new(Self {
            group_id: group.group_id().to_vec(),
            state: Mutex::new(State {
                group,
                active: true,
            }),
            validator,
        })
    }

    /// Runs `f` on the locked state, inside the panic guard (for the
    /// test-only exports).
    #[cfg(feature = "testing")]
    pub(crate) fn with_state<T>(
        &self,
        f: impl FnOnce(&mut Group) -> Result<T, TesseraError>,
    ) -> Result<T, TesseraError> {
        self.with(|s| f(&mut s.group))
    }

    /// Runs `f` on the locked state, inside the panic guard.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, TesseraError>,
    ) -> Result<T, TesseraError> {
        guard(|| {
            not_in_validator()?;
            let mut state = self.lock()?;
            f(&mut state)
        })
    }

    /// Like [`Self::with`], refused once this member was removed.
    fn with_active<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, TesseraError>,
    ) -> Result<T, TesseraError> {
        self.with(|s| {
            if !s.active {
                return Err(TesseraError::api("this member was removed from the group"));
            }
            f(s)
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, TesseraError> {
        // A panic while the lock was held may have left the group half
        // updated: it is never used again.
        self.state.lock().map_err(|_| {
            TesseraError::internal("this group is unusable after an earlier internal error")
        })
    }

    fn commit(
        s: &mut State,
        proposals: Vec<Proposal>,
        now: Option<u64>,
    ) -> Result<CommitBundle, TesseraError> {
        let out = s.group.commit(
            CommitOptions {
                proposals,
                ..Default::default()
            },
            &(),
            now,
        )?;
        Ok(CommitBundle {
            commit: out.commit.to_bytes()?,
            welcome: out.welcome.map(|w| w.to_bytes()).transpose()?,
        })
    }
}
