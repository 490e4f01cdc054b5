//! The proposal cache of an epoch as the application sees it, and choosing
//! which cached proposals a commit can cover (RFC 9420 §12.2, §12.4.1).
//!
//! Every proposal a member receives is cached until the epoch ends, valid or
//! not: a receiver only checks what it can check alone (the sender, the
//! signature). Whether it can be committed is known when it is committed,
//! together with the rest of the list. [`Group::select_proposals`] finds a
//! list that can: it leaves out what conflicts (preferring a Remove over an
//! Update of the same leaf, §12.2), then what fails on its own, then what
//! fails together with the proposals kept before it, and says why for each.

use std::collections::{HashMap, HashSet};

use super::join::resolve_psks;
use super::proposals::{CommittedProposal, Committer, apply_proposals, lifetime_check};
use super::{Group, PskStore};
use crate::error::{ApiError, Error, ProtocolError, Result};
use crate::messages::{Proposal, ProposalRef, Sender};
use crate::tree::LeafValidationContext;

/// A proposal cached in the current epoch (see [`Group::pending_proposals`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingProposal {
    /// Its reference (RFC 9420 §5.2).
    pub reference: ProposalRef,
    /// Who proposed it.
    pub sender: Sender,
    /// The proposal.
    pub proposal: Proposal,
}

/// A cached proposal a commit leaves out, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftOut {
    /// The proposal's reference.
    pub reference: ProposalRef,
    /// The rule it breaks, alone or with the proposals kept.
    pub reason: Error,
}

/// What [`Group::select_proposals`] chose.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProposalSelection {
    /// The cached proposals a commit can cover, in the order given.
    pub included: Vec<ProposalRef>,
    /// Those it must leave out.
    pub left_out: Vec<LeftOut>,
}

impl Group {
    /// The proposals cached in this epoch, in the order they arrived: those
    /// received and accepted, and this member's own. A commit covers them
    /// by reference; the cache is emptied when the epoch ends.
    pub fn pending_proposals(&self) -> Vec<PendingProposal> {
        self.proposals
            .iter()
            .map(|p| PendingProposal {
                reference: p.reference.clone(),
                sender: p.sender,
                proposal: p.proposal.clone(),
            })
            .collect()
    }

    /// The number of cached proposals.
    pub fn pending_proposal_count(&self) -> usize {
        self.proposals.len()
    }

    /// Drops a cached proposal; `false` if it was not cached. A commit of
    /// another member that covers it can then no longer be processed
    /// ([`ProtocolError::UnknownProposalReference`]).
    pub fn remove_pending_proposal(&mut self, reference: &ProposalRef) -> bool {
        let before = self.proposals.len();
        self.proposals.retain(|p| p.reference != *reference);
        let removed = self.proposals.len() != before;
        if removed {
            self.journal.proposal_removed(reference);
        }
        removed
    }

    /// Drops every cached proposal.
    pub fn clear_pending_proposals(&mut self) {
        for p in self.proposals.drain(..) {
            self.journal.proposal_removed(&p.reference);
        }
    }

