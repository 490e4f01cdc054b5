//! Processing incoming messages (RFC 9420 §6, §12.2, §12.4.2): verify, then
//! stage; nothing in the group changes until [`Group::merge_staged_commit`].

use super::epoch::PastEpoch;
use super::join::resolve_psks;
use super::proposals::{
    AppliedProposals, CommittedProposal, Committer, apply_proposals, check_group_size,
    check_sender_may_propose, lifetime_check,
};
use super::{CachedProposal, Group, PskStore};
use crate::crypto::{Secret, SignaturePublicKey, Tag};
use crate::error::{CryptoError, Error, ProtocolError, Result};
use crate::framing;
use crate::key_schedule::{EpochSecrets, KeySchedule};
use crate::messages::{
    AuthenticatedContent, Commit, ContentType, Credential, ExtensionList, ExternalSenders,
    FramedContent, FramedContentAuthData, FramedContentBody, GroupContext, MlsMessage,
    PreSharedKeyId, Proposal, ProposalOrRef, ProposalRef, Psk, PublicMessage, ReInit, Sender,
    WireFormat,
};
use crate::transcript::{
    ConfirmedTranscriptHashInput, interim_transcript_hash, verify_confirmation_tag,
};
use crate::tree::{LeafNodeOrigin, LeafValidationContext, RatchetTree, TreePrivateKeys};
use crate::tree_math::LeafIndex;

/// What processing a message gave.
#[allow(clippy::large_enum_variant)] // a Proposal is returned by value, as received
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
        proposal: Box<Proposal>,
    },
    /// A verified commit, to inspect and then merge with [`Group::merge_staged_commit`].
    Commit(Box<StagedCommit>),
    /// This member's own message, echoed back by the delivery service. Its
    /// content is already known to this member; nothing changed.
    ///
    /// Given only for a message this member is known to have sent: a
    /// PublicMessage proposal whose signature verifies with this member's
    /// key, or a PrivateMessage identical to one of the last
    /// [`crate::group::OWN_MESSAGE_WINDOW`] it sent in an epoch it can still
    /// decrypt. A PrivateMessage that only names this member's leaf is
    /// processed like any other and fails (a used key, or a bad signature).
    OwnMessage {
        /// The content type of the echoed message.
        content_type: ContentType,
    },
}

/// What a commit changes, for the application to inspect before merging.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitSummary {
    /// Who committed.
    pub committer: Sender,
    /// The epoch the commit starts.
    pub new_epoch: u64,
    /// Members added, with their leaf and credential; for an external
    /// commit, the joiner (last, after any Adds).
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

impl CommitSummary {
    /// The summary of a commit from the effects of its proposals.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        committer: Sender,
        new_epoch: u64,
        added: &[(LeafIndex, crate::messages::KeyPackage)],
        removed: &[(LeafIndex, crate::messages::LeafNode)],
        updated: Vec<LeafIndex>,
        psks: Vec<PreSharedKeyId>,
        new_extensions: Option<Vec<crate::messages::Extension>>,
        reinit: Option<ReInit>,
        self_removed: bool,
    ) -> Self {
        Self {
            committer,
            new_epoch,
            added: added
                .iter()
                .map(|(l, kp)| (*l, kp.leaf_node.credential.clone()))
                .collect(),
            removed: removed
                .iter()
                .map(|(l, n)| (*l, n.credential.clone()))
                .collect(),
            updated,
            psks,
            new_extensions,
            reinit,
            self_removed,
        }
    }
}

/// A verified commit that has not been applied yet. Merging it starts the new
/// epoch; dropping it leaves the group as it was.
///
/// It can only be merged into the group state it was staged from (see
/// [`Group::merge_staged_commit`]).
#[derive(Debug)]
pub struct StagedCommit {
    pub(crate) summary: CommitSummary,
    pub(crate) from: StagedFrom,
    pub(crate) next: Option<NextEpoch>,
}

/// The member state a commit was staged from: the group, the epoch, the
/// member's leaf, and the interim transcript hash, which binds the whole
/// history of the group up to this epoch, its GroupContext and key schedule
/// (RFC 9420 §8.2: it covers the confirmation tag, a MAC keyed by this
/// epoch's secrets over the confirmed transcript hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StagedFrom {
    pub group_id: Vec<u8>,
    pub epoch: u64,
    pub own_leaf: LeafIndex,
    pub interim_transcript_hash: Vec<u8>,
}

