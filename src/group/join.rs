//! Joining a group from a Welcome (RFC 9420 §12.4.3.1).

use std::collections::VecDeque;
use std::sync::Arc;

use super::incremental::Journal;
use super::key_package::KeyPackagePrivate;
use super::own_messages::OwnMessages;
use super::proposals::{check_psk_nonce, leaf_supports_extensions, lifetime_check};
use super::resumption::{
    CredentialIdentity, ParticipantIdentity, ResumptionEpoch, ResumptionSource, participants,
};
use super::{EpochKeys, Group, GroupConfig, PskStore};
use crate::crypto::{CryptoProvider, Secret, SignaturePrivateKey};
use crate::error::{ApiError, Error, ProtocolError, Result};
use crate::key_schedule::JoinerSecret;
use crate::messages::{
    ExtensionList, ExtensionType, GroupContext, GroupInfo, KeyPackage, PreSharedKeyId, Psk,
    RatchetTreeExtension, ResumptionPsk, ResumptionPskUsage, Welcome,
};
use crate::psk::PskSecret;
use crate::tree::{LeafValidationContext, RatchetTree, TreePrivateKeys};
use crate::tree_math::LeafIndex;

/// What a new member needs besides the Welcome.
pub struct JoinInput<'a> {
    /// The KeyPackage the Welcome was made for.
    pub key_package: &'a KeyPackage,
    /// Its private keys.
    pub key_package_private: &'a KeyPackagePrivate,
    /// The new member's signature private key (of the KeyPackage's leaf).
    pub signer: SignaturePrivateKey,
    /// The ratchet tree, if the Welcome's GroupInfo does not carry it.
    pub ratchet_tree: Option<RatchetTreeExtension>,
    /// External PSKs the Welcome may name.
    pub psk_store: &'a dyn PskStore,
    /// The current time (seconds since the Unix epoch) to check leaf
    /// lifetimes against, or `None` not to check them.
    pub now: Option<u64>,
}

/// Looks up the values of the PSKs a Welcome or Commit names (RFC 9420 §8.4).
/// `resumption` gives the resumption PSKs the caller may use (for a member,
/// its own group's; for a joiner, those of the groups it resumes). Which
/// usages are allowed is the caller's to check; the nonce length is checked
/// here (§12.1.4).
pub(crate) fn resolve_psks(
    cs: &dyn crate::crypto::CipherSuiteProvider,
    ids: &[PreSharedKeyId],
    store: &dyn PskStore,
    resumption: &dyn Fn(&ResumptionPsk) -> Option<Secret>,
) -> Result<PskSecret> {
    let mut values = Vec::with_capacity(ids.len());
    for id in ids {
        check_psk_nonce(cs, id)?;
        let value = match &id.psk {
            Psk::External { psk_id } => store.external_psk(psk_id),
            Psk::Resumption(r) => resumption(r),
        };
        values.push(value.ok_or(ProtocolError::PskNotFound)?);
    }
    PskSecret::compute(cs, ids.iter().zip(values.iter()))
}

impl Group {
    /// Joins a group from a Welcome message (RFC 9420 §12.4.3.1), running every
    /// check the RFC requires of a new member.
    ///
    /// The private keys in `input` must be those of the KeyPackage: its init
    /// and encryption keys, and `signer` for its leaf's signature key
    /// (else [`ApiError::SignatureKeyMismatch`]).
    ///
    /// One check is the caller's: "Verify that the group_id is unique among
    /// the groups that the client is currently participating in" (RFC 9420
    /// §12.4.3.1, §12.4.3). A `Group` does not know the member's other
    /// groups, so until a client layer that owns them does it, the caller
    /// must drop the returned group if its [`Group::group_id`] is one it
    /// already participates in (and keep the group it has).
    ///
    /// A Welcome into a group that reinitializes or branches another names a
    /// resumption PSK of that group: join it with
    /// [`Group::join_with_resumption`] (here it fails with
    /// [`ProtocolError::PskNotFound`]).
    pub fn join(
        provider: &dyn CryptoProvider,
        config: GroupConfig,
        welcome: &Welcome,
        input: JoinInput<'_>,
    ) -> Result<Group> {
        Self::join_with_resumption(provider, config, welcome, input, &(), &CredentialIdentity)
    }