    /// Chooses which of the cached proposals `candidates` (in this order) a
    /// commit by this member can cover together with `by_value` (the
    /// proposals it would send by value, always kept), so that the commit
    /// is valid (RFC 9420 §12.2):
    ///
    /// 1. a reference not cached is left out;
    /// 2. this member's own Update (its path replaces it) and a Remove of
    ///    this member (it cannot commit it) are left out;
    /// 3. of several proposals for one leaf, a Remove is kept over Updates
    ///    (the first Remove, else the last Update); of several PSKs with one
    ///    id, GroupContextExtensions or ReInits, the first; a ReInit is left
    ///    out if anything else is committed;
    /// 4. a proposal that fails on its own (an Add whose KeyPackage is
    ///    invalid or expired at `now`, an Update with a bad leaf, a Remove of
    ///    a blank leaf, a PSK not in `psks`, ...) is left out;
    /// 5. if the rest fails together with `by_value` (two Adds of one
    ///    signature key, say), proposals are kept one by one, in order, as
    ///    long as the list stays valid.
    ///
    /// `by_value` itself is not checked here (the commit checks it), so
    /// without candidates this costs nothing. Pass
    /// [`ProposalSelection::included`] as
    /// [`CommitOptions::only_pending`](super::CommitOptions::only_pending).
    pub fn select_proposals(
        &self,
        candidates: &[ProposalRef],
        by_value: &[Proposal],
        psks: &dyn PskStore,
        now: Option<u64>,
    ) -> Result<ProposalSelection> {
        let me = Sender::Member(self.own_leaf.0);
        let mut left_out = Vec::new();
        let mut leave = |reference: &ProposalRef, reason: Error| {
            left_out.push(LeftOut {
                reference: reference.clone(),
                reason,
            })
        };

        // 1-2. Cached, and committable by this member at all.
        let mut kept: Vec<(ProposalRef, CommittedProposal)> = Vec::new();
        let mut seen = HashSet::new();
        for r in candidates {
            if !seen.insert(r) {
                continue;
            }
            let Some(c) = self.proposals.iter().find(|c| c.reference == *r) else {
                leave(r, ProtocolError::UnknownProposalReference.into());
                continue;
            };
            match &c.proposal {
                Proposal::Update(_) if c.sender == me => {
                    leave(r, ProtocolError::CommitterUpdate.into());
                    continue;
                }
                Proposal::Remove(x) if x.removed == self.own_leaf.0 => {
                    leave(r, ProtocolError::CommitterRemoved.into());
                    continue;
                }
                _ => {}
            }
            kept.push((
                r.clone(),
                CommittedProposal {
                    proposal: c.proposal.clone(),
                    sender: c.sender,
                    reference: Some(r.clone()),
                },
            ));
        }
        let fixed: Vec<CommittedProposal> = by_value
            .iter()
            .map(|p| CommittedProposal {
                proposal: p.clone(),
                sender: me,
                reference: None,
            })
            .collect();

        // 3. Conflicts.
        let keep = resolve_conflicts(&kept, &fixed);
        let mut survivors = Vec::new();
        for (i, (r, c)) in kept.into_iter().enumerate() {
            match keep.get(&i) {
                Some(Err(e)) => leave(&r, e.clone()),
                _ => survivors.push((r, c)),
            }
        }

        // 4. Alone (with the by-value proposals, which are always sent).
        let ctx = LeafValidationContext::from_group_context(&self.context, lifetime_check(now))?;
        let committer = Committer::Member(self.own_leaf);
        let check = |list: &[CommittedProposal]| -> Result<()> {
            apply_proposals(
                &*self.cs,
                &self.tree,
                &self.context.extensions,
                &ctx,
                committer,
                list,
                self.config.max_group_size,
            )?;
            let ids: Vec<_> = list
                .iter()
                .filter_map(|p| match &p.proposal {
                    Proposal::PreSharedKey(psk) => Some(psk.psk.clone()),
                    _ => None,
                })
                .collect();
            let group_id = self.context.group_id.as_slice();
            resolve_psks(&*self.cs, &ids, psks, &|r| {
                (r.psk_group_id == group_id)
                    .then(|| self.resumption_psk(r.psk_epoch).cloned())
                    .flatten()
            })?;
            Ok(())
        };
        let mut alone_ok = Vec::new();
        for (r, c) in survivors {
            match check(core::slice::from_ref(&c)) {
                Ok(()) => alone_ok.push((r, c)),
                Err(e) => leave(&r, e),
            }
        }

        // 5. Together (with the by-value proposals); one by one if that fails.
        let mut all = fixed.clone();
        all.extend(alone_ok.iter().map(|(_, c)| c.clone()));
        let included = if alone_ok.is_empty() || check(&all).is_ok() {
            alone_ok.into_iter().map(|(r, _)| r).collect()
        } else {
            let mut list = fixed;
            let mut included = Vec::new();
            for (r, c) in alone_ok {
                list.push(c);
                match check(&list) {
                    Ok(()) => included.push(r),
                    Err(e) => {
                        list.pop();
                        leave(&r, e);
                    }
                }
            }
            included
        };
        Ok(ProposalSelection { included, left_out })
    }

