//! Processing received messages: routing by group, holding messages for
//! later epochs, merging commits, and turning results into events.

use super::Client;
use super::events::{
    ApplicationMessage, CommitMerged, Event, GroupId, InactiveReason, MemberInfo, Processed,
    ProposalKind, ProposalReceived, ProposalSender, UpdatedMember,
};
use super::records::encode_held;
use super::state::{Held, Loaded, group_key, stage_meta};
use crate::codec::Decode;
use crate::error::{ApiError, Error, ProtocolError, Result};
use crate::group::{CommitSummary, ProcessedMessage, StagedCommit};
use crate::messages::{
    ContentType, Credential, ExtensionList, ExternalSenders, MlsMessage, Sender,
};
use crate::storage::{Batch, RecordKind, group_key_prefix};
use crate::tree_math::LeafIndex;

/// The group and epoch a handshake or application message names.
fn group_and_epoch(message: &MlsMessage) -> Option<(&[u8], u64)> {
    match message {
        MlsMessage::PublicMessage(m) => Some((&m.content.group_id, m.content.epoch)),
        MlsMessage::PrivateMessage(m) => Some((&m.group_id, m.epoch)),
        _ => None,
    }
}

/// Whether a message carries application data (readable in an inactive group).
fn is_application(message: &MlsMessage) -> bool {
    matches!(message, MlsMessage::PrivateMessage(m) if m.content_type == ContentType::Application)
}

impl Client {
    /// Processes one message received from the delivery service: an
    /// MLSMessage carrying a PublicMessage or PrivateMessage for one of the
    /// client's groups (found by its group id), or a Welcome (joined as
    /// with [`Client::join`]).
    ///
    /// A message for a later epoch than its group's is held (see
    /// [`Event::MessageHeld`]) and processed, in the same operation, after
    /// the commit that reaches its epoch. A received commit is merged at
    /// once. Everything the message changed is written to the store in one
    /// batch before this returns.
    ///
    /// Fails, changing nothing, if the message is malformed, breaks a rule
    /// of RFC 9420, is refused by the identity validator or the proposal
    /// policy, or the store fails. An echo of this member's own message
    /// gives no event (its own commit's echo merges it, like
    /// [`Client::confirm_commit`]).
    pub fn process(&self, bytes: &[u8]) -> Result<Processed> {
        let message = MlsMessage::decode_exact(bytes)?;
        if let MlsMessage::Welcome(welcome) = &message {
            let event = self.join_welcome(welcome, None)?;
            return Ok(Processed {
                events: vec![event],
            });
        }
        let Some((group_id, _)) = group_and_epoch(&message) else {
            return Err(ApiError::InvalidArgument(
                "only PublicMessage, PrivateMessage and Welcome are processed",
            )
            .into());
        };
        let id = GroupId(group_id.to_vec());
        let events = self.with_group(&id.0, |l, batch| {
            self.process_in(&id, l, batch, message, Some(bytes))
        })?;
        Ok(Processed { events })
    }

    /// Processes `message` in a loaded group: holds it if it is for a later
    /// epoch, else processes it and then any held messages it releases.
    fn process_in(
        &self,
        id: &GroupId,
        l: &mut Loaded,
        batch: &mut Batch,
        message: MlsMessage,
        bytes: Option<&[u8]>,
    ) -> Result<Vec<Event>> {
        let (_, epoch) = group_and_epoch(&message).ok_or(Error::Internal("not a group message"))?;
        if epoch > l.group.epoch() {
            if l.inactive.is_some() {
                return Err(ApiError::GroupInactive.into());
            }
            if l.held.len() >= self.config.max_held_messages {
                return Err(
                    ProtocolError::TooManyHeldMessages(self.config.max_held_messages).into(),
                );
            }
            let encoded;
            let bytes = match bytes {
                Some(b) => b,
                None => {
                    encoded = crate::codec::Encode::to_bytes(&message)?;
                    &encoded
                }
            };
            let seq = l.next_held;
            let prefix = group_key_prefix(&id.0);
            batch.put(
                RecordKind::HeldMessage,
                group_key(&prefix, &seq.to_be_bytes()),
                encode_held(epoch, bytes)?,
            );
            l.held.push(Held {
                seq,
                epoch,
                message,
            });
            l.next_held = seq.saturating_add(1);
            return Ok(vec![Event::MessageHeld {
                group: id.clone(),
                epoch,
            }]);
        }
        let (mut events, merged) = self.process_one(id, l, batch, &message)?;
        if merged {
            events.extend(self.release_held(id, l, batch));
        }
        Ok(events)
    }

