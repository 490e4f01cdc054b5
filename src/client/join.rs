//! Creating and joining groups.

use super::events::{Event, GroupId, MemberInfo};
use super::records::{KeyPackageRecord, corrupted};
use super::{Client, poisoned};
use crate::codec::{Decode, Encode};
use crate::error::{ApiError, ProtocolError, Result};
use crate::group::{ExternalJoinOptions, Group, JoinInput};
use crate::messages::{MlsMessage, RatchetTreeExtension, Welcome};
use crate::storage::{Batch, RecordKind};
use crate::tree_math::LeafIndex;

/// How to join a group by external commit ([`Client::join_external`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExternalJoin {
    /// The ratchet tree (a `ratchet_tree` extension's content, RFC 9420
    /// §12.4.3.3), if the GroupInfo does not carry it.
    pub ratchet_tree: Option<Vec<u8>>,
    /// For a resync: the leaf of this client's earlier appearance in the
    /// group, which the commit removes (RFC 9420 §12.4.3.2). Members ask
    /// their identity validator whether the new credential is the same
    /// participant.
    pub remove: Option<LeafIndex>,
    /// Replace a group with the same id that this client already has
    /// (its state lost or broken: a resync). Without it, that is an error.
    pub replace_existing: bool,
}

/// The members of `group`, for the joined event.
fn joined_event(group: &Group) -> Event {
    Event::Joined {
        group: GroupId(group.group_id().to_vec()),
        epoch: group.epoch(),
        members: group
            .tree()
            .members()
            .map(|(leaf, node)| MemberInfo {
                leaf,
                credential: node.credential.clone(),
            })
            .collect(),
    }
}

impl Client {
    /// Creates a group with this client alone in it.
    pub fn create_group(&self, group_id: impl AsRef<[u8]>) -> Result<GroupId> {
        self.create_group_with_extensions(group_id, Vec::new())
    }

    /// Creates a group with this client alone in it and these group context
    /// extensions (`external_senders`, `required_capabilities`, ...; RFC
    /// 9420 §11). External senders are shown to the identity validator.
    pub fn create_group_with_extensions(
        &self,
        group_id: impl AsRef<[u8]>,
        extensions: Vec<crate::messages::Extension>,
    ) -> Result<GroupId> {
        let id = group_id.as_ref();
        self.validate_external_senders(id, &extensions, &[])?;
        let _guard = self.membership.lock().map_err(poisoned)?;
        if self.has_group(id)? {
            return Err(ApiError::GroupExists.into());
        }
        let group = Group::create(
            &*self.provider,
            self.config.group.clone(),
            self.config.cipher_suite,
            id.to_vec(),
            &self.identity,
            self.leaf_options(),
            extensions,
        )?;
        self.store_new_group(group, Batch::default())?;
        Ok(GroupId(id.to_vec()))
    }

    /// Joins a group from a Welcome (an MLSMessage) addressed to one of this
    /// client's KeyPackages, whose GroupInfo carries the ratchet tree. The
    /// KeyPackage is deleted in the same write as the new group, unless it
    /// is last-resort. Every member's credential (and the group's external
    /// senders) is shown to the identity validator first.
    ///
    /// Fails, changing nothing, with [`ApiError::GroupExists`] if the
    /// client already has the group (RFC 9420 §12.4.3.1), with
    /// [`ProtocolError::WelcomeNotForUs`] if no KeyPackage of this client is
    /// addressed, and with the error of any check that fails.
    pub fn join(&self, welcome: &[u8]) -> Result<Event> {
        self.join_with_tree(welcome, None)
    }

    /// [`Client::join`] with the ratchet tree supplied out of band (the
    /// encoded content of a `ratchet_tree` extension), for a Welcome whose
    /// GroupInfo does not carry it.
    pub fn join_with_tree(&self, welcome: &[u8], ratchet_tree: Option<&[u8]>) -> Result<Event> {
        let welcome = match MlsMessage::decode_exact(welcome)? {
            MlsMessage::Welcome(w) => w,
            _ => return Err(ApiError::InvalidArgument("not a Welcome").into()),
        };
        let tree = ratchet_tree
            .map(RatchetTreeExtension::decode_exact)
            .transpose()?;
        self.join_welcome(&welcome, tree)
    }