    /// [`Group::join`], with the groups this member was in: resumption PSKs
    /// the Welcome names are taken from `groups` (RFC 9420 §8.6). A Welcome
    /// that reinitializes or branches one of them (a resumption PSK with
    /// usage `reinit` or `branch`) is checked as RFC 9420 §12.4.3.1 requires:
    ///
    /// - it names one such PSK only ([`ProtocolError::ResumptionPskNotUnique`])
    ///   and this member holds it ([`ProtocolError::PskNotFound`]);
    /// - the new group is in epoch 1 ([`ProtocolError::ResumptionEpochNotOne`]);
    /// - `reinit`: the PSK's epoch is the one the old group's ReInit commit
    ///   started ([`ProtocolError::ReInitNotCommitted`]), the new group has the
    ///   ReInit's group id, version, cipher suite and extensions
    ///   ([`ProtocolError::ReInitParameterMismatch`]) and the old group's
    ///   members, as `ids` identifies them ([`ProtocolError::ReInitMembersMismatch`]);
    /// - `branch`: the new group has the old group's version and cipher suite
    ///   ([`ProtocolError::BranchParameterMismatch`]) and each of its members,
    ///   the creator too, was a member of the old group in the PSK's epoch
    ///   ([`ProtocolError::BranchMemberNotInParent`],
    ///   [`ProtocolError::ResumptionMembersUnavailable`]).
    pub fn join_with_resumption(
        provider: &dyn CryptoProvider,
        config: GroupConfig,
        welcome: &Welcome,
        input: JoinInput<'_>,
        groups: &dyn ResumptionSource,
        ids: &dyn ParticipantIdentity,
    ) -> Result<Group> {
        Self::join_resumed(provider, config, welcome, input, groups, ids).map(|(g, _)| g)
    }

