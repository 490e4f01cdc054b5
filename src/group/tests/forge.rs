//! Building messages that break one rule while being validly signed and
//! MACed: a member signs arbitrary content with its real signature key and
//! the epoch's membership key, and a commit carries the confirmation tag the
//! receivers would compute for it, so only the rule under test can fail.

use crate::codec::{Encode, write_opaque};
use crate::crypto::labeled::sign_with_label;
use crate::crypto::{CipherSuiteProvider, HpkePublicKey, Secret, SignaturePrivateKey};
use crate::group::join::resolve_psks;
use crate::group::process::confirmed_transcript_hash;
use crate::group::proposals::{CommittedProposal, Committer, apply_proposals};
use crate::group::{CachedProposal, Group, PskStore};
use crate::key_schedule::KeySchedule;
use crate::messages::{
    Commit, FramedContent, FramedContentAuthData, FramedContentBody, GroupContext, LeafNode,
    LeafNodeGroupBinding, MlsMessage, Proposal, ProposalOrRef, ProposalRef, PublicMessage, Sender,
    UpdatePath, WireFormat,
};
use crate::psk::PskSecret;
use crate::tree::{LeafValidationContext, LifetimeCheck, RatchetTree};
use crate::tree_math::LeafIndex;

type Edit<'a, T> = Option<Box<dyn FnOnce(&mut T) + 'a>>;

impl Group {
    /// Signs `content` as this member, with an optional confirmation tag.
    fn sign_content(
        &self,
        wire_format: WireFormat,
        content: FramedContent,
        confirmation_tag: Option<crate::crypto::Tag>,
    ) -> crate::Result<crate::messages::AuthenticatedContent> {
        // Signed by hand: the forge also builds what the framing layer
        // refuses to send (application data in a PublicMessage), and may
        // attach the tag later.
        let mut auth = crate::messages::AuthenticatedContent {
            wire_format,
            content,
            auth: FramedContentAuthData {
                signature: Vec::new(),
                confirmation_tag: None,
            },
        };
        let tbs = auth.to_be_signed(Some(&self.context))?;
        auth.auth.signature = sign_with_label(&*self.cs, &self.signer, b"FramedContentTBS", &tbs)?;
        auth.auth.confirmation_tag = confirmation_tag;
        Ok(auth)
    }

    /// A PublicMessage with this epoch's membership tag.
    fn to_public_message(
        &self,
        auth: crate::messages::AuthenticatedContent,
    ) -> crate::Result<MlsMessage> {
        let mut m = PublicMessage {
            content: auth.content,
            auth: auth.auth,
            membership_tag: None,
        };
        let tag = self.cs.mac(
            self.keys.membership_key.as_bytes(),
            &m.to_be_maced(&self.context)?,
        )?;
        m.membership_tag = Some(tag);
        Ok(MlsMessage::PublicMessage(m))
    }
}

/// What a forged commit holds and how to spoil it.
#[derive(Default)]
pub(super) struct Forge<'a> {
    /// The proposal list, sent as is.
    pub proposals: Vec<ProposalOrRef>,
    /// Whether to send an UpdatePath.
    pub path: bool,
    /// External PSKs for the key schedule (none if `None`).
    pub psks: Option<&'a dyn PskStore>,
    /// Changes the UpdatePath before it is signed.
    #[allow(clippy::type_complexity)]
    pub edit_path: Option<Box<dyn FnOnce(&mut UpdatePath, &PathTools<'_>) + 'a>>,
    /// After `edit_path`, encrypt the path secrets again under the
    /// provisional GroupContext of the tree the edited path gives (if it
    /// merges), and use that context for the key schedule: for edits of
    /// public keys that must leave the encryption consistent.
    pub reencrypt_path: bool,
    /// Changes the FramedContent before it is signed.
    pub edit_content: Edit<'a, FramedContent>,
    /// Changes the signature or confirmation tag before the membership tag.
    pub edit_auth: Edit<'a, FramedContentAuthData>,
    /// Changes the finished PublicMessage.
    pub edit_message: Edit<'a, PublicMessage>,
}

impl<'a> Forge<'a> {
    pub fn new(proposals: Vec<ProposalOrRef>) -> Self {
        Self {
            proposals,
            ..Default::default()
        }
    }

    pub fn with_path(mut self) -> Self {
        self.path = true;
        self
    }

    pub fn psks(mut self, psks: &'a dyn PskStore) -> Self {
        self.psks = Some(psks);
        self
    }

