//! What an application calls: a [`Client`] per device, owning its identity,
//! its KeyPackages and its groups, persisted in a [`Storage`].
//!
//! Bytes go in and out; everything else is the client's job:
//!
//! * **Identity and KeyPackages.** The client's credential and signature
//!   key; KeyPackages generated in batches (their private keys stay in the
//!   store), found again when a Welcome arrives and deleted in the same
//!   write as the new group, unless marked last-resort.
//! * **Groups by id.** Create, join (by Welcome, refusing a group id it
//!   already has, RFC 9420 §12.4.3.1, or by external commit), list, delete.
//!   [`Client::process`] routes each message to its group. A message for a
//!   later epoch is held (bounded) and processed once the commit that
//!   reaches its epoch is merged.
//! * **Policy hooks**, applied alike on every member: an
//!   [`IdentityValidator`] sees every credential that enters or changes a
//!   group; a [`ProposalPolicy`] decides which proposals are accepted and
//!   which cached ones a commit covers. A commit never fails because of one
//!   bad or conflicting cached proposal: it is left out, and the commit
//!   result says so.
//! * **Events**: [`Event`]s tell what happened: application data (with the
//!   sender's credential as of the message's epoch), proposals, merged
//!   commits (who was added, removed, updated), removal of this member,
//!   joins.
//! * **Incremental, atomic storage.** Each operation writes one [`Batch`]
//!   (see [`crate::storage`]): a received application message writes a few
//!   hundred bytes (the sender's ratchet), never the group; an epoch's state
//!   is written once per epoch.
//!
//! A `Client` is `Send + Sync`: operations on different groups run in
//! parallel; those on one group are serialised.
//!
//! ```
//! use tessera::client::Client;
//! use tessera::messages::Credential;
//! use tessera::storage::MemoryStore;
//!
//! let alice = Client::create(Credential::basic("alice"), MemoryStore::new())?;
//! let bob = Client::create(Credential::basic("bob"), MemoryStore::new())?;
//! let key_package = bob.generate_key_packages(1)?.remove(0);
//!
//! let group = alice.create_group("team")?;
//! let added = alice.add(&group, &[key_package])?;
//! alice.confirm_commit(&group)?; // the delivery service accepted the commit
//! bob.join(&added.welcome)?;
//!
//! let hello = alice.encrypt(&group, b"hello Bob")?;
//! assert_eq!(bob.process(&hello)?.data(), Some(&b"hello Bob"[..]));
//! let reply = bob.encrypt(&group, b"hi Alice")?;
//! assert_eq!(alice.process(&reply)?.data(), Some(&b"hi Alice"[..]));
//! # Ok::<(), tessera::Error>(())
//! ```

mod checks;
mod commit;
mod events;
mod hooks;
mod join;
mod process;
mod records;
mod state;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::codec::Encode;
use crate::crypto::{
    CipherSuite, CipherSuiteProvider, CryptoProvider, RustCryptoProvider, Secret,
    SignaturePublicKey,
};
use crate::error::{ApiError, Error, Result, StorageError};
use crate::group::{GroupConfig, Identity, KeyPackageOptions, PskStore, generate_key_package};
use crate::messages::{Credential, MlsMessage};
use crate::storage::{Batch, RecordKind, Storage, group_key_prefix, split_group_key};
use crate::tree_math::LeafIndex;

pub use commit::{AddResult, CommitResult, LeftOutProposal};
pub use events::{
    ApplicationMessage, CommitMerged, Event, GroupId, InactiveReason, MemberInfo, Processed,
    ProposalKind, ProposalReceived, ProposalSender, UpdatedMember,
};
pub use hooks::{
    AcceptAllCredentials, Clock, CredentialCheck, CredentialUse, DefaultProposalPolicy,
    IdentityValidator, ProposalOrigin, ProposalPolicy, Rejection, SystemClock,
};
pub use join::ExternalJoin;

use records::{IdentityRecord, KeyPackageRecord, corrupted};
use state::Slot;

