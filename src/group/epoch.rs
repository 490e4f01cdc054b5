//! The secrets a member holds for one epoch, and what it keeps of past epochs.

use std::sync::Arc;

use crate::crypto::{CipherSuiteProvider, Secret};
use crate::key_schedule::{
    EpochSecrets, ExporterSecret, ExternalSecret, InitSecret, SenderDataSecret,
};
use crate::secret_tree::{SecretTree, SecretTreeConfig};
use crate::tree::RatchetTree;
use crate::tree_math::TreeSize;

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
/// after the next commit: its secret tree and sender-data secret, and the
/// tree of that epoch to find senders' signature keys. Everything else of
/// the epoch is deleted when it ends (RFC 9420 §9.2).
#[derive(Clone, Debug)]
pub(crate) struct PastEpoch {
    pub epoch: u64,
    pub context: crate::messages::GroupContext,
    pub sender_data_secret: SenderDataSecret,
    pub secret_tree: SecretTree,
    pub tree: Arc<RatchetTree>,
}
