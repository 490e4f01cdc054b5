//! Groups in memory and in the store: loading a group from its records,
//! running an operation on it, and writing what the operation changed in
//! one batch.

use std::sync::{Arc, Mutex};

use super::events::InactiveReason;
use super::records::{corrupted, decode_held, decode_meta, encode_meta, record_kind};
use super::{Client, poisoned};
use crate::error::{ApiError, Result};
use crate::group::{Group, PieceKind, StatePiece};
use crate::messages::MlsMessage;
use crate::storage::{Batch, RecordKind, group_key_prefix};

/// A message held until its group reaches the message's epoch.
pub(super) struct Held {
    /// Its position in arrival order (its record's key).
    pub seq: u64,
    /// The message's epoch.
    pub epoch: u64,
    /// The message.
    pub message: MlsMessage,
}

/// A group loaded in memory.
pub(super) struct Loaded {
    pub group: Group,
    /// Why this member can no longer send, if so.
    pub inactive: Option<InactiveReason>,
    /// Messages for later epochs, in arrival order.
    pub held: Vec<Held>,
    /// The sequence number of the next held message.
    pub next_held: u64,
}

/// One group's place in the client: loaded or not (loaded on first use,
/// dropped when a write fails so that it is read again from the store).
#[derive(Default)]
pub(super) struct Slot {
    pub loaded: Option<Loaded>,
    /// The group was deleted; this slot is stale.
    pub deleted: bool,
}

/// The key of a group's record: the group's prefix, then `rest`.
pub(super) fn group_key(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + rest.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(rest);
    k
}

/// Adds the changes of `group`'s state since they were last taken to `batch`.
pub(super) fn stage_changes(group: &mut Group, prefix: &[u8], batch: &mut Batch) -> Result<()> {
    let changes = group.take_state_changes()?;
    for piece in changes.deleted {
        batch.delete(record_kind(piece.kind()), group_key(prefix, &piece.key()));
    }
    for (piece, value) in changes.written {
        batch.put(
            record_kind(piece.kind()),
            group_key(prefix, &piece.key()),
            value.as_bytes().to_vec(),
        );
    }
    Ok(())
}

/// Adds the record of a group's status to `batch`.
pub(super) fn stage_meta(prefix: &[u8], inactive: Option<InactiveReason>, batch: &mut Batch) {
    batch.put(
        RecordKind::GroupMeta,
        prefix.to_vec(),
        encode_meta(inactive),
    );
}

impl Client {
    /// The slot of group `id`, created if need be.
    pub(super) fn slot(&self, id: &[u8]) -> Result<Arc<Mutex<Slot>>> {
        let mut groups = self.groups.lock().map_err(poisoned)?;
        Ok(groups.entry(id.to_vec()).or_default().clone())
    }

    /// Reads group `id` from the store.
    fn load(&self, id: &[u8]) -> Result<Loaded> {
        let prefix = group_key_prefix(id);
        let meta = self
            .store
            .get(RecordKind::GroupMeta, &prefix)?
            .ok_or(ApiError::UnknownGroup)?;
        let inactive = decode_meta(&meta).map_err(corrupted("group status"))?;
        let mut pieces = Vec::new();
        for kind in PieceKind::ALL {
            for (key, value) in self.store.scan(record_kind(kind), &prefix)? {
                let rest = key.get(prefix.len()..).unwrap_or_default();
                let piece = StatePiece::from_key(kind, rest)
                    .map_err(|e| corrupted("group state key")(e.into()))?;
                pieces.push((piece, value));
            }
        }
        let group = Group::from_pieces(
            &*self.provider,
            pieces.iter().map(|(p, v)| (p.clone(), v.as_slice())),
        )
        .map_err(corrupted("group state"))?;
        let mut held = Vec::new();
        let mut next_held = 0;
        for (key, value) in self.store.scan(RecordKind::HeldMessage, &prefix)? {
            let seq = key
                .get(prefix.len()..)
                .and_then(|k| <[u8; 8]>::try_from(k).ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| {
                    corrupted("held message key")(
                        crate::error::DecodeError::InvalidValue("held message key").into(),
                    )
                })?;
            let (epoch, message) = decode_held(&value).map_err(corrupted("held message"))?;
            next_held = next_held.max(seq.saturating_add(1));
            held.push(Held {
                seq,
                epoch,
                message,
            });
        }
        Ok(Loaded {
            group,
            inactive,
            held,
            next_held,
        })
    }

