//! The store's schema and its forward migrations.
//!
//! The format version is SQLite's `PRAGMA user_version`; the file is marked
//! as a Tessera store by `PRAGMA application_id`. [`MIGRATIONS`]`[v]` takes
//! a store from version `v` to `v + 1`; on open, every migration from the
//! file's version to [`FORMAT_VERSION`] runs in one transaction with the
//! version update, so a store is at one version or the next, never between.
//!
//! Version 1:
//!
//! ```sql
//! CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;
//! -- rows: 'store_id' (16 random bytes), 'key_check' (sealed, see seal.rs)
//! CREATE TABLE record (kind INTEGER NOT NULL,   -- RecordKind::code
//!                      key BLOB NOT NULL,       -- in the clear (group ids, epochs, leaves)
//!                      value BLOB NOT NULL,     -- sealed
//!                      PRIMARY KEY (kind, key)) WITHOUT ROWID;
//! ```
//!
//! The `meta` table, its `store_id` and `key_check` rows and the sealing of
//! the key check are the same in every version: they are read, to check the
//! key, before any migration runs. A new [`RecordKind`](crate::storage::RecordKind)
//! needs no migration (kinds are rows, not tables); a change of the record
//! table or of the sealing does, and the fixture test
//! (`tests/sqlite_fixture.rs`) keeps every older format readable.

use rusqlite::Transaction;

use super::seal::Sealer;
use crate::error::StorageError;

/// Marks a SQLite file as a Tessera store (`PRAGMA application_id`): "TMLS".
pub(super) const APPLICATION_ID: i32 = 0x544d_4c53;

/// A migration from one version to the next, run inside the open
/// transaction. It may re-seal records (it gets the store's sealer).
pub(super) type Migration = fn(&Transaction<'_>, &Sealer) -> Result<(), StorageError>;

/// The migrations, in order: `MIGRATIONS[v]` takes version `v` to `v + 1`.
pub(super) const MIGRATIONS: &[Migration] = &[v1];

/// The format version this library writes (and the newest it reads).
pub const FORMAT_VERSION: u32 = MIGRATIONS.len() as u32;

/// The tables of the current version, checked on open.
pub(super) const TABLES: &[&str] = &["meta", "record"];

/// Version 0 (an empty file) to 1: the meta and record tables.
fn v1(tx: &Transaction<'_>, _: &Sealer) -> Result<(), StorageError> {
    tx.execute_batch(
        "CREATE TABLE meta (name TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;
         CREATE TABLE record (
             kind INTEGER NOT NULL,
             key BLOB NOT NULL,
             value BLOB NOT NULL,
             PRIMARY KEY (kind, key)
         ) WITHOUT ROWID;",
    )
    .map_err(super::error)
}
