//! The group state machine (RFC 9420 §11, §12): the one home of protocol
//! policy.
//!
//! A [`Group`] is one member's view of one group. It is sans-IO: every call
//! takes bytes (and, where lifetimes matter, the current time) and returns
//! bytes and events. Every call that can fail leaves the group exactly as it
//! was when it fails.

mod branch;
mod commit;
mod config;
mod create;
mod epoch;
mod external_commit;
mod external_proposal;
mod group_info;
mod incremental;
mod join;
mod key_package;
mod merge;
mod own_messages;
mod persist;
mod process;
mod proposals;
mod psk_store;
mod reinit;
mod resumption;
mod selection;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;

pub use commit::{CommitOptions, CommitOutput};
pub use config::{GroupConfig, HandshakeFormat};
pub use external_commit::ExternalJoinOptions;
pub use external_proposal::{external_proposal, new_member_proposal};
pub use incremental::{PieceKind, StateChanges, StatePiece};
pub use join::JoinInput;
pub use key_package::{Identity, KeyPackageOptions, KeyPackagePrivate, generate_key_package};
pub use own_messages::OWN_MESSAGE_WINDOW;
pub use process::{
    CommitSummary, Incoming, IncomingCheck, LeafChange, LeafChangeKind, ProcessedMessage,
    StagedCommit,
};
pub use proposals::CommittedProposal;
pub use psk_store::PskStore;
pub use resumption::{
    CredentialIdentity, ParticipantIdentity, ResumptionEpoch, ResumptionOptions, ResumptionOutput,
    ResumptionSource,
};
pub use selection::{LeftOut, PendingProposal, ProposalSelection};

use crate::crypto::{CipherSuite, CipherSuiteProvider, Secret, Tag};
use crate::error::Result;
use crate::messages::{Credential, GroupContext, LeafNode, Proposal, ProposalRef, Sender};
use crate::tree::{RatchetTree, TreePrivateKeys};
use crate::tree_math::LeafIndex;
use epoch::{EpochKeys, PastEpoch};

/// A member of the group as the application sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// The member's leaf index.
    pub index: LeafIndex,
    /// The member's credential.
    pub credential: Credential,
    /// The member's current leaf node.
    pub leaf_node: LeafNode,
}

/// A proposal received in the current epoch and kept until a commit covers it.
#[derive(Clone, Debug)]
pub(crate) struct CachedProposal {
    pub reference: ProposalRef,
    pub proposal: Proposal,
    pub sender: Sender,
}

/// One member's state of one group. See the [module documentation](self).
pub struct Group {
    cs: Arc<dyn CipherSuiteProvider>,
    config: GroupConfig,
    context: GroupContext,
    tree: Arc<RatchetTree>,
    interim_transcript_hash: Vec<u8>,
    /// The confirmation tag of the commit that started this epoch.
    confirmation_tag: Tag,
    own_leaf: LeafIndex,
    signer: crate::crypto::SignaturePrivateKey,
    path_keys: TreePrivateKeys,
    keys: EpochKeys,
    past_epochs: VecDeque<PastEpoch>,
    resumption_psks: VecDeque<(u64, Secret)>,
    proposals: Vec<CachedProposal>,
    pending_commit: Option<commit::PendingCommit>,
    /// What changed since the state was last saved in pieces.
    journal: incremental::Journal,
    /// The PrivateMessages this member sent lately, to recognise their echoes.
    own_messages: own_messages::OwnMessages,
    /// The ReInit merged in this group, which closed it (RFC 9420 §12.4.2).
    reinit: Option<crate::messages::ReInit>,
}

impl core::fmt::Debug for Group {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Group")
            .field("group_id", &self.context.group_id)
            .field("epoch", &self.context.epoch)
            .field("cipher_suite", &self.context.cipher_suite)
            .field("own_leaf", &self.own_leaf)
            .field("members", &self.tree.member_count())
            .finish_non_exhaustive()
    }
}

impl Group {
    /// The group's identifier.
    pub fn group_id(&self) -> &[u8] {
        &self.context.group_id
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.context.epoch
    }

    /// The group's cipher suite.
    pub fn cipher_suite(&self) -> CipherSuite {
        self.context.cipher_suite
    }

    /// The group context of the current epoch.
    pub fn context(&self) -> &GroupContext {
        &self.context
    }

    /// The ratchet tree of the current epoch.
    pub fn tree(&self) -> &RatchetTree {
        &self.tree
    }

    /// This member's leaf index.
    pub fn own_leaf(&self) -> LeafIndex {
        self.own_leaf
    }

    /// The members of the group, in leaf order.
    pub fn members(&self) -> Vec<Member> {
        self.tree
            .members()
            .map(|(index, leaf)| Member {
                index,
                credential: leaf.credential.clone(),
                leaf_node: leaf.clone(),
            })
            .collect()
    }

    /// The leaf node at `leaf` as of `epoch`: in the current tree, or in the
    /// tree of a past epoch this member still keeps (see
    /// [`GroupConfig::max_past_epochs`]); `None` if the leaf was blank then
    /// or the epoch is not kept.
    ///
    /// An application message names its sender by leaf index; the leaf may
    /// hold someone else by the time it is read, so show the sender's
    /// credential as of the message's epoch.
    pub fn leaf_at(&self, epoch: u64, leaf: LeafIndex) -> Option<&LeafNode> {
        if epoch == self.context.epoch {
            return self.tree.leaf(leaf);
        }
        self.past_epochs
            .iter()
            .find(|p| p.epoch == epoch)
            .and_then(|p| p.tree.leaf(leaf))
    }

    /// The group's configuration.
    pub fn config(&self) -> &GroupConfig {
        &self.config
    }

    /// The epoch authenticator (RFC 9420 §8.7): equal for every member in the
    /// same epoch; applications can compare it out of band.
    pub fn epoch_authenticator(&self) -> &Secret {
        &self.keys.epoch_authenticator
    }

    /// `MLS-Exporter(label, context, length)` of the current epoch (RFC 9420 §8.5).
    pub fn export_secret(&self, label: &[u8], context: &[u8], length: u16) -> Result<Secret> {
        self.keys
            .exporter_secret
            .export(&*self.cs, label, context, length)
    }

    /// The tree hash of the current epoch (RFC 9420 §7.8).
    pub fn tree_hash(&self) -> &[u8] {
        &self.context.tree_hash
    }

    /// The resumption PSK of `epoch`, if this member still holds it (RFC 9420 §8.6).
    pub(crate) fn resumption_psk(&self, epoch: u64) -> Option<&Secret> {
        if epoch == self.context.epoch {
            return Some(&self.keys.resumption_psk);
        }
        self.resumption_psks
            .iter()
            .find(|(e, _)| *e == epoch)
            .map(|(_, s)| s)
    }
}
