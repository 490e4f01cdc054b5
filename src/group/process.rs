//! Processing incoming messages (RFC 9420 §6, §12.2, §12.4.2): verify, then
//! stage; nothing in the group changes until [`Group::merge_staged_commit`].

use super::join::{interim_transcript_hash, resolve_psks};
use super::proposals::{
    AppliedProposals, CommittedProposal, Committer, apply_proposals, lifetime_check,
};
use super::{CachedProposal, Group, PskStore};
use crate::codec::Encode;
use crate::crypto::labeled::verify_with_label;
use crate::crypto::{Secret, SignaturePublicKey, Tag};
use crate::error::{ProtocolError, Result};
use crate::key_schedule::{EpochSecrets, KeySchedule};
use crate::messages::{
    AuthenticatedContent, Commit, ContentType, Credential, ExtensionList, ExternalSenders,
    FramedContentBody, GroupContext, MlsMessage, PreSharedKeyId, Proposal, ProposalOrRef,
    ProposalRef, PublicMessage, ReInit, Sender, WireFormat,
};
use crate::tree::{LeafNodeOrigin, LeafValidationContext, RatchetTree, TreePrivateKeys};
use crate::tree_math::LeafIndex;

/// What processing a message gave.
// The Proposal variant is the common case of a handshake message; boxing it
// would cost an allocation per proposal for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[non_exhaustive]
pub enum ProcessedMessage {
    /// Application data from a member.
    Application {
        /// The sender's leaf.
        sender: LeafIndex,
        /// The plaintext.
        data: Vec<u8>,
        /// The sender's authenticated (unencrypted) data.
        authenticated_data: Vec<u8>,
    },
    /// A proposal, now kept until a commit covers it or the epoch ends.
    Proposal {
        /// Who proposed it.
        sender: Sender,
        /// Its reference (RFC 9420 §5.2).
        reference: ProposalRef,
        /// The proposal.
        proposal: Proposal,
    },
    /// A verified commit, to inspect and then merge with [`Group::merge_staged_commit`].
    Commit(Box<StagedCommit>),
}

/// What a commit changes, for the application to inspect before merging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitSummary {
    /// Who committed.
    pub committer: Sender,
    /// The epoch the commit starts.
    pub new_epoch: u64,
    /// Members added, with their leaf and credential.
    pub added: Vec<(LeafIndex, Credential)>,
    /// Members removed, with the leaf and credential they had.
    pub removed: Vec<(LeafIndex, Credential)>,
    /// Members whose leaf an Update replaced.
    pub updated: Vec<LeafIndex>,
    /// PSKs injected into the new epoch.
    pub psks: Vec<PreSharedKeyId>,
    /// The new group context extensions, if the commit changed them.
    pub new_extensions: Option<Vec<crate::messages::Extension>>,
    /// A ReInit the commit carried: the group must not be used any more (RFC 9420 §12.4.2).
    pub reinit: Option<ReInit>,
    /// Whether this member was removed.
    pub self_removed: bool,
}

/// A verified commit that has not been applied yet. Merging it starts the new
/// epoch; dropping it leaves the group as it was.
#[derive(Debug)]
pub struct StagedCommit {
    pub(crate) summary: CommitSummary,
    pub(crate) from_epoch: u64,
    pub(crate) next: Option<NextEpoch>,
}

impl StagedCommit {
    /// What the commit changes.
    pub fn summary(&self) -> &CommitSummary {
        &self.summary
    }
}

/// Everything of the new epoch, computed but not yet in the group.
#[derive(Debug)]
pub(crate) struct NextEpoch {
    pub context: GroupContext,
    pub tree: RatchetTree,
    pub interim_transcript_hash: Vec<u8>,
    pub confirmation_tag: Tag,
    pub path_keys: TreePrivateKeys,
    pub secrets: EpochSecrets,
}

