//! The storage contract of a [`Client`](crate::client::Client), and an
//! in-memory store.
//!
//! A store keeps records, each identified by a [`RecordKind`] and a key
//! (bytes), holding a value (bytes). It answers three calls:
//!
//! * [`Storage::get`]: one record;
//! * [`Storage::scan`]: the records of a kind whose key starts with a
//!   prefix (all records of one group, say), in key order;
//! * [`Storage::apply`]: a [`Batch`] of writes and deletes, **atomically**:
//!   after it returns `Ok`, all of them are durable; after it returns an
//!   error (or the process dies), none of them is visible.
//!
//! The client hands the store one batch per operation: processing a
//! message, encrypting, committing, joining, generating KeyPackages. The
//! batch holds everything the operation changed, and nothing if it failed,
//! so the stored state is always the state after some complete operation.
//! What it writes, and when:
//!
//! | kind | key | written | deleted |
//! |---|---|---|---|
//! | [`RecordKind::Identity`] | empty | when the client is created | never |
//! | [`RecordKind::KeyPackage`] | the KeyPackage reference | when generated | in the batch of the join that used it (unless last-resort) |
//! | [`RecordKind::GroupMeta`] | group | when the group is created or joined, when this member is removed | with the group |
//! | [`RecordKind::Epoch`] | group | once per epoch | with the group |
//! | [`RecordKind::Tree`] | group, epoch | once per epoch | when the epoch ages out |
//! | [`RecordKind::PastEpoch`] | group, epoch | when the epoch ends | when it ages out |
//! | [`RecordKind::SecretTreeNode`] | group, epoch, node | when derived | when consumed |
//! | [`RecordKind::SenderRatchet`] | group, epoch, leaf, ratchet | when the ratchet starts or moves on (a message of that leaf) | when the epoch ages out, or when it ends (handshake ratchets, leaves that cannot send) |
//! | [`RecordKind::RetainedKey`] | group, epoch, leaf, ratchet, generation | when a message skips that generation | when used, dropped or its ratchet is |
//! | [`RecordKind::LegacySenderRatchets`] | group, epoch, leaf | never (earlier builds) | on the group's next write |
//! | [`RecordKind::Proposal`] | group, reference | when received | when the epoch ends |
//! | [`RecordKind::PendingCommit`] | group | when committing | on merge or discard |
//! | [`RecordKind::HeldMessage`] | group, sequence | when a message for a later epoch arrives | when it is processed |
//! | [`RecordKind::SentMessage`] | group, epoch, digest | when this member sends a PrivateMessage (to recognise its echo) | when it leaves the window or its epoch is no longer kept |
//!
//! Group keys start with the group id, length-prefixed
//! ([`group_key_prefix`]), so that one group's records are one prefix.
//! A received application message in order writes one small
//! [`RecordKind::SenderRatchet`] record (and, for a sender's first message
//! in an epoch, its other ratchet and a few [`RecordKind::SecretTreeNode`]s);
//! one out of order deletes the [`RecordKind::RetainedKey`] it used. Either
//! way the key it used is deleted on disk in the same batch (RFC 9420 §9.2).
//!
//! Values of kinds for which [`RecordKind::holds_secrets`] is true contain
//! private keys or secrets: a store that persists them should encrypt them
//! (with the kind and key as associated data, so that records cannot be
//! swapped) and overwrite deleted data where it can.

mod memory;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use zeroize::Zeroizing;

pub use crate::error::StorageError;
pub use memory::{MemoryStore, StoreStats};
#[cfg(feature = "sqlite")]
pub use sqlite::{SqliteOptions, SqliteStore, StoreKey, Synchronous};

/// A stored value: wiped from memory when dropped.
pub type Value = Zeroizing<Vec<u8>>;

