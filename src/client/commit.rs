//! Sending: application messages, proposals, and commits that cover what
//! they can of the cached proposals.

use super::Client;
use super::events::{Event, GroupId};
use super::hooks::CredentialUse;
use super::process::changed_leaves;
use super::state::Loaded;
use crate::codec::{Decode, Encode};
use crate::error::{ApiError, CredentialSubject, Error, ProtocolError, Result};
use crate::group::CommitOptions;
use crate::messages::{Add, KeyPackage, MlsMessage, Proposal, Remove};
use crate::tree_math::LeafIndex;

/// A cached proposal a commit left out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftOutProposal {
    /// Its reference (RFC 9420 §5.2).
    pub reference: Vec<u8>,
    /// Why: the rule it breaks (alone or with the proposals kept), or
    /// [`ProtocolError::ProposalNotAccepted`] if the proposal policy did
    /// not want it committed. It stays cached until the epoch ends.
    pub reason: Error,
}

/// A commit this member sent, pending until
/// [`Client::confirm_commit`] (or its echo is processed) or
/// [`Client::discard_commit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitResult {
    /// The commit, an MLSMessage to send to the group.
    pub commit: Vec<u8>,
    /// A Welcome for the members it adds, if any (send it once the commit
    /// is accepted).
    pub welcome: Option<Vec<u8>>,
    /// The cached proposals it did not cover, and why.
    pub left_out: Vec<LeftOutProposal>,
}

/// A commit that adds members (see [`Client::add`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddResult {
    /// The commit, an MLSMessage to send to the group.
    pub commit: Vec<u8>,
    /// The Welcome for the new members (send it once the commit is accepted).
    pub welcome: Vec<u8>,
    /// The cached proposals it did not cover, and why.
    pub left_out: Vec<LeftOutProposal>,
}

/// Refuses to send in a group this member can no longer send in.
fn ensure_active(l: &Loaded) -> Result<()> {
    match l.inactive {
        Some(_) => Err(ApiError::GroupInactive.into()),
        None => Ok(()),
    }
}

impl Client {
    /// Encrypts application data for the group (RFC 9420 §6.3); returns the
    /// MLSMessage to send. Fails with [`ApiError::GroupInactive`] once this
    /// member was removed.
    pub fn encrypt(&self, group: impl AsRef<[u8]>, data: &[u8]) -> Result<Vec<u8>> {
        self.encrypt_with_aad(group, data, &[])
    }

    /// [`Client::encrypt`] with authenticated data sent in the clear.
    pub fn encrypt_with_aad(
        &self,
        group: impl AsRef<[u8]>,
        data: &[u8],
        authenticated_data: &[u8],
    ) -> Result<Vec<u8>> {
        self.with_group(group.as_ref(), |l, _| {
            ensure_active(l)?;
            Ok(l.group
                .encrypt_application(data, authenticated_data)?
                .to_bytes()?)
        })
    }

    /// Commits the addition of the clients of `key_packages` (MLSMessages
    /// as [`Client::generate_key_packages`] gives them), with the cached
    /// proposals the commit can cover. Each KeyPackage's credential is
    /// shown to the identity validator, and its lifetime checked at the
    /// clock's time, first.
    pub fn add(
        &self,
        group: impl AsRef<[u8]>,
        key_packages: &[impl AsRef<[u8]>],
    ) -> Result<AddResult> {
        if key_packages.is_empty() {
            return Err(ApiError::InvalidArgument("no KeyPackage to add").into());
        }
        let id = group.as_ref();
        let mut proposals = Vec::with_capacity(key_packages.len());
        for bytes in key_packages {
            let key_package = match MlsMessage::decode_exact(bytes.as_ref())? {
                MlsMessage::KeyPackage(kp) => kp,
                _ => return Err(ApiError::InvalidArgument("not a KeyPackage").into()),
            };
            self.validate_key_package(id, &key_package)?;
            proposals.push(Proposal::Add(Add { key_package }));
        }
        let out = self.commit_with(id, proposals, false)?;
        Ok(AddResult {
            commit: out.commit,
            welcome: out
                .welcome
                .ok_or(Error::Internal("an add commit without a Welcome"))?,
            left_out: out.left_out,
        })
    }

    fn validate_key_package(&self, group_id: &[u8], kp: &KeyPackage) -> Result<()> {
        self.validate(
            group_id,
            CredentialSubject::KeyPackage,
            CredentialUse::Added,
            &kp.leaf_node.credential,
            &kp.leaf_node.signature_key,
        )
    }

