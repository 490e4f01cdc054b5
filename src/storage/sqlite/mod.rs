//! The embedded store: SQLite (bundled), one file per client, every value
//! sealed under a key the application supplies.
//!
//! ```no_run
//! use tessera::client::Client;
//! use tessera::messages::Credential;
//! use tessera::storage::{SqliteStore, StoreKey};
//!
//! // In an app, the key comes from the Android Keystore or the iOS Keychain.
//! let key = StoreKey::generate()?;
//! let alice = Client::create(Credential::basic("alice"), SqliteStore::open("alice.db", &key)?)?;
//! # drop(alice);
//! // Later, in another run of the app:
//! let alice = Client::open(SqliteStore::open("alice.db", &key)?)?;
//! # Ok::<(), tessera::Error>(())
//! ```
//!
//! # What it guarantees
//!
//! * **Atomic operations.** Each [`Storage::apply`] is one SQLite
//!   transaction (`BEGIN IMMEDIATE` ... `COMMIT`), and the client applies
//!   one batch per operation, so the file always holds the state after
//!   some complete operation: a crash (or `SIGKILL`) in the middle of one
//!   leaves the state before it. The journal is a write-ahead log (WAL).
//! * **Durability: [`Synchronous`].** [`Synchronous::Normal`], the
//!   default, survives the application's crash at any point (the commit is
//!   in the operating system's cache when `apply` returns), but the last
//!   operations before a power loss or a kernel crash may be lost (never
//!   torn: the file is then at an earlier complete state). With
//!   [`Synchronous::Full`] every commit is flushed to the disk (`fsync`)
//!   before `apply` returns, so it survives power loss, at the cost of a
//!   disk flush per operation (milliseconds on many devices). Losing the
//!   last operations means, on restart, a member back in an earlier state:
//!   messages it already decrypted decrypt again, a merged commit must be
//!   processed again, and, if it had sent a message, it may send another
//!   with the same generation, which receivers of the first refuse
//!   (`KeyAlreadyUsed`); choose `Full` where that matters more than speed.
//! * **Encrypted at rest.** Every value is sealed with XChaCha20-Poly1305
//!   under a key derived from the application's 32-byte [`StoreKey`] and the
//!   store's random id, with the record's kind and key as associated data:
//!   a value cannot be read without the key, nor altered, nor moved to
//!   another record (or another store) without the store noticing
//!   ([`StorageError::Corrupted`]). All values are sealed, not only those
//!   of kinds that [hold secrets](crate::storage::RecordKind::holds_secrets):
//!   trees and held messages name the group's members, and sealing them
//!   too protects every row against tampering at the cost of one AEAD pass.
//!   Record keys (group ids, epochs, leaf indices, KeyPackage references)
//!   are in the clear, so that a group's records can be found by prefix.
//! * **The wrong key** is [`StorageError::WrongKey`] at
//!   [`SqliteStore::open`], before any record is read or written (a key
//!   check sealed when the store was created does not open).
//! * **Deleted secrets are overwritten**: `PRAGMA secure_delete` zeroes
//!   deleted records in the database file. Older copies of a page may stay
//!   in the write-ahead log until it is checkpointed and reused; they are
//!   sealed like everything else.
//! * **Versioned**: the file records its format version; [`SqliteStore::open`]
//!   runs the forward migrations from an older version in one transaction,
//!   and refuses a newer one ([`StorageError::NewerFormat`]) without
//!   changing it.
//! * **Many threads, many processes.** A store is `Send + Sync` (its
//!   connection is behind a mutex). Several stores may be opened on one
//!   file, in one process or several: their transactions are serialised by
//!   SQLite's locks, each waits up to [`SqliteOptions::busy_timeout`] for
//!   another's to finish, then fails with [`StorageError::Busy`], having
//!   changed nothing. Note that a [`Client`](crate::client::Client) keeps
//!   its groups in memory: two clients on one file must not work on the
//!   same group at the same time, and one that resumes after another
//!   changed the file (an app and its notification extension, say) must
//!   call [`Client::unload_groups`](crate::client::Client::unload_groups)
//!   first. [`SqliteStore::changed_elsewhere`] tells when that is needed.
//! * **Bad files** (truncated, corrupted, altered rows, missing tables,
//!   not a Tessera store) are typed errors ([`StorageError::Corrupted`]),
//!   never a panic, and the store does not write to a file it could not
//!   read.
//!
//! # What it does not protect against
//!
//! Someone who can write the file but does not have the key cannot read or
//! forge records, but can delete records, or put back an older sealed
//! value of the same record (or an older copy of the whole file): a
//! rollback, which brings back consumed keys. Detecting it needs a counter
//! outside the file (a platform's monotonic counter, say); the store does
//! not have one.

