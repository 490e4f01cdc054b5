//! Proposing and committing (RFC 9420 §12.1, §12.4.1) and building the
//! Welcome for new members (§12.4.3.1).

use super::group_info::{GroupInfoParts, signed_group_info};
use super::incremental::sent_piece;
use super::process::{CommitSummary, NextEpoch, StagedCommit};
use super::proposals::{AppliedProposals, CommittedProposal, Committer, apply_proposals};
use super::{CachedProposal, Group, HandshakeFormat, PskStore, StatePiece};
use crate::crypto::Secret;
use crate::error::{ApiError, Result};
use crate::framing::{self, SignedContent};
use crate::messages::{
    AuthenticatedContent, Commit, FramedContent, FramedContentBody, GroupInfo, GroupSecrets,
    MlsMessage, PathSecret, PreSharedKey, PreSharedKeyId, Proposal, ProposalOrRef, ProposalRef,
    RatchetTreeExtension, Sender, WireFormat,
};
use crate::transcript::{confirmation_tag, interim_transcript_hash};
use crate::tree::{LeafValidationContext, LifetimeCheck};
use crate::tree_math::LeafIndex;

/// How to build a commit.
#[derive(Clone, Debug)]
pub struct CommitOptions {
    /// Proposals to include by value, after the pending ones by reference.
    pub proposals: Vec<Proposal>,
    /// Include every proposal received in this epoch (by reference). Default true.
    pub include_pending: bool,
    /// With `include_pending`, cover only these cached proposals, in this
    /// order, instead of all of them (see [`Group::select_proposals`]);
    /// a reference not cached is an error. Default `None`.
    pub only_pending: Option<Vec<ProposalRef>>,
    /// Send an UpdatePath even when no proposal requires one (RFC 9420 §12.4).
    pub force_path: bool,
    /// Put the ratchet tree in the Welcome's GroupInfo (else hand it out of
    /// band from [`CommitOutput::ratchet_tree`]). Default true.
    pub ratchet_tree_in_welcome: bool,
    /// Also return a signed GroupInfo of the new epoch, with the ratchet
    /// tree and `external_pub` (for external joins, RFC 9420 §12.4.3.2).
    pub group_info: bool,
    /// Authenticated data to send with the commit.
    pub authenticated_data: Vec<u8>,
}

impl Default for CommitOptions {
    fn default() -> Self {
        Self {
            proposals: Vec::new(),
            include_pending: true,
            only_pending: None,
            force_path: false,
            ratchet_tree_in_welcome: true,
            group_info: false,
            authenticated_data: Vec::new(),
        }
    }
}

/// What a commit produces. The commit stays pending in the group until
/// [`Group::merge_pending_commit`] (after the delivery service accepted it)
/// or [`Group::discard_pending_commit`].
#[derive(Clone, Debug)]
pub struct CommitOutput {
    /// The commit, to send to the group.
    pub commit: MlsMessage,
    /// One Welcome for all members the commit adds, if any.
    pub welcome: Option<MlsMessage>,
    /// A signed GroupInfo of the new epoch, if asked for.
    pub group_info: Option<MlsMessage>,
    /// The ratchet tree of the new epoch, for joiners when it is not in the
    /// Welcome: present when the commit adds members (with a Welcome).
    ///
    /// Writing out the tree costs O(N), so a commit that adds no one does
    /// not; the tree of any epoch is [`Group::tree`] (after merging, for
    /// the new one), and [`RatchetTree::to_extension`](crate::tree::RatchetTree::to_extension)
    /// makes its `ratchet_tree` extension.
    pub ratchet_tree: Option<RatchetTreeExtension>,
}

/// A commit this member sent and has not merged yet.
#[derive(Debug)]
pub(crate) struct PendingCommit {
    pub staged: StagedCommit,
    /// What was sent, to recognise its echo from the delivery service.
    pub message: MlsMessage,
}