/// When leaf lifetimes (RFC 9420 §7.2) are checked.
///
/// A KeyPackage's lifetime is always checked when this client commits an
/// Add of it (the RFC's MUST for a sender). What it received is checked
/// only if asked: a member that was offline past a KeyPackage's `not_after`
/// must still process the commit that added it, and a joiner must be able
/// to join a group whose creator's leaf is older than its lifetime. The
/// RFC only recommends these checks, and they depend on each member's
/// clock, so two members could reach different verdicts on the same bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LifetimePolicy {
    /// Check the lifetimes of the leaves of a tree this client joins.
    pub check_tree_on_join: bool,
    /// Check the lifetimes of the KeyPackages of Adds in received commits.
    pub check_received_commits: bool,
}

/// A client's settings (the hooks are set on the [`ClientBuilder`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ClientConfig {
    /// The cipher suite of the client's identity, KeyPackages and groups.
    /// Default: `MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519`.
    pub cipher_suite: CipherSuite,
    /// The configuration of the groups it creates and joins.
    pub group: GroupConfig,
    /// How long generated KeyPackages (and the creator's leaf) are valid,
    /// in seconds; they are valid from one hour before generation, to
    /// tolerate clock skew. Default 30 days.
    pub key_package_lifetime: u64,
    /// Which received lifetimes are checked.
    pub lifetime: LifetimePolicy,
    /// How many messages for later epochs a group holds. Default 256.
    pub max_held_messages: usize,
    /// How many proposals a group caches in one epoch. Default 256.
    pub max_cached_proposals: usize,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            cipher_suite: CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519,
            group: GroupConfig::default(),
            key_package_lifetime: 30 * 86400,
            lifetime: LifetimePolicy::default(),
            max_held_messages: 256,
            max_cached_proposals: 256,
        }
    }
}

/// A KeyPackage the client holds the private keys of.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct KeyPackageInfo {
    /// Its reference (RFC 9420 §5.2), as a Welcome names it.
    pub reference: Vec<u8>,
    /// Whether it is kept after use.
    pub last_resort: bool,
    /// The end of its lifetime (seconds since the Unix epoch).
    pub not_after: u64,
    /// The KeyPackage, as an MLSMessage, to publish again.
    pub key_package: Vec<u8>,
}

/// A group as the client holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct GroupStatus {
    /// The group.
    pub group: GroupId,
    /// The current epoch.
    pub epoch: u64,
    /// This member's leaf.
    pub own_leaf: LeafIndex,
    /// The number of members.
    pub member_count: u32,
    /// Why the group is inactive, if it is.
    pub inactive: Option<InactiveReason>,
    /// Whether a commit of this member awaits
    /// [`Client::confirm_commit`] or [`Client::discard_commit`].
    pub pending_commit: bool,
    /// How many proposals are cached.
    pub pending_proposals: usize,
    /// The epochs of the messages held for later epochs, in arrival order.
    pub held_messages: Vec<u64>,
}

/// Builds a [`Client`] with hooks and settings other than the defaults.
///
/// ```
/// use std::sync::Arc;
/// use tessera::client::{Client, ClientConfig, DefaultProposalPolicy};
/// use tessera::messages::Credential;
/// use tessera::storage::MemoryStore;
///
/// let client = Client::builder()
///     .config(ClientConfig { max_held_messages: 16, ..ClientConfig::default() })
///     .proposal_policy(DefaultProposalPolicy { allow_external_senders: true, ..Default::default() })
///     .clock(|| 1_800_000_000)
///     .create(Credential::basic("alice"), MemoryStore::new())?;
/// # Ok::<(), tessera::Error>(())
/// ```
pub struct ClientBuilder {
    config: ClientConfig,
    provider: Arc<dyn CryptoProvider>,
    validator: Arc<dyn IdentityValidator>,
    policy: Arc<dyn ProposalPolicy>,
    clock: Arc<dyn Clock>,
    psks: Arc<dyn PskStore + Send + Sync>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            config: ClientConfig::default(),
            provider: Arc::new(RustCryptoProvider::new()),
            validator: Arc::new(AcceptAllCredentials),
            policy: Arc::new(DefaultProposalPolicy::default()),
            clock: Arc::new(SystemClock),
            psks: Arc::new(()),
        }
    }
}