    pub(super) fn join_welcome(
        &self,
        welcome: &Welcome,
        ratchet_tree: Option<RatchetTreeExtension>,
    ) -> Result<Event> {
        let _guard = self.membership.lock().map_err(poisoned)?;
        // The KeyPackage the Welcome is for: the first entry we hold.
        let mut found = None;
        for secrets in &welcome.secrets {
            if let Some(value) = self
                .store
                .get(RecordKind::KeyPackage, &secrets.new_member.0)?
            {
                found = Some((secrets.new_member.0.clone(), value));
                break;
            }
        }
        let (reference, value) = found.ok_or(ProtocolError::WelcomeNotForUs)?;
        let record = KeyPackageRecord::decode(&value).map_err(corrupted("KeyPackage"))?;
        let now = self
            .config
            .lifetime
            .check_tree_on_join
            .then(|| self.clock.now());
        let group = Group::join(
            &*self.provider,
            self.config.group.clone(),
            welcome,
            JoinInput {
                key_package: &record.key_package,
                key_package_private: &record.private,
                signer: self.identity.signer().clone(),
                ratchet_tree,
                psk_store: &*self.psks,
                now,
            },
        )?;
        if self.has_group(group.group_id())? {
            return Err(ApiError::GroupExists.into());
        }
        self.validate_joined_tree(
            group.group_id(),
            group.tree(),
            group.own_leaf(),
            &group.context().extensions,
        )?;
        let event = joined_event(&group);
        let mut extra = Batch::default();
        if !record.last_resort {
            // The KeyPackage's private keys go with the write that uses them.
            extra.delete(RecordKind::KeyPackage, reference);
        }
        self.store_new_group(group, extra)?;
        Ok(event)
    }

    /// Joins a group by external commit (RFC 9420 §12.4.3.2) from its
    /// GroupInfo (an MLSMessage, as [`Client::group_info`] gives it).
    /// Returns the joined event and the commit to send to the group. The
    /// joiner is in the new epoch at once; if the delivery service refuses
    /// the commit, delete the group and join again from a newer GroupInfo.
    ///
    /// Every member's credential and the group's external senders are
    /// shown to the identity validator first.
    ///
    /// ```
    /// use tessera::client::{Client, ExternalJoin};
    /// use tessera::messages::Credential;
    /// use tessera::storage::MemoryStore;
    ///
    /// let alice = Client::create(Credential::basic("alice"), MemoryStore::new())?;
    /// let carol = Client::create(Credential::basic("carol"), MemoryStore::new())?;
    /// alice.create_group("team")?;
    /// let group_info = alice.group_info("team")?; // published by a member
    /// let (_joined, commit) = carol.join_external(&group_info, ExternalJoin::default())?;
    /// alice.process(&commit)?; // the delivery service accepted Carol's commit
    /// assert_eq!(alice.members("team")?.len(), 2);
    /// # Ok::<(), tessera::Error>(())
    /// ```
    pub fn join_external(
        &self,
        group_info: &[u8],
        options: ExternalJoin,
    ) -> Result<(Event, Vec<u8>)> {
        let group_info = match MlsMessage::decode_exact(group_info)? {
            MlsMessage::GroupInfo(gi) => gi,
            _ => return Err(ApiError::InvalidArgument("not a GroupInfo").into()),
        };
        let ratchet_tree = options
            .ratchet_tree
            .as_deref()
            .map(RatchetTreeExtension::decode_exact)
            .transpose()?;
        let _guard = self.membership.lock().map_err(poisoned)?;
        let id = group_info.group_context.group_id.clone();
        if !options.replace_existing && self.has_group(&id)? {
            return Err(ApiError::GroupExists.into());
        }
        let now = self
            .config
            .lifetime
            .check_tree_on_join
            .then(|| self.clock.now());
        let (group, commit) = Group::join_external(
            &*self.provider,
            self.config.group.clone(),
            &group_info,
            &self.identity,
            ExternalJoinOptions {
                ratchet_tree,
                remove: options.remove,
                ..ExternalJoinOptions::default()
            },
            &*self.psks,
            now,
        )?;
        self.validate_joined_tree(
            &id,
            group.tree(),
            group.own_leaf(),
            &group.context().extensions,
        )?;
        let event = joined_event(&group);
        let commit = commit.to_bytes()?;
        if options.replace_existing {
            // Whatever was loaded of the old group is stale.
            let slot = self.slot(&id)?;
            slot.lock().map_err(poisoned)?.loaded = None;
        }
        self.store_new_group(group, Batch::default())?;
        Ok((event, commit))
    }
}
