//! Starting the next epoch from a staged commit (RFC 9420 §12.4.2, last steps).

use std::sync::Arc;

use super::epoch::{EpochKeys, PastEpoch};
use super::incremental::sent_piece;
use super::process::{StagedCommit, StagedFrom};
use super::{Group, StatePiece};
use crate::error::{ApiError, Result};

impl Group {
    /// What a commit staged now is bound to.
    pub(crate) fn staged_from(&self) -> StagedFrom {
        StagedFrom {
            group_id: self.context.group_id.clone(),
            epoch: self.context.epoch,
            own_leaf: self.own_leaf,
            interim_transcript_hash: self.interim_transcript_hash.clone(),
        }
    }

    /// Fails unless `staged` was staged from this state.
    pub(crate) fn check_staged(&self, staged: &StagedCommit) -> Result<()> {
        let from = &staged.from;
        if from.group_id != self.context.group_id
            || from.epoch != self.context.epoch
            || from.own_leaf != self.own_leaf
            || from.interim_transcript_hash != self.interim_transcript_hash
        {
            return Err(ApiError::StagedCommitMismatch.into());
        }
        Ok(())
    }

    /// Merges a staged commit: the new epoch starts and the secrets of the old
    /// one are deleted, except what `GroupConfig::max_past_epochs` keeps to
    /// decrypt late application messages.
    ///
    /// Fails (changing nothing) with [`ApiError::StagedCommitMismatch`] if
    /// the commit was not staged from this state: by another group, in
    /// another epoch, for another member, or from another history of the
    /// group (the group ID, epoch, own leaf and interim transcript hash must
    /// be those of the state it was staged from); and if it removed this
    /// member (a removed member should delete the group).
    pub fn merge_staged_commit(&mut self, staged: StagedCommit) -> Result<()> {
        self.check_staged(&staged)?;
        let Some(next) = staged.next else {
            return Err(ApiError::InvalidArgument("this member was removed by the commit").into());
        };
        let cs = self.cs.clone();
        let keys = EpochKeys::new(
            &*cs,
            next.secrets,
            next.tree.size(),
            self.config.secret_tree,
        );
        let EpochKeys {
            sender_data_secret,
            secret_tree,
            resumption_psk,
            ..
        } = core::mem::replace(&mut self.keys, keys);
        let old_tree = core::mem::replace(&mut self.tree, Arc::new(next.tree));
        let old_epoch = self.context.epoch;
        self.journal.mark(StatePiece::Epoch);
        self.journal
            .whole_epoch(next.context.epoch, &self.keys.secret_tree);

        // Keep what late application messages of the old epoch need.
        if self.config.max_past_epochs > 0 {
            // Retiring the old secret tree deletes what a past epoch cannot
            // use; its other pieces stay as they are.
            let (past, dropped) = PastEpoch::new(
                self.context.clone(),
                sender_data_secret,
                secret_tree,
                old_tree,
                self.own_leaf,
            );
            self.journal
                .mark(StatePiece::PastEpoch { epoch: old_epoch });
            self.journal.secret_tree_parts(old_epoch, dropped);
            self.past_epochs.push_back(past);
            while self.past_epochs.len() > self.config.max_past_epochs {
                if let Some(p) = self.past_epochs.pop_front() {
                    self.journal.whole_epoch(p.epoch, &p.secret_tree);
                }
            }
        } else {
            self.journal.whole_epoch(old_epoch, &secret_tree);
        }
        if self.config.max_resumption_psks > 0 {
            self.resumption_psks
                .push_back((self.context.epoch, resumption_psk));
            while self.resumption_psks.len() > self.config.max_resumption_psks {
                self.resumption_psks.pop_front();
            }
        }
        self.context = next.context;
        self.interim_transcript_hash = next.interim_transcript_hash;
        self.confirmation_tag = next.confirmation_tag;
        self.path_keys = next.path_keys;
        for p in self.proposals.drain(..) {
            self.journal.proposal_removed(&p.reference);
        }
        // A commit of ours that lost the race to this one can never be merged.
        if self.pending_commit.take().is_some() {
            self.journal.mark(StatePiece::PendingCommit);
        }
        // Echoes are recognised only in epochs whose messages can be read.
        let past = &self.past_epochs;
        for s in &self.own_messages.sent {
            if !past.iter().any(|p| p.epoch == s.epoch) {
                self.journal.ordered_removed(sent_piece(s));
            }
        }
        self.own_messages
            .retain_epochs(|e| past.iter().any(|p| p.epoch == e));
        // "If the Commit included a ReInit proposal, the client MUST NOT use
        // the group to send messages anymore" (RFC 9420 §12.4.2).
        self.reinit = staged.summary.reinit;
        Ok(())
    }
}