    /// Commits the removal of the members at `leaves`, with the cached
    /// proposals the commit can cover.
    pub fn remove(&self, group: impl AsRef<[u8]>, leaves: &[LeafIndex]) -> Result<CommitResult> {
        let proposals = leaves
            .iter()
            .map(|l| Proposal::Remove(Remove { removed: l.0 }))
            .collect();
        self.commit_with(group.as_ref(), proposals, false)
    }

    /// Commits with a fresh path (new keys for this member's leaf and the
    /// nodes above it: post-compromise security), with the cached proposals
    /// the commit can cover.
    pub fn update(&self, group: impl AsRef<[u8]>) -> Result<CommitResult> {
        self.commit_with(group.as_ref(), Vec::new(), true)
    }

    /// Commits new group context extensions (RFC 9420 §12.1.7), with the
    /// cached proposals the commit can cover. New external senders are
    /// shown to the identity validator first.
    pub fn set_group_extensions(
        &self,
        group: impl AsRef<[u8]>,
        extensions: Vec<crate::messages::Extension>,
    ) -> Result<CommitResult> {
        let id = group.as_ref();
        let current = self.read_group(id, |l| l.group.context().extensions.clone())?;
        self.validate_external_senders(id, &extensions, &current)?;
        let proposal = Proposal::GroupContextExtensions(crate::messages::GroupContextExtensions {
            extensions,
        });
        self.commit_with(id, vec![proposal], false)
    }

    /// Commits the cached proposals (see [`Client::pending_proposals`]):
    /// those the proposal policy wants committed and that can be, together
    /// (RFC 9420 §12.2); the others are listed in
    /// [`CommitResult::left_out`]. One bad or conflicting proposal never
    /// makes the commit fail.
    ///
    /// ```
    /// # use tessera::client::Client;
    /// # use tessera::messages::Credential;
    /// # use tessera::storage::MemoryStore;
    /// # use tessera::tree_math::LeafIndex;
    /// # let [alice, bob, carol] = ["alice", "bob", "carol"]
    /// #     .map(|n| Client::create(Credential::basic(n), MemoryStore::new()).unwrap());
    /// # alice.create_group("team")?;
    /// # let kps = [bob.generate_key_packages(1)?.remove(0), carol.generate_key_packages(1)?.remove(0)];
    /// # let added = alice.add("team", &kps)?;
    /// # alice.confirm_commit("team")?;
    /// # bob.join(&added.welcome)?;
    /// # carol.join(&added.welcome)?;
    /// // Bob and Carol both propose to remove leaf 2... Carol's own removal.
    /// alice.process(&bob.propose_remove("team", LeafIndex(2))?)?;
    /// alice.process(&carol.leave("team")?)?;
    /// let out = alice.commit("team")?;
    /// assert_eq!(out.left_out.len(), 1); // two Removes of one leaf: one is enough
    /// alice.confirm_commit("team")?;
    /// assert_eq!(alice.members("team")?.len(), 2);
    /// # Ok::<(), tessera::Error>(())
    /// ```
    pub fn commit(&self, group: impl AsRef<[u8]>) -> Result<CommitResult> {
        self.commit_with(group.as_ref(), Vec::new(), false)
    }

    fn commit_with(
        &self,
        id: &[u8],
        by_value: Vec<Proposal>,
        force_path: bool,
    ) -> Result<CommitResult> {
        self.with_group(id, |l, _| {
            ensure_active(l)?;
            let now = self.clock.now();
            let mut left_out = Vec::new();
            let mut candidates = Vec::new();
            for p in l.group.pending_proposals() {
                if self.policy.commit(id, &p.proposal) {
                    candidates.push(p.reference);
                } else {
                    left_out.push(LeftOutProposal {
                        reference: p.reference.0,
                        reason: ProtocolError::ProposalNotAccepted {
                            proposal_type: p.proposal.proposal_type().0,
                            sender_type: p.sender.sender_type().to_u8(),
                        }
                        .into(),
                    });
                }
            }
            let selection =
                l.group
                    .select_proposals(&candidates, &by_value, &*self.psks, Some(now))?;
            left_out.extend(selection.left_out.into_iter().map(|x| LeftOutProposal {
                reference: x.reference.0,
                reason: x.reason,
            }));
            let out = l.group.commit(
                CommitOptions {
                    proposals: by_value,
                    only_pending: Some(selection.included),
                    force_path,
                    ..CommitOptions::default()
                },
                &*self.psks,
                Some(now),
            )?;
            Ok(CommitResult {
                commit: out.commit.to_bytes()?,
                welcome: out.welcome.map(|w| w.to_bytes()).transpose()?,
                left_out,
            })
        })
    }

