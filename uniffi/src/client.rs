//! The Client on its SQLite store: [`MlsClient`] (one per device, one
//! database file) and [`ClientGroup`] (one of its groups).

use std::sync::{Arc, RwLock};

use tessera::client::{Client, ClientConfig, DefaultProposalPolicy};
use tessera::storage::{SqliteOptions, SqliteStore, StoreKey, Synchronous};
use tessera::tree_math::LeafIndex;

use crate::error::{TesseraError, guard};
use crate::events::{CommitOutput, Event, GroupStatus, PendingProposal, member};
use crate::hooks::{PolicyHook, ProposalPolicy, ValidatorHook, clear_failure, take_failure};
use crate::types::{CipherSuite, Credential, Member};
use crate::validator::{CredentialValidator, not_in_validator};

/// How a client's database is opened.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StoreSettings {
    /// Flush every operation to the disk before it returns (SQLite
    /// `synchronous = FULL`): it survives a power loss, at the cost of a
    /// disk flush per operation. Without it (`NORMAL`, the default) it
    /// survives the app's crash at any point, but the last operations
    /// before a power loss may be lost (never torn).
    pub durable: bool,
    /// How long an operation waits for another connection on the same file
    /// (an app extension, say) before failing with `Storage`, in
    /// milliseconds. Default 5000.
    pub busy_timeout_ms: u64,
}

/// The default settings: not `durable`, a 5 s busy timeout.
#[uniffi::export]
pub fn default_store_settings() -> StoreSettings {
    StoreSettings {
        durable: false,
        busy_timeout_ms: 5000,
    }
}

/// A fresh random 32-byte key for a client's database. Keep it in the
/// platform's key store (Android Keystore, iOS Keychain): without it the
/// database cannot be opened.
#[uniffi::export]
pub fn generate_store_key() -> Result<Vec<u8>, TesseraError> {
    guard(|| Ok(StoreKey::generate()?.as_bytes().to_vec()))
}

/// One device's MLS client, kept in its own database file, encrypted at
/// rest under the app's 32-byte key.
///
/// Each operation (a message sent or decrypted, a commit merged) is one
/// transaction in the file: if the app is killed, the client reopened with
/// [`MlsClient::open`] is in the state after the last operation that
/// returned (or the one in flight). An operation that fails changes
/// nothing. Methods may be called from any thread; operations on one group
/// run one at a time.
#[derive(uniffi::Object)]
pub struct MlsClient {
    inner: RwLock<Option<Arc<Client>>>,
    path: String,
}

impl std::fmt::Debug for MlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlsClient")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Runs one exported call: no panic crosses the boundary, no call from
/// inside a hook, and a hook's exception is reported as thrown.
fn call<T>(f: impl FnOnce() -> Result<T, TesseraError>) -> Result<T, TesseraError> {
    guard(|| {
        not_in_validator()?;
        clear_failure();
        let result = f();
        match (result, take_failure()) {
            (Err(_), Some(failure)) => Err(failure),
            (result, _) => result,
        }
    })
}

fn store_key(bytes: &[u8]) -> Result<StoreKey, TesseraError> {
    StoreKey::from_slice(bytes).ok_or_else(|| {
        TesseraError::api(format!(
            "a store key is 32 bytes, not {} (see generateStoreKey)",
            bytes.len()
        ))
    })
}

fn open_store(
    path: &str,
    key: &[u8],
    settings: Option<StoreSettings>,
    create: bool,
) -> Result<SqliteStore, TesseraError> {
    let settings = settings.unwrap_or_else(default_store_settings);
    let options = SqliteOptions::default()
        .synchronous(if settings.durable {
            Synchronous::Full
        } else {
            Synchronous::Normal
        })
        .busy_timeout(std::time::Duration::from_millis(settings.busy_timeout_ms))
        .create(create);
    Ok(SqliteStore::open_with(path, &store_key(key)?, options)?)
}

fn builder(
    validator: Arc<dyn CredentialValidator>,
    policy: Option<Arc<dyn ProposalPolicy>>,
) -> tessera::client::ClientBuilder {
    let builder = Client::builder().identity_validator(ValidatorHook(validator));
    match policy {
        Some(policy) => builder.proposal_policy(PolicyHook(policy)),
        None => builder.proposal_policy(DefaultProposalPolicy::default()),
    }
}

