//! Groups that resume another: what a new group takes from the group it
//! reinitializes or branches from (RFC 9420 §8.6, §11.2, §11.3), and the
//! checks a joiner runs on it (§12.4.3.1).
//!
//! A new group is tied to an old one by a resumption PSK: the
//! `resumption_psk` of one epoch of the old group, injected into the new
//! group's first commit. Only members of the old group in that epoch hold it,
//! so only they can join. [`ReInit`](crate::messages::ReInit) closes the old group and recreates it with
//! new parameters ([`Group::reinit_group`]); a branch starts a subgroup of
//! some members and leaves the old group as it is ([`Group::branch`]). In both
//! cases the others join with [`Group::join_with_resumption`], giving a
//! [`ResumptionSource`] that holds the old group.

use std::collections::HashMap;

use super::commit::CommitOptions;
use super::key_package::{Identity, KeyPackageOptions};
use super::{Group, GroupConfig};
use crate::codec::Encode;
use crate::crypto::{CipherSuite, CryptoProvider, Secret};
use crate::error::{ApiError, Result};
use crate::messages::{
    Add, Capabilities, Credential, KeyPackage, MlsMessage, PreSharedKeyId, Proposal,
    ProtocolVersion, Psk, RatchetTreeExtension, ReInit, ResumptionPsk, ResumptionPskUsage,
};

/// What a member still holds of one epoch of a group, for joining a group
/// that resumes it (RFC 9420 §8.6, §12.4.3.1).
#[derive(Clone, Debug)]
pub struct ResumptionEpoch {
    /// The epoch's `resumption_psk`.
    pub psk: Secret,
    /// The group's protocol version.
    pub version: ProtocolVersion,
    /// The group's cipher suite.
    pub cipher_suite: CipherSuite,
    /// The credentials of the group's members in that epoch, in leaf order,
    /// or `None` if they are no longer kept.
    pub members: Option<Vec<Credential>>,
    /// The ReInit committed by the commit that started this epoch, if any:
    /// only such an epoch can be resumed with usage `reinit` (§12.4.3.1).
    pub reinit: Option<ReInit>,
}

/// Where a joiner finds the groups a Welcome may resume (RFC 9420 §8.6).
///
/// A [`Group`] is a source for itself: its current epoch and, for past
/// epochs, what [`GroupConfig::max_resumption_psks`] and
/// [`GroupConfig::max_past_epochs`] keep. An application with several groups
/// implements it over all of them; `()` holds none.
pub trait ResumptionSource {
    /// The epoch `epoch` of group `group_id`, if this member was in it and
    /// still holds its resumption PSK.
    fn resumption_epoch(&self, group_id: &[u8], epoch: u64) -> Option<ResumptionEpoch>;
}

/// No group at all.
impl ResumptionSource for () {
    fn resumption_epoch(&self, _group_id: &[u8], _epoch: u64) -> Option<ResumptionEpoch> {
        None
    }
}

impl<T: ResumptionSource + ?Sized> ResumptionSource for &T {
    fn resumption_epoch(&self, group_id: &[u8], epoch: u64) -> Option<ResumptionEpoch> {
        (**self).resumption_epoch(group_id, epoch)
    }
}

/// The first source that has the epoch.
impl<T: ResumptionSource> ResumptionSource for [T] {
    fn resumption_epoch(&self, group_id: &[u8], epoch: u64) -> Option<ResumptionEpoch> {
        self.iter()
            .find_map(|s| s.resumption_epoch(group_id, epoch))
    }
}

impl ResumptionSource for Group {
    fn resumption_epoch(&self, group_id: &[u8], epoch: u64) -> Option<ResumptionEpoch> {
        if group_id != self.context.group_id.as_slice() {
            return None;
        }
        let psk = self.resumption_psk(epoch)?.clone();
        let members = if epoch == self.context.epoch {
            Some(&*self.tree)
        } else {
            self.past_epochs
                .iter()
                .find(|p| p.epoch == epoch)
                .map(|p| &*p.tree)
        }
        .map(|tree| {
            tree.members()
                .map(|(_, leaf)| leaf.credential.clone())
                .collect()
        });
        // The group stops at the epoch its ReInit started (§12.4.2).
        let reinit = if epoch == self.context.epoch {
            self.reinit.clone()
        } else {
            None
        };
        Some(ResumptionEpoch {
            psk,
            version: self.context.version,
            cipher_suite: self.context.cipher_suite,
            members,
            reinit,
        })
    }
}

/// The identifier a credential presents, as the application sees it. RFC
/// 9420 §11.2 and §11.3 compare the members of a resumed group with the old
/// group's "according to the application": two leaves are the same
/// participant when their credentials present equivalent identifiers, that
/// is, when this gives equal bytes. [`CredentialIdentity`] is the default;
/// closures `Fn(&Credential) -> Vec<u8>` implement it.
pub trait ParticipantIdentity {
    /// The participant `credential` names.
    fn identity(&self, credential: &Credential) -> Vec<u8>;
}

/// A credential names itself: two leaves are the same participant when their
/// credentials are equal (for a basic credential, the same identity).
#[derive(Clone, Copy, Debug, Default)]
pub struct CredentialIdentity;

impl ParticipantIdentity for CredentialIdentity {
    fn identity(&self, credential: &Credential) -> Vec<u8> {
        let mut out = Vec::new();
        // The TLS encoding of a credential is injective; a credential too
        // large to encode (never seen on the wire) names nobody else.
        match credential.encode(&mut out) {
            Ok(()) => out,
            Err(_) => Vec::new(),
        }
    }
}