mod checkpoint;
mod schema;
mod seal;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{Batch, Op, RecordKind, Storage, StorageError, Value};
use checkpoint::{Checkpointer, FALLBACK_PAGES, LOG_SIZE_LIMIT};
pub use schema::FORMAT_VERSION;
use schema::{APPLICATION_ID, MIGRATIONS, Migration, TABLES};
use seal::Sealer;
pub use seal::StoreKey;

/// When a commit is flushed to the disk (SQLite's `PRAGMA synchronous`, in
/// WAL mode). See the [module documentation](self#what-it-guarantees).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Synchronous {
    /// Flush at checkpoints only: safe against the application's crash,
    /// consistent but not durable across a power loss (the last operations
    /// may be lost, never torn). The default.
    #[default]
    Normal,
    /// Flush the log at every commit: durable across a power loss.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// How a [`SqliteStore`] is opened.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Durability of each operation. Default [`Synchronous::Normal`].
    pub synchronous: Synchronous,
    /// How long an operation waits for another connection's transaction on
    /// the same file before failing with [`StorageError::Busy`]. Default 5 s.
    pub busy_timeout: Duration,
    /// Whether to create the file if it does not exist. Default `true`.
    pub create: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
            create: true,
        }
    }
}

impl SqliteOptions {
    /// The defaults with `synchronous`.
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// The defaults with `busy_timeout`.
    pub fn busy_timeout(mut self, busy_timeout: Duration) -> Self {
        self.busy_timeout = busy_timeout;
        self
    }

    /// The defaults with `create`.
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }
}

/// A [`Storage`] in a SQLite file, encrypted at rest. See the
/// [module documentation](self).
pub struct SqliteStore {
    inner: Mutex<Inner>,
    /// Checkpoints the log in the background (see `checkpoint.rs`).
    checkpointer: Option<Checkpointer>,
    path: PathBuf,
    options: SqliteOptions,
}

struct Inner {
    conn: Connection,
    sealer: Sealer,
    /// `PRAGMA data_version` after this handle's last look (see
    /// [`SqliteStore::changed_elsewhere`]).
    data_version: i64,
}

impl core::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// A SQLite error as a storage error.
pub(super) fn error(e: rusqlite::Error) -> StorageError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StorageError::Busy,
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StorageError::Corrupted(e.to_string())
        }
        _ => {
            let text = e.to_string();
            if text.contains("no such table") || text.contains("no such column") {
                StorageError::Corrupted(text)
            } else if matches!(
                e,
                rusqlite::Error::FromSqlConversionFailure(..)
                    | rusqlite::Error::InvalidColumnType(..)
            ) {
                StorageError::Corrupted(format!("unexpected value in the store: {text}"))
            } else {
                StorageError::Backend(text)
            }
        }
    }
}

/// What a file holds before it is opened as a store.
enum Found {
    /// Nothing: a new or empty file.
    Empty,
    /// A Tessera store of this format version.
    Store(u32),
}