impl StagedCommit {
    /// What the commit changes.
    pub fn summary(&self) -> &CommitSummary {
        &self.summary
    }
}

/// Why a commit puts a leaf node into the tree (see [`LeafChange`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LeafChangeKind {
    /// An Add: the KeyPackage's leaf node takes a blank (or new) leaf.
    Added,
    /// An Update proposal of the member at that leaf replaces its leaf node.
    Updated,
    /// The committer's UpdatePath replaces its leaf node.
    CommitterPath,
    /// A new member joins by external commit (RFC 9420 §12.4.3.2); for a
    /// resync, `old` is the leaf the same commit removes.
    ExternalJoiner,
}

/// A leaf node a commit puts into the tree: every credential that enters or
/// changes the group by this commit comes with one (RFC 9420 §5.3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafChange {
    /// The leaf, in the new tree.
    pub leaf: LeafIndex,
    /// How the leaf node got there.
    pub kind: LeafChangeKind,
    /// The leaf node it replaces: the old one of an Update or committer's
    /// path, the removed leaf of an external resync, `None` for a new member.
    pub old: Option<crate::messages::LeafNode>,
    /// The new leaf node.
    pub new: crate::messages::LeafNode,
}

/// Received content a member is about to accept, shown to the check of
/// [`Group::process_message_with`] after every RFC check passed and before
/// anything in the group changes.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Incoming<'a> {
    /// A proposal about to be cached for the next commit.
    Proposal {
        /// Who proposed it.
        sender: &'a Sender,
        /// Its reference (RFC 9420 §5.2).
        reference: &'a ProposalRef,
        /// The proposal.
        proposal: &'a Proposal,
    },
    /// A commit, verified and staged, about to be returned for merging.
    Commit {
        /// The staged commit.
        staged: &'a StagedCommit,
        /// Every proposal it covers, in order: by reference (sent earlier
        /// and already accepted) or by value (sent by the committer).
        proposals: &'a [CommittedProposal],
        /// Every leaf node it puts into the tree.
        leaves: &'a [LeafChange],
    },
}

/// The check [`Group::process_message_with`] runs on [`Incoming`] content:
/// it sees the group as it is before the message, and an error it returns
/// rejects the message, leaving the group unchanged.
pub type IncomingCheck<'c> = dyn FnMut(&Group, Incoming<'_>) -> Result<()> + 'c;

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

/// The confirmed transcript hash after `auth` (RFC 9420 §8.2).
pub(crate) fn confirmed_transcript_hash(
    cs: &dyn crate::crypto::CipherSuiteProvider,
    interim_before: &[u8],
    auth: AuthenticatedContentRef<'_>,
) -> Result<Vec<u8>> {
    crate::transcript::confirmed_transcript_hash(
        cs,
        interim_before,
        &ConfirmedTranscriptHashInput {
            wire_format: auth.wire_format,
            content: auth.content,
            signature: &auth.auth.signature,
        },
    )
}

/// An [`AuthenticatedContent`] borrowed from where it was received (a
/// PublicMessage's fields, or decrypted content), so that a commit is
/// staged without copying it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AuthenticatedContentRef<'a> {
    pub wire_format: WireFormat,
    pub content: &'a FramedContent,
    pub auth: &'a FramedContentAuthData,
}

impl AuthenticatedContent {
    /// This content, borrowed.
    pub(crate) fn borrowed(&self) -> AuthenticatedContentRef<'_> {
        AuthenticatedContentRef {
            wire_format: self.wire_format,
            content: &self.content,
            auth: &self.auth,
        }
    }
}