impl<F: Fn(&Credential) -> Vec<u8>> ParticipantIdentity for F {
    fn identity(&self, credential: &Credential) -> Vec<u8> {
        self(credential)
    }
}

/// How many leaves of `credentials` each participant has.
pub(crate) fn participants<'a>(
    credentials: impl IntoIterator<Item = &'a Credential>,
    ids: &dyn ParticipantIdentity,
) -> HashMap<Vec<u8>, usize> {
    let mut out: HashMap<Vec<u8>, usize> = HashMap::new();
    for c in credentials {
        *out.entry(ids.identity(c)).or_default() += 1;
    }
    out
}

/// Adds to `caps` the extension, proposal and credential types of `from`
/// that it lacks: the creator of a resumed group keeps what its leaf in the
/// old group supported (and so the old group's required capabilities).
pub(crate) fn inherit_capabilities(caps: &mut Capabilities, from: &Capabilities) {
    fn extend_missing<T: PartialEq + Clone>(to: &mut Vec<T>, from: &[T]) {
        for x in from {
            if !to.contains(x) {
                to.push(x.clone());
            }
        }
    }
    extend_missing(&mut caps.extensions, &from.extensions);
    extend_missing(&mut caps.proposals, &from.proposals);
    extend_missing(&mut caps.credentials, &from.credentials);
}

/// How to create a group that resumes another ([`Group::reinit_group`],
/// [`Group::branch`]).
#[derive(Clone, Debug)]
pub struct ResumptionOptions {
    /// The new group's configuration.
    pub config: GroupConfig,
    /// The creator's leaf in the new group (lifetime, capabilities, extensions).
    pub leaf: KeyPackageOptions,
    /// Put the ratchet tree in the Welcome's GroupInfo (else hand it out of
    /// band from [`ResumptionOutput::ratchet_tree`]). Default true.
    pub ratchet_tree_in_welcome: bool,
    /// Also return a signed GroupInfo of the new group, for external joins.
    pub group_info: bool,
    /// The time to check the KeyPackages' lifetimes against (`None`: no check).
    pub now: Option<u64>,
}

impl ResumptionOptions {
    /// Default options with the creator's leaf made from `leaf`.
    pub fn new(leaf: KeyPackageOptions) -> Self {
        Self {
            config: GroupConfig::default(),
            leaf,
            ratchet_tree_in_welcome: true,
            group_info: false,
            now: None,
        }
    }
}

/// What creating a resumed group gives besides the group itself.
#[derive(Clone, Debug)]
pub struct ResumptionOutput {
    /// The Welcome for the other members, if there are any.
    pub welcome: Option<MlsMessage>,
    /// The ratchet tree of the new group, for joiners when it is not in the
    /// Welcome: present when there is a Welcome.
    pub ratchet_tree: Option<RatchetTreeExtension>,
    /// A signed GroupInfo of the new group, if asked for.
    pub group_info: Option<MlsMessage>,
}

impl Group {
    /// The resumption PSK id of this group's current epoch with `usage`, with
    /// a fresh nonce of `KDF.Nh` bytes of the new group's suite (§8.4, §11.3).
    fn resumption_psk_id(
        &self,
        usage: ResumptionPskUsage,
        new_group: &Group,
    ) -> Result<PreSharedKeyId> {
        let cs = &*new_group.cs;
        let nonce = cs.random_secret(cs.kdf_len())?;
        Ok(PreSharedKeyId {
            psk: Psk::Resumption(ResumptionPsk {
                usage,
                psk_group_id: self.context.group_id.clone(),
                psk_epoch: self.context.epoch,
            }),
            psk_nonce: nonce.as_bytes().to_vec(),
        })
    }

    /// Creates a group that resumes this one's current epoch with `usage`
    /// (RFC 9420 §11.2, §11.3): a one-member group in epoch 0, then its first
    /// commit, which adds `key_packages` and injects the resumption PSK, so
    /// that the new group starts in epoch 1.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create_resumed(
        &self,
        provider: &dyn CryptoProvider,
        usage: ResumptionPskUsage,
        params: &ReInit,
        identity: &Identity,
        key_packages: &[KeyPackage],
        options: ResumptionOptions,
    ) -> Result<(Group, ResumptionOutput)> {
        if params.version != ProtocolVersion::MLS10 {
            return Err(ApiError::InvalidArgument("only MLS 1.0 groups can be created").into());
        }
        let mut group = Group::create(
            provider,
            options.config,
            params.cipher_suite,
            params.group_id.clone(),
            identity,
            options.leaf,
            params.extensions.clone(),
        )?;
        let psk_id = self.resumption_psk_id(usage, &group)?;
        let out = group.commit_inner(
            CommitOptions {
                proposals: key_packages
                    .iter()
                    .map(|kp| {
                        Proposal::Add(Add {
                            key_package: kp.clone(),
                        })
                    })
                    .collect(),
                include_pending: false,
                only_pending: None,
                force_path: false,
                ratchet_tree_in_welcome: options.ratchet_tree_in_welcome,
                group_info: options.group_info,
                authenticated_data: Vec::new(),
            },
            &(),
            options.now,
            &[(psk_id, self.keys.resumption_psk.clone())],
        )?;
        group.merge_pending_commit()?;
        Ok((
            group,
            ResumptionOutput {
                welcome: out.welcome,
                ratchet_tree: out.ratchet_tree,
                group_info: out.group_info,
            },
        ))
    }
}
