//! Validating and applying a commit's proposal list (RFC 9420 §12.1, §12.2, §12.3).
//!
//! [`apply_proposals`] is used by the committer and by every receiver alike:
//! it checks every rule of §12.2 and produces the new ratchet tree and
//! extensions on a copy, so the group's own state is untouched until merge.

use std::collections::HashSet;

use crate::crypto::CipherSuiteProvider;
use crate::crypto::labeled::SignatureChecks;
use crate::error::{Error, ProtocolError, Result};
use crate::messages::{
    Extension, ExtensionList, KeyPackage, LeafNode, PreSharedKeyId, Proposal, ProposalRef,
    ProposalType, Psk, ReInit, RequiredCapabilities, ResumptionPskUsage, Sender, SenderType,
};
use crate::tree::{LeafNodeOrigin, LeafValidationContext, LifetimeCheck, RatchetTree};
use crate::tree_math::LeafIndex;

/// A proposal as the commit covers it: its content, who sent it and, if the
/// commit covered it by reference, its reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedProposal {
    /// The proposal.
    pub proposal: Proposal,
    /// Its sender: the committer for proposals by value.
    pub sender: Sender,
    /// Its reference, if it was covered by reference.
    pub reference: Option<ProposalRef>,
}

/// Who commits: a member at a leaf, or a new member joining by external commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Committer {
    /// A member (regular commit).
    Member(LeafIndex),
    /// A new member (external commit, §12.4.3.2).
    External,
}

/// The result of applying a valid proposal list (RFC 9420 §12.3).
#[derive(Clone, Debug)]
pub(crate) struct AppliedProposals {
    /// The tree after Updates, Removes and Adds (before any UpdatePath).
    pub tree: RatchetTree,
    /// The group context extensions of the new epoch.
    pub extensions: Vec<Extension>,
    /// Members added, with their leaf and KeyPackage, in proposal order.
    pub added: Vec<(LeafIndex, KeyPackage)>,
    /// Members removed, with the leaf node they had.
    pub removed: Vec<(LeafIndex, LeafNode)>,
    /// Members whose leaf an Update replaced.
    pub updated: Vec<LeafIndex>,
    /// The PSKs to inject, in proposal order (§8.4).
    pub psks: Vec<PreSharedKeyId>,
    /// The `kem_output` of an ExternalInit (§12.1.6).
    pub external_init: Option<Vec<u8>>,
    /// A ReInit's parameters (§12.1.5).
    pub reinit: Option<ReInit>,
    /// Whether the commit must carry an UpdatePath (§12.4).
    pub path_required: bool,
}

/// Whether a sender type may send a proposal of this type (RFC 9420 §12.1.8:
/// external senders only add, remove, psk, reinit, group_context_extensions;
/// a new member only proposes to add itself; Updates come only from members, §12.1.2).
pub(crate) fn check_sender_may_propose(sender: &Sender, t: ProposalType) -> Result<()> {
    let allowed = match sender.sender_type() {
        SenderType::Member => t != ProposalType::EXTERNAL_INIT,
        SenderType::External => matches!(
            t,
            ProposalType::ADD
                | ProposalType::REMOVE
                | ProposalType::PSK
                | ProposalType::REINIT
                | ProposalType::GROUP_CONTEXT_EXTENSIONS
        ),
        SenderType::NewMemberProposal => t == ProposalType::ADD,
        // Proposals by value in an external commit.
        SenderType::NewMemberCommit => matches!(
            t,
            ProposalType::EXTERNAL_INIT | ProposalType::REMOVE | ProposalType::PSK
        ),
    };
    if allowed {
        Ok(())
    } else {
        Err(ProtocolError::ProposalSenderNotAllowed {
            proposal_type: t.0,
            sender_type: sender.sender_type().to_u8(),
        }
        .into())
    }
}

/// "The psk_nonce is not of length KDF.Nh" makes a PSK invalid (RFC 9420 §12.1.4).
pub(crate) fn check_psk_nonce(cs: &dyn CipherSuiteProvider, id: &PreSharedKeyId) -> Result<()> {
    if id.psk_nonce.len() != cs.kdf_len() {
        return Err(ProtocolError::PskNonceLength.into());
    }
    Ok(())
}

/// Checks a PreSharedKey proposal on its own (RFC 9420 §12.1.4): its nonce,
/// and no resumption PSK with usage reinit or branch (those are injected
/// only by the first commit of a new group, §11.2, §11.3).
pub(crate) fn check_psk_id(cs: &dyn CipherSuiteProvider, id: &PreSharedKeyId) -> Result<()> {
    check_psk_nonce(cs, id)?;
    if let Psk::Resumption(r) = &id.psk
        && r.usage != ResumptionPskUsage::Application
    {
        return Err(ProtocolError::PskUsageNotAllowed.into());
    }
    Ok(())
}