#[uniffi::export]
impl MlsClient {
    /// A new client for `credential`, with a fresh signature key, in a new
    /// database at `path` sealed under `store_key` (32 bytes). Fails with
    /// `ApiMisuse` if the database already holds a client, `Storage` if
    /// the file cannot be created or opened with this key.
    ///
    /// `validator` judges every credential that enters the client's groups;
    /// `policy` decides which proposals to accept and commit (none: the
    /// default policy). `cipher_suite` is that of the client's identity,
    /// KeyPackages and groups (none: X25519, AES-128-GCM, SHA-256,
    /// Ed25519); it is kept in the database.
    #[uniffi::constructor(default(policy = None, settings = None, cipher_suite = None))]
    pub fn create(
        path: String,
        store_key: Vec<u8>,
        credential: Credential,
        validator: Arc<dyn CredentialValidator>,
        policy: Option<Arc<dyn ProposalPolicy>>,
        settings: Option<StoreSettings>,
        cipher_suite: Option<CipherSuite>,
    ) -> Result<Arc<Self>, TesseraError> {
        call(|| {
            let store = open_store(&path, &store_key, settings, true)?;
            let mut builder = builder(validator, policy);
            if let Some(suite) = cipher_suite {
                builder = builder.config(ClientConfig {
                    cipher_suite: suite.into(),
                    ..ClientConfig::default()
                });
            }
            let client = builder.create(credential.into(), store)?;
            Ok(Self::wrap(client, path))
        })
    }

    /// The client kept in the database at `path` (it must exist), as it
    /// was after its last operation. Hooks are the app's code, so they are
    /// given again. Fails with `Storage` if the file is missing, damaged,
    /// or sealed under another key.
    #[uniffi::constructor(default(policy = None, settings = None))]
    pub fn open(
        path: String,
        store_key: Vec<u8>,
        validator: Arc<dyn CredentialValidator>,
        policy: Option<Arc<dyn ProposalPolicy>>,
        settings: Option<StoreSettings>,
    ) -> Result<Arc<Self>, TesseraError> {
        call(|| {
            let store = open_store(&path, &store_key, settings, false)?;
            let client = builder(validator, policy).open(store)?;
            Ok(Self::wrap(client, path))
        })
    }

    /// The database file.
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// This client's credential.
    pub fn credential(&self) -> Result<Credential, TesseraError> {
        call(|| Ok(self.client()?.credential().into()))
    }

    /// This client's signature public key.
    pub fn signature_key(&self) -> Result<Vec<u8>, TesseraError> {
        call(|| Ok(self.client()?.signature_key().as_bytes().to_vec()))
    }

    /// The cipher suite of its identity, KeyPackages and groups.
    pub fn cipher_suite(&self) -> Result<CipherSuite, TesseraError> {
        call(|| {
            let suite = self.client()?.config().cipher_suite;
            CipherSuite::from_core(suite)
                .ok_or_else(|| TesseraError::internal(format!("unknown cipher suite {suite:?}")))
        })
    }

    /// Generates `count` KeyPackages (their private keys stay in the
    /// database) and returns them as MLSMessages to publish.
    pub fn generate_key_packages(&self, count: u32) -> Result<Vec<Vec<u8>>, TesseraError> {
        call(|| Ok(self.client()?.generate_key_packages(count as usize)?))
    }

    /// A last-resort KeyPackage (kept after use, for when all others are
    /// used up), as an MLSMessage to publish.
    pub fn generate_last_resort_key_package(&self) -> Result<Vec<u8>, TesseraError> {
        call(|| Ok(self.client()?.generate_last_resort_key_package()?))
    }

    /// Creates a group with this client alone in it, at epoch 0.
    pub fn create_group(
        self: Arc<Self>,
        group_id: Vec<u8>,
    ) -> Result<Arc<ClientGroup>, TesseraError> {
        call(|| {
            let id = self.client()?.create_group(group_id)?;
            Ok(ClientGroup::new(self.clone(), id.0))
        })
    }

    /// Joins a group from a Welcome (an MLSMessage, with the ratchet tree
    /// inside) sent to one of this client's KeyPackages, after the
    /// validator accepted every member. The KeyPackage's private keys are
    /// deleted (unless it is last-resort).
    pub fn join(self: Arc<Self>, welcome: Vec<u8>) -> Result<Arc<ClientGroup>, TesseraError> {
        call(|| {
            let joined = self.client()?.join(&welcome)?;
            Ok(ClientGroup::new(self.clone(), joined.group().0.clone()))
        })
    }

    /// One of the client's groups (active or not). `ApiMisuse` if it has
    /// no group with this id.
    pub fn group(self: Arc<Self>, group_id: Vec<u8>) -> Result<Arc<ClientGroup>, TesseraError> {
        call(|| {
            self.client()?.status(&group_id)?;
            Ok(ClientGroup::new(self.clone(), group_id))
        })
    }