    /// Processes held messages whose epoch the group has reached, in
    /// arrival order, as long as some are released (a held commit may
    /// release more). Each one's failure is an event, not an error.
    pub(super) fn release_held(
        &self,
        id: &GroupId,
        l: &mut Loaded,
        batch: &mut Batch,
    ) -> Vec<Event> {
        let prefix = group_key_prefix(&id.0);
        let mut events = Vec::new();
        loop {
            let current = l.group.epoch();
            let Some(pos) = l.held.iter().position(|h| h.epoch <= current) else {
                break;
            };
            let held = l.held.remove(pos);
            batch.delete(
                RecordKind::HeldMessage,
                group_key(&prefix, &held.seq.to_be_bytes()),
            );
            match self.process_one(id, l, batch, &held.message) {
                Ok((e, _)) => events.extend(e),
                Err(e) => events.push(Event::HeldMessageFailed {
                    group: id.clone(),
                    epoch: held.epoch,
                    reason: e.to_string(),
                }),
            }
        }
        events
    }

    /// Processes one message of the group's current (or a kept past)
    /// epoch; returns its events and whether a commit was merged.
    fn process_one(
        &self,
        id: &GroupId,
        l: &mut Loaded,
        batch: &mut Batch,
        message: &MlsMessage,
    ) -> Result<(Vec<Event>, bool)> {
        if l.inactive.is_some() && !is_application(message) {
            return Err(ApiError::GroupInactive.into());
        }
        let (_, epoch) = group_and_epoch(message).ok_or(Error::Internal("not a group message"))?;
        let now = self
            .config
            .lifetime
            .check_received_commits
            .then(|| self.clock.now());
        let processed =
            l.group
                .process_message_with(message, &*self.psks, now, &mut |g, incoming| {
                    self.check_incoming(g, incoming)
                })?;
        // The group has changed: what follows must not fail, or the group
        // is dropped from memory (see `with_group`).
        Ok(match processed {
            ProcessedMessage::Application {
                sender,
                data,
                authenticated_data,
            } => {
                let credential = l
                    .group
                    .leaf_at(epoch, sender)
                    .map(|n| n.credential.clone())
                    .ok_or(Error::Internal("sender verified but not in the tree"))?;
                let event = Event::Application(ApplicationMessage {
                    group: id.clone(),
                    epoch,
                    sender: MemberInfo {
                        leaf: sender,
                        credential,
                    },
                    data,
                    authenticated_data,
                });
                (vec![event], false)
            }
            ProcessedMessage::Proposal {
                sender,
                reference,
                proposal,
            } => {
                let sender = proposal_sender(&l.group, &sender, &proposal);
                let event = Event::ProposalReceived(ProposalReceived {
                    group: id.clone(),
                    epoch,
                    sender,
                    reference: reference.0,
                    kind: ProposalKind::of(&proposal),
                });
                (vec![event], false)
            }
            ProcessedMessage::Commit(staged) => self.apply_commit(id, l, batch, *staged)?,
            _ => (Vec::new(), false),
        })
    }