impl core::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The settings.
    pub fn config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// The crypto provider (default: [`RustCryptoProvider`]).
    pub fn crypto_provider(mut self, provider: impl CryptoProvider + 'static) -> Self {
        self.provider = Arc::new(provider);
        self
    }

    /// The identity validator (default: [`AcceptAllCredentials`], for tests).
    pub fn identity_validator(mut self, validator: impl IdentityValidator + 'static) -> Self {
        self.validator = Arc::new(validator);
        self
    }

    /// The identity validator, shared.
    pub fn identity_validator_arc(mut self, validator: Arc<dyn IdentityValidator>) -> Self {
        self.validator = validator;
        self
    }

    /// The proposal policy (default: [`DefaultProposalPolicy`]).
    pub fn proposal_policy(mut self, policy: impl ProposalPolicy + 'static) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// The proposal policy, shared.
    pub fn proposal_policy_arc(mut self, policy: Arc<dyn ProposalPolicy>) -> Self {
        self.policy = policy;
        self
    }

    /// The clock (default: [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The clock, shared.
    pub fn clock_arc(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where external PSKs are found (default: none).
    pub fn psk_store(mut self, psks: impl PskStore + Send + Sync + 'static) -> Self {
        self.psks = Arc::new(psks);
        self
    }

    /// A new client with a fresh signature key for `credential`, stored in
    /// `store` (which must not hold a client yet).
    pub fn create(self, credential: Credential, store: impl Storage + 'static) -> Result<Client> {
        let store: Arc<dyn Storage> = Arc::new(store);
        if store.get(RecordKind::Identity, &[])?.is_some() {
            return Err(ApiError::InvalidArgument("the store already holds a client").into());
        }
        let cs = self
            .provider
            .cipher_suite_provider(self.config.cipher_suite)?;
        let identity = Identity::generate(&*cs, credential)?;
        let record = IdentityRecord {
            suite: self.config.cipher_suite,
            credential: identity.credential().clone(),
            signer: identity.signer().clone(),
        };
        let mut batch = Batch::default();
        batch.put(RecordKind::Identity, Vec::new(), record.encode()?);
        store.apply(batch)?;
        Ok(self.build(cs, identity, store))
    }

    /// The client stored in `store`. The cipher suite is the stored one.
    pub fn open(mut self, store: impl Storage + 'static) -> Result<Client> {
        let store: Arc<dyn Storage> = Arc::new(store);
        let bytes = store
            .get(RecordKind::Identity, &[])?
            .ok_or(ApiError::InvalidArgument("the store holds no client"))?;
        let record = IdentityRecord::decode(&bytes).map_err(corrupted("identity"))?;
        self.config.cipher_suite = record.suite;
        let cs = self.provider.cipher_suite_provider(record.suite)?;
        let identity = Identity::from_keys(&*cs, record.credential, record.signer)
            .map_err(|_| StorageError::Corrupted("identity: signature key".into()))?;
        Ok(self.build(cs, identity, store))
    }

    fn build(
        self,
        cs: Arc<dyn CipherSuiteProvider>,
        identity: Identity,
        store: Arc<dyn Storage>,
    ) -> Client {
        Client {
            provider: self.provider,
            cs,
            identity,
            config: self.config,
            validator: self.validator,
            policy: self.policy,
            clock: self.clock,
            psks: self.psks,
            store,
            groups: Mutex::new(HashMap::new()),
            membership: Mutex::new(()),
        }
    }
}

/// One device's MLS client. See the [module documentation](self).
pub struct Client {
    provider: Arc<dyn CryptoProvider>,
    cs: Arc<dyn CipherSuiteProvider>,
    identity: Identity,
    config: ClientConfig,
    validator: Arc<dyn IdentityValidator>,
    policy: Arc<dyn ProposalPolicy>,
    clock: Arc<dyn Clock>,
    psks: Arc<dyn PskStore + Send + Sync>,
    store: Arc<dyn Storage>,
    /// Groups loaded (or being loaded), by id.
    groups: Mutex<HashMap<Vec<u8>, Arc<Mutex<Slot>>>>,
    /// Serialises what adds or removes groups, and KeyPackage use.
    membership: Mutex<()>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("credential", self.identity.credential())
            .field("cipher_suite", &self.config.cipher_suite)
            .finish_non_exhaustive()
    }
}

/// A poisoned lock means a thread panicked while holding it: report it.
fn poisoned<T>(_: T) -> Error {
    Error::Internal("client lock poisoned")
}