    /// The ids of the client's groups, in byte order.
    pub fn group_ids(&self) -> Result<Vec<Vec<u8>>, TesseraError> {
        call(|| Ok(self.client()?.groups()?.into_iter().map(|g| g.0).collect()))
    }

    /// Processes a message received from the delivery service, for any of
    /// the client's groups, and returns what happened: usually one event;
    /// none for an echo of this member's own message; several when a
    /// commit releases held messages. A Welcome is joined (`Event.Joined`;
    /// `join` does the same and returns the group). On error nothing
    /// changed.
    pub fn process(&self, message: Vec<u8>) -> Result<Vec<Event>, TesseraError> {
        call(|| {
            Ok(self
                .client()?
                .process(&message)?
                .events
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// Deletes a group and everything stored of it; `false` if the client
    /// has no such group.
    pub fn delete_group(&self, group_id: Vec<u8>) -> Result<bool, TesseraError> {
        call(|| Ok(self.client()?.delete_group(&group_id)?))
    }

    /// Closes the database now. Every later call on this client or its
    /// groups fails with `ApiMisuse`. (Dropping the client and all its
    /// group objects closes it too; this does not wait for the garbage
    /// collector.) A call already running finishes first.
    pub fn close_store(&self) -> Result<(), TesseraError> {
        call(|| {
            self.inner
                .write()
                .map_err(|_| TesseraError::internal("client lock poisoned"))?
                .take();
            Ok(())
        })
    }
}

impl MlsClient {
    fn wrap(client: Client, path: String) -> Arc<Self> {
        Arc::new(Self {
            inner: RwLock::new(Some(Arc::new(client))),
            path,
        })
    }

    /// The client, if the store was not closed.
    pub(crate) fn client(&self) -> Result<Arc<Client>, TesseraError> {
        self.inner
            .read()
            .map_err(|_| TesseraError::internal("client lock poisoned"))?
            .clone()
            .ok_or_else(|| TesseraError::api("the client's store was closed"))
    }
}

/// One of a client's groups. It holds the client; every call goes through
/// it (and its database).
#[derive(uniffi::Object)]
pub struct ClientGroup {
    client: Arc<MlsClient>,
    id: Vec<u8>,
}

impl std::fmt::Debug for ClientGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientGroup")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl ClientGroup {
    /// The group's id.
    pub fn group_id(&self) -> Vec<u8> {
        self.id.clone()
    }

    /// The group's state: epoch, own leaf, members, pending commit, ...
    pub fn status(&self) -> Result<GroupStatus, TesseraError> {
        call(|| Ok(self.client()?.status(&self.id)?.into()))
    }

    /// The current epoch.
    pub fn epoch(&self) -> Result<u64, TesseraError> {
        call(|| Ok(self.client()?.status(&self.id)?.epoch))
    }

    /// This member's leaf index.
    pub fn own_leaf_index(&self) -> Result<u32, TesseraError> {
        call(|| Ok(self.client()?.status(&self.id)?.own_leaf.0))
    }

    /// The members, in leaf order.
    pub fn members(&self) -> Result<Vec<Member>, TesseraError> {
        call(|| {
            Ok(self
                .client()?
                .members(&self.id)?
                .iter()
                .map(member)
                .collect())
        })
    }

    /// The epoch authenticator (RFC 9420 §8.7): members in the same epoch
    /// have the same; compare it out of band (a safety number).
    pub fn epoch_authenticator(&self) -> Result<Vec<u8>, TesseraError> {
        call(|| {
            Ok(self
                .client()?
                .epoch_authenticator(&self.id)?
                .as_bytes()
                .to_vec())
        })
    }

    /// `MLS-Exporter(label, context, length)` of the current epoch (RFC
    /// 9420 §8.5): a secret the members share, for the app's own use.
    pub fn export_secret(
        &self,
        label: Vec<u8>,
        context: Vec<u8>,
        length: u16,
    ) -> Result<Vec<u8>, TesseraError> {
        call(|| {
            Ok(self
                .client()?
                .export_secret(&self.id, &label, &context, length)?
                .as_bytes()
                .to_vec())
        })
    }

    /// A signed GroupInfo of the current epoch (with the ratchet tree), as
    /// an MLSMessage.
    pub fn group_info(&self) -> Result<Vec<u8>, TesseraError> {
        call(|| Ok(self.client()?.group_info(&self.id)?))
    }

    /// Encrypts application data (RFC 9420 §6.3); returns the MLSMessage
    /// to send. `ApiMisuse` once this member was removed.
    pub fn encrypt(&self, data: Vec<u8>) -> Result<Vec<u8>, TesseraError> {
        call(|| Ok(self.client()?.encrypt(&self.id, &data)?))
    }

    /// [`ClientGroup::encrypt`] with authenticated data sent in the clear.
    pub fn encrypt_with_authenticated_data(
        &self,
        data: Vec<u8>,
        authenticated_data: Vec<u8>,
    ) -> Result<Vec<u8>, TesseraError> {
        call(|| {
            Ok(self
                .client()?
                .encrypt_with_aad(&self.id, &data, &authenticated_data)?)
        })
    }

    /// Commits the addition of the clients of `key_packages` (MLSMessages),
    /// with the cached proposals the commit can cover. Each KeyPackage's
    /// credential is shown to the validator first.
    pub fn add(&self, key_packages: Vec<Vec<u8>>) -> Result<CommitOutput, TesseraError> {
        self.commit_call(|c| Ok(c.add(&self.id, &key_packages)?.into()))
    }

    /// Commits the removal of the members at `leaf_indices`.
    pub fn remove(&self, leaf_indices: Vec<u32>) -> Result<CommitOutput, TesseraError> {
        let leaves: Vec<LeafIndex> = leaf_indices.into_iter().map(LeafIndex).collect();
        self.commit_call(|c| Ok(c.remove(&self.id, &leaves)?.into()))
    }

    /// Commits with a fresh path: new keys for this member (post-compromise
    /// security).
    pub fn update(&self) -> Result<CommitOutput, TesseraError> {
        self.commit_call(|c| Ok(c.update(&self.id)?.into()))
    }

    /// Commits the cached proposals the policy wants committed and that
    /// can be, together; the others are listed in `leftOut`.
    pub fn commit(&self) -> Result<CommitOutput, TesseraError> {
        self.commit_call(|c| Ok(c.commit(&self.id)?.into()))
    }

    /// The delivery service accepted this member's pending commit: merges
    /// it. Returns what it did (a `CommitMerged` event, and any messages
    /// it released).
    pub fn confirm_commit(&self) -> Result<Vec<Event>, TesseraError> {
        call(|| {
            Ok(self
                .client()?
                .confirm_commit(&self.id)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
    }

    /// The delivery service refused this member's pending commit (another
    /// came first): forgets it. `false` if there was none.
    pub fn discard_commit(&self) -> Result<bool, TesseraError> {
        call(|| Ok(self.client()?.discard_commit(&self.id)?))
    }

    /// A proposal to remove this member, to send to the group; another
    /// member commits it.
    pub fn leave(&self) -> Result<Vec<u8>, TesseraError> {
        call(|| Ok(self.client()?.leave(&self.id)?))
    }

    /// A proposal to add the client of `key_package`, to send to the group.
    pub fn propose_add(&self, key_package: Vec<u8>) -> Result<Vec<u8>, TesseraError> {
        call(|| Ok(self.client()?.propose_add(&self.id, &key_package)?))
    }

    /// A proposal to remove the member at `leaf_index`, to send to the group.
    pub fn propose_remove(&self, leaf_index: u32) -> Result<Vec<u8>, TesseraError> {
        call(|| {
            Ok(self
                .client()?
                .propose_remove(&self.id, LeafIndex(leaf_index))?)
        })
    }

    /// The proposals cached in the current epoch.
    pub fn pending_proposals(&self) -> Result<Vec<PendingProposal>, TesseraError> {
        call(|| {
            Ok(self
                .client()?
                .pending_proposals(&self.id)?
                .iter()
                .map(|p| PendingProposal {
                    reference: p.reference.0.clone(),
                    kind: (&tessera::client::ProposalKind::of(&p.proposal)).into(),
                })
                .collect())
        })
    }
}

impl ClientGroup {
    fn new(client: Arc<MlsClient>, id: Vec<u8>) -> Arc<Self> {
        Arc::new(Self { client, id })
    }

    fn client(&self) -> Result<Arc<Client>, TesseraError> {
        self.client.client()
    }

    /// Builds a commit. If a hook threw while it was built (the policy,
    /// asked whether to cover a cached proposal), the commit is discarded
    /// and the exception reported: a throw is never taken as an answer.
    fn commit_call(
        &self,
        f: impl FnOnce(&Client) -> Result<CommitOutput, TesseraError>,
    ) -> Result<CommitOutput, TesseraError> {
        call(|| {
            let client = self.client()?;
            let out = f(&client)?;
            if let Some(failure) = take_failure() {
                client.discard_commit(&self.id)?;
                return Err(failure);
            }
            Ok(out)
        })
    }
}