/// Looks at the file without writing to it.
fn inspect(conn: &Connection) -> Result<Found, StorageError> {
    let application_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(error)?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(error)?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(error)?;
    match (application_id, version, objects) {
        (0, 0, 0) => Ok(Found::Empty),
        (APPLICATION_ID, v, _) if v >= 1 => u32::try_from(v)
            .map(Found::Store)
            .map_err(|_| StorageError::Corrupted(format!("format version {v}"))),
        _ => Err(StorageError::Corrupted(
            "not a Tessera store (another database, or a damaged header)".into(),
        )),
    }
}

fn table_exists(conn: &Connection, table: &str) -> Result<bool, StorageError> {
    conn.query_row(
        "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        [table],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
    .map_err(error)
}

fn meta(conn: &Connection, name: &str) -> Result<Vec<u8>, StorageError> {
    conn.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
        r.get::<_, Vec<u8>>(0)
    })
    .optional()
    .map_err(error)?
    .ok_or_else(|| StorageError::Corrupted(format!("store metadata: no {name}")))
}

/// The smallest key above every key that starts with `prefix`, if any.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The page size of new stores. A received message rewrites one small
/// record, a sent one two (and deletes one); every page an operation
/// touches goes to the write-ahead log whole. 2 KiB pages halve those
/// bytes against SQLite's 4 KiB default, which measurably speeds up each
/// operation when the disk is the bottleneck, while a large record (a
/// tree of 10,000 members, about 3 MB) still spans few enough pages.
const PAGE_SIZE: u32 = 2048;

const GET: &str = "SELECT value FROM record WHERE kind = ?1 AND key = ?2";
const SCAN: &str = "SELECT key, value FROM record WHERE kind = ?1 AND key >= ?2 ORDER BY key";
const SCAN_TO: &str =
    "SELECT key, value FROM record WHERE kind = ?1 AND key >= ?2 AND key < ?3 ORDER BY key";
const PUT: &str = "INSERT INTO record (kind, key, value) VALUES (?1, ?2, ?3) \
                   ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM record WHERE kind = ?1 AND key = ?2";

impl SqliteStore {
    /// Opens the store in file `path` with the default [`SqliteOptions`],
    /// creating it if need be.
    ///
    /// Errors: [`StorageError::WrongKey`] if the store was created with
    /// another key; [`StorageError::NewerFormat`] if a newer version of the
    /// library wrote it; [`StorageError::Corrupted`] if the file is not a
    /// Tessera store or is damaged; [`StorageError::Busy`] if another
    /// connection holds the file longer than the busy timeout;
    /// [`StorageError::Backend`] for I/O errors. Nothing is written to a
    /// file that fails to open.
    pub fn open(path: impl AsRef<Path>, key: &StoreKey) -> Result<Self, StorageError> {
        Self::open_with(path, key, SqliteOptions::default())
    }

    /// Opens the store in file `path` with `options`.
    pub fn open_with(
        path: impl AsRef<Path>,
        key: &StoreKey,
        options: SqliteOptions,
    ) -> Result<Self, StorageError> {
        Self::open_migrating(path.as_ref(), key, options, MIGRATIONS)
    }

    /// [`SqliteStore::open_with`], with a list of migrations (for tests).
    fn open_migrating(
        path: &Path,
        key: &StoreKey,
        options: SqliteOptions,
        migrations: &[Migration],
    ) -> Result<Self, StorageError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if options.create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let mut conn = Connection::open_with_flags(path, flags).map_err(error)?;
        conn.busy_timeout(options.busy_timeout).map_err(error)?;
        // Plain SQL cannot corrupt the file (no writable_schema, ...).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
            .map_err(error)?;
        // Per-connection settings; none writes to the file.
        conn.execute_batch(&format!(
            "PRAGMA secure_delete = ON;
             PRAGMA cell_size_check = ON;
             PRAGMA trusted_schema = OFF;
             PRAGMA synchronous = {};
             PRAGMA wal_autocheckpoint = {FALLBACK_PAGES};
             PRAGMA journal_size_limit = {LOG_SIZE_LIMIT};",
            options.synchronous.pragma()
        ))
        .map_err(error)?;