/// `ConfirmedTranscriptHashInput { WireFormat; FramedContent; opaque signature<V>; }`
/// hashed after the previous interim hash (RFC 9420 §8.2).
pub(crate) fn confirmed_transcript_hash(
    cs: &dyn crate::crypto::CipherSuiteProvider,
    interim_before: &[u8],
    auth: &AuthenticatedContent,
) -> Result<Vec<u8>> {
    let mut input = interim_before.to_vec();
    auth.wire_format.encode(&mut input)?;
    auth.content.encode(&mut input)?;
    auth.auth.signature.encode(&mut input)?;
    Ok(cs.hash(&input))
}

impl Group {
    /// Processes a message received for this group: verifies it completely
    /// and returns what it carries. A commit is returned staged, to merge with
    /// [`Group::merge_staged_commit`]. On any error the group is unchanged.
    ///
    /// `now` (seconds since the Unix epoch) is used to check the lifetimes
    /// of KeyPackages in Add proposals; `None` skips that check.
    pub fn process_message(
        &mut self,
        message: &MlsMessage,
        psks: &dyn PskStore,
        now: Option<u64>,
    ) -> Result<ProcessedMessage> {
        match message {
            MlsMessage::PublicMessage(m) => {
                let auth = self.verify_public_message(m)?;
                self.process_authenticated(auth, psks, now)
            }
            MlsMessage::PrivateMessage(_) => {
                Err(ProtocolError::UnsupportedWireFormat(WireFormat::PRIVATE_MESSAGE.0).into())
            }
            other => Err(ProtocolError::UnsupportedWireFormat(other.wire_format().0).into()),
        }
    }

    /// The signature key of a sender of this epoch, and whether its
    /// FramedContentTBS includes the group context (RFC 9420 §6.1).
    fn sender_key(
        &self,
        sender: &Sender,
        content: &FramedContentBody,
    ) -> Result<(SignaturePublicKey, bool)> {
        match (sender, content) {
            (Sender::Member(leaf), _) => {
                let leaf = self
                    .tree
                    .leaf(LeafIndex(*leaf))
                    .ok_or(ProtocolError::SenderNotMember(*leaf))?;
                Ok((leaf.signature_key.clone(), true))
            }
            (Sender::External(i), FramedContentBody::Proposal(_)) => {
                let senders = self
                    .context
                    .extensions
                    .parse::<ExternalSenders>()?
                    .ok_or(ProtocolError::UnknownExternalSender(*i))?;
                let s = usize::try_from(*i)
                    .ok()
                    .and_then(|i| senders.0.get(i))
                    .ok_or(ProtocolError::UnknownExternalSender(*i))?;
                Ok((s.signature_key.clone(), false))
            }
            (Sender::NewMemberProposal, FramedContentBody::Proposal(Proposal::Add(add))) => {
                Ok((add.key_package.leaf_node.signature_key.clone(), false))
            }
            (Sender::NewMemberCommit, FramedContentBody::Commit(Commit { path: Some(p), .. })) => {
                Ok((p.leaf_node.signature_key.clone(), true))
            }
            _ => Err(ProtocolError::InvalidSenderForContent.into()),
        }
    }

    /// Verifies a PublicMessage of the current epoch (RFC 9420 §6.1, §6.2):
    /// group and epoch, membership tag for members, signature.
    fn verify_public_message(&self, m: &PublicMessage) -> Result<AuthenticatedContent> {
        let content = &m.content;
        if content.group_id != self.context.group_id {
            return Err(ProtocolError::WrongGroup.into());
        }
        if content.epoch != self.context.epoch {
            return Err(ProtocolError::WrongEpoch {
                message: content.epoch,
                current: self.context.epoch,
            }
            .into());
        }
        // Application data is never sent as PublicMessage (RFC 9420 §6.2).
        if content.content_type() == ContentType::Application {
            return Err(ProtocolError::ApplicationInPublicMessage.into());
        }
        let (key, with_context) = self.sender_key(&content.sender, &content.content)?;
        if let Sender::Member(_) = content.sender {
            let tag = m
                .membership_tag
                .as_ref()
                .ok_or(ProtocolError::InvalidMembershipTag)?;
            let expected = self.cs.mac(
                self.keys.membership_key.as_bytes(),
                &m.to_be_maced(&self.context)?,
            )?;
            if expected != *tag {
                return Err(ProtocolError::InvalidMembershipTag.into());
            }
        }
        let tbs = m.to_be_signed(with_context.then_some(&self.context))?;
        verify_with_label(
            &*self.cs,
            &key,
            b"FramedContentTBS",
            &tbs,
            &m.auth.signature,
        )?;
        Ok(AuthenticatedContent {
            wire_format: WireFormat::PUBLIC_MESSAGE,
            content: m.content.clone(),
            auth: m.auth.clone(),
        })
    }