    /// Merges this member's pending commit, once the delivery service has
    /// accepted it (processing its echo does the same). Returns the events:
    /// the merged commit, then any held messages it released.
    pub fn confirm_commit(&self, group: impl AsRef<[u8]>) -> Result<Vec<Event>> {
        let id = GroupId(group.as_ref().to_vec());
        self.with_group(&id.0, |l, batch| {
            let summary = l
                .group
                .pending_commit_summary()
                .cloned()
                .ok_or(ApiError::InvalidArgument("no pending commit"))?;
            let before = changed_leaves(&l.group, &summary);
            l.group.merge_pending_commit()?;
            let mut events = vec![self.merged_event(&id, l, batch, &summary, before)];
            events.extend(self.release_held(&id, l, batch));
            Ok(events)
        })
    }

    /// Drops this member's pending commit (the delivery service refused it:
    /// another commit won the epoch). `false` if none was pending.
    pub fn discard_commit(&self, group: impl AsRef<[u8]>) -> Result<bool> {
        self.with_group(group.as_ref(), |l, _| {
            let pending = l.group.has_pending_commit();
            l.group.discard_pending_commit();
            Ok(pending)
        })
    }

    /// Proposes to leave the group: a proposal to remove this member
    /// (RFC 9420 §12.1.3), to send to the group. Another member's commit
    /// removes it; the client then reports [`Event::Removed`].
    pub fn leave(&self, group: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        self.with_group(group.as_ref(), |l, _| {
            ensure_active(l)?;
            let me = l.group.own_leaf();
            Ok(l.group
                .propose(Proposal::Remove(Remove { removed: me.0 }))?
                .to_bytes()?)
        })
    }

    /// Proposes to add the client of `key_package` (an MLSMessage); returns
    /// the proposal to send. It is cached, so this member's next commit
    /// covers it.
    pub fn propose_add(&self, group: impl AsRef<[u8]>, key_package: &[u8]) -> Result<Vec<u8>> {
        let id = group.as_ref();
        let key_package = match MlsMessage::decode_exact(key_package)? {
            MlsMessage::KeyPackage(kp) => kp,
            _ => return Err(ApiError::InvalidArgument("not a KeyPackage").into()),
        };
        self.validate_key_package(id, &key_package)?;
        self.propose(id, Proposal::Add(Add { key_package }))
    }

    /// Proposes to remove the member at `leaf`; returns the proposal to send.
    pub fn propose_remove(&self, group: impl AsRef<[u8]>, leaf: LeafIndex) -> Result<Vec<u8>> {
        self.propose(group.as_ref(), Proposal::Remove(Remove { removed: leaf.0 }))
    }

    fn propose(&self, id: &[u8], proposal: Proposal) -> Result<Vec<u8>> {
        self.with_group(id, |l, _| {
            ensure_active(l)?;
            Ok(l.group.propose(proposal)?.to_bytes()?)
        })
    }

    /// The proposals cached in a group's current epoch.
    pub fn pending_proposals(
        &self,
        group: impl AsRef<[u8]>,
    ) -> Result<Vec<crate::group::PendingProposal>> {
        self.read_group(group.as_ref(), |l| l.group.pending_proposals())
    }

    /// Drops a cached proposal (by its reference); `false` if it was not
    /// cached. A commit that covers it can then no longer be processed.
    pub fn drop_proposal(&self, group: impl AsRef<[u8]>, reference: &[u8]) -> Result<bool> {
        let reference = crate::messages::ProposalRef(reference.to_vec());
        self.with_group(group.as_ref(), |l, _| {
            Ok(l.group.remove_pending_proposal(&reference))
        })
    }

    /// Drops every cached proposal of a group.
    pub fn clear_proposals(&self, group: impl AsRef<[u8]>) -> Result<()> {
        self.with_group(group.as_ref(), |l, _| {
            l.group.clear_pending_proposals();
            Ok(())
        })
    }
}