    /// [`Group::join_with_resumption`], also giving the Welcome's resumption
    /// PSK with usage `reinit` or `branch`, if it has one (checked).
    pub(crate) fn join_resumed(
        provider: &dyn CryptoProvider,
        config: GroupConfig,
        welcome: &Welcome,
        input: JoinInput<'_>,
        groups: &dyn ResumptionSource,
        ids: &dyn ParticipantIdentity,
    ) -> Result<(Group, Option<ResumptionPsk>)> {
        config.validate()?;
        let kp = input.key_package;
        if welcome.cipher_suite != kp.cipher_suite {
            return Err(ProtocolError::WelcomeCipherSuiteMismatch.into());
        }
        let cs = provider.cipher_suite_provider(welcome.cipher_suite)?;
        let cs_ref = &*cs;
        if cs.signature_public_key(&input.signer)? != kp.leaf_node.signature_key {
            return Err(ApiError::SignatureKeyMismatch.into());
        }
        if cs.hpke_public_key(&input.key_package_private.init_key)? != kp.init_key {
            return Err(ApiError::InvalidArgument(
                "private init key does not match the KeyPackage",
            )
            .into());
        }

        // 1. Our GroupSecrets, then the PSKs and the welcome key to open the GroupInfo.
        let group_secrets = crate::welcome::open_group_secrets(
            cs_ref,
            welcome,
            kp,
            &input.key_package_private.init_key,
        )?;
        // "If a PreSharedKeyID has type resumption with usage reinit or
        // branch, verify that it is the only such PSK."
        let mut linking = group_secrets.psks.iter().filter_map(|id| match &id.psk {
            Psk::Resumption(r) if r.usage != ResumptionPskUsage::Application => Some(r),
            _ => None,
        });
        let link = linking.next();
        if linking.next().is_some() {
            return Err(ProtocolError::ResumptionPskNotUnique.into());
        }
        let resumed = match link {
            Some(r) => Some((
                r,
                groups
                    .resumption_epoch(&r.psk_group_id, r.psk_epoch)
                    .ok_or(ProtocolError::PskNotFound)?,
            )),
            None => None,
        };
        let psk_secret =
            resolve_psks(
                cs_ref,
                &group_secrets.psks,
                input.psk_store,
                &|r| match &resumed {
                    Some((link, epoch)) if *link == r => Some(epoch.psk.clone()),
                    _ => groups
                        .resumption_epoch(&r.psk_group_id, r.psk_epoch)
                        .map(|e| e.psk),
                },
            )?;
        let (group_info, intermediate) = crate::welcome::open_group_info(
            cs_ref,
            JoinerSecret::from_secret(group_secrets.joiner_secret.clone()),
            psk_secret,
            &welcome.encrypted_group_info,
        )?;
        let context = group_info.group_context.clone();
        if context.cipher_suite != welcome.cipher_suite || context.version != kp.version {
            return Err(ProtocolError::WelcomeCipherSuiteMismatch.into());
        }

        // 3-5. The tree, the GroupInfo signature, the whole tree.
        let tree = verified_tree(
            cs_ref,
            &group_info,
            input.ratchet_tree,
            input.now,
            config.max_group_size,
        )?;

        // 6. Our own leaf.
        let own_leaf = tree
            .members()
            .find(|(_, leaf)| **leaf == kp.leaf_node)
            .map(|(i, _)| i)
            .ok_or(ProtocolError::OwnLeafNotFound)?;
        // "Extensions in GroupInfo.group_context.extensions ... MUST be
        // supported by the new joiner" (RFC 9420 §12.4.3).
        if !leaf_supports_extensions(
            &kp.leaf_node,
            &context.extensions,
            context
                .extensions
                .parse::<crate::messages::RequiredCapabilities>()?
                .as_ref(),
        ) {
            return Err(ProtocolError::UnsupportedGroupContextExtensions(own_leaf.0).into());
        }
        let mut path_keys =
            TreePrivateKeys::new(own_leaf, input.key_package_private.encryption_key.clone());
        if cs.hpke_public_key(&input.key_package_private.encryption_key)?
            != kp.leaf_node.encryption_key
        {
            return Err(ApiError::InvalidArgument(
                "private encryption key does not match the KeyPackage",
            )
            .into());
        }

        // 7. The path secret, if any: keys from the common ancestor with the
        //    committer (the GroupInfo signer) up to the root.
        if let Some(ps) = &group_secrets.path_secret {
            let ancestor = tree
                .size()
                .common_ancestor(own_leaf.node(), LeafIndex(group_info.signer).node());
            // "The private key MUST be the private key that corresponds to
            // the public key in the node" (RFC 9420 §12.4.3.1).
            path_keys
                .set_path_secrets_from(&tree, cs_ref, ancestor, ps.path_secret.clone())
                .map_err(|e| match e {
                    Error::Protocol(ProtocolError::UpdatePathPublicKeyMismatch(n)) => {
                        ProtocolError::PathSecretPublicKeyMismatch(n).into()
                    }
                    e => e,
                })?;
        }

        // 8. The epoch secrets and the confirmation tag.
        let secrets = intermediate
            .into_epoch_secret(cs_ref, &context)?
            .into_epoch_secrets(cs_ref)?;
        crate::transcript::verify_confirmation_tag(
            cs_ref,
            &secrets.confirmation_key,
            &context.confirmed_transcript_hash,
            &group_info.confirmation_tag,
        )?;
        let tag = group_info.confirmation_tag.clone();
        let interim_transcript_hash = crate::transcript::interim_transcript_hash(
            cs_ref,
            &context.confirmed_transcript_hash,
            &tag,
        )?;
        if let Some((link, old)) = &resumed {
            check_resumed(link, old, &context, &tree, ids)?;
        }
        let keys = EpochKeys::new(cs_ref, secrets, tree.size(), config.secret_tree);
        let link = resumed.map(|(link, _)| link.clone());
        let group = Group {
            cs: cs.clone(),
            config,
            context,
            tree: Arc::new(tree),
            interim_transcript_hash,
            confirmation_tag: tag,
            own_leaf,
            signer: input.signer,
            path_keys,
            keys,
            past_epochs: VecDeque::new(),
            resumption_psks: VecDeque::new(),
            proposals: Vec::new(),
            pending_commit: None,
            journal: Journal::new_group(),
            own_messages: OwnMessages::default(),
            reinit: None,
        };
        Ok((group, link))
    }
}

