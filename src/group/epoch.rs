//! The secrets a member holds for one epoch, and what it keeps of past epochs.

use std::sync::Arc;

use crate::crypto::{CipherSuiteProvider, Secret};
use crate::key_schedule::{
    EpochSecrets, ExporterSecret, ExternalSecret, InitSecret, SenderDataSecret,
};
use crate::secret_tree::{SecretTree, SecretTreeConfig, SecretTreeUpdate, TreePart};
use crate::tree::RatchetTree;
use crate::tree_math::{LeafIndex, TreeSize};

/// The secrets of the current epoch (RFC 9420 §8, Table 4), with the secret
/// tree built from its `encryption_secret` (§9).
#[derive(Clone, Debug)]
pub(crate) struct EpochKeys {
    pub sender_data_secret: SenderDataSecret,
    pub exporter_secret: ExporterSecret,
    /// For the external key pair (§8.3), used by external commits.
    pub external_secret: ExternalSecret,
    pub membership_key: Secret,
    pub resumption_psk: Secret,
    pub epoch_authenticator: Secret,
    pub init_secret: InitSecret,
    pub secret_tree: SecretTree,
}

impl EpochKeys {
    /// Takes the secrets of a new epoch; the `encryption_secret` becomes the
    /// root of the secret tree over `size` leaves and is not kept otherwise.
    pub fn new(
        cs: &dyn CipherSuiteProvider,
        secrets: EpochSecrets,
        size: TreeSize,
        config: SecretTreeConfig,
    ) -> Self {
        let EpochSecrets {
            sender_data_secret,
            encryption_secret,
            exporter_secret,
            external_secret,
            confirmation_key: _,
            membership_key,
            resumption_psk,
            epoch_authenticator,
            init_secret,
        } = secrets;
        Self {
            sender_data_secret,
            exporter_secret,
            external_secret,
            membership_key,
            resumption_psk,
            epoch_authenticator,
            init_secret,
            secret_tree: SecretTree::new(cs, encryption_secret, size, config),
        }
    }
}

/// What is kept of a past epoch to decrypt application messages that arrive
/// after the next commit (only those are accepted from a past epoch): its
/// secret tree, reduced to the application ratchets of the members who can
/// still send ([`PastEpoch::new`]), its sender-data secret, its context (the
/// signatures cover it) and its tree to find senders' signature keys.
/// Everything else of the epoch is deleted when it ends (RFC 9420 §9.2).
#[derive(Clone, Debug)]
pub(crate) struct PastEpoch {
    pub epoch: u64,
    pub context: crate::messages::GroupContext,
    pub sender_data_secret: SenderDataSecret,
    pub secret_tree: SecretTree,
    pub tree: Arc<RatchetTree>,
}

impl PastEpoch {
    /// The epoch of `context` as it ends, for the member at `own_leaf`: its
    /// secret tree keeps only the application keys that members of `tree`
    /// other than this one can still use ([`SecretTree::retire`]); this
    /// member cannot send in an ended epoch and does not decrypt its own
    /// messages. Also returns the parts of the secret tree this deleted.
    pub fn new(
        context: crate::messages::GroupContext,
        sender_data_secret: SenderDataSecret,
        secret_tree: SecretTree,
        tree: Arc<RatchetTree>,
        own_leaf: LeafIndex,
    ) -> (Self, Vec<TreePart>) {
        let mut past = Self {
            epoch: context.epoch,
            context,
            sender_data_secret,
            secret_tree,
            tree,
        };
        let dropped = past.retire(own_leaf);
        (past, dropped)
    }

    /// Reduces the secret tree as [`PastEpoch::new`] does (idempotent), and
    /// returns the parts deleted.
    pub fn retire(&mut self, own_leaf: LeafIndex) -> Vec<TreePart> {
        let tree = &self.tree;
        self.secret_tree
            .retire_parts(|leaves| tree.members_in(leaves).any(|l| l != own_leaf))
    }

    /// The update of an accepted application message as this epoch applies
    /// it: keeping no node secret that no one could use (the siblings met on
    /// the way to a leaf started now may lie over leaves that cannot send).
    pub fn reduce_update(
        &self,
        mut update: SecretTreeUpdate,
        own_leaf: LeafIndex,
    ) -> SecretTreeUpdate {
        let tree = &self.tree;
        update.retain_node_secrets(|leaves| tree.members_in(leaves).any(|l| l != own_leaf));
        update
    }
}