    pub fn edit_path(mut self, f: impl FnOnce(&mut UpdatePath, &PathTools<'_>) + 'a) -> Self {
        self.path = true;
        self.edit_path = Some(Box::new(f));
        self
    }

    pub fn reencrypt_path(mut self) -> Self {
        self.reencrypt_path = true;
        self
    }

    pub fn edit_content(mut self, f: impl FnOnce(&mut FramedContent) + 'a) -> Self {
        self.edit_content = Some(Box::new(f));
        self
    }

    pub fn edit_auth(mut self, f: impl FnOnce(&mut FramedContentAuthData) + 'a) -> Self {
        self.edit_auth = Some(Box::new(f));
        self
    }

    pub fn edit_message(mut self, f: impl FnOnce(&mut PublicMessage) + 'a) -> Self {
        self.edit_message = Some(Box::new(f));
        self
    }
}

/// What an UpdatePath edit may need to keep the rest of the path valid.
pub(super) struct PathTools<'a> {
    pub cs: &'a dyn CipherSuiteProvider,
    /// The tree after the proposals, before the path.
    pub before: &'a RatchetTree,
    /// The committer's tree with the genuine path merged.
    pub after: &'a RatchetTree,
    /// The provisional GroupContext the path secrets are encrypted under.
    pub context: &'a GroupContext,
    pub signer: &'a SignaturePrivateKey,
    pub committer: LeafIndex,
    pub added: &'a [LeafIndex],
}

impl PathTools<'_> {
    /// Signs `leaf` again as the committer's `commit` leaf.
    pub fn resign(&self, leaf: &mut LeafNode) {
        leaf.sign(
            self.cs,
            self.signer,
            Some(LeafNodeGroupBinding {
                group_id: &self.context.group_id,
                leaf_index: self.committer,
            }),
        )
        .unwrap();
    }

    /// The parent hash the committer's leaf must carry if the lowest node of
    /// its filtered direct path had public key `key` (RFC 9420 §7.9): the
    /// nodes above do not depend on that key, so only this hash changes.
    pub fn leaf_parent_hash_with_lowest_key(&self, key: &HpkePublicKey) -> Vec<u8> {
        let lowest = self.after.filtered_direct_path(self.committer).unwrap()[0];
        let parent = self.after.parent_node(lowest.node).unwrap();
        assert!(parent.unmerged_leaves.is_empty());
        let sibling = self
            .after
            .node_tree_hash(self.cs, lowest.copath_child)
            .unwrap();
        let hash = |key: &HpkePublicKey| {
            let mut input = Vec::new();
            key.encode(&mut input).unwrap();
            write_opaque(&mut input, &parent.parent_hash).unwrap();
            write_opaque(&mut input, &sibling).unwrap();
            self.cs.hash(&input)
        };
        // Self-check: with the genuine key this is the genuine leaf's hash.
        let genuine = self
            .after
            .parent_hash(self.cs, lowest.node, lowest.copath_child)
            .unwrap();
        assert_eq!(hash(&parent.encryption_key), genuine);
        hash(key)
    }

    /// A second, independent UpdatePath of the committer from the same tree,
    /// encrypted under the same provisional context: its ciphertexts decrypt
    /// but derive other keys than the genuine path's.
    pub fn other_path(&self) -> UpdatePath {
        let mut tree = self.before.clone();
        let own = tree.leaf(self.committer).unwrap().clone();
        let pending = tree
            .create_update_path(
                self.cs,
                self.committer,
                own,
                self.signer,
                &self.context.group_id,
            )
            .unwrap();
        pending
            .encrypt(&tree, self.cs, self.context, self.added)
            .unwrap()
    }
}

impl Group {
    /// Signs `content` as this member and wraps it in a PublicMessage with
    /// the membership tag of the current epoch.
    pub(super) fn forge_public(&self, content: FramedContent) -> MlsMessage {
        let auth = self
            .sign_content(WireFormat::PUBLIC_MESSAGE, content, None)
            .unwrap();
        self.to_public_message(auth).unwrap()
    }

    /// Sends any proposal as this member (even those `propose` refuses) and
    /// keeps it, as `propose` does. Returns the message and its reference.
    pub(super) fn forge_proposal(&mut self, proposal: Proposal) -> (MlsMessage, ProposalRef) {
        let content = self.framed(FramedContentBody::Proposal(proposal.clone()), Vec::new());
        let auth = self
            .sign_content(WireFormat::PUBLIC_MESSAGE, content, None)
            .unwrap();
        let reference = ProposalRef::compute(&*self.cs, &auth).unwrap();
        let message = self.to_public_message(auth).unwrap();
        self.proposals.push(CachedProposal {
            reference: reference.clone(),
            proposal,
            sender: Sender::Member(self.own_leaf.0),
        });
        (message, reference)
    }