/// The last checks of a Welcome that reinitializes or branches the group
/// `old` (RFC 9420 §11.2, §11.3, §12.4.3.1), on the verified new group.
fn check_resumed(
    link: &ResumptionPsk,
    old: &ResumptionEpoch,
    context: &GroupContext,
    tree: &RatchetTree,
    ids: &dyn ParticipantIdentity,
) -> Result<()> {
    // "verify that the epoch field in the GroupInfo is equal to 1".
    if context.epoch != 1 {
        return Err(ProtocolError::ResumptionEpochNotOne(context.epoch).into());
    }
    let old_members = old
        .members
        .as_ref()
        .ok_or(ProtocolError::ResumptionMembersUnavailable(link.psk_epoch))?;
    let old_ids = participants(old_members, ids);
    match link.usage {
        ResumptionPskUsage::Reinit => {
            // "verify that the last Commit to the referenced group contains a
            // ReInit proposal and that the group_id, version, cipher_suite,
            // and group_context.extensions fields of the GroupInfo match".
            let reinit = old
                .reinit
                .as_ref()
                .ok_or(ProtocolError::ReInitNotCommitted)?;
            let mismatch = if context.group_id != reinit.group_id {
                Some("group_id")
            } else if context.version != reinit.version {
                Some("version")
            } else if context.cipher_suite != reinit.cipher_suite {
                Some("cipher_suite")
            } else if context.extensions != reinit.extensions {
                Some("extensions")
            } else {
                None
            };
            if let Some(field) = mismatch {
                return Err(ProtocolError::ReInitParameterMismatch(field).into());
            }
            // "verify that all the members of the old group are also members
            // of the new group, according to the application" (and no one else).
            let new_ids = participants(tree.members().map(|(_, l)| &l.credential), ids);
            if new_ids != old_ids {
                return Err(ProtocolError::ReInitMembersMismatch.into());
            }
        }
        ResumptionPskUsage::Branch => {
            // "verify that the version and cipher_suite of the new group
            // match those of the old group, and that the members of the new
            // group compose a subset of the members of the old group".
            if context.version != old.version {
                return Err(ProtocolError::BranchParameterMismatch("version").into());
            }
            if context.cipher_suite != old.cipher_suite {
                return Err(ProtocolError::BranchParameterMismatch("cipher_suite").into());
            }
            if let Some((leaf, _)) = tree
                .members()
                .find(|(_, l)| !old_ids.contains_key(&ids.identity(&l.credential)))
            {
                return Err(ProtocolError::BranchMemberNotInParent(leaf.0).into());
            }
        }
        ResumptionPskUsage::Application => {}
    }
    Ok(())
}

/// The ratchet tree of a GroupInfo's epoch, checked as a new member must
/// before using it (RFC 9420 §12.4.3.1, also for external joins, §12.4.3.2):
///
/// 1. the tree comes from the GroupInfo's `ratchet_tree` extension, else
///    from `ratchet_tree` supplied out of band; either is refused with
///    [`ProtocolError::GroupTooLarge`] if it spans more than
///    `max_group_size` leaves (the extension as soon as it is decoded that
///    far);
/// 2. the GroupInfo signature verifies with the signer's leaf key;
/// 3. the whole tree is valid: tree hash, parent hashes, unmerged leaves and
///    every leaf node (lifetimes checked at `now`, if given);
/// 4. the group context's extensions are unique.
///
/// Before all that, the GroupInfo's own extensions must be unique (§13.4).
pub(crate) fn verified_tree(
    cs: &dyn crate::crypto::CipherSuiteProvider,
    group_info: &GroupInfo,
    ratchet_tree: Option<RatchetTreeExtension>,
    now: Option<u64>,
    max_group_size: u32,
) -> Result<RatchetTree> {
    let context = &group_info.group_context;
    group_info.extensions.check_unique()?;
    let tree_ext = match group_info.extensions.find(ExtensionType::RATCHET_TREE) {
        Some(e) => RatchetTreeExtension::decode_bounded(&e.extension_data, max_group_size)?,
        None => {
            let t = ratchet_tree.ok_or(ProtocolError::RatchetTreeMissing)?;
            t.check_width(max_group_size)?;
            t
        }
    };
    let tree = RatchetTree::from_extension(context.cipher_suite, tree_ext)?;
    let signer_leaf = tree
        .leaf(LeafIndex(group_info.signer))
        .ok_or(ProtocolError::GroupInfoSignerNotMember(group_info.signer))?;
    let ctx = LeafValidationContext::from_group_context(context, lifetime_check(now))?;
    // Both checked (in parallel with the crate feature `parallel`: the
    // GroupInfo's signature covers the whole tree), the signature's error
    // first.
    let (signature, valid) = crate::parallel::join(
        || group_info.verify_signature(cs, &signer_leaf.signature_key),
        || tree.validate(cs, &ctx, &context.tree_hash),
    );
    signature?;
    valid?;
    context.extensions.check_unique()?;
    Ok(tree)
}