impl Client {
    /// A builder, to set hooks and settings.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A new client with default settings and hooks (see [`ClientBuilder`]).
    pub fn create(credential: Credential, store: impl Storage + 'static) -> Result<Client> {
        Self::builder().create(credential, store)
    }

    /// The client stored in `store`, with default settings and hooks.
    pub fn open(store: impl Storage + 'static) -> Result<Client> {
        Self::builder().open(store)
    }

    /// This client's credential.
    pub fn credential(&self) -> &Credential {
        self.identity.credential()
    }

    /// This client's signature public key.
    pub fn signature_key(&self) -> &SignaturePublicKey {
        self.identity.signature_key()
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Options for a new leaf: valid from an hour ago for the configured time.
    fn leaf_options(&self) -> KeyPackageOptions {
        let now = self.clock.now();
        let start = now.saturating_sub(3600);
        KeyPackageOptions::valid_for(start, self.config.key_package_lifetime.saturating_add(3600))
    }

    // --- KeyPackages ---------------------------------------------------------

    /// Generates `count` KeyPackages and stores their private keys; returns
    /// them as MLSMessages to publish (to the delivery service, say).
    pub fn generate_key_packages(&self, count: usize) -> Result<Vec<Vec<u8>>> {
        self.generate(count, false)
    }

    /// Generates a last-resort KeyPackage (kept after use, for when all
    /// others are used up); returns it as an MLSMessage to publish.
    pub fn generate_last_resort_key_package(&self) -> Result<Vec<u8>> {
        self.generate(1, true)?
            .pop()
            .ok_or(Error::Internal("no KeyPackage generated"))
    }

    fn generate(&self, count: usize, last_resort: bool) -> Result<Vec<Vec<u8>>> {
        let mut batch = Batch::default();
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let (key_package, private) =
                generate_key_package(&*self.cs, &self.identity, self.leaf_options())?;
            let reference = key_package.reference(&*self.cs)?;
            let record = KeyPackageRecord {
                last_resort,
                key_package,
                private,
            };
            batch.put(RecordKind::KeyPackage, reference.0, record.encode()?);
            out.push(MlsMessage::KeyPackage(record.key_package).to_bytes()?);
        }
        self.store.apply(batch)?;
        Ok(out)
    }

    /// The KeyPackages whose private keys the client holds (not used yet,
    /// or last-resort).
    pub fn key_packages(&self) -> Result<Vec<KeyPackageInfo>> {
        self.store
            .scan(RecordKind::KeyPackage, &[])?
            .into_iter()
            .map(|(reference, value)| {
                let r = KeyPackageRecord::decode(&value).map_err(corrupted("KeyPackage"))?;
                let not_after = match &r.key_package.leaf_node.leaf_node_source {
                    crate::messages::LeafNodeSource::KeyPackage(l) => l.not_after,
                    _ => 0,
                };
                Ok(KeyPackageInfo {
                    reference,
                    last_resort: r.last_resort,
                    not_after,
                    key_package: MlsMessage::KeyPackage(r.key_package).to_bytes()?,
                })
            })
            .collect()
    }

    /// Marks a KeyPackage as last-resort (kept after use) or not.
    pub fn set_last_resort(&self, reference: &[u8], last_resort: bool) -> Result<()> {
        let _guard = self.membership.lock().map_err(poisoned)?;
        let value = self
            .store
            .get(RecordKind::KeyPackage, reference)?
            .ok_or(ApiError::InvalidArgument("no such KeyPackage"))?;
        let mut record = KeyPackageRecord::decode(&value).map_err(corrupted("KeyPackage"))?;
        record.last_resort = last_resort;
        let mut batch = Batch::default();
        batch.put(RecordKind::KeyPackage, reference.to_vec(), record.encode()?);
        Ok(self.store.apply(batch)?)
    }

    /// Deletes a KeyPackage's private keys (it can no longer be joined
    /// with); `false` if the client does not hold it.
    pub fn delete_key_package(&self, reference: &[u8]) -> Result<bool> {
        let _guard = self.membership.lock().map_err(poisoned)?;
        if self.store.get(RecordKind::KeyPackage, reference)?.is_none() {
            return Ok(false);
        }
        let mut batch = Batch::default();
        batch.delete(RecordKind::KeyPackage, reference.to_vec());
        self.store.apply(batch)?;
        Ok(true)
    }