impl Group {
    /// The key schedule of the next epoch (RFC 9420 §8): the PSKs are looked
    /// up (external ones in `psks`, resumption ones among this group's kept
    /// epochs, §8.6) and chained, then everything is derived for `new_context`.
    /// `resumed` holds PSKs of another group that the first commit of a
    /// reinitialized or branched group injects (§11.2, §11.3).
    pub(crate) fn next_key_schedule(
        &self,
        init_secret: crate::key_schedule::InitSecret,
        commit_secret: Secret,
        psk_ids: &[PreSharedKeyId],
        psks: &dyn PskStore,
        new_context: &GroupContext,
        resumed: &[(PreSharedKeyId, Secret)],
    ) -> Result<KeySchedule> {
        let cs = &*self.cs;
        let group_id = self.context.group_id.as_slice();
        let psk_secret = resolve_psks(cs, psk_ids, psks, &|r| {
            if let Some((_, value)) = resumed
                .iter()
                .find(|(id, _)| matches!(&id.psk, Psk::Resumption(x) if x == r))
            {
                return Some(value.clone());
            }
            (r.psk_group_id == group_id)
                .then(|| self.resumption_psk(r.psk_epoch).cloned())
                .flatten()
        })?;
        KeySchedule::derive(cs, init_secret, commit_secret, psk_secret, new_context)
    }

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
        self.process_message_with(message, psks, now, &mut |_, _| Ok(()))
    }

    /// [`Group::process_message`] with a check of the application's: once
    /// a proposal or commit has passed every check of RFC 9420, and before
    /// the group changes in any way (a PrivateMessage's key is consumed
    /// only after it), `check` sees the content (see [`Incoming`]) and the
    /// group as it was; if it returns an error, processing fails with that
    /// error and the group is unchanged. This is where an application
    /// validates credentials (RFC 9420 §5.3.1) and applies its proposal
    /// policy, so that a message it refuses is refused whole.
    ///
    /// ```
    /// # use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
    /// # use tessera::group::*;
    /// # use tessera::messages::{Add, Credential, MlsMessage, Proposal};
    /// # let provider = RustCryptoProvider::new();
    /// # let suite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
    /// # let cs = provider.cipher_suite_provider(suite).unwrap();
    /// # let opts = || KeyPackageOptions::valid_for(0, u64::MAX);
    /// # let [alice, bob, eve] = ["alice", "bob", "eve"]
    /// #     .map(|n| Identity::generate(&*cs, Credential::basic(n)).unwrap());
    /// # let mut a = Group::create(&provider, GroupConfig::default(), suite, b"g".to_vec(),
    /// #     &alice, opts(), vec![]).unwrap();
    /// # let (bob_kp, bob_private) = generate_key_package(&*cs, &bob, opts()).unwrap();
    /// # let add = |kp| CommitOptions { proposals: vec![Proposal::Add(Add { key_package: kp })],
    /// #     ..Default::default() };
    /// # let out = a.commit(add(bob_kp.clone()), &(), None).unwrap();
    /// # a.merge_pending_commit().unwrap();
    /// # let MlsMessage::Welcome(welcome) = out.welcome.unwrap() else { unreachable!() };
    /// # let mut b = Group::join(&provider, GroupConfig::default(), &welcome, JoinInput {
    /// #     key_package: &bob_kp, key_package_private: &bob_private,
    /// #     signer: bob.signer().clone(), ratchet_tree: None, psk_store: &(), now: None,
    /// # }).unwrap();
    /// # let (eve_kp, _) = generate_key_package(&*cs, &eve, opts()).unwrap();
    /// // Alice adds Eve; Bob's application does not accept Eve's credential.
    /// let out = a.commit(add(eve_kp), &(), None).unwrap();
    /// let before = b.to_bytes().unwrap();
    /// let result = b.process_message_with(&out.commit, &(), None, &mut |_group, incoming| {
    ///     if let Incoming::Commit { leaves, .. } = incoming {
    ///         for l in leaves.iter().filter(|l| l.new.credential == Credential::basic("eve")) {
    ///             return Err(tessera::error::ProtocolError::CredentialRejected {
    ///                 subject: tessera::error::CredentialSubject::Leaf(l.leaf.0),
    ///                 reason: "not welcome".into(),
    ///             }
    ///             .into());
    ///         }
    ///     }
    ///     Ok(())
    /// });
    /// assert!(result.is_err());
    /// assert_eq!(b.to_bytes().unwrap(), before); // refused whole
    /// ```
    pub fn process_message_with(
        &mut self,
        message: &MlsMessage,
        psks: &dyn PskStore,
        now: Option<u64>,
        check: &mut IncomingCheck<'_>,
    ) -> Result<ProcessedMessage> {
        // The delivery service's echo of our own pending commit merges it.
        if let Some(staged) = self.take_pending_if_echo(message) {
            return Ok(ProcessedMessage::Commit(Box::new(staged)));
        }
        // After a ReInit no member may send in the last epoch (RFC 9420
        // §12.4.2); late application messages of earlier epochs still open.
        let epoch = match message {
            MlsMessage::PublicMessage(m) => Some(m.content.epoch),
            MlsMessage::PrivateMessage(m) => Some(m.epoch),
            _ => None,
        };
        if self.reinit.is_some() && epoch == Some(self.context.epoch) {
            return Err(ProtocolError::MessageAfterReInit.into());
        }
        match message {
            MlsMessage::PublicMessage(m) => {
                let encoded = self.verify_public_message(m)?;
                match &m.content.content {
                    // A commit is staged from the message itself: the
                    // largest messages are not copied.
                    FramedContentBody::Commit(c) => {
                        let auth = AuthenticatedContentRef {
                            wire_format: WireFormat::PUBLIC_MESSAGE,
                            content: &m.content,
                            auth: &m.auth,
                        };
                        self.stage_and_check(auth, Some(encoded), c, psks, now, check)
                    }
                    _ => self.process_authenticated(
                        AuthenticatedContent {
                            wire_format: WireFormat::PUBLIC_MESSAGE,
                            content: m.content.clone(),
                            auth: m.auth.clone(),
                        },
                        psks,
                        now,
                        check,
                    ),
                }
            }
            MlsMessage::PrivateMessage(m) => self.process_private_message(m, psks, now, check),
            other => Err(ProtocolError::UnsupportedWireFormat(other.wire_format().0).into()),
        }
    }

    /// Decrypts and verifies a PrivateMessage (RFC 9420 §6.3), from the
    /// current epoch or, for application data, a kept past epoch. The ratchet
    /// key is consumed only if the whole message is processed successfully.
    fn process_private_message(
        &mut self,
        m: &crate::messages::PrivateMessage,
        psks: &dyn PskStore,
        now: Option<u64>,
        check: &mut IncomingCheck<'_>,
    ) -> Result<ProcessedMessage> {
        let cs = self.cs.clone();
        let cs = &*cs;
        if m.group_id != self.context.group_id {
            return Err(ProtocolError::WrongGroup.into());
        }
        let current = m.epoch == self.context.epoch;
        let past = if current {
            None
        } else {
            let found = self.past_epochs.iter().position(|p| p.epoch == m.epoch);
            match (found, m.content_type) {
                (Some(i), ContentType::Application) => Some(i),
                _ => {
                    return Err(ProtocolError::WrongEpoch {
                        message: m.epoch,
                        current: self.context.epoch,
                    }
                    .into());
                }
            }
        };
        let (sender_data_secret, tree, secret_tree) = match past {
            None => (
                &self.keys.sender_data_secret,
                &self.tree,
                &self.keys.secret_tree,
            ),
            Some(i) => {
                let p = self.past_epoch(i)?;
                (&p.sender_data_secret, &p.tree, &p.secret_tree)
            }
        };
        let sender_data = framing::private::decrypt_sender_data(cs, m, sender_data_secret)?;
        let sender = LeafIndex(sender_data.leaf_index);
        // Our own message, echoed by the delivery service, is recognised by
        // its bytes (its key is gone): naming our leaf proves nothing, as
        // every member can encrypt for any leaf. Anything else naming our
        // leaf goes through the checks below (see `own_messages`).
        if sender == self.own_leaf && self.own_messages.contains(cs, m) {
            return Ok(ProcessedMessage::OwnMessage {
                content_type: m.content_type,
            });
        }
        let key = tree
            .leaf(sender)
            .map(|l| l.signature_key.clone())
            .ok_or(ProtocolError::SenderNotMember(sender.0))?;
        // The key is deleted (the update applied) only once the whole
        // message is accepted: O(1) in the number of ratchets started.
        let (auth, update) =
            framing::private::decrypt_content_staged(cs, m, &sender_data, secret_tree)?;
        if auth.content.group_id != self.context.group_id || auth.content.epoch != m.epoch {
            return Err(ProtocolError::WrongGroup.into());
        }
        // The signature covers the GroupContext of the message's epoch; for a
        // past epoch only application data is accepted, which needs it too.
        let processed = match past {
            None => {
                framing::verify_content_signature(cs, &auth, Some(&self.context), &key)?;
                let processed = self.process_authenticated(auth, psks, now, check)?;
                self.journal
                    .secret_tree_parts(m.epoch, self.keys.secret_tree.parts_changed_by(&update));
                self.keys.secret_tree.apply(update)?;
                processed
            }
            Some(i) => {
                let ctx = self.past_epoch(i)?.context.clone();
                framing::verify_content_signature(cs, &auth, Some(&ctx), &key)?;
                let processed = self.process_authenticated(auth, psks, now, check)?;
                let own_leaf = self.own_leaf;
                let past = self
                    .past_epochs
                    .get_mut(i)
                    .ok_or(Error::Internal("past epoch index out of range"))?;
                let update = past.reduce_update(update, own_leaf);
                self.journal
                    .secret_tree_parts(m.epoch, past.secret_tree.parts_changed_by(&update));
                past.secret_tree.apply(update)?;
                processed
            }
        };
        Ok(processed)
    }

    /// Past epoch `i` of `past_epochs` (found just before by the caller).
    fn past_epoch(&self, i: usize) -> Result<&PastEpoch> {
        self.past_epochs
            .get(i)
            .ok_or(Error::Internal("past epoch index out of range"))
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
            // An external commit is signed with the key of its path's leaf,
            // so it cannot be verified without one (RFC 9420 §12.4.3.2:
            // "External Commits MUST contain a path field").
            (Sender::NewMemberCommit, FramedContentBody::Commit(Commit { path: None, .. })) => {
                Err(ProtocolError::PathRequired.into())
            }
            _ => Err(ProtocolError::InvalidSenderForContent.into()),
        }
    }

    /// Verifies a PublicMessage of the current epoch (RFC 9420 §6.1, §6.2):
    /// group and epoch, membership tag for members, signature.
    fn verify_public_message(&self, m: &PublicMessage) -> Result<framing::public::EncodedContent> {
        framing::check_group_and_epoch(&m.content.group_id, m.content.epoch, &self.context)?;
        framing::public::check_not_application(m)?;
        let (key, _) = self.sender_key(&m.content.sender, &m.content.content)?;
        framing::public::verify(
            &*self.cs,
            m,
            &self.context,
            &self.keys.membership_key,
            &key,
            Some(&self.interim_transcript_hash),
        )
    }

    /// Acts on verified content.
    fn process_authenticated(
        &mut self,
        auth: AuthenticatedContent,
        psks: &dyn PskStore,
        now: Option<u64>,
        check: &mut IncomingCheck<'_>,
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
                let sender = auth.content.sender;
                if sender == Sender::Member(self.own_leaf.0) {
                    return Ok(ProcessedMessage::OwnMessage {
                        content_type: ContentType::Proposal,
                    });
                }
                // Proposal types a sender type may not send are malformed
                // (RFC 9420 §12.1.8) and not kept: they would poison the
                // next commit that covers the pending proposals.
                check_sender_may_propose(&sender, p.proposal_type())?;
                let reference = ProposalRef::compute(&*self.cs, &auth)?;
                check(
                    self,
                    Incoming::Proposal {
                        sender: &sender,
                        reference: &reference,
                        proposal: p,
                    },
                )?;
                // A proposal received twice is kept once.
                if !self.proposals.iter().any(|c| c.reference == reference) {
                    self.journal.proposal_added(&reference);
                    self.proposals.push(CachedProposal {
                        reference: reference.clone(),
                        proposal: p.clone(),
                        sender,
                    });
                }
                Ok(ProcessedMessage::Proposal {
                    sender,
                    reference,
                    proposal: Box::new(p.clone()),
                })
            }
            FramedContentBody::Commit(c) => {
                self.stage_and_check(auth.borrowed(), None, c, psks, now, check)
            }
        }
    }

    /// Stages a verified commit and submits it to the application's check.
    fn stage_and_check(
        &self,
        auth: AuthenticatedContentRef<'_>,
        encoded: Option<framing::public::EncodedContent>,
        c: &Commit,
        psks: &dyn PskStore,
        now: Option<u64>,
        check: &mut IncomingCheck<'_>,
    ) -> Result<ProcessedMessage> {
        let (staged, proposals, leaves) = self.stage_commit(auth, encoded, c, psks, now)?;
        check(
            self,
            Incoming::Commit {
                staged: &staged,
                proposals: &proposals,
                leaves: &leaves,
            },
        )?;
        Ok(ProcessedMessage::Commit(Box::new(staged)))
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

    /// Verifies a commit completely and computes the new epoch (RFC 9420
    /// §12.4.2); also returns the proposals it covers and the leaf nodes it
    /// puts into the tree, for the application's check. `encoded` is the
    /// content as verifying a PublicMessage encoded it, if it was one: the
    /// transcript hash is computed from it.
    fn stage_commit(
        &self,
        auth: AuthenticatedContentRef<'_>,
        encoded: Option<framing::public::EncodedContent>,
        commit: &Commit,
        psks: &dyn PskStore,
        now: Option<u64>,
    ) -> Result<(StagedCommit, Vec<CommittedProposal>, Vec<LeafChange>)> {
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
        // RFC 9420 §12.4.3.2: "The Commit MUST NOT include any proposals by
        // reference, since an external joiner cannot determine the validity
        // of proposals sent within the group."
        if committer == Committer::External
            && commit
                .proposals
                .iter()
                .any(|p| matches!(p, ProposalOrRef::Reference(_)))
        {
            return Err(ProtocolError::ExternalCommitProposalByReference.into());
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
            self.config.max_group_size,
        )?;
        if path_required && commit.path.is_none() {
            return Err(ProtocolError::PathRequired.into());
        }
        let self_removed = removed.iter().any(|(l, _)| *l == self.own_leaf);
        let added_leaves: Vec<LeafIndex> = added.iter().map(|(l, _)| *l).collect();
        let mut leaves = leaf_changes(&self.tree, &tree, &added, &updated);
        // The leaf and credential of an external joiner (RFC 9420 §12.4.3.2).
        let mut joiner: Option<(LeafIndex, Credential)> = None;

        let mut new_context = self.context.next_epoch(extensions.clone())?;
        let mut path_keys = self.path_keys.clone();
        path_keys.forget_blank(&tree);
        let mut commit_secret = Secret::zero(cs.kdf_len());
        if let Some(path) = &commit.path {
            let sender_leaf = match committer {
                Committer::Member(l) => l,
                // RFC 9420 §12.4.2: "If this is an external Commit, assign
                // the sender the leftmost blank leaf node in the new ratchet
                // tree", adding one on the right if there is none.
                Committer::External => {
                    let leaf = tree.reserve_leaf()?;
                    check_group_size(leaf, self.config.max_group_size)?;
                    leaf
                }
            };
            let mut ctx = ctx.clone();
            ctx.set_extensions(&extensions)?;
            if tree.leaf(sender_leaf).map(|l| &l.encryption_key)
                == Some(&path.leaf_node.encryption_key)
            {
                return Err(ProtocolError::CommitLeafKeyNotChanged.into());
            }
            if committer == Committer::External {
                // A resync's new leaf meets the criteria of an Update of the
                // leaf it removes (RFC 9420 §12.2, §12.1.2): a new
                // encryption key. (Whether the credential names the same
                // participant is the application's to judge, from the summary.)
                if let Some((_, old)) = removed.first()
                    && old.encryption_key == path.leaf_node.encryption_key
                {
                    return Err(ProtocolError::UpdateKeepsEncryptionKey.into());
                }
            }
            tree.validate_leaf_node(
                cs,
                &ctx,
                &path.leaf_node,
                LeafNodeOrigin::Commit(sender_leaf),
            )?;
            if committer == Committer::External {
                // The validated leaf takes its place; merging the path sets
                // its direct path and checks its parent hash.
                tree.set_leaf(sender_leaf, path.leaf_node.clone())?;
                joiner = Some((sender_leaf, path.leaf_node.credential.clone()));
                leaves.push(LeafChange {
                    leaf: sender_leaf,
                    kind: LeafChangeKind::ExternalJoiner,
                    old: removed.first().map(|(_, n)| n.clone()),
                    new: path.leaf_node.clone(),
                });
            } else {
                leaves.push(LeafChange {
                    leaf: sender_leaf,
                    kind: LeafChangeKind::CommitterPath,
                    old: self.tree.leaf(sender_leaf).cloned(),
                    new: path.leaf_node.clone(),
                });
            }
            // RFC 9420 §12.4.2: "Verify that none of the public keys in the
            // UpdatePath appear in any node of the new ratchet tree" (the tree
            // after the proposals, before the path blanks the direct path).
            for node in &path.nodes {
                if let Some(n) = tree.find_node_by_encryption_key(&node.encryption_key) {
                    return Err(ProtocolError::DuplicateEncryptionKey(n.0).into());
                }
            }
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

        let mut summary = CommitSummary::new(
            *sender,
            new_context.epoch,
            &added,
            &removed,
            updated,
            psk_ids.clone(),
            (extensions != self.context.extensions).then_some(extensions),
            reinit,
            self_removed,
        );
        summary.added.extend(joiner);
        if self_removed {
            // The removed member cannot derive the new epoch (RFC 9420 §12.4.2).
            let staged = StagedCommit {
                summary,
                from: self.staged_from(),
                next: None,
            };
            return Ok((staged, proposals, leaves));
        }
        // An external commit starts the epoch from the init secret the joiner
        // sent in its ExternalInit, not from this epoch's (RFC 9420 §8.3).
        let init_secret = match &external_init {
            Some(kem_output) => self
                .keys
                .external_secret
                .external_init_secret(cs, kem_output)
                .map_err(|e| match e {
                    Error::Crypto(CryptoError::InvalidPublicKey) => {
                        ProtocolError::ExternalInitKemOutputInvalid.into()
                    }
                    e => e,
                })?,
            None => self.keys.init_secret.clone(),
        };

        new_context.confirmed_transcript_hash = match encoded
            .and_then(|e| e.confirmed_transcript_hash(&self.interim_transcript_hash))
        {
            Some(hash) => hash,
            None => confirmed_transcript_hash(cs, &self.interim_transcript_hash, auth)?,
        };
        debug_assert_eq!(
            Some(&new_context.confirmed_transcript_hash),
            confirmed_transcript_hash(cs, &self.interim_transcript_hash, auth)
                .ok()
                .as_ref()
        );
        let schedule = self.next_key_schedule(
            init_secret,
            commit_secret,
            &psk_ids,
            psks,
            &new_context,
            &[],
        )?;
        let secrets = schedule.epoch_secrets;
        let tag = auth
            .auth
            .confirmation_tag
            .clone()
            .ok_or(ProtocolError::ConfirmationTagMismatch)?;
        verify_confirmation_tag(
            cs,
            &secrets.confirmation_key,
            &new_context.confirmed_transcript_hash,
            &tag,
        )?;
        let interim = interim_transcript_hash(cs, &new_context.confirmed_transcript_hash, &tag)?;
        let staged = StagedCommit {
            summary,
            from: self.staged_from(),
            next: Some(NextEpoch {
                context: new_context,
                tree,
                interim_transcript_hash: interim,
                confirmation_tag: tag,
                path_keys,
                secrets,
            }),
        };
        Ok((staged, proposals, leaves))
    }
}

/// The leaf nodes the proposals of a commit put into the tree: each Add's
/// and each Update's (with the leaf node it replaces in `old_tree`), read
/// from `new_tree`, the tree after the proposals.
fn leaf_changes(
    old_tree: &RatchetTree,
    new_tree: &RatchetTree,
    added: &[(LeafIndex, crate::messages::KeyPackage)],
    updated: &[LeafIndex],
) -> Vec<LeafChange> {
    let adds = added.iter().map(|(leaf, kp)| LeafChange {
        leaf: *leaf,
        kind: LeafChangeKind::Added,
        old: None,
        new: kp.leaf_node.clone(),
    });
    let updates = updated.iter().filter_map(|leaf| {
        Some(LeafChange {
            leaf: *leaf,
            kind: LeafChangeKind::Updated,
            old: old_tree.leaf(*leaf).cloned(),
            new: new_tree.leaf(*leaf)?.clone(),
        })
    });
    updates.chain(adds).collect()
}