        let just_created = match inspect(&conn)? {
            Found::Empty => create(&mut conn, key, migrations)?.is_none(),
            Found::Store(_) => false,
        };
        let sealer = open_existing(&mut conn, key, migrations, just_created)?;
        let data_version = data_version(&conn)?;
        let checkpointer = Checkpointer::start(path, &options)?;
        Ok(Self {
            inner: Mutex::new(Inner {
                conn,
                sealer,
                data_version,
            }),
            checkpointer: Some(checkpointer),
            path: path.to_path_buf(),
            options,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options it was opened with.
    pub fn options(&self) -> &SqliteOptions {
        &self.options
    }

    fn lock(&self) -> Result<MutexGuard<'_, Inner>, StorageError> {
        self.inner
            .lock()
            .map_err(|_| StorageError::Backend("SQLite store lock poisoned".into()))
    }

    /// Whether another connection (another store on the same file, in this
    /// process or another) changed the file since this store last asked,
    /// or since it was opened. A client whose store says so must call
    /// [`Client::unload_groups`](crate::client::Client::unload_groups)
    /// before its next operation, so as not to work from (and write back)
    /// an outdated copy of its groups.
    pub fn changed_elsewhere(&self) -> Result<bool, StorageError> {
        let mut inner = self.lock()?;
        let now = data_version(&inner.conn)?;
        let changed = now != inner.data_version;
        inner.data_version = now;
        Ok(changed)
    }

    /// Checks the whole file: SQLite's integrity check, then every record
    /// opens in its slot. [`StorageError::Corrupted`] names the first
    /// problem found. Reads only.
    pub fn verify(&self) -> Result<(), StorageError> {
        let inner = self.lock()?;
        let conn = &inner.conn;
        let mut stmt = conn.prepare("PRAGMA integrity_check(10)").map_err(error)?;
        let problems: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(error)?
            .collect::<Result<_, _>>()
            .map_err(error)?;
        if problems.iter().map(String::as_str).ne(["ok"]) {
            return Err(StorageError::Corrupted(problems.join("; ")));
        }
        let mut stmt = conn
            .prepare("SELECT kind, key, value FROM record")
            .map_err(error)?;
        let mut rows = stmt.query([]).map_err(error)?;
        while let Some(row) = rows.next().map_err(error)? {
            let code: i64 = row.get(0).map_err(error)?;
            let kind = u8::try_from(code)
                .ok()
                .and_then(RecordKind::from_code)
                .ok_or_else(|| StorageError::Corrupted(format!("record of unknown kind {code}")))?;
            let key = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(error)?;
            let value = row
                .get_ref(2)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(error)?;
            inner.sealer.open_record(kind, key, value)?;
        }
        Ok(())
    }

    /// Re-seals every record under `new_key`, in one transaction: after it
    /// returns `Ok`, the store opens with `new_key` only; after an error,
    /// with the old key only.
    pub fn change_key(&self, new_key: &StoreKey) -> Result<(), StorageError> {
        let mut inner = self.lock()?;
        let Inner { conn, sealer, .. } = &mut *inner;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(error)?;
        let store_id = meta(&tx, "store_id")?;
        let new_sealer = Sealer::new(new_key, &store_id)?;
        let records: Vec<(i64, Vec<u8>, Vec<u8>)> = {
            let mut stmt = tx
                .prepare("SELECT kind, key, value FROM record")
                .map_err(error)?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(error)?
                .collect::<Result<_, _>>()
                .map_err(error)?
        };
        for (code, key, value) in records {
            let kind = u8::try_from(code)
                .ok()
                .and_then(RecordKind::from_code)
                .ok_or_else(|| StorageError::Corrupted(format!("record of unknown kind {code}")))?;
            let plain = sealer.open_record(kind, &key, &value)?;
            let sealed = new_sealer.seal_record(kind, &key, &plain)?;
            tx.execute(
                "UPDATE record SET value = ?3 WHERE kind = ?1 AND key = ?2",
                rusqlite::params![code, key, sealed],
            )
            .map_err(error)?;
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE name = 'key_check'",
            [new_sealer.seal_key_check()?],
        )
        .map_err(error)?;
        tx.commit().map_err(error)?;
        *sealer = new_sealer;
        Ok(())
    }

    /// Closes the store, reporting errors that dropping it would hide.
    pub fn close(mut self) -> Result<(), StorageError> {
        // The writer's connection closes last: it checkpoints the log into
        // the file and removes it, and reports what goes wrong.
        drop(self.checkpointer.take());
        let inner = self
            .inner
            .into_inner()
            .map_err(|_| StorageError::Backend("SQLite store lock poisoned".into()))?;
        inner.conn.close().map_err(|(_, e)| error(e))
    }
}

fn data_version(conn: &Connection) -> Result<i64, StorageError> {
    conn.pragma_query_value(None, "data_version", |r| r.get(0))
        .map_err(error)
}

/// Makes an empty file a store: WAL mode, the schema, the store id and the
/// key check, in one transaction. `None` if it is a store now; `Some` with
/// the version found if another connection made it one first.
fn create(
    conn: &mut Connection,
    key: &StoreKey,
    migrations: &[Migration],
) -> Result<Option<u32>, StorageError> {
    // Small pages: an operation rewrites a few small records, and each
    // page it touches is written whole to the log (see PAGE_SIZE).
    conn.pragma_update(None, "page_size", PAGE_SIZE)
        .map_err(error)?;
    set_wal(conn)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(error)?;
    // Another process may have created it since we looked.
    if let Found::Store(v) = inspect(&tx)? {
        return Ok(Some(v));
    }
    let mut store_id = [0u8; 16];
    seal::random(&mut store_id)?;
    let sealer = Sealer::new(key, &store_id)?;
    for migration in migrations {
        migration(&tx, &sealer)?;
    }
    tx.execute(
        "INSERT INTO meta (name, value) VALUES ('store_id', ?1), ('key_check', ?2)",
        rusqlite::params![store_id.as_slice(), sealer.seal_key_check()?],
    )
    .map_err(error)?;
    set_version(&tx, migrations)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(error)?;
    tx.commit().map_err(error)?;
    Ok(None)
}

fn set_version(conn: &Connection, migrations: &[Migration]) -> Result<(), StorageError> {
    let version = u32::try_from(migrations.len())
        .map_err(|_| StorageError::Backend("too many migrations".into()))?;
    conn.pragma_update(None, "user_version", version)
        .map_err(error)
}

fn set_wal(conn: &Connection) -> Result<(), StorageError> {
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(error)?;
    if mode.eq_ignore_ascii_case("wal") {
        Ok(())
    } else {
        Err(StorageError::Backend(format!(
            "the file cannot be in WAL mode (journal mode {mode})"
        )))
    }
}

/// Opens a store: checks the key (before reading or writing any record),
/// then migrates it to the current version, in one transaction.
fn open_existing(
    conn: &mut Connection,
    key: &StoreKey,
    migrations: &[Migration],
    just_created: bool,
) -> Result<Sealer, StorageError> {
    let supported = u32::try_from(migrations.len())
        .map_err(|_| StorageError::Backend("too many migrations".into()))?;
    let found = match inspect(conn)? {
        Found::Store(v) => v,
        Found::Empty => return Err(StorageError::Corrupted("the store is empty".into())),
    };
    if found > supported {
        return Err(StorageError::NewerFormat { found, supported });
    }
    if !table_exists(conn, "meta")? {
        return Err(StorageError::Corrupted("missing table: meta".into()));
    }
    let store_id = meta(conn, "store_id")?;
    let sealer = Sealer::new(key, &store_id)?;
    if !sealer.key_check_opens(&meta(conn, "key_check")?) {
        return Err(StorageError::WrongKey);
    }
    if !just_created {
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .map_err(error)?;
        if !mode.eq_ignore_ascii_case("wal") {
            set_wal(conn)?;
        }
    }
    if found < supported {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(error)?;
        // Another process may have migrated it since we looked.
        let now = match inspect(&tx)? {
            Found::Store(v) => v,
            Found::Empty => return Err(StorageError::Corrupted("the store is empty".into())),
        };
        if now > supported {
            return Err(StorageError::NewerFormat {
                found: now,
                supported,
            });
        }
        for migration in migrations
            .iter()
            .skip(usize::try_from(now).unwrap_or(usize::MAX))
        {
            migration(&tx, &sealer)?;
        }
        set_version(&tx, migrations)?;
        tx.commit().map_err(error)?;
    }
    for table in TABLES {
        if !table_exists(conn, table)? {
            return Err(StorageError::Corrupted(format!("missing table: {table}")));
        }
    }
    // Every statement compiles against the schema found.
    for sql in [GET, SCAN, SCAN_TO, PUT, DELETE] {
        conn.prepare_cached(sql).map_err(error)?;
    }
    Ok(sealer)
}

impl Storage for SqliteStore {
    fn get(&self, kind: RecordKind, key: &[u8]) -> Result<Option<Value>, StorageError> {
        let inner = self.lock()?;
        let mut stmt = inner.conn.prepare_cached(GET).map_err(error)?;
        let mut rows = stmt
            .query(rusqlite::params![kind.code(), key])
            .map_err(error)?;
        let Some(row) = rows.next().map_err(error)? else {
            return Ok(None);
        };
        let sealed = row
            .get_ref(0)
            .and_then(|v| Ok(v.as_blob()?))
            .map_err(error)?;
        inner.sealer.open_record(kind, key, sealed).map(Some)
    }