    // --- Groups --------------------------------------------------------------

    /// The ids of the client's groups (active or not), in byte order.
    pub fn groups(&self) -> Result<Vec<GroupId>> {
        self.store
            .scan(RecordKind::GroupMeta, &[])?
            .into_iter()
            .map(|(key, _)| {
                split_group_key(&key)
                    .filter(|(_, rest)| rest.is_empty())
                    .map(|(id, _)| GroupId(id.to_vec()))
                    .ok_or_else(|| StorageError::Corrupted("group record key".into()).into())
            })
            .collect()
    }

    /// The state of a group, loading it from the store if need be.
    pub fn status(&self, group: impl AsRef<[u8]>) -> Result<GroupStatus> {
        let id = group.as_ref();
        self.read_group(id, |l| GroupStatus {
            group: GroupId(id.to_vec()),
            epoch: l.group.epoch(),
            own_leaf: l.group.own_leaf(),
            member_count: l.group.tree().member_count(),
            inactive: l.inactive,
            pending_commit: l.group.has_pending_commit(),
            pending_proposals: l.group.pending_proposal_count(),
            held_messages: l.held.iter().map(|h| h.epoch).collect(),
        })
    }

    /// The members of a group, in leaf order.
    pub fn members(&self, group: impl AsRef<[u8]>) -> Result<Vec<MemberInfo>> {
        self.read_group(group.as_ref(), |l| {
            l.group
                .tree()
                .members()
                .map(|(leaf, node)| MemberInfo {
                    leaf,
                    credential: node.credential.clone(),
                })
                .collect()
        })
    }

    /// The epoch authenticator of a group's current epoch (RFC 9420 §8.7):
    /// members in the same epoch have the same; compare it out of band
    /// (as a safety number) to detect a split view.
    pub fn epoch_authenticator(&self, group: impl AsRef<[u8]>) -> Result<Secret> {
        self.read_group(group.as_ref(), |l| l.group.epoch_authenticator().clone())
    }

    /// `MLS-Exporter(label, context, length)` of a group's current epoch
    /// (RFC 9420 §8.5).
    pub fn export_secret(
        &self,
        group: impl AsRef<[u8]>,
        label: &[u8],
        context: &[u8],
        length: u16,
    ) -> Result<Secret> {
        self.read_group(group.as_ref(), |l| {
            l.group.export_secret(label, context, length)
        })?
    }

    /// A signed GroupInfo of the group's current epoch, with the ratchet
    /// tree and `external_pub`, for new members to join by external commit
    /// ([`Client::join_external`]).
    pub fn group_info(&self, group: impl AsRef<[u8]>) -> Result<Vec<u8>> {
        self.read_group(group.as_ref(), |l| l.group.group_info(true))??
            .to_bytes()
            .map_err(Into::into)
    }

    /// Deletes a group and everything stored of it; `false` if the client
    /// has no such group.
    pub fn delete_group(&self, group: impl AsRef<[u8]>) -> Result<bool> {
        let id = group.as_ref();
        let _guard = self.membership.lock().map_err(poisoned)?;
        let slot = self.slot(id)?;
        let mut slot = slot.lock().map_err(poisoned)?;
        let prefix = group_key_prefix(id);
        if self.store.get(RecordKind::GroupMeta, &prefix)?.is_none() {
            slot.loaded = None;
            return Ok(false);
        }
        let mut batch = Batch::default();
        for kind in RecordKind::ALL {
            if matches!(kind, RecordKind::Identity | RecordKind::KeyPackage) {
                continue;
            }
            for (key, _) in self.store.scan(kind, &prefix)? {
                batch.delete(kind, key);
            }
        }
        self.store.apply(batch)?;
        slot.loaded = None;
        slot.deleted = true;
        self.groups.lock().map_err(poisoned)?.remove(id);
        Ok(true)
    }

    /// Drops the client's in-memory copy of every group; each is read from
    /// the store again when next used (to free memory, or after the store
    /// was changed by another process).
    pub fn unload_groups(&self) -> Result<()> {
        let slots: Vec<_> = self
            .groups
            .lock()
            .map_err(poisoned)?
            .values()
            .cloned()
            .collect();
        for slot in slots {
            slot.lock().map_err(poisoned)?.loaded = None;
        }
        Ok(())
    }
}