/// Validates a KeyPackage for this group (RFC 9420 §10.1) against `tree`,
/// except for its two signatures (the KeyPackage's and its leaf node's),
/// which are added to `checks` to be verified with others.
pub(crate) fn validate_key_package_deferred<'a>(
    cs: &dyn CipherSuiteProvider,
    tree: &RatchetTree,
    ctx: &LeafValidationContext,
    kp: &'a KeyPackage,
    checks: &mut SignatureChecks<'a>,
) -> Result<()> {
    if kp.version != ctx.version || kp.cipher_suite != cs.cipher_suite() {
        return Err(ProtocolError::KeyPackageMismatch.into());
    }
    // "Verify that the signature on the KeyPackage is valid" (§10.1): its own
    // variant, so it is not taken for a bad signature on the commit itself.
    kp.queue_signature_check(checks, ProtocolError::KeyPackageSignatureInvalid.into())?;
    if kp.init_key == kp.leaf_node.encryption_key {
        return Err(ProtocolError::KeyPackageInitKeyReused.into());
    }
    // "Any field containing a list of extensions MUST NOT have more than
    // one extension of any given type" (§13.4).
    kp.extensions.check_unique()?;
    tree.validate_leaf_node_deferred(cs, ctx, &kp.leaf_node, LeafNodeOrigin::KeyPackage, checks)
}

/// Whether `leaf` supports the group context `extensions`: every non-default
/// extension type, and everything `required_capabilities` asks for (§11.1).
pub(crate) fn leaf_supports_extensions(
    leaf: &LeafNode,
    extensions: &[Extension],
    required: Option<&RequiredCapabilities>,
) -> bool {
    let caps = &leaf.capabilities;
    let ext_ok = extensions
        .iter()
        .all(|e| e.extension_type.is_default() || caps.extensions.contains(&e.extension_type));
    let req_ok = required.is_none_or(|r| {
        r.extension_types
            .iter()
            .all(|t| t.is_default() || caps.extensions.contains(t))
            && r.proposal_types
                .iter()
                .all(|t| t.is_default() || caps.proposals.contains(t))
            && r.credential_types
                .iter()
                .all(|t| caps.credentials.contains(t))
    });
    ext_ok && req_ok
}