impl Group {
    /// Protects signed content for sending (RFC 9420 §6.2, §6.3): a
    /// PublicMessage with membership tag, or a PrivateMessage encrypted with
    /// the next key of this member's ratchet.
    fn protect(&mut self, auth: &AuthenticatedContent) -> Result<MlsMessage> {
        let cs = self.cs.clone();
        if auth.wire_format == WireFormat::PRIVATE_MESSAGE {
            let kind = framing::private::ratchet_for(auth.content.content_type());
            self.journal.secret_tree_parts(
                self.context.epoch,
                self.keys
                    .secret_tree
                    .parts_changed_by_send(self.own_leaf, kind),
            );
            let m = framing::private::protect(
                &*cs,
                auth,
                &mut self.keys.secret_tree,
                &self.keys.sender_data_secret,
                self.config.padding,
            )?;
            let evicted = (self.own_messages.sent.len() >= super::OWN_MESSAGE_WINDOW)
                .then(|| self.own_messages.sent.front().map(sent_piece))
                .flatten();
            self.own_messages.record(&*cs, &m);
            if let Some(piece) = evicted {
                self.journal.ordered_removed(piece);
            }
            if let Some(new) = self.own_messages.sent.back() {
                self.journal.ordered_added(sent_piece(new));
            }
            Ok(MlsMessage::PrivateMessage(m))
        } else {
            let m = framing::public::protect(
                &*cs,
                auth.clone(),
                Some(&self.context),
                Some(&self.keys.membership_key),
            )?;
            Ok(MlsMessage::PublicMessage(m))
        }
    }

    /// The wire format of this member's handshake messages.
    fn handshake_wire_format(&self) -> WireFormat {
        match self.config.handshake_format {
            HandshakeFormat::Public => WireFormat::PUBLIC_MESSAGE,
            HandshakeFormat::Private => WireFormat::PRIVATE_MESSAGE,
        }
    }

    pub(super) fn framed(
        &self,
        content: FramedContentBody,
        authenticated_data: Vec<u8>,
    ) -> FramedContent {
        FramedContent {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            sender: Sender::Member(self.own_leaf.0),
            authenticated_data,
            content,
        }
    }

    /// Sends a proposal (RFC 9420 §12.1) and keeps it, so this member's next
    /// commit covers it. Returns the message for the group.
    pub fn propose(&mut self, proposal: Proposal) -> Result<MlsMessage> {
        self.ensure_active()?;
        if matches!(proposal, Proposal::Update(_) | Proposal::ExternalInit(_)) {
            return Err(ApiError::InvalidArgument(
                "use a commit with a path instead of proposing an Update or ExternalInit",
            )
            .into());
        }
        let content = self.framed(FramedContentBody::Proposal(proposal.clone()), Vec::new());
        let auth = framing::sign_content(
            &*self.cs,
            self.handshake_wire_format(),
            content,
            Some(&self.context),
            &self.signer,
            None,
        )?;
        let reference = ProposalRef::compute(&*self.cs, &auth)?;
        let message = self.protect(&auth)?;
        self.journal.proposal_added(&reference);
        self.proposals.push(CachedProposal {
            reference,
            proposal,
            sender: Sender::Member(self.own_leaf.0),
        });
        Ok(message)
    }

    /// Whether a commit of this member awaits merge or discard.
    pub fn has_pending_commit(&self) -> bool {
        self.pending_commit.is_some()
    }

    /// What the pending commit changes, if a commit of this member awaits
    /// merge or discard.
    pub fn pending_commit_summary(&self) -> Option<&CommitSummary> {
        self.pending_commit.as_ref().map(|p| &p.staged.summary)
    }

    /// Drops the pending commit (e.g. the delivery service rejected it).
    pub fn discard_pending_commit(&mut self) {
        if self.pending_commit.take().is_some() {
            self.journal.mark(StatePiece::PendingCommit);
        }
    }

    /// Merges this member's pending commit: the new epoch starts.
    pub fn merge_pending_commit(&mut self) -> Result<CommitSummary> {
        let pending = self
            .pending_commit
            .as_ref()
            .ok_or(ApiError::InvalidArgument("no pending commit"))?;
        // Checked before the pending commit is taken, so a failure keeps it.
        self.check_staged(&pending.staged)?;
        let summary = pending.staged.summary.clone();
        let pending = self
            .pending_commit
            .take()
            .ok_or(crate::Error::Internal("pending commit vanished"))?;
        self.journal.mark(StatePiece::PendingCommit);
        self.merge_staged_commit(pending.staged)?;
        Ok(summary)
    }