    /// Acts on verified content.
    fn process_authenticated(
        &mut self,
        auth: AuthenticatedContent,
        psks: &dyn PskStore,
        now: Option<u64>,
    ) -> Result<ProcessedMessage> {
        match &auth.content.content {
            FramedContentBody::Application(data) => {
                let Sender::Member(leaf) = auth.content.sender else {
                    return Err(ProtocolError::InvalidSenderForContent.into());
                };
                Ok(ProcessedMessage::Application {
                    sender: LeafIndex(leaf),
                    data: data.clone(),
                    authenticated_data: auth.content.authenticated_data.clone(),
                })
            }
            FramedContentBody::Proposal(p) => {
                let reference = ProposalRef::compute(&*self.cs, &auth)?;
                let sender = auth.content.sender;
                self.proposals.push(CachedProposal {
                    reference: reference.clone(),
                    proposal: p.clone(),
                    sender,
                });
                Ok(ProcessedMessage::Proposal {
                    sender,
                    reference,
                    proposal: p.clone(),
                })
            }
            FramedContentBody::Commit(c) => {
                if let Some(staged) = self.take_pending_if_echo(&auth) {
                    return Ok(ProcessedMessage::Commit(Box::new(staged)));
                }
                let staged = self.stage_commit(&auth, c, psks, now)?;
                Ok(ProcessedMessage::Commit(Box::new(staged)))
            }
        }
    }

    /// Resolves a commit's proposal list against the proposals of this epoch.
    fn resolve_proposals(
        &self,
        commit: &Commit,
        committer: &Sender,
    ) -> Result<Vec<CommittedProposal>> {
        commit
            .proposals
            .iter()
            .map(|p| match p {
                ProposalOrRef::Proposal(p) => Ok(CommittedProposal {
                    proposal: (**p).clone(),
                    sender: *committer,
                    reference: None,
                }),
                ProposalOrRef::Reference(r) => self
                    .proposals
                    .iter()
                    .find(|c| c.reference == *r)
                    .map(|c| CommittedProposal {
                        proposal: c.proposal.clone(),
                        sender: c.sender,
                        reference: Some(r.clone()),
                    })
                    .ok_or_else(|| ProtocolError::UnknownProposalReference.into()),
            })
            .collect()
    }

