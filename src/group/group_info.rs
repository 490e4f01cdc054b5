//! Publishing a signed GroupInfo of the current epoch (RFC 9420 §12.4.3),
//! with the `external_pub` extension that lets new members join by external
//! commit (§12.4.3.2).

use super::Group;
use crate::crypto::{CipherSuiteProvider, SignaturePrivateKey, Tag};
use crate::error::Result;
use crate::key_schedule::ExternalSecret;
use crate::messages::{
    Extension, ExternalPub, GroupContext, GroupInfo, MlsMessage, RatchetTreeExtension,
};
use crate::tree_math::LeafIndex;

/// The parts of an epoch a GroupInfo describes.
pub(crate) struct GroupInfoParts<'a> {
    /// The epoch's group context.
    pub context: &'a GroupContext,
    /// The confirmation tag of the commit that started the epoch.
    pub confirmation_tag: &'a Tag,
    /// The epoch's external secret, if the GroupInfo is to carry
    /// `external_pub` (§12.4.3.2).
    pub external_secret: Option<&'a ExternalSecret>,
    /// The ratchet tree, if the GroupInfo is to carry it (§12.4.3.3).
    pub ratchet_tree: Option<&'a RatchetTreeExtension>,
    /// The signer's leaf index.
    pub signer: LeafIndex,
}

/// Builds and signs a GroupInfo (RFC 9420 §12.4.3): `external_pub`
/// (`KEM.DeriveKeyPair(external_secret)`, §8) first if asked for, then the
/// ratchet tree if asked for.
pub(crate) fn signed_group_info(
    cs: &dyn CipherSuiteProvider,
    parts: GroupInfoParts<'_>,
    signer: &SignaturePrivateKey,
) -> Result<GroupInfo> {
    let mut extensions = Vec::new();
    if let Some(secret) = parts.external_secret {
        let (_, external_pub) = secret.key_pair(cs)?;
        extensions.push(Extension::from_typed(&ExternalPub { external_pub })?);
    }
    if let Some(tree) = parts.ratchet_tree {
        extensions.push(Extension::from_typed(tree)?);
    }
    let mut gi = GroupInfo {
        group_context: parts.context.clone(),
        extensions,
        confirmation_tag: parts.confirmation_tag.clone(),
        signer: parts.signer.0,
        signature: Vec::new(),
    };
    gi.sign(cs, signer)?;
    Ok(gi)
}

impl Group {
    /// A GroupInfo of the current epoch signed by this member (RFC 9420
    /// §12.4.3), with the `external_pub` extension so that new members can
    /// join with [`Group::join_external`] (§12.4.3.2), and the ratchet tree
    /// (§12.4.3.3) if `with_ratchet_tree` (else joiners need it out of band,
    /// from [`Group::tree`]).
    ///
    /// A GroupInfo is good for one external join: the commit starts a new
    /// epoch, whose members must publish a new one.
    pub fn group_info(&self, with_ratchet_tree: bool) -> Result<MlsMessage> {
        // A group closed by a ReInit takes no one in (RFC 9420 §12.4.2).
        self.ensure_active()?;
        let tree = with_ratchet_tree.then(|| self.tree.to_extension());
        let gi = signed_group_info(
            &*self.cs,
            GroupInfoParts {
                context: &self.context,
                confirmation_tag: &self.confirmation_tag,
                external_secret: Some(&self.keys.external_secret),
                ratchet_tree: tree.as_ref(),
                signer: self.own_leaf,
            },
            &self.signer,
        )?;
        Ok(MlsMessage::GroupInfo(gi))
    }
}
