//! The application's hooks applied to what enters a group: every credential
//! to the [`IdentityValidator`], every received proposal to the
//! [`ProposalPolicy`]. Each "no" is a typed error that refuses the whole
//! message or join, before anything changes.

use super::Client;
use super::hooks::{CredentialCheck, CredentialUse, ProposalOrigin};
use crate::crypto::SignaturePublicKey;
use crate::error::{CredentialSubject, ProtocolError, Result};
use crate::group::{Group, Incoming, LeafChange, LeafChangeKind};
use crate::messages::{Credential, Extension, ExtensionList, ExternalSenders, Proposal, Sender};
use crate::tree::RatchetTree;
use crate::tree_math::LeafIndex;

impl Client {
    /// Asks the validator about one credential.
    pub(super) fn validate(
        &self,
        group_id: &[u8],
        subject: CredentialSubject,
        usage: CredentialUse,
        credential: &Credential,
        signature_key: &SignaturePublicKey,
    ) -> Result<()> {
        self.validator
            .validate(&CredentialCheck {
                group_id,
                subject,
                usage,
                credential,
                signature_key,
            })
            .map_err(|r| {
                ProtocolError::CredentialRejected {
                    subject,
                    reason: r.0,
                }
                .into()
            })
    }

    /// Every member of a tree this client joins, but itself, and the
    /// group's external senders.
    pub(super) fn validate_joined_tree(
        &self,
        group_id: &[u8],
        tree: &RatchetTree,
        own_leaf: LeafIndex,
        extensions: &[Extension],
    ) -> Result<()> {
        for (leaf, node) in tree.members() {
            if leaf != own_leaf {
                self.validate(
                    group_id,
                    CredentialSubject::Leaf(leaf.0),
                    CredentialUse::TreeMember,
                    &node.credential,
                    &node.signature_key,
                )?;
            }
        }
        self.validate_external_senders(group_id, extensions, &[])
    }

    /// The external senders of `extensions` that are not already in
    /// `current` (the extensions they replace).
    pub(super) fn validate_external_senders(
        &self,
        group_id: &[u8],
        extensions: &[Extension],
        current: &[Extension],
    ) -> Result<()> {
        let Some(senders) = extensions.parse::<ExternalSenders>()? else {
            return Ok(());
        };
        let known = current.parse::<ExternalSenders>()?.unwrap_or_default();
        for (i, s) in senders.0.iter().enumerate() {
            if known.0.contains(s) {
                continue;
            }
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            self.validate(
                group_id,
                CredentialSubject::ExternalSender(index),
                CredentialUse::ExternalSender,
                &s.credential,
                &s.signature_key,
            )?;
        }
        Ok(())
    }

    /// A leaf a commit puts into the tree: its credential, and if it
    /// replaces another leaf with a different credential, whether both name
    /// the same participant.
    fn validate_leaf_change(&self, group_id: &[u8], change: &LeafChange) -> Result<()> {
        let usage = match change.kind {
            LeafChangeKind::Added => CredentialUse::Added,
            LeafChangeKind::Updated => CredentialUse::Updated,
            LeafChangeKind::CommitterPath => CredentialUse::CommitterPath,
            LeafChangeKind::ExternalJoiner => CredentialUse::ExternalJoiner,
        };
        self.validate(
            group_id,
            CredentialSubject::Leaf(change.leaf.0),
            usage,
            &change.new.credential,
            &change.new.signature_key,
        )?;
        if let Some(old) = &change.old
            && old.credential != change.new.credential
            && !self
                .validator
                .same_participant(&old.credential, &change.new.credential)
        {
            return Err(ProtocolError::CredentialChangesParticipant(change.leaf.0).into());
        }
        Ok(())
    }

    /// Whether the policy accepts `proposal` from `sender`.
    fn accept_proposal(
        &self,
        group: &Group,
        sender: &Sender,
        proposal: &Proposal,
        in_commit: bool,
    ) -> Result<()> {
        let credential = sender_credential(group, sender, proposal);
        let origin = ProposalOrigin {
            group_id: group.group_id(),
            sender_type: sender.sender_type(),
            credential: credential.as_ref(),
            in_commit,
        };
        if self.policy.accept(&origin, proposal) {
            Ok(())
        } else {
            Err(ProtocolError::ProposalNotAccepted {
                proposal_type: proposal.proposal_type().0,
                sender_type: sender.sender_type().to_u8(),
            }
            .into())
        }
    }

    /// The check run on every received proposal and commit before the
    /// group accepts it (see [`Group::process_message_with`]).
    pub(super) fn check_incoming(&self, group: &Group, incoming: Incoming<'_>) -> Result<()> {
        let group_id = group.group_id();
        match incoming {
            Incoming::Proposal {
                sender, proposal, ..
            } => {
                if group.pending_proposal_count() >= self.config.max_cached_proposals {
                    return Err(ProtocolError::TooManyCachedProposals(
                        self.config.max_cached_proposals,
                    )
                    .into());
                }
                self.accept_proposal(group, sender, proposal, false)?;
                match (proposal, sender) {
                    (Proposal::Add(add), _) => {
                        let leaf = &add.key_package.leaf_node;
                        self.validate(
                            group_id,
                            CredentialSubject::KeyPackage,
                            CredentialUse::ProposedAdd,
                            &leaf.credential,
                            &leaf.signature_key,
                        )
                    }
                    (Proposal::Update(update), Sender::Member(l)) => {
                        let old = group.tree().leaf(LeafIndex(*l)).cloned();
                        self.validate_leaf_change(
                            group_id,
                            &LeafChange {
                                leaf: LeafIndex(*l),
                                kind: LeafChangeKind::Updated,
                                old,
                                new: update.leaf_node.clone(),
                            },
                        )
                    }
                    (Proposal::GroupContextExtensions(g), _) => self.validate_external_senders(
                        group_id,
                        &g.extensions,
                        &group.context().extensions,
                    ),
                    _ => Ok(()),
                }
            }
            Incoming::Commit {
                staged,
                proposals,
                leaves,
            } => {
                let committer = staged.summary().committer;
                // Proposals by value are the committer's own (a member's, or
                // a new member's committing itself in); those by reference
                // were accepted when they arrived.
                for p in proposals.iter().filter(|p| p.reference.is_none()) {
                    self.accept_proposal(group, &committer, &p.proposal, true)?;
                }
                for change in leaves {
                    self.validate_leaf_change(group_id, change)?;
                }
                if let Some(extensions) = &staged.summary().new_extensions {
                    self.validate_external_senders(
                        group_id,
                        extensions,
                        &group.context().extensions,
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// The credential of a proposal's sender, if known.
fn sender_credential(group: &Group, sender: &Sender, proposal: &Proposal) -> Option<Credential> {
    match sender {
        Sender::Member(l) => group
            .tree()
            .leaf(LeafIndex(*l))
            .map(|n| n.credential.clone()),
        Sender::External(i) => group
            .context()
            .extensions
            .parse::<ExternalSenders>()
            .ok()
            .flatten()
            .and_then(|s| {
                usize::try_from(*i)
                    .ok()
                    .and_then(|i| s.0.get(i).map(|s| s.credential.clone()))
            }),
        Sender::NewMemberProposal => match proposal {
            Proposal::Add(a) => Some(a.key_package.leaf_node.credential.clone()),
            _ => None,
        },
        Sender::NewMemberCommit => None,
    }
}