    /// The cached proposals a commit covers: all of them, or `only` (in
    /// that order; each must be cached).
    pub(super) fn pending_for_commit(
        &self,
        only: Option<&[ProposalRef]>,
    ) -> Result<Vec<&super::CachedProposal>> {
        match only {
            None => Ok(self.proposals.iter().collect()),
            Some(refs) => refs
                .iter()
                .map(|r| {
                    self.proposals
                        .iter()
                        .find(|c| c.reference == *r)
                        .ok_or_else(|| {
                            ApiError::InvalidArgument("only_pending names a proposal not cached")
                                .into()
                        })
                })
                .collect(),
        }
    }
}

/// Step 3 of [`Group::select_proposals`]: for each of `kept` (by position)
/// that conflicts with `fixed` or with a preferred one of `kept`, the rule
/// it breaks.
fn resolve_conflicts(
    kept: &[(ProposalRef, CommittedProposal)],
    fixed: &[CommittedProposal],
) -> HashMap<usize, Result<()>> {
    let mut verdict: HashMap<usize, Result<()>> = HashMap::new();
    let conflict = |leaf: u32| Err(ProtocolError::ConflictingLeafProposals(leaf).into());

    // The leaf a Remove or Update is for.
    let leaf_of = |c: &CommittedProposal| match (&c.proposal, c.sender) {
        (Proposal::Remove(r), _) => Some((r.removed, true)),
        (Proposal::Update(_), Sender::Member(l)) => Some((l, false)),
        _ => None,
    };
    let mut fixed_leaves = HashSet::new();
    let mut fixed_psks = Vec::new();
    let mut fixed_gce = false;
    for c in fixed {
        if let Some((leaf, _)) = leaf_of(c) {
            fixed_leaves.insert(leaf);
        }
        match &c.proposal {
            Proposal::PreSharedKey(p) => fixed_psks.push(p.psk.clone()),
            Proposal::GroupContextExtensions(_) => fixed_gce = true,
            _ => {}
        }
    }

    // Per leaf: the first Remove, else the last Update.
    let mut chosen: HashMap<u32, (usize, bool)> = HashMap::new();
    for (i, (_, c)) in kept.iter().enumerate() {
        let Some((leaf, is_remove)) = leaf_of(c) else {
            continue;
        };
        if fixed_leaves.contains(&leaf) {
            verdict.insert(i, conflict(leaf));
            continue;
        }
        match chosen.get(&leaf).copied() {
            None => {
                chosen.insert(leaf, (i, is_remove));
            }
            Some((_, true)) => {
                verdict.insert(i, conflict(leaf));
            }
            Some((j, false)) => {
                verdict.insert(j, conflict(leaf));
                chosen.insert(leaf, (i, is_remove));
            }
        }
    }

    let mut psks = fixed_psks;
    let mut gce = fixed_gce;
    let mut reinit = None;
    let others = fixed.len()
        + kept
            .iter()
            .enumerate()
            .filter(|(i, (_, c))| {
                !verdict.contains_key(i) && !matches!(c.proposal, Proposal::ReInit(_))
            })
            .count();
    for (i, (_, c)) in kept.iter().enumerate() {
        if verdict.contains_key(&i) {
            continue;
        }
        match &c.proposal {
            Proposal::PreSharedKey(p) => {
                if psks.contains(&p.psk) {
                    verdict.insert(i, Err(ProtocolError::DuplicatePsk.into()));
                } else {
                    psks.push(p.psk.clone());
                }
            }
            Proposal::GroupContextExtensions(_) => {
                if gce {
                    verdict.insert(i, Err(ProtocolError::MultipleGroupContextExtensions.into()));
                }
                gce = true;
            }
            Proposal::ReInit(_) => {
                if others > 0 || reinit.is_some() {
                    verdict.insert(i, Err(ProtocolError::ReInitNotAlone.into()));
                } else {
                    reinit = Some(i);
                }
            }
            Proposal::ExternalInit(_) => {
                verdict.insert(i, Err(ProtocolError::ExternalInitInRegularCommit.into()));
            }
            _ => {}
        }
    }
    verdict
}