    fn scan(&self, kind: RecordKind, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Value)>, StorageError> {
        let inner = self.lock()?;
        let end = prefix_end(prefix);
        let mut stmt = inner
            .conn
            .prepare_cached(if end.is_some() { SCAN_TO } else { SCAN })
            .map_err(error)?;
        let mut rows = match &end {
            Some(end) => stmt.query(rusqlite::params![kind.code(), prefix, end]),
            None => stmt.query(rusqlite::params![kind.code(), prefix]),
        }
        .map_err(error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(error)? {
            let key = row
                .get_ref(0)
                .and_then(|v| Ok(v.as_blob()?.to_vec()))
                .map_err(error)?;
            let sealed = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(error)?;
            let value = inner.sealer.open_record(kind, &key, sealed)?;
            out.push((key, value));
        }
        Ok(out)
    }

    fn apply(&self, batch: Batch) -> Result<(), StorageError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut inner = self.lock()?;
        let Inner { conn, sealer, .. } = &mut *inner;
        // Seal first: the write lock is held for the SQL only.
        let ops = batch
            .ops
            .into_iter()
            .map(|op| match op {
                Op::Put { kind, key, value } => {
                    let sealed = sealer.seal_record(kind, &key, &value)?;
                    Ok((kind, key, Some(sealed)))
                }
                Op::Delete { kind, key } => Ok((kind, key, None)),
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(error)?;
        {
            let mut put = tx.prepare_cached(PUT).map_err(error)?;
            let mut delete = tx.prepare_cached(DELETE).map_err(error)?;
            for (kind, key, sealed) in &ops {
                match sealed {
                    Some(sealed) => put.execute(rusqlite::params![kind.code(), key, sealed]),
                    None => delete.execute(rusqlite::params![kind.code(), key]),
                }
                .map_err(error)?;
            }
        }
        tx.commit().map_err(error)?;
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed();
        }
        Ok(())
    }
}