    /// Merges a verified commit (or, if it removes this member, marks the
    /// group inactive) and describes it.
    pub(super) fn apply_commit(
        &self,
        id: &GroupId,
        l: &mut Loaded,
        batch: &mut Batch,
        staged: StagedCommit,
    ) -> Result<(Vec<Event>, bool)> {
        let summary = staged.summary().clone();
        let by = match summary.committer {
            Sender::Member(leaf) => Some(LeafIndex(leaf)),
            _ => None,
        };
        if summary.self_removed {
            l.inactive = Some(InactiveReason::Removed);
            stage_meta(&group_key_prefix(&id.0), l.inactive, batch);
            let event = Event::Removed {
                group: id.clone(),
                epoch: l.group.epoch(),
                by,
            };
            return Ok((vec![event], false));
        }
        let before = changed_leaves(&l.group, &summary);
        l.group.merge_staged_commit(staged)?;
        let event = self.merged_event(id, l, batch, &summary, before);
        Ok((vec![event], true))
    }

    /// The event of a merged commit; marks the group inactive after a ReInit.
    pub(super) fn merged_event(
        &self,
        id: &GroupId,
        l: &mut Loaded,
        batch: &mut Batch,
        summary: &CommitSummary,
        before: Vec<(LeafIndex, Credential, crate::messages::LeafNode)>,
    ) -> Event {
        let committer = match summary.committer {
            Sender::Member(leaf) => Some(LeafIndex(leaf)),
            _ => None,
        };
        let tree = l.group.tree();
        let updated = before
            .into_iter()
            .filter_map(|(leaf, old, old_node)| {
                let new = tree.leaf(leaf)?;
                // The committer's leaf counts as updated when its path replaced it.
                (*new != old_node).then(|| UpdatedMember {
                    leaf,
                    old,
                    new: new.credential.clone(),
                })
            })
            .collect();
        let member = |(leaf, credential): &(LeafIndex, Credential)| MemberInfo {
            leaf: *leaf,
            credential: credential.clone(),
        };
        if summary.reinit.is_some() {
            l.inactive = Some(InactiveReason::ReInit);
            stage_meta(&group_key_prefix(&id.0), l.inactive, batch);
        }
        Event::CommitMerged(CommitMerged {
            group: id.clone(),
            epoch: l.group.epoch(),
            committer,
            own: committer == Some(l.group.own_leaf()),
            added: summary.added.iter().map(member).collect(),
            removed: summary.removed.iter().map(member).collect(),
            updated,
            extensions_changed: summary.new_extensions.is_some(),
            reinit: summary.reinit.is_some(),
        })
    }
}

/// The leaves a commit may replace (its Updates and the committer's), with
/// their credential and node before it.
pub(super) fn changed_leaves(
    group: &crate::group::Group,
    summary: &CommitSummary,
) -> Vec<(LeafIndex, Credential, crate::messages::LeafNode)> {
    let committer = match summary.committer {
        Sender::Member(leaf) => Some(LeafIndex(leaf)),
        _ => None,
    };
    summary
        .updated
        .iter()
        .copied()
        .chain(committer)
        .filter_map(|leaf| {
            let node = group.tree().leaf(leaf)?;
            Some((leaf, node.credential.clone(), node.clone()))
        })
        .collect()
}

/// Who sent a proposal, with their credential.
fn proposal_sender(
    group: &crate::group::Group,
    sender: &Sender,
    proposal: &crate::messages::Proposal,
) -> ProposalSender {
    match sender {
        Sender::Member(l) => ProposalSender::Member(MemberInfo {
            leaf: LeafIndex(*l),
            credential: group
                .tree()
                .leaf(LeafIndex(*l))
                .map(|n| n.credential.clone())
                .unwrap_or_else(|| Credential::Basic(Vec::new())),
        }),
        Sender::External(i) => ProposalSender::External {
            index: *i,
            credential: group
                .context()
                .extensions
                .parse::<ExternalSenders>()
                .ok()
                .flatten()
                .and_then(|s| {
                    usize::try_from(*i)
                        .ok()
                        .and_then(|i| s.0.get(i).map(|s| s.credential.clone()))
                })
                .unwrap_or_else(|| Credential::Basic(Vec::new())),
        },
        _ => ProposalSender::NewMember {
            credential: match proposal {
                crate::messages::Proposal::Add(a) => a.key_package.leaf_node.credential.clone(),
                _ => Credential::Basic(Vec::new()),
            },
        },
    }
}
