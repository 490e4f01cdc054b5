//! Joining a group by external commit (RFC 9420 §12.4.3.2): from a
//! GroupInfo with `external_pub`, a new member adds itself, without any
//! member having to come online first.

use std::collections::VecDeque;
use std::sync::Arc;

use super::incremental::Journal;
use super::join::{resolve_psks, verified_tree};
use super::key_package::complete_capabilities;
use super::own_messages::OwnMessages;
use super::proposals::{
    AppliedProposals, CommittedProposal, Committer, apply_proposals, check_group_size,
    lifetime_check,
};
use super::{EpochKeys, Group, GroupConfig, Identity, PskStore};
use crate::crypto::{CryptoProvider, HpkePublicKey};
use crate::error::{ProtocolError, Result};
use crate::framing::{SignedContent, public};
use crate::key_schedule::{InitSecret, KeySchedule};
use crate::messages::{
    Capabilities, Commit, Extension, ExtensionList, ExternalInit, ExternalPub, FramedContent,
    FramedContentBody, GroupInfo, LeafNode, LeafNodeSource, MlsMessage, PreSharedKey,
    PreSharedKeyId, Proposal, ProposalOrRef, RatchetTreeExtension, Remove, Sender, WireFormat,
};
use crate::transcript::{confirmation_tag, interim_transcript_hash};
use crate::tree::{LeafNodeOrigin, LeafValidationContext};
use crate::tree_math::LeafIndex;

/// How to build an external commit.
#[derive(Clone, Debug, Default)]
pub struct ExternalJoinOptions {
    /// The ratchet tree, if the GroupInfo does not carry it.
    pub ratchet_tree: Option<RatchetTreeExtension>,
    /// For a "resync" (RFC 9420 §12.4.3.2): the leaf of an earlier
    /// appearance of this client, removed by the same commit. Members see it
    /// in the commit's summary and decide whether the new credential may
    /// replace it (§12.2).
    pub remove: Option<LeafIndex>,
    /// PSKs to inject (PreSharedKey proposals by value, §12.1.4). Their
    /// values come from the `psk_store`; a joiner holds no resumption PSKs
    /// of the group, so only external PSKs can be named.
    pub psks: Vec<PreSharedKeyId>,
    /// Capabilities of the joiner's leaf; the suite, MLS 1.0 and the
    /// credential's type are added if missing.
    pub capabilities: Capabilities,
    /// Extensions of the joiner's leaf.
    pub leaf_extensions: Vec<Extension>,
    /// Authenticated data to send with the commit.
    pub authenticated_data: Vec<u8>,
}

