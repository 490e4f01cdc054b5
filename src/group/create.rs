//! Creating a one-member group (RFC 9420 §11).

use std::collections::VecDeque;
use std::sync::Arc;

use super::incremental::Journal;
use super::key_package::{Identity, KeyPackageOptions, generate_key_package};
use super::own_messages::OwnMessages;
use super::proposals::leaf_supports_extensions;
use super::{EpochKeys, Group, GroupConfig};
use crate::crypto::{CipherSuite, CryptoProvider};
use crate::error::{ProtocolError, Result};
use crate::key_schedule::EpochSecret;
use crate::messages::{
    Extension, ExtensionList, GroupContext, ProtocolVersion, RequiredCapabilities,
};
use crate::transcript::interim_transcript_hash;
use crate::tree::{RatchetTree, TreePrivateKeys};
use crate::tree_math::LeafIndex;

impl Group {
    /// Creates a group with this member alone in it (RFC 9420 §11).
    ///
    /// `leaf` sets the creator's leaf (lifetime, capabilities, extensions);
    /// `extensions` are the group context extensions of epoch 0, which the
    /// leaf's capabilities must support (else
    /// [`ProtocolError::UnsupportedGroupContextExtensions`]).
    pub fn create(
        provider: &dyn CryptoProvider,
        config: GroupConfig,
        suite: CipherSuite,
        group_id: Vec<u8>,
        identity: &Identity,
        leaf: KeyPackageOptions,
        extensions: Vec<Extension>,
    ) -> Result<Group> {
        config.validate()?;
        let cs = provider.cipher_suite_provider(suite)?;
        let cs_ref = &*cs;
        extensions.check_unique()?;
        let (kp, private) = generate_key_package(cs_ref, identity, leaf)?;
        // The creator is the group's first member: like every member, it
        // supports the group context extensions (RFC 9420 §13.4, §11.1),
        // else every member would refuse its commits' leaves.
        if !leaf_supports_extensions(
            &kp.leaf_node,
            &extensions,
            extensions.parse::<RequiredCapabilities>()?.as_ref(),
        ) {
            return Err(ProtocolError::UnsupportedGroupContextExtensions(0).into());
        }
        let tree = RatchetTree::new(suite, kp.leaf_node)?;
        let context = GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: suite,
            group_id,
            epoch: 0,
            tree_hash: tree.tree_hash(cs_ref)?,
            confirmed_transcript_hash: Vec::new(),
            extensions,
        };
        // Epoch 0 starts from a fresh random epoch secret (§11).
        let secrets =
            EpochSecret::from_secret(cs.random_secret(cs.kdf_len())?).into_epoch_secrets(cs_ref)?;
        let tag = cs.mac(secrets.confirmation_key.as_bytes(), &[])?;
        let interim = interim_transcript_hash(cs_ref, &[], &tag)?;
        let own_leaf = LeafIndex(0);
        let keys = EpochKeys::new(cs_ref, secrets, tree.size(), config.secret_tree);
        Ok(Group {
            cs: cs.clone(),
            config,
            context,
            tree: Arc::new(tree),
            interim_transcript_hash: interim,
            confirmation_tag: tag,
            own_leaf,
            signer: identity.signer().clone(),
            path_keys: TreePrivateKeys::new(own_leaf, private.encryption_key),
            keys,
            past_epochs: VecDeque::new(),
            resumption_psks: VecDeque::new(),
            proposals: Vec::new(),
            pending_commit: None,
            journal: Journal::new_group(),
            own_messages: OwnMessages::default(),
            reinit: None,
        })
    }
}