/// What a record holds; a store may keep each kind in its own table.
///
/// The [`RecordKind::name`]s and [`RecordKind::code`]s are stable: they may
/// be written to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum RecordKind {
    /// The client's identity: credential and signature key pair.
    Identity,
    /// A KeyPackage with its private keys.
    KeyPackage,
    /// What the client knows of a group besides the protocol state:
    /// whether this member is still in it.
    GroupMeta,
    /// A group's state of the current epoch ([`crate::group::StatePiece::Epoch`]).
    Epoch,
    /// A group's ratchet tree of one epoch.
    Tree,
    /// What a group keeps of a past epoch.
    PastEpoch,
    /// A node secret of a secret tree.
    SecretTreeNode,
    /// A leaf's two sender ratchets in a secret tree, as earlier builds
    /// wrote them: read, then replaced by [`RecordKind::SenderRatchet`] and
    /// [`RecordKind::RetainedKey`] records.
    LegacySenderRatchets,
    /// A cached proposal.
    Proposal,
    /// A commit of this member awaiting merge.
    PendingCommit,
    /// A message for a later epoch, held until the group reaches it.
    HeldMessage,
    /// The digest of a PrivateMessage this member sent (to recognise its echo).
    SentMessage,
    /// The head of one of a leaf's sender ratchets in a secret tree.
    SenderRatchet,
    /// A key a sender ratchet keeps for a message out of order.
    RetainedKey,
}

impl RecordKind {
    /// Every kind.
    pub const ALL: [RecordKind; 14] = [
        RecordKind::Identity,
        RecordKind::KeyPackage,
        RecordKind::GroupMeta,
        RecordKind::Epoch,
        RecordKind::Tree,
        RecordKind::PastEpoch,
        RecordKind::SecretTreeNode,
        RecordKind::LegacySenderRatchets,
        RecordKind::Proposal,
        RecordKind::PendingCommit,
        RecordKind::HeldMessage,
        RecordKind::SentMessage,
        RecordKind::SenderRatchet,
        RecordKind::RetainedKey,
    ];

    /// A stable name (a table name, say).
    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::KeyPackage => "key_package",
            Self::GroupMeta => "group_meta",
            Self::Epoch => "epoch",
            Self::Tree => "tree",
            Self::PastEpoch => "past_epoch",
            Self::SecretTreeNode => "secret_tree_node",
            Self::LegacySenderRatchets => "sender_ratchets",
            Self::Proposal => "proposal",
            Self::PendingCommit => "pending_commit",
            Self::HeldMessage => "held_message",
            Self::SentMessage => "sent_message",
            Self::SenderRatchet => "sender_ratchet",
            Self::RetainedKey => "retained_key",
        }
    }

    /// A stable one-byte code.
    pub fn code(self) -> u8 {
        match self {
            Self::Identity => 1,
            Self::KeyPackage => 2,
            Self::GroupMeta => 3,
            Self::Epoch => 4,
            Self::Tree => 5,
            Self::PastEpoch => 6,
            Self::SecretTreeNode => 7,
            Self::LegacySenderRatchets => 8,
            Self::Proposal => 9,
            Self::PendingCommit => 10,
            Self::HeldMessage => 11,
            Self::SentMessage => 12,
            Self::SenderRatchet => 13,
            Self::RetainedKey => 14,
        }
    }

    /// The kind with this [`RecordKind::code`].
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether values of this kind hold secrets or private keys (to be
    /// encrypted at rest). Trees, group information, held messages
    /// (ciphertexts as received) and digests of sent messages do not.
    pub fn holds_secrets(self) -> bool {
        !matches!(
            self,
            Self::GroupMeta | Self::Tree | Self::HeldMessage | Self::SentMessage
        )
    }
}

/// One write or delete of a [`Batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Insert or replace a record.
    Put {
        /// Its kind.
        kind: RecordKind,
        /// Its key.
        key: Vec<u8>,
        /// Its value.
        value: Value,
    },
    /// Delete a record (nothing if it does not exist).
    Delete {
        /// Its kind.
        kind: RecordKind,
        /// Its key.
        key: Vec<u8>,
    },
}