impl Group {
    /// Joins a group by external commit (RFC 9420 §12.4.3.2), from a
    /// GroupInfo that carries `external_pub` (see [`Group::group_info`]).
    ///
    /// Runs every check a new member runs on a GroupInfo and its tree
    /// (§12.4.3.1: signature, tree hash, parent hashes, every leaf, with
    /// lifetimes checked at `now` if given), then builds the commit:
    /// an ExternalInit whose `kem_output` gives the new epoch's
    /// `init_secret` (§8.3), the optional Remove and PSKs of `options`, all
    /// by value, and an UpdatePath from the leftmost blank leaf (§12.4.2),
    /// signed by `identity` as sender `new_member_commit` and sent as a
    /// PublicMessage without membership tag (§6.2).
    ///
    /// Returns the group in the new epoch, and the commit to send. The
    /// joiner has nothing to merge: if the delivery service rejects the
    /// commit (another commit won the epoch), drop the group and join again
    /// from a newer GroupInfo.
    pub fn join_external(
        provider: &dyn CryptoProvider,
        config: GroupConfig,
        group_info: &GroupInfo,
        identity: &Identity,
        options: ExternalJoinOptions,
        psk_store: &dyn PskStore,
        now: Option<u64>,
    ) -> Result<(Group, MlsMessage)> {
        config.validate()?;
        let context = &group_info.group_context;
        let cs = provider.cipher_suite_provider(context.cipher_suite)?;
        let cs_ref = &*cs;

        // The GroupInfo and its tree, checked as for a Welcome (§12.4.3.1).
        let tree = verified_tree(
            cs_ref,
            group_info,
            options.ratchet_tree,
            now,
            config.max_group_size,
        )?;
        let ExternalPub { external_pub } = group_info
            .extensions
            .parse::<ExternalPub>()?
            .ok_or(ProtocolError::ExternalPubMissing)?;

        // The proposals, all by value (§12.2, §12.4.3.2).
        let (kem_output, init_secret) = InitSecret::external_init(cs_ref, &external_pub)?;
        let mut proposals = vec![Proposal::ExternalInit(ExternalInit { kem_output })];
        if let Some(old) = options.remove {
            proposals.push(Proposal::Remove(Remove { removed: old.0 }));
        }
        proposals.extend(
            options
                .psks
                .into_iter()
                .map(|psk| Proposal::PreSharedKey(PreSharedKey { psk })),
        );
        let committed: Vec<CommittedProposal> = proposals
            .iter()
            .map(|p| CommittedProposal {
                proposal: p.clone(),
                sender: Sender::NewMemberCommit,
                reference: None,
            })
            .collect();
        let mut ctx = LeafValidationContext::from_group_context(context, lifetime_check(now))?;
        let AppliedProposals {
            mut tree,
            extensions,
            psks: psk_ids,
            ..
        } = apply_proposals(
            cs_ref,
            &tree,
            &context.extensions,
            &ctx,
            Committer::External,
            &committed,
            config.max_group_size,
        )?;
        ctx.set_extensions(&extensions)?;

        // The joiner's leaf and path (§12.4.2): the leftmost blank leaf.
        let own_leaf = tree.reserve_leaf()?;
        check_group_size(own_leaf, config.max_group_size)?;
        let template = LeafNode {
            // Replaced by a fresh key by create_update_path.
            encryption_key: HpkePublicKey::default(),
            signature_key: identity.signature_key().clone(),
            credential: identity.credential().clone(),
            capabilities: complete_capabilities(
                options.capabilities,
                cs_ref,
                identity.credential(),
            ),
            leaf_node_source: LeafNodeSource::Commit(Vec::new()),
            extensions: options.leaf_extensions,
            signature: Vec::new(),
        };
        // "A client joining a group MUST verify that it supports every
        // extension in the GroupContext" (RFC 9420 §13.4).
        ctx.check_extension_support(&template.capabilities)?;
        let pending = tree.create_update_path(
            cs_ref,
            own_leaf,
            template,
            identity.signer(),
            &context.group_id,
        )?;
        // Our own leaf must pass the checks every member will run (§7.3).
        tree.validate_leaf_node(
            cs_ref,
            &ctx,
            pending.leaf_node(),
            LeafNodeOrigin::Tree(own_leaf),
        )?;
        let mut new_context = context.next_epoch(extensions)?;
        new_context.tree_hash = tree.tree_hash(cs_ref)?;
        let path = pending.encrypt(&tree, cs_ref, &new_context, &[])?;
        let (path_keys, commit_secret) = pending.into_private_keys();

        // Sign with the old GroupContext, then the transcript and the key
        // schedule from the external init secret (§8.2, §8.3, §12.4.2).
        let content = FramedContent {
            group_id: context.group_id.clone(),
            epoch: context.epoch,
            sender: Sender::NewMemberCommit,
            authenticated_data: options.authenticated_data,
            content: FramedContentBody::Commit(Commit {
                proposals: proposals
                    .into_iter()
                    .map(|p| ProposalOrRef::Proposal(Box::new(p)))
                    .collect(),
                path: Some(path),
            }),
        };
        let signed = SignedContent::sign(
            cs_ref,
            WireFormat::PUBLIC_MESSAGE,
            content,
            Some(context),
            identity.signer(),
        )?;
        let interim_before = interim_transcript_hash(
            cs_ref,
            &context.confirmed_transcript_hash,
            &group_info.confirmation_tag,
        )?;
        new_context.confirmed_transcript_hash =
            signed.confirmed_transcript_hash(cs_ref, &interim_before)?;
        let psk_secret = resolve_psks(cs_ref, &psk_ids, psk_store, &|_| None)?;
        let schedule =
            KeySchedule::derive(cs_ref, init_secret, commit_secret, psk_secret, &new_context)?;
        let secrets = schedule.epoch_secrets;
        let tag = confirmation_tag(
            cs_ref,
            &secrets.confirmation_key,
            &new_context.confirmed_transcript_hash,
        )?;
        let interim =
            interim_transcript_hash(cs_ref, &new_context.confirmed_transcript_hash, &tag)?;
        let auth = signed.into_authenticated(Some(tag.clone()))?;
        // A new member has no membership key: no membership tag (§6.2).
        let message = MlsMessage::PublicMessage(public::protect(cs_ref, auth, None, None)?);

        let keys = EpochKeys::new(cs_ref, secrets, tree.size(), config.secret_tree);
        let group = Group {
            cs: cs.clone(),
            config,
            context: new_context,
            tree: Arc::new(tree),
            interim_transcript_hash: interim,
            confirmation_tag: tag,
            own_leaf,
            signer: identity.signer().clone(),
            path_keys,
            keys,
            past_epochs: VecDeque::new(),
            resumption_psks: VecDeque::new(),
            proposals: Vec::new(),
            pending_commit: None,
            journal: Journal::new_group(),
            own_messages: OwnMessages::default(),
            reinit: None,
        };
        Ok((group, message))
    }
}