    /// The pending commit, if `content` is its echo from the delivery service.
    pub(crate) fn take_pending_if_echo(&mut self, message: &MlsMessage) -> Option<StagedCommit> {
        match &self.pending_commit {
            Some(p) if p.message == *message => {
                self.journal.mark(StatePiece::PendingCommit);
                self.pending_commit.take().map(|p| p.staged)
            }
            _ => None,
        }
    }

    /// Encrypts application data for the group (RFC 9420 §6.3), always as a
    /// PrivateMessage, with the next key of this member's application ratchet.
    pub fn encrypt_application(
        &mut self,
        data: &[u8],
        authenticated_data: &[u8],
    ) -> Result<MlsMessage> {
        self.ensure_active()?;
        let content = self.framed(
            FramedContentBody::Application(data.to_vec()),
            authenticated_data.to_vec(),
        );
        let auth = framing::sign_content(
            &*self.cs,
            WireFormat::PRIVATE_MESSAGE,
            content,
            Some(&self.context),
            &self.signer,
            None,
        )?;
        self.protect(&auth)
    }

    /// Creates a commit of the pending proposals and `options.proposals`
    /// (RFC 9420 §12.4.1), with a Welcome for the members it adds. The group
    /// does not change until [`Group::merge_pending_commit`], except that the
    /// commit is kept pending and, sent as a PrivateMessage, uses a key of
    /// this member's handshake ratchet. On failure nothing changes.
    ///
    /// `now` checks the lifetimes of added KeyPackages (`None`: no check).
    ///
    /// A ReInit must be committed alone (RFC 9420 §12.2): a pending ReInit
    /// proposal is committed only when there is nothing else to commit (the
    /// first one received, if several); otherwise the others are preferred
    /// and it stays pending.
    pub fn commit(
        &mut self,
        options: CommitOptions,
        psks: &dyn PskStore,
        now: Option<u64>,
    ) -> Result<CommitOutput> {
        self.commit_inner(options, psks, now, &[])
    }

