//! Branching a subgroup (RFC 9420 §11.3): a member starts a new group with
//! some members of this one, the same version and cipher suite, tied to
//! this group's current epoch by a `branch` resumption PSK. This group is
//! not changed.

use super::Group;
use super::key_package::Identity;
use super::resumption::{
    ParticipantIdentity, ResumptionOptions, ResumptionOutput, inherit_capabilities, participants,
};
use crate::crypto::CryptoProvider;
use crate::error::{ApiError, Error, Result};
use crate::messages::{KeyPackage, ReInit, ResumptionPskUsage};

impl Group {
    /// Creates a subgroup `group_id` of this group (RFC 9420 §11.3) with this
    /// member and the members whose `key_packages` are given (fresh
    /// KeyPackages, one per member, in this group's cipher suite). The
    /// subgroup has this group's version, cipher suite and group context
    /// extensions; this member signs with the same key as here, and its leaf
    /// advertises at least the capabilities of its leaf here (so that it
    /// meets the group's required capabilities). It is in
    /// epoch 1, its first commit injecting the `branch` resumption PSK of this
    /// group's current epoch; send the Welcome to the others, who join with
    /// [`Group::join_with_resumption`].
    ///
    /// Fails if a KeyPackage names no member of this group (as `ids`
    /// identifies them).
    pub fn branch(
        &self,
        provider: &dyn CryptoProvider,
        group_id: Vec<u8>,
        key_packages: &[KeyPackage],
        mut options: ResumptionOptions,
        ids: &dyn ParticipantIdentity,
    ) -> Result<(Group, ResumptionOutput)> {
        // "Each LeafNode in a new subgroup MUST match some LeafNode in the
        // original group" (§11.3).
        let members = participants(self.tree.members().map(|(_, l)| &l.credential), ids);
        if key_packages
            .iter()
            .any(|kp| !members.contains_key(&ids.identity(&kp.leaf_node.credential)))
        {
            return Err(
                ApiError::InvalidArgument("a KeyPackage names no member of this group").into(),
            );
        }
        let own = self
            .tree
            .leaf(self.own_leaf)
            .ok_or(Error::Internal("own leaf is blank"))?;
        let identity = Identity::from_keys(&*self.cs, own.credential.clone(), self.signer.clone())?;
        inherit_capabilities(&mut options.leaf.capabilities, &own.capabilities);
        let params = ReInit {
            group_id,
            version: self.context.version,
            cipher_suite: self.context.cipher_suite,
            extensions: self.context.extensions.clone(),
        };
        self.create_resumed(
            provider,
            ResumptionPskUsage::Branch,
            &params,
            &identity,
            key_packages,
            options,
        )
    }
}