    /// A commit by this member of `f.proposals`, signed, MACed and with the
    /// confirmation tag of the epoch it would start, without the committer's
    /// own checks. The group is not changed (no pending commit).
    ///
    /// If the proposal list is invalid (the rule under test), the path and
    /// tag are built on the current tree: receivers reject the list before
    /// they look at either.
    pub(super) fn forge_commit(&self, f: Forge<'_>) -> MlsMessage {
        let cs = &*self.cs;
        let me = Sender::Member(self.own_leaf.0);
        let no_psks: &dyn PskStore = &();
        let psks = f.psks.unwrap_or(no_psks);
        let committed: Vec<CommittedProposal> = f
            .proposals
            .iter()
            .filter_map(|p| match p {
                ProposalOrRef::Proposal(p) => Some(CommittedProposal {
                    proposal: (**p).clone(),
                    sender: me,
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
                    }),
            })
            .collect();
        let ctx =
            LeafValidationContext::from_group_context(&self.context, LifetimeCheck::Skip).unwrap();
        let (mut tree, extensions, added, psk_ids) = match apply_proposals(
            cs,
            &self.tree,
            &self.context.extensions,
            &ctx,
            Committer::Member(self.own_leaf),
            &committed,
            u32::MAX,
        ) {
            Ok(a) => (
                a.tree,
                a.extensions,
                a.added.iter().map(|(l, _)| *l).collect::<Vec<_>>(),
                a.psks,
            ),
            Err(_) => (
                (*self.tree).clone(),
                self.context.extensions.clone(),
                Vec::new(),
                Vec::new(),
            ),
        };
        let mut new_context = GroupContext {
            epoch: self.context.epoch + 1,
            extensions,
            ..self.context.clone()
        };
        let before = tree.clone();
        let mut commit_secret = Secret::zero(cs.kdf_len());
        let path = if f.path {
            let own = tree.leaf(self.own_leaf).unwrap().clone();
            let pending = tree
                .create_update_path(cs, self.own_leaf, own, &self.signer, &self.context.group_id)
                .unwrap();
            new_context.tree_hash = tree.tree_hash(cs).unwrap();
            let mut path = pending.encrypt(&tree, cs, &new_context, &added).unwrap();
            commit_secret = pending.commit_secret().clone();
            if let Some(edit) = f.edit_path {
                edit(
                    &mut path,
                    &PathTools {
                        cs,
                        before: &before,
                        after: &tree,
                        context: &new_context,
                        signer: &self.signer,
                        committer: self.own_leaf,
                        added: &added,
                    },
                );
            }
            if f.reencrypt_path {
                let mut received = before.clone();
                if received
                    .merge_update_path(cs, self.own_leaf, &path, &added)
                    .is_ok()
                {
                    new_context.tree_hash = received.tree_hash(cs).unwrap();
                    let fresh = pending
                        .encrypt(&received, cs, &new_context, &added)
                        .unwrap();
                    for (n, f) in path.nodes.iter_mut().zip(fresh.nodes) {
                        n.encrypted_path_secret = f.encrypted_path_secret;
                    }
                }
            }
            Some(path)
        } else {
            new_context.tree_hash = tree.tree_hash(cs).unwrap();
            None
        };

        let mut content = self.framed(
            FramedContentBody::Commit(Commit {
                proposals: f.proposals,
                path,
            }),
            Vec::new(),
        );
        if let Some(edit) = f.edit_content {
            edit(&mut content);
        }
        let mut auth = self
            .sign_content(WireFormat::PUBLIC_MESSAGE, content, None)
            .unwrap();
        new_context.confirmed_transcript_hash =
            confirmed_transcript_hash(cs, &self.interim_transcript_hash, auth.borrowed()).unwrap();
        let group_id = self.context.group_id.clone();
        let psk_secret = resolve_psks(cs, &psk_ids, psks, &|r| {
            (r.psk_group_id == group_id)
                .then(|| self.resumption_psk(r.psk_epoch).cloned())
                .flatten()
        })
        .unwrap_or_else(|_| PskSecret::zero(cs));
        let schedule = KeySchedule::derive(
            cs,
            self.keys.init_secret.clone(),
            commit_secret,
            psk_secret,
            &new_context,
        )
        .unwrap();
        let tag = cs
            .mac(
                schedule.epoch_secrets.confirmation_key.as_bytes(),
                &new_context.confirmed_transcript_hash,
            )
            .unwrap();
        auth.auth.confirmation_tag = Some(tag);
        if let Some(edit) = f.edit_auth {
            edit(&mut auth.auth);
        }
        let MlsMessage::PublicMessage(mut m) = self.to_public_message(auth).unwrap() else {
            unreachable!("to_public_message returns a PublicMessage")
        };
        if let Some(edit) = f.edit_message {
            edit(&mut m);
        }
        MlsMessage::PublicMessage(m)
    }
}

/// A PublicMessage from a non-member sender (`external` or
/// `new_member_proposal`), signed with `signer` without the group context
/// (RFC 9420 §6.1), without a membership tag.
pub(super) fn non_member_message(
    cs: &dyn CipherSuiteProvider,
    group: &Group,
    sender: Sender,
    body: FramedContentBody,
    signer: &SignaturePrivateKey,
) -> MlsMessage {
    let is_commit = matches!(body, FramedContentBody::Commit(_));
    let mut m = PublicMessage {
        content: FramedContent {
            group_id: group.context.group_id.clone(),
            epoch: group.context.epoch,
            sender,
            authenticated_data: Vec::new(),
            content: body,
        },
        auth: FramedContentAuthData {
            signature: Vec::new(),
            confirmation_tag: is_commit.then(|| crate::crypto::Tag::from(vec![0; 32])),
        },
        membership_tag: None,
    };
    let tbs = m.to_be_signed(None).unwrap();
    m.auth.signature = sign_with_label(cs, signer, b"FramedContentTBS", &tbs).unwrap();
    MlsMessage::PublicMessage(m)
}