/// Validates `proposals` for a commit by `committer` (RFC 9420 §12.2) and
/// applies them to a copy of `tree` in the order of §12.3.
///
/// `ctx` is the validation context of the current epoch (group ID, version,
/// required capabilities, lifetime policy); a GroupContextExtensions proposal
/// replaces its required capabilities for the rest of the list.
pub(crate) fn apply_proposals(
    cs: &dyn CipherSuiteProvider,
    tree: &RatchetTree,
    current_extensions: &[Extension],
    ctx: &LeafValidationContext,
    committer: Committer,
    proposals: &[CommittedProposal],
    max_group_size: u32,
) -> Result<AppliedProposals> {
    // Structural rules of the list (§12.2).
    let mut gce: Option<&Vec<Extension>> = None;
    let mut reinit: Option<&ReInit> = None;
    let mut external_init: Option<&Vec<u8>> = None;
    let mut psk_ids: Vec<&PreSharedKeyId> = Vec::new();
    let mut touched: HashSet<u32> = HashSet::new();
    let mut path_required = proposals.is_empty();
    let mut removes = 0usize;
    for p in proposals {
        let t = p.proposal.proposal_type();
        // "It contains an ExternalInit proposal" (§12.2): checked before the
        // sender rule so a regular commit carrying one fails with this rule.
        if t == ProposalType::EXTERNAL_INIT && committer != Committer::External {
            return Err(ProtocolError::ExternalInitInRegularCommit.into());
        }
        check_sender_may_propose(&p.sender, t)?;
        path_required |= matches!(
            t,
            ProposalType::UPDATE
                | ProposalType::REMOVE
                | ProposalType::EXTERNAL_INIT
                | ProposalType::GROUP_CONTEXT_EXTENSIONS
        );
        match &p.proposal {
            Proposal::Add(_) => {}
            Proposal::Update(_) => {
                let Sender::Member(leaf) = p.sender else {
                    return Err(Error::Internal("non-member Update passed the sender check"));
                };
                if committer == Committer::Member(LeafIndex(leaf)) {
                    return Err(ProtocolError::CommitterUpdate.into());
                }
                if !touched.insert(leaf) {
                    return Err(ProtocolError::ConflictingLeafProposals(leaf).into());
                }
            }
            Proposal::Remove(r) => {
                removes += 1;
                if committer == Committer::Member(LeafIndex(r.removed)) {
                    return Err(ProtocolError::CommitterRemoved.into());
                }
                if !touched.insert(r.removed) {
                    return Err(ProtocolError::ConflictingLeafProposals(r.removed).into());
                }
            }
            Proposal::PreSharedKey(psk) => {
                check_psk_id(cs, &psk.psk)?;
                if psk_ids.contains(&&psk.psk) {
                    return Err(ProtocolError::DuplicatePsk.into());
                }
                psk_ids.push(&psk.psk);
            }
            Proposal::ReInit(r) => {
                if r.version.0 < ctx.version.0 {
                    return Err(ProtocolError::ReInitVersionDowngrade.into());
                }
                reinit = Some(r);
            }
            Proposal::ExternalInit(e) => {
                if external_init.replace(&e.kem_output).is_some() {
                    return Err(ProtocolError::InvalidExternalCommitProposals(
                        "more than one ExternalInit",
                    )
                    .into());
                }
            }
            Proposal::GroupContextExtensions(g) => {
                if gce.replace(&g.extensions).is_some() {
                    return Err(ProtocolError::MultipleGroupContextExtensions.into());
                }
            }
        }
    }
    if reinit.is_some() && proposals.len() > 1 {
        return Err(ProtocolError::ReInitNotAlone.into());
    }
    if committer == Committer::External {
        if external_init.is_none() {
            return Err(ProtocolError::InvalidExternalCommitProposals("no ExternalInit").into());
        }
        if removes > 1 {
            return Err(
                ProtocolError::InvalidExternalCommitProposals("more than one Remove").into(),
            );
        }
    }

    // Application in the order of §12.3, on a copy.
    let mut new_tree = tree.clone();
    let mut ctx = ctx.clone();
    let extensions = match gce {
        Some(exts) => {
            exts.check_unique()?;
            ctx.set_extensions(exts)?;
            exts.clone()
        }
        None => current_extensions.to_vec(),
    };

    let mut updated = Vec::new();
    for p in proposals {
        if let (Proposal::Update(u), Sender::Member(leaf)) = (&p.proposal, &p.sender) {
            let leaf = LeafIndex(*leaf);
            if new_tree.leaf(leaf).is_none() {
                return Err(ProtocolError::LeafIndexOutOfRange(leaf.0).into());
            }
            new_tree.validate_leaf_node(cs, &ctx, &u.leaf_node, LeafNodeOrigin::Update(leaf))?;
            new_tree.update_leaf(leaf, u.leaf_node.clone())?;
            updated.push(leaf);
        }
    }

    let mut removed = Vec::new();
    for p in proposals {
        if let Proposal::Remove(r) = &p.proposal {
            let leaf = LeafIndex(r.removed);
            let Some(node) = new_tree.leaf(leaf).cloned() else {
                return Err(ProtocolError::RemoveOfBlankLeaf(r.removed).into());
            };
            new_tree.remove_leaf(leaf)?;
            removed.push((leaf, node));
        }
    }

    // The KeyPackages' signatures are verified together once every other
    // rule has passed (each on its own, in parallel: the bulk of a large add).
    let mut added = Vec::new();
    let mut checks = SignatureChecks::new();
    for p in proposals {
        if let Proposal::Add(a) = &p.proposal {
            validate_key_package_deferred(cs, &new_tree, &ctx, &a.key_package, &mut checks)?;
            let leaf = new_tree.add_leaf(a.key_package.leaf_node.clone())?;
            // Refused before any signature is verified.
            check_group_size(leaf, max_group_size)?;
            added.push((leaf, a.key_package.clone()));
        }
    }
    checks.verify(cs)?;

    // A new set of group context extensions must be supported by every
    // member of the new tree (§12.1.7, §11.1).
    if gce.is_some() {
        let required = ctx.required_capabilities.as_ref();
        for (leaf, node) in new_tree.members() {
            if !leaf_supports_extensions(node, &extensions, required) {
                return Err(ProtocolError::UnsupportedGroupContextExtensions(leaf.0).into());
            }
        }
    }

    Ok(AppliedProposals {
        tree: new_tree,
        extensions,
        added,
        removed,
        updated,
        psks: psk_ids.into_iter().cloned().collect(),
        external_init: external_init.cloned(),
        reinit: reinit.cloned(),
        path_required,
    })
}

/// Fails with [`ProtocolError::GroupTooLarge`] if a new member at `leaf`
/// would make the group span more than `max_group_size` leaves
/// ([`super::GroupConfig::max_group_size`]).
pub(crate) fn check_group_size(leaf: LeafIndex, max_group_size: u32) -> Result<()> {
    let leaves = u64::from(leaf.0) + 1;
    if leaves > u64::from(max_group_size) {
        return Err(ProtocolError::GroupTooLarge {
            leaves,
            max: max_group_size,
        }
        .into());
    }
    Ok(())
}

/// The lifetime policy for leaves received at time `now` (seconds since the
/// Unix epoch), or no check when `now` is `None`.
pub(crate) fn lifetime_check(now: Option<u64>) -> LifetimeCheck {
    now.map_or(LifetimeCheck::Skip, LifetimeCheck::At)
}