    /// Verifies a commit completely and computes the new epoch (RFC 9420 §12.4.2).
    fn stage_commit(
        &self,
        auth: &AuthenticatedContent,
        commit: &Commit,
        psks: &dyn PskStore,
        now: Option<u64>,
    ) -> Result<StagedCommit> {
        let cs = &*self.cs;
        let sender = &auth.content.sender;
        let committer = match sender {
            Sender::Member(l) => Committer::Member(LeafIndex(*l)),
            Sender::NewMemberCommit => Committer::External,
            _ => return Err(ProtocolError::InvalidSenderForContent.into()),
        };
        if committer == Committer::Member(self.own_leaf) {
            // Only the echo of our own pending commit is accepted; it is
            // handled before staging (see `process_authenticated`).
            return Err(ProtocolError::OwnCommitNotPending.into());
        }
        let proposals = self.resolve_proposals(commit, sender)?;
        let ctx = LeafValidationContext::from_group_context(&self.context, lifetime_check(now))?;
        let AppliedProposals {
            mut tree,
            extensions,
            added,
            removed,
            updated,
            psks: psk_ids,
            external_init,
            reinit,
            path_required,
        } = apply_proposals(
            cs,
            &self.tree,
            &self.context.extensions,
            &ctx,
            committer,
            &proposals,
        )?;
        if path_required && commit.path.is_none() {
            return Err(ProtocolError::PathRequired.into());
        }
        let self_removed = removed.iter().any(|(l, _)| *l == self.own_leaf);
        let added_leaves: Vec<LeafIndex> = added.iter().map(|(l, _)| *l).collect();

        let mut new_context = GroupContext {
            epoch: self
                .context
                .epoch
                .checked_add(1)
                .ok_or(crate::error::ProtocolError::EpochExhausted)?,
            extensions: extensions.clone(),
            ..self.context.clone()
        };
        let mut path_keys = self.path_keys.clone();
        path_keys.forget_blank(&tree);
        let mut commit_secret = Secret::zero(cs.kdf_len());
        if let Some(path) = &commit.path {
            let sender_leaf = match committer {
                Committer::Member(l) => l,
                Committer::External => return Err(ProtocolError::ExternalCommitUnsupported.into()),
            };
            let mut ctx = ctx.clone();
            ctx.required_capabilities = extensions.parse()?;
            if tree.leaf(sender_leaf).map(|l| &l.encryption_key)
                == Some(&path.leaf_node.encryption_key)
            {
                return Err(ProtocolError::CommitLeafKeyNotChanged.into());
            }
            tree.validate_leaf_node(
                cs,
                &ctx,
                &path.leaf_node,
                LeafNodeOrigin::Commit(sender_leaf),
            )?;
            tree.merge_update_path(cs, sender_leaf, path, &added_leaves)?;
            new_context.tree_hash = tree.tree_hash(cs)?;
            if !self_removed {
                let decrypted = tree.decrypt_update_path(
                    cs,
                    &mut path_keys,
                    sender_leaf,
                    path,
                    &new_context,
                    &added_leaves,
                )?;
                commit_secret = decrypted.commit_secret;
            }
        } else {
            new_context.tree_hash = tree.tree_hash(cs)?;
        }

        let summary = CommitSummary {
            committer: *sender,
            new_epoch: new_context.epoch,
            added: added
                .iter()
                .map(|(l, kp)| (*l, kp.leaf_node.credential.clone()))
                .collect(),
            removed: removed
                .iter()
                .map(|(l, n)| (*l, n.credential.clone()))
                .collect(),
            updated,
            psks: psk_ids.clone(),
            new_extensions: (extensions != self.context.extensions).then_some(extensions),
            reinit,
            self_removed,
        };
        if self_removed {
            // The removed member cannot derive the new epoch (RFC 9420 §12.4.2).
            return Ok(StagedCommit {
                summary,
                from_epoch: self.context.epoch,
                next: None,
            });
        }
        if external_init.is_some() {
            return Err(ProtocolError::ExternalCommitUnsupported.into());
        }

        new_context.confirmed_transcript_hash =
            confirmed_transcript_hash(cs, &self.interim_transcript_hash, auth)?;
        let group_id = self.context.group_id.clone();
        let psk_secret = resolve_psks(cs, &psk_ids, psks, &|gid, epoch| {
            (gid == group_id.as_slice())
                .then(|| self.resumption_psk(epoch).cloned())
                .flatten()
        })?;
        let schedule = KeySchedule::derive(
            cs,
            self.keys.init_secret.clone(),
            commit_secret,
            psk_secret,
            &new_context,
        )?;
        let secrets = schedule.epoch_secrets;
        let tag = cs.mac(
            secrets.confirmation_key.as_bytes(),
            &new_context.confirmed_transcript_hash,
        )?;
        match &auth.auth.confirmation_tag {
            Some(t) if *t == tag => {}
            _ => return Err(ProtocolError::ConfirmationTagMismatch.into()),
        }
        let interim = interim_transcript_hash(cs, &new_context.confirmed_transcript_hash, &tag)?;
        Ok(StagedCommit {
            summary,
            from_epoch: self.context.epoch,
            next: Some(NextEpoch {
                context: new_context,
                tree,
                interim_transcript_hash: interim,
                confirmation_tag: tag,
                path_keys,
                secrets,
            }),
        })
    }
}