    /// Runs `read` on group `id` (loaded if need be), changing nothing.
    pub(super) fn read_group<T>(&self, id: &[u8], read: impl FnOnce(&Loaded) -> T) -> Result<T> {
        let slot = self.slot(id)?;
        let mut slot = slot.lock().map_err(poisoned)?;
        if slot.deleted {
            return Err(ApiError::UnknownGroup.into());
        }
        if slot.loaded.is_none() {
            slot.loaded = Some(self.load(id)?);
        }
        let loaded = slot
            .loaded
            .as_ref()
            .ok_or(crate::Error::Internal("group not loaded"))?;
        Ok(read(loaded))
    }

    /// Runs the operation `op` on group `id` (loaded if need be), then writes
    /// everything it changed, with what it added to the batch, in one
    /// atomic write.
    ///
    /// `op` must leave the group unchanged when it fails. If the write fails
    /// (or `op` fails after changing the group), the group is dropped from
    /// memory, to be read again from the store, which still holds the state
    /// before the operation.
    pub(super) fn with_group<T>(
        &self,
        id: &[u8],
        op: impl FnOnce(&mut Loaded, &mut Batch) -> Result<T>,
    ) -> Result<T> {
        let slot = self.slot(id)?;
        let mut slot = slot.lock().map_err(poisoned)?;
        if slot.deleted {
            return Err(ApiError::UnknownGroup.into());
        }
        if slot.loaded.is_none() {
            slot.loaded = Some(self.load(id)?);
        }
        let Some(loaded) = slot.loaded.as_mut() else {
            return Err(crate::Error::Internal("group not loaded"));
        };
        let prefix = group_key_prefix(id);
        let mut batch = Batch::default();
        let result = op(loaded, &mut batch).and_then(|out| {
            stage_changes(&mut loaded.group, &prefix, &mut batch)?;
            Ok(out)
        });
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                if loaded.group.has_state_changes() || !batch.is_empty() {
                    slot.loaded = None;
                }
                return Err(e);
            }
        };
        if !batch.is_empty()
            && let Err(e) = self.store.apply(batch)
        {
            slot.loaded = None;
            return Err(e.into());
        }
        Ok(out)
    }

    /// Stores a group new to the client (created or joined) and keeps it
    /// loaded, with `extra` (a KeyPackage's deletion, say) in the same
    /// write. The caller holds the membership lock and checked that the
    /// group id is free.
    pub(super) fn store_new_group(&self, mut group: Group, mut extra: Batch) -> Result<()> {
        let id = group.group_id().to_vec();
        let prefix = group_key_prefix(&id);
        let mut batch = Batch::default();
        // Anything left of an earlier group with this id goes (an external
        // rejoin replacing it).
        for kind in RecordKind::ALL {
            if matches!(kind, RecordKind::Identity | RecordKind::KeyPackage) {
                continue;
            }
            for (key, _) in self.store.scan(kind, &prefix)? {
                batch.delete(kind, key);
            }
        }
        stage_meta(&prefix, None, &mut batch);
        stage_changes(&mut group, &prefix, &mut batch)?;
        batch.ops.append(&mut extra.ops);
        let slot = self.slot(&id)?;
        let mut slot = slot.lock().map_err(poisoned)?;
        self.store.apply(batch)?;
        *slot = Slot {
            loaded: Some(Loaded {
                group,
                inactive: None,
                held: Vec::new(),
                next_held: 0,
            }),
            deleted: false,
        };
        Ok(())
    }

    /// Whether the client has group `id` (in memory or in the store).
    pub(super) fn has_group(&self, id: &[u8]) -> Result<bool> {
        Ok(self
            .store
            .get(RecordKind::GroupMeta, &group_key_prefix(id))?
            .is_some())
    }
}