    /// [`Group::commit`], and the first commit of a reinitialized or branched
    /// group also injects `resumed`, resumption PSKs of the old group (one,
    /// but tests forge more), by PreSharedKey proposals after the others
    /// (RFC 9420 §11.2, §11.3).
    pub(crate) fn commit_inner(
        &mut self,
        options: CommitOptions,
        psks: &dyn PskStore,
        now: Option<u64>,
        resumed: &[(PreSharedKeyId, Secret)],
    ) -> Result<CommitOutput> {
        self.ensure_active()?;
        if self.pending_commit.is_some() {
            return Err(ApiError::InvalidArgument("a commit is already pending").into());
        }
        let cs = &*self.cs.clone();
        let me = Sender::Member(self.own_leaf.0);

        // The proposal list: pending ones by reference, then new ones by value.
        let mut list: Vec<ProposalOrRef> = Vec::new();
        let mut committed: Vec<CommittedProposal> = Vec::new();
        if options.include_pending {
            // The committer's own Update is replaced by its path; a Remove
            // of the committer cannot be committed by it (§12.2).
            let excluded = |p: &CachedProposal| {
                (matches!(p.proposal, Proposal::Update(_)) && p.sender == me)
                    || matches!(&p.proposal, Proposal::Remove(r) if r.removed == self.own_leaf.0)
            };
            let is_reinit = |p: &CachedProposal| matches!(p.proposal, Proposal::ReInit(_));
            let candidates = self.pending_for_commit(options.only_pending.as_deref())?;
            // A ReInit goes alone: pending ones give way to any other
            // proposal, and only the first is taken (§12.2).
            let others = !options.proposals.is_empty()
                || candidates.iter().any(|p| !excluded(p) && !is_reinit(p));
            let first_reinit = candidates.iter().position(|p| is_reinit(p));
            for (i, p) in candidates.into_iter().enumerate() {
                if excluded(p) || (is_reinit(p) && (others || Some(i) != first_reinit)) {
                    continue;
                }
                list.push(ProposalOrRef::Reference(p.reference.clone()));
                committed.push(CommittedProposal {
                    proposal: p.proposal.clone(),
                    sender: p.sender,
                    reference: Some(p.reference.clone()),
                });
            }
        }
        for p in options.proposals {
            list.push(ProposalOrRef::Proposal(Box::new(p.clone())));
            committed.push(CommittedProposal {
                proposal: p,
                sender: me,
                reference: None,
            });
        }

        // A ReInit goes alone (RFC 9420 §12.2). Pending ReInits were left
        // out above when anything else is committed, so a list that breaks
        // the rule here is the caller's: API misuse, not a protocol error
        // (which is what a received commit breaking it gets).
        if committed.len() > 1
            && committed
                .iter()
                .any(|p| matches!(p.proposal, Proposal::ReInit(_)))
        {
            return Err(ApiError::ReInitNotAlone.into());
        }
        let lifetime = now.map_or(LifetimeCheck::Skip, LifetimeCheck::At);
        let ctx = LeafValidationContext::from_group_context(&self.context, lifetime)?;
        let AppliedProposals {
            mut tree,
            extensions,
            added,
            removed,
            updated,
            psks: mut psk_ids,
            reinit,
            path_required,
            ..
        } = apply_proposals(
            cs,
            &self.tree,
            &self.context.extensions,
            &ctx,
            Committer::Member(self.own_leaf),
            &committed,
            self.config.max_group_size,
        )?;
        // The resumption PSK of a new group's first commit: not subject to
        // the rule against reinit and branch PSKs in ordinary commits (§12.1.4).
        for (id, _) in resumed {
            list.push(ProposalOrRef::Proposal(Box::new(Proposal::PreSharedKey(
                PreSharedKey { psk: id.clone() },
            ))));
            psk_ids.push(id.clone());
        }
        let added_leaves: Vec<LeafIndex> = added.iter().map(|(l, _)| *l).collect();
        let mut new_context = self.context.next_epoch(extensions.clone())?;

        // The UpdatePath, if required or asked for.
        let mut path_keys = self.path_keys.clone();
        path_keys.forget_blank(&tree);
        let (path, pending_path) = if path_required || options.force_path {
            let own = tree
                .leaf(self.own_leaf)
                .cloned()
                .ok_or(crate::Error::Internal("own leaf is blank"))?;
            let pending = tree.create_update_path(
                cs,
                self.own_leaf,
                own,
                &self.signer,
                &self.context.group_id,
            )?;
            new_context.tree_hash = tree.tree_hash(cs)?;
            let path = pending.encrypt(&tree, cs, &new_context, &added_leaves)?;
            (Some(path), Some(pending))
        } else {
            new_context.tree_hash = tree.tree_hash(cs)?;
            (None, None)
        };
        let joiner_path_secrets: Vec<Option<Secret>> = added_leaves
            .iter()
            .map(|l| {
                pending_path
                    .as_ref()
                    .and_then(|p| p.path_secret_for(*l).cloned())
            })
            .collect();
        let commit_secret = match pending_path {
            Some(p) => p.store_keys(&tree, &mut path_keys)?,
            None => Secret::zero(cs.kdf_len()),
        };

        // Sign, then the transcript and the key schedule (§8.2, §8).
        let content = self.framed(
            FramedContentBody::Commit(Commit {
                proposals: list,
                path,
            }),
            options.authenticated_data,
        );
        let wire_format = self.handshake_wire_format();
        let signed =
            SignedContent::sign(cs, wire_format, content, Some(&self.context), &self.signer)?;
        new_context.confirmed_transcript_hash =
            signed.confirmed_transcript_hash(cs, &self.interim_transcript_hash)?;
        let schedule = self.next_key_schedule(
            self.keys.init_secret.clone(),
            commit_secret,
            &psk_ids,
            psks,
            &new_context,
            resumed,
        )?;
        let tag = confirmation_tag(
            cs,
            &schedule.epoch_secrets.confirmation_key,
            &new_context.confirmed_transcript_hash,
        )?;
        let auth = signed.into_authenticated(Some(tag.clone()))?;
        let interim = interim_transcript_hash(cs, &new_context.confirmed_transcript_hash, &tag)?;

        // The GroupInfo and the Welcome (§12.4.3).
        let ratchet_tree = (!added.is_empty() || options.group_info)
            .then(|| RatchetTreeExtension(tree.to_nodes()));
        // The GroupInfo published on request carries external_pub for
        // external joins (§12.4.3.2); the Welcome's does not need it.
        let make_group_info = |with_tree: bool, external: bool| -> Result<GroupInfo> {
            signed_group_info(
                cs,
                GroupInfoParts {
                    context: &new_context,
                    confirmation_tag: &tag,
                    external_secret: external.then_some(&schedule.epoch_secrets.external_secret),
                    ratchet_tree: ratchet_tree.as_ref().filter(|_| with_tree),
                    signer: self.own_leaf,
                },
                &self.signer,
            )
        };
        let welcome = if added.is_empty() {
            None
        } else {
            let group_info = make_group_info(options.ratchet_tree_in_welcome, false)?;
            // Each joiner's secrets are encrypted independently (parallelisable).
            let secrets: Vec<GroupSecrets> = joiner_path_secrets
                .into_iter()
                .map(|path_secret| GroupSecrets {
                    joiner_secret: schedule.joiner_secret.as_secret().clone(),
                    path_secret: path_secret.map(|path_secret| PathSecret { path_secret }),
                    psks: psk_ids.clone(),
                })
                .collect();
            let welcome = crate::welcome::seal_welcome(
                cs,
                &schedule.welcome_secret,
                &group_info,
                added.iter().map(|(_, kp)| kp).zip(secrets.iter()),
            )?;
            Some(MlsMessage::Welcome(welcome))
        };
        let group_info = if options.group_info {
            Some(MlsMessage::GroupInfo(make_group_info(true, true)?))
        } else {
            None
        };

        let summary = CommitSummary::new(
            me,
            new_context.epoch,
            &added,
            &removed,
            updated,
            psk_ids,
            (extensions != self.context.extensions).then_some(extensions),
            reinit,
            false,
        );
        // The only change to the group before the pending commit, and the
        // last step that can fail: a PrivateMessage takes the next key of
        // this member's handshake ratchet (only if it succeeds).
        let commit_message = self.protect(&auth)?;
        self.journal.mark(StatePiece::PendingCommit);
        self.pending_commit = Some(PendingCommit {
            staged: StagedCommit {
                summary,
                from: self.staged_from(),
                next: Some(NextEpoch {
                    context: new_context,
                    tree,
                    interim_transcript_hash: interim,
                    confirmation_tag: tag,
                    path_keys,
                    secrets: schedule.epoch_secrets,
                }),
            },
            message: commit_message.clone(),
        });
        Ok(CommitOutput {
            commit: commit_message,
            welcome,
            group_info,
            ratchet_tree: ratchet_tree.filter(|_| !added.is_empty()),
        })
    }
}