impl Op {
    /// The record's kind.
    pub fn kind(&self) -> RecordKind {
        match self {
            Op::Put { kind, .. } | Op::Delete { kind, .. } => *kind,
        }
    }

    /// The record's key.
    pub fn key(&self) -> &[u8] {
        match self {
            Op::Put { key, .. } | Op::Delete { key, .. } => key,
        }
    }
}

/// The writes and deletes of one client operation, applied in order and
/// atomically by [`Storage::apply`].
///
/// ```
/// use tessera::storage::{Batch, MemoryStore, RecordKind, Storage};
/// let store = MemoryStore::new();
/// let mut batch = Batch::default();
/// batch.put(RecordKind::KeyPackage, b"ref".to_vec(), b"value".to_vec());
/// store.apply(batch).unwrap();
/// assert_eq!(&**store.get(RecordKind::KeyPackage, b"ref").unwrap().unwrap(), b"value");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Batch {
    /// The operations, in order.
    pub ops: Vec<Op>,
}

impl Batch {
    /// Adds a write.
    pub fn put(&mut self, kind: RecordKind, key: Vec<u8>, value: impl Into<Value>) {
        self.ops.push(Op::Put {
            kind,
            key,
            value: value.into(),
        });
    }

    /// Adds a delete.
    pub fn delete(&mut self, kind: RecordKind, key: Vec<u8>) {
        self.ops.push(Op::Delete { kind, key });
    }

    /// Whether the batch does nothing.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The bytes the batch writes: keys and values of its writes.
    pub fn bytes_written(&self) -> usize {
        self.ops
            .iter()
            .map(|op| match op {
                Op::Put { key, value, .. } => key.len() + value.len(),
                Op::Delete { .. } => 0,
            })
            .sum()
    }
}

/// A store of records (see the [module documentation](self)).
///
/// Implementations must be safe to call from several threads; a client
/// calls [`Storage::apply`] for different groups concurrently.
pub trait Storage: Send + Sync {
    /// The record of `kind` with `key`, if there is one.
    fn get(&self, kind: RecordKind, key: &[u8]) -> Result<Option<Value>, StorageError>;

    /// Every record of `kind` whose key starts with `prefix`, in increasing
    /// key order (bytewise).
    fn scan(&self, kind: RecordKind, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Value)>, StorageError>;

    /// Applies all operations of `batch`, in order, atomically and durably:
    /// all or none.
    fn apply(&self, batch: Batch) -> Result<(), StorageError>;
}

impl<S: Storage + ?Sized> Storage for std::sync::Arc<S> {
    fn get(&self, kind: RecordKind, key: &[u8]) -> Result<Option<Value>, StorageError> {
        (**self).get(kind, key)
    }

    fn scan(&self, kind: RecordKind, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Value)>, StorageError> {
        (**self).scan(kind, prefix)
    }

    fn apply(&self, batch: Batch) -> Result<(), StorageError> {
        (**self).apply(batch)
    }
}

/// The key prefix of a group's records: the group id's length (`uint32`,
/// big-endian), then the id. No group's prefix is a prefix of another's.
///
/// ```
/// assert_eq!(tessera::storage::group_key_prefix(b"ab"), [0, 0, 0, 2, b'a', b'b']);
/// ```
pub fn group_key_prefix(group_id: &[u8]) -> Vec<u8> {
    let len = u32::try_from(group_id.len()).unwrap_or(u32::MAX);
    let mut k = Vec::with_capacity(4 + group_id.len());
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(group_id);
    k
}

/// Splits a group record's key into the group id and the rest; `None` if
/// the key is not one.
pub fn split_group_key(key: &[u8]) -> Option<(&[u8], &[u8])> {
    let len: [u8; 4] = key.get(..4)?.try_into().ok()?;
    let len = usize::try_from(u32::from_be_bytes(len)).ok()?;
    let rest = key.get(4..)?;
    Some((rest.get(..len)?, rest.get(len..)?))
}