#[cfg(test)]
impl Group {
    /// Sends an Update proposal (RFC 9420 §12.1.2) with a fresh encryption
    /// key and the leaf changed by `edit`, signed with `signer` (the new
    /// signature key, if `edit` changed it) and sent as this member. For
    /// tests of receivers only: the new private key is not kept.
    pub(crate) fn propose_update_for_test(
        &mut self,
        signer: Option<&crate::crypto::SignaturePrivateKey>,
        edit: impl FnOnce(&mut crate::messages::LeafNode),
    ) -> Result<MlsMessage> {
        let mut leaf = self
            .tree
            .leaf(self.own_leaf)
            .cloned()
            .ok_or(crate::Error::Internal("own leaf is blank"))?;
        leaf.encryption_key = self.cs.hpke_generate_key_pair()?.1;
        leaf.leaf_node_source = crate::messages::LeafNodeSource::Update;
        edit(&mut leaf);
        leaf.sign(
            &*self.cs,
            signer.unwrap_or(&self.signer),
            Some(crate::messages::LeafNodeGroupBinding {
                group_id: &self.context.group_id,
                leaf_index: self.own_leaf,
            }),
        )?;
        let proposal = Proposal::Update(crate::messages::Update { leaf_node: leaf });
        let content = self.framed(FramedContentBody::Proposal(proposal), Vec::new());
        let auth = framing::sign_content(
            &*self.cs,
            self.handshake_wire_format(),
            content,
            Some(&self.context),
            &self.signer,
            None,
        )?;
        self.protect(&auth)
    }
}
