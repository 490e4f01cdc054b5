//! The SQLite store: the contract, the key, bad files, migrations, several
//! handles on one file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::*;
use crate::client::Client;
use crate::messages::Credential;

fn key() -> StoreKey {
    StoreKey::new([0x42; 32])
}

fn other_key() -> StoreKey {
    StoreKey::new([0x43; 32])
}

/// A temporary folder and the path of a store file in it.
fn temp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    (dir, path)
}

fn put(store: &SqliteStore, kind: RecordKind, key: &[u8], value: &[u8]) {
    let mut b = Batch::default();
    b.put(kind, key.to_vec(), value.to_vec());
    store.apply(b).unwrap();
}

fn get(store: &SqliteStore, kind: RecordKind, key: &[u8]) -> Option<Vec<u8>> {
    store.get(kind, key).unwrap().map(|v| v.to_vec())
}

/// A closed store holding a few records of every kind.
fn filled(path: &Path) {
    let store = SqliteStore::open(path, &key()).unwrap();
    let mut b = Batch::default();
    for kind in RecordKind::ALL {
        for i in 0..20u8 {
            b.put(kind, vec![kind.code(), i], vec![i; 100 + usize::from(i)]);
        }
    }
    store.apply(b).unwrap();
    store.close().unwrap();
}

/// Every record `filled` wrote, read back: the first error, if any.
fn read_all(store: &SqliteStore) -> Result<usize, StorageError> {
    let mut n = 0;
    for kind in RecordKind::ALL {
        for (key, value) in store.scan(kind, &[])? {
            let i = key[1];
            assert_eq!(key, [kind.code(), i]);
            assert_eq!(&*value, &vec![i; 100 + usize::from(i)][..]);
            n += 1;
        }
    }
    Ok(n)
}

/// The bytes of the file and of its WAL, if any.
fn file_state(path: &Path) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    (std::fs::read(path).unwrap(), std::fs::read(wal).ok())
}

/// A plain SQLite connection to the file, to damage it.
fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

// --- The storage contract ------------------------------------------------

#[test]
fn records_round_trip_and_scan_by_prefix() {
    let (_dir, path) = temp();
    let store = SqliteStore::open(&path, &key()).unwrap();
    assert_eq!(store.get(RecordKind::Identity, b"").unwrap(), None);
    let mut b = Batch::default();
    b.put(RecordKind::Identity, Vec::new(), b"me".to_vec());
    b.put(RecordKind::Tree, b"ab1".to_vec(), vec![1]);
    b.put(RecordKind::Tree, b"ab2".to_vec(), vec![2]);
    b.put(RecordKind::Tree, b"ac".to_vec(), vec![3]);
    b.put(RecordKind::Tree, vec![b'a', 0xff], vec![4]);
    b.put(RecordKind::Tree, vec![b'a', 0xff, 0xff, 1], vec![5]);
    b.put(RecordKind::Tree, vec![b'b'], vec![6]);
    b.put(RecordKind::Tree, vec![0xff, 0xff], vec![7]);
    b.put(RecordKind::PastEpoch, b"ab3".to_vec(), vec![8]);
    b.put(RecordKind::Epoch, b"empty".to_vec(), Vec::new());
    store.apply(b).unwrap();
    assert_eq!(get(&store, RecordKind::Identity, b"").unwrap(), b"me");
    assert_eq!(get(&store, RecordKind::Epoch, b"empty").unwrap(), b"");
    let keys = |kind, prefix: &[u8]| -> Vec<Vec<u8>> {
        store
            .scan(kind, prefix)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect()
    };
    assert_eq!(
        keys(RecordKind::Tree, b"ab"),
        [b"ab1".to_vec(), b"ab2".to_vec()]
    );
    assert_eq!(
        keys(RecordKind::Tree, &[b'a', 0xff]),
        [vec![b'a', 0xff], vec![b'a', 0xff, 0xff, 1]]
    );
    assert_eq!(keys(RecordKind::Tree, &[0xff]), [vec![0xff, 0xff]]);
    assert_eq!(keys(RecordKind::Tree, b"").len(), 7);
    assert_eq!(keys(RecordKind::Tree, b"a").len(), 5);
    // In bytewise order, like the in-memory store.
    let memory = crate::storage::MemoryStore::new();
    let mut b = Batch::default();
    for (k, v) in store.scan(RecordKind::Tree, b"").unwrap() {
        b.put(RecordKind::Tree, k, v);
    }
    memory.apply(b).unwrap();
    let from_memory: Vec<_> = memory
        .scan(RecordKind::Tree, b"")
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys(RecordKind::Tree, b""), from_memory);
    let tree_count = keys(RecordKind::Tree, b"").len();

    // Writes and deletes in order, in one batch; deleting nothing is fine.
    let mut b = Batch::default();
    b.delete(RecordKind::Tree, b"ab1".to_vec());
    b.put(RecordKind::Tree, b"ab2".to_vec(), vec![9]);
    b.delete(RecordKind::Tree, b"nothing".to_vec());
    b.put(RecordKind::Tree, b"new".to_vec(), vec![10]);
    b.delete(RecordKind::Tree, b"new".to_vec());
    store.apply(b).unwrap();
    assert_eq!(keys(RecordKind::Tree, b"ab"), [b"ab2".to_vec()]);
    assert_eq!(get(&store, RecordKind::Tree, b"ab2").unwrap(), [9]);
    assert_eq!(get(&store, RecordKind::Tree, b"new"), None);
    store.apply(Batch::default()).unwrap();
    assert_eq!(keys(RecordKind::Tree, b"").len(), tree_count - 1);

    // Everything is there after a restart.
    store.close().unwrap();
    let store = SqliteStore::open(&path, &key()).unwrap();
    assert_eq!(get(&store, RecordKind::Tree, b"ab2").unwrap(), [9]);
    assert_eq!(store.scan(RecordKind::Tree, b"").unwrap().len(), 6);
    store.verify().unwrap();
}

#[test]
fn a_failed_batch_writes_nothing() {
    let (_dir, path) = temp();
    let store = SqliteStore::open(&path, &key()).unwrap();
    put(&store, RecordKind::Tree, b"a", b"1");
    // A write SQLite refuses (a trigger here, a full disk in life) fails
    // the batch after its first writes went in: they are rolled back.
    raw(&path)
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON record WHEN NEW.key = x'63'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    let mut b = Batch::default();
    b.delete(RecordKind::Tree, b"a".to_vec());
    b.put(RecordKind::Tree, b"b".to_vec(), vec![0; 10]);
    b.put(RecordKind::Tree, b"c".to_vec(), vec![0; 20]);
    let err = store.apply(b.clone()).unwrap_err();
    assert!(matches!(err, StorageError::Backend(_)), "{err:?}");
    assert_eq!(get(&store, RecordKind::Tree, b"a").unwrap(), b"1");
    assert_eq!(get(&store, RecordKind::Tree, b"b"), None);
    raw(&path).execute_batch("DROP TRIGGER refuse").unwrap();
    store.apply(b).unwrap();
    assert_eq!(get(&store, RecordKind::Tree, b"a"), None);
    assert_eq!(store.scan(RecordKind::Tree, b"").unwrap().len(), 2);
}

#[test]
fn values_are_sealed_on_disk_and_deleted_ones_overwritten() {
    let (_dir, path) = temp();
    let store = SqliteStore::open(&path, &key()).unwrap();
    let secret = b"this secret must never reach the disk in the clear".repeat(4);
    put(&store, RecordKind::SecretTreeNode, b"node", &secret);
    put(&store, RecordKind::Tree, b"tree", &secret);
    store.close().unwrap();
    let (bytes, wal) = file_state(&path);
    assert!(
        wal.is_none(),
        "the log is checkpointed and removed on close"
    );
    assert!(!contains(&bytes, &secret[..16]), "a value in the clear");
    assert!(contains(&bytes, b"node"), "keys are in the clear");
    // The sealed value is in the file...
    let sealed: Vec<u8> = raw(&path)
        .query_row(
            "SELECT value FROM record WHERE key = ?1",
            [b"node".as_slice()],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sealed.len(), secret.len() + seal::OVERHEAD);
    assert!(contains(&std::fs::read(&path).unwrap(), &sealed[1..40]));
    // ... and overwritten once deleted (secure_delete).
    let store = SqliteStore::open(&path, &key()).unwrap();
    let mut b = Batch::default();
    b.delete(RecordKind::SecretTreeNode, b"node".to_vec());
    store.apply(b).unwrap();
    store.close().unwrap();
    let (bytes, _) = file_state(&path);
    assert!(
        !contains(&bytes, &sealed[1..40]),
        "a deleted value is still in the file"
    );
    assert!(!contains(&bytes, b"node"));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_client_lives_in_its_file() {
    let (_dir, dir_path) = temp();
    let alice_path = dir_path.with_file_name("alice.db");
    let bob_path = dir_path.with_file_name("bob.db");
    let alice = Client::create(
        Credential::basic("alice"),
        SqliteStore::open(&alice_path, &key()).unwrap(),
    )
    .unwrap();
    let bob = Client::create(
        Credential::basic("bob"),
        SqliteStore::open(&bob_path, &other_key()).unwrap(),
    )
    .unwrap();
    let kp = bob.generate_key_packages(1).unwrap().remove(0);
    alice.create_group("g").unwrap();
    let added = alice.add("g", &[kp]).unwrap();
    alice.confirm_commit("g").unwrap();
    bob.join(&added.welcome).unwrap();
    let m1 = alice.encrypt("g", b"one").unwrap();
    let m2 = alice.encrypt("g", b"two").unwrap();
    assert_eq!(bob.process(&m1).unwrap().data(), Some(&b"one"[..]));
    drop(bob);
    // Bob restarts from his file: the first message stays consumed.
    let bob = Client::open(SqliteStore::open(&bob_path, &other_key()).unwrap()).unwrap();
    assert_eq!(bob.process(&m2).unwrap().data(), Some(&b"two"[..]));
    assert_eq!(
        bob.process(&m1).unwrap_err(),
        crate::error::ProtocolError::KeyAlreadyUsed(0).into()
    );
    let update = bob.update("g").unwrap();
    bob.confirm_commit("g").unwrap();
    alice.process(&update.commit).unwrap();
    assert_eq!(
        alice.epoch_authenticator("g").unwrap(),
        bob.epoch_authenticator("g").unwrap()
    );
    // A store holds one client.
    assert!(
        Client::create(
            Credential::basic("eve"),
            SqliteStore::open(&bob_path, &other_key()).unwrap()
        )
        .is_err()
    );
    // Bob's store opens only with Bob's key.
    assert_eq!(
        SqliteStore::open(&bob_path, &key()).unwrap_err(),
        StorageError::WrongKey
    );
}

// --- The key -------------------------------------------------------------

#[test]
fn the_wrong_key_is_refused_before_anything_is_read_or_written() {
    let (_dir, path) = temp();
    filled(&path);
    let before = file_state(&path);
    assert_eq!(
        SqliteStore::open(&path, &other_key()).unwrap_err(),
        StorageError::WrongKey
    );
    assert_eq!(
        SqliteStore::open_with(
            &path,
            &other_key(),
            SqliteOptions::default().synchronous(Synchronous::Full)
        )
        .unwrap_err(),
        StorageError::WrongKey
    );
    assert_eq!(file_state(&path), before);
    let store = SqliteStore::open(&path, &key()).unwrap();
    assert_eq!(read_all(&store).unwrap(), 20 * RecordKind::ALL.len());
}

#[test]
fn the_key_can_be_changed() {
    let (_dir, path) = temp();
    filled(&path);
    let store = SqliteStore::open(&path, &key()).unwrap();
    store.change_key(&other_key()).unwrap();
    assert_eq!(read_all(&store).unwrap(), 20 * RecordKind::ALL.len());
    store.close().unwrap();
    assert_eq!(
        SqliteStore::open(&path, &key()).unwrap_err(),
        StorageError::WrongKey
    );
    let store = SqliteStore::open(&path, &other_key()).unwrap();
    assert_eq!(read_all(&store).unwrap(), 20 * RecordKind::ALL.len());
    store.verify().unwrap();
}

// --- Bad files -----------------------------------------------------------

/// Opening the store at `path` and reading everything fails with
/// `Corrupted`, and leaves the file as it was.
fn assert_refused_untouched(path: &Path) -> StorageError {
    let before = file_state(path);
    let err = match SqliteStore::open(path, &key()) {
        Err(e) => e,
        Ok(store) => {
            let err = read_all(&store)
                .err()
                .or_else(|| store.verify().err())
                .expect("the damage is found");
            drop(store);
            err
        }
    };
    assert!(matches!(err, StorageError::Corrupted(_)), "{err:?}");
    assert_eq!(file_state(path), before, "a damaged file was changed");
    err
}

#[test]
fn a_truncated_database_is_refused_untouched() {
    let (_dir, path) = temp();
    filled(&path);
    let full = std::fs::read(&path).unwrap();
    assert!(full.len() > 8192);
    for len in [full.len() - 4096, full.len() / 2, 4096, 1000, 100, 50] {
        std::fs::write(&path, &full[..len]).unwrap();
        assert_refused_untouched(&path);
    }
}

#[test]
fn a_corrupted_database_is_refused_untouched() {
    let (_dir, path) = temp();
    filled(&path);
    let full = std::fs::read(&path).unwrap();
    let pages = full.len() / 4096;
    // Garbage over each page in turn (the header page included), and over
    // the header's magic string.
    for page in 0..pages {
        let mut bad = full.clone();
        for (i, b) in bad[page * 4096..(page + 1) * 4096].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
        std::fs::write(&path, &bad).unwrap();
        assert_refused_untouched(&path);
    }
    let mut bad = full.clone();
    bad[..16].copy_from_slice(b"not SQLite 3 at ");
    std::fs::write(&path, &bad).unwrap();
    assert_refused_untouched(&path);
    // Not a database at all.
    std::fs::write(&path, vec![0x5a; 10_000]).unwrap();
    assert_refused_untouched(&path);
}

#[test]
fn a_row_with_flipped_bytes_is_refused_and_the_others_still_read() {
    let (_dir, path) = temp();
    filled(&path);
    let sealed: Vec<u8> = raw(&path)
        .query_row(
            "SELECT value FROM record WHERE kind = ?1 AND key = ?2",
            rusqlite::params![RecordKind::Epoch.code(), [RecordKind::Epoch.code(), 5]],
            |r| r.get(0),
        )
        .unwrap();
    // Flip one bit of the ciphertext, in the file itself.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(sealed.len())
        .position(|w| w == sealed)
        .expect("the sealed value is in the file");
    bytes[at + 40] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let before = file_state(&path);
    let store = SqliteStore::open(&path, &key()).unwrap();
    let err = store
        .get(RecordKind::Epoch, &[RecordKind::Epoch.code(), 5])
        .unwrap_err();
    assert!(matches!(err, StorageError::Corrupted(_)), "{err:?}");
    assert!(matches!(
        store.scan(RecordKind::Epoch, &[]),
        Err(StorageError::Corrupted(_))
    ));
    assert!(matches!(store.verify(), Err(StorageError::Corrupted(_))));
    // Every other record reads.
    for kind in RecordKind::ALL {
        for i in 0..20u8 {
            if kind == RecordKind::Epoch && i == 5 {
                continue;
            }
            assert_eq!(
                get(&store, kind, &[kind.code(), i]).unwrap(),
                vec![i; 100 + usize::from(i)]
            );
        }
    }
    drop(store);
    assert_eq!(file_state(&path), before);
}

#[test]
fn rows_swapped_or_moved_between_slots_or_stores_are_refused() {
    let (_dir, path) = temp();
    filled(&path);
    let other = path.with_file_name("other.db");
    filled(&other);
    let conn = raw(&path);
    let value = |conn: &Connection, kind: RecordKind, i: u8| -> Vec<u8> {
        conn.query_row(
            "SELECT value FROM record WHERE kind = ?1 AND key = ?2",
            rusqlite::params![kind.code(), [kind.code(), i]],
            |r| r.get(0),
        )
        .unwrap()
    };
    let set = |kind: RecordKind, i: u8, v: &[u8]| {
        conn.execute(
            "UPDATE record SET value = ?3 WHERE kind = ?1 AND key = ?2",
            rusqlite::params![kind.code(), [kind.code(), i], v],
        )
        .unwrap();
    };
    // Two keys of one kind swap values; a value moves to another kind; a
    // value comes from another store sealed under the same key.
    let (a, b) = (
        value(&conn, RecordKind::Tree, 1),
        value(&conn, RecordKind::Tree, 2),
    );
    set(RecordKind::Tree, 1, &b);
    set(RecordKind::Tree, 2, &a);
    set(
        RecordKind::Epoch,
        3,
        &value(&conn, RecordKind::PastEpoch, 3),
    );
    set(
        RecordKind::Proposal,
        4,
        &value(&raw(&other), RecordKind::Proposal, 4),
    );
    drop(conn);
    let store = SqliteStore::open(&path, &key()).unwrap();
    for (kind, i) in [
        (RecordKind::Tree, 1),
        (RecordKind::Tree, 2),
        (RecordKind::Epoch, 3),
        (RecordKind::Proposal, 4),
    ] {
        let err = store.get(kind, &[kind.code(), i]).unwrap_err();
        assert!(matches!(err, StorageError::Corrupted(_)), "{err:?}");
    }
    assert_eq!(
        get(&store, RecordKind::Tree, &[RecordKind::Tree.code(), 3]).unwrap(),
        vec![3; 103]
    );
}

#[test]
fn a_missing_table_is_refused_untouched() {
    for table in ["record", "meta"] {
        let (_dir, path) = temp();
        filled(&path);
        raw(&path)
            .execute_batch(&format!("DROP TABLE {table}"))
            .unwrap();
        let err = assert_refused_untouched(&path);
        if table == "record" {
            assert_eq!(err, StorageError::Corrupted("missing table: record".into()));
        }
        // What is left is still there.
        let conn = raw(&path);
        let left: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .unwrap();
        assert!(left >= 1);
    }
    // A table dropped while a store is open: typed errors from then on.
    let (_dir, path) = temp();
    filled(&path);
    let store = SqliteStore::open(&path, &key()).unwrap();
    raw(&path).execute_batch("DROP TABLE record").unwrap();
    let err = store.get(RecordKind::Tree, b"x").unwrap_err();
    assert!(matches!(err, StorageError::Corrupted(_)), "{err:?}");
    let mut b = Batch::default();
    b.put(RecordKind::Tree, b"x".to_vec(), vec![1]);
    assert!(matches!(store.apply(b), Err(StorageError::Corrupted(_))));
}

#[test]
fn a_missing_store_row_or_damaged_metadata_is_refused() {
    let (_dir, path) = temp();
    filled(&path);
    raw(&path)
        .execute_batch("DELETE FROM meta WHERE name = 'store_id'")
        .unwrap();
    assert_refused_untouched(&path);
}

#[test]
fn another_database_is_refused_untouched() {
    let (_dir, path) = temp();
    raw(&path)
        .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me');")
        .unwrap();
    assert_refused_untouched(&path);
    let body: String = raw(&path)
        .query_row("SELECT body FROM notes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(body, "keep me");
    // A file that does not exist is created unless told otherwise.
    let missing = path.with_file_name("missing.db");
    let err = SqliteStore::open_with(&missing, &key(), SqliteOptions::default().create(false))
        .unwrap_err();
    assert!(matches!(err, StorageError::Backend(_)), "{err:?}");
    assert!(!missing.exists());
}

// --- Versions and migrations ---------------------------------------------

#[test]
fn a_newer_format_is_refused_untouched() {
    let (_dir, path) = temp();
    filled(&path);
    raw(&path).pragma_update(None, "user_version", 7).unwrap();
    let before = file_state(&path);
    assert_eq!(
        SqliteStore::open(&path, &key()).unwrap_err(),
        StorageError::NewerFormat {
            found: 7,
            supported: FORMAT_VERSION
        }
    );
    assert_eq!(file_state(&path), before);
}

fn version(path: &Path) -> i64 {
    raw(path)
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

/// A version 2 for the tests: a new table, and every value re-sealed with
/// a byte appended.
fn test_v2(tx: &rusqlite::Transaction<'_>, sealer: &Sealer) -> Result<(), StorageError> {
    tx.execute_batch("CREATE TABLE v2_marker (x INTEGER)")
        .map_err(error)?;
    let rows: Vec<(i64, Vec<u8>, Vec<u8>)> = {
        let mut stmt = tx
            .prepare("SELECT kind, key, value FROM record")
            .map_err(error)?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(error)?
            .collect::<Result<_, _>>()
            .map_err(error)?
    };
    for (code, key, value) in rows {
        let kind = RecordKind::from_code(code as u8).unwrap();
        let mut plain = sealer.open_record(kind, &key, &value)?.to_vec();
        plain.push(0xee);
        tx.execute(
            "UPDATE record SET value = ?3 WHERE kind = ?1 AND key = ?2",
            rusqlite::params![code, key, sealer.seal_record(kind, &key, &plain)?],
        )
        .map_err(error)?;
    }
    Ok(())
}

fn failing_v2(tx: &rusqlite::Transaction<'_>, _: &Sealer) -> Result<(), StorageError> {
    tx.execute_batch("CREATE TABLE v2_marker (x INTEGER); DELETE FROM record;")
        .map_err(error)?;
    Err(StorageError::Backend("migration failed".into()))
}

#[test]
fn forward_migrations_run_once_in_one_transaction() {
    let (_dir, path) = temp();
    filled(&path);
    assert_eq!(version(&path), 1);
    let open = |migrations: &[Migration]| {
        SqliteStore::open_migrating(&path, &key(), SqliteOptions::default(), migrations)
    };
    // A migration that fails changes nothing: the store is still at
    // version 1 with every record, and opens as before.
    let before = file_state(&path);
    assert_eq!(
        open(&[MIGRATIONS[0], failing_v2]).unwrap_err(),
        StorageError::Backend("migration failed".into())
    );
    assert_eq!(version(&path), 1);
    assert_eq!(file_state(&path).0, before.0);
    let store = open(MIGRATIONS).unwrap();
    assert_eq!(read_all(&store).unwrap(), 20 * RecordKind::ALL.len());
    drop(store);

    // The wrong key is refused before migrating.
    assert_eq!(
        SqliteStore::open_migrating(
            &path,
            &other_key(),
            SqliteOptions::default(),
            &[MIGRATIONS[0], test_v2]
        )
        .unwrap_err(),
        StorageError::WrongKey
    );
    assert_eq!(version(&path), 1);

    // Migrating to version 2 re-seals every record, once.
    let store = open(&[MIGRATIONS[0], test_v2]).unwrap();
    assert_eq!(version(&path), 2);
    let v = get(&store, RecordKind::Tree, &[RecordKind::Tree.code(), 3]).unwrap();
    assert_eq!(v.len(), 104);
    assert_eq!(v.last(), Some(&0xee));
    drop(store);
    let store = open(&[MIGRATIONS[0], test_v2]).unwrap();
    let v = get(&store, RecordKind::Tree, &[RecordKind::Tree.code(), 3]).unwrap();
    assert_eq!(v.len(), 104, "a migration ran twice");
    drop(store);
    // Version 1 of the library now refuses the file.
    assert_eq!(
        open(MIGRATIONS).unwrap_err(),
        StorageError::NewerFormat {
            found: 2,
            supported: 1
        }
    );
    // A new store is created at the latest version directly.
    let (_dir2, fresh) = temp();
    SqliteStore::open_migrating(
        &fresh,
        &key(),
        SqliteOptions::default(),
        &[MIGRATIONS[0], test_v2],
    )
    .unwrap();
    assert_eq!(version(&fresh), 2);
}

// --- Several handles, several threads ------------------------------------

#[test]
fn two_handles_interleave_without_losing_an_update() {
    let (_dir, path) = temp();
    SqliteStore::open(&path, &key()).unwrap();
    let writers: Vec<Arc<SqliteStore>> = (0..2)
        .map(|_| Arc::new(SqliteStore::open(&path, &key()).unwrap()))
        .collect();
    let reader = Arc::new(SqliteStore::open(&path, &key()).unwrap());
    const BATCHES: u32 = 200;
    let start = Arc::new(Barrier::new(3));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let threads: Vec<_> = writers
        .iter()
        .enumerate()
        .map(|(w, store)| {
            let store = store.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                for i in 0..BATCHES {
                    // Each batch writes two records (which a reader must
                    // see together), rewrites a shared record, and deletes
                    // the pair it wrote two batches ago.
                    let mut b = Batch::default();
                    let pair = |i: u32, half: u8| {
                        let mut k = vec![w as u8];
                        k.extend_from_slice(&i.to_be_bytes());
                        k.push(half);
                        k
                    };
                    b.put(RecordKind::Proposal, pair(i, 0), i.to_be_bytes().to_vec());
                    b.put(RecordKind::Proposal, pair(i, 1), i.to_be_bytes().to_vec());
                    b.put(RecordKind::Epoch, vec![w as u8], i.to_be_bytes().to_vec());
                    b.put(RecordKind::Tree, pair(i, 2), vec![w as u8]);
                    if let Some(old) = i.checked_sub(2) {
                        b.delete(RecordKind::Proposal, pair(old, 0));
                        b.delete(RecordKind::Proposal, pair(old, 1));
                    }
                    store.apply(b).unwrap();
                }
            })
        })
        .collect();
    let reader_thread = {
        let reader = reader.clone();
        let start = start.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            start.wait();
            let mut scans = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let rows = reader.scan(RecordKind::Proposal, &[]).unwrap();
                // Pairs are whole, and at most two per writer are alive.
                for w in 0..2u8 {
                    let mine: Vec<_> = rows.iter().filter(|(k, _)| k[0] == w).collect();
                    assert!(mine.len() % 2 == 0 && mine.len() <= 4, "{}", mine.len());
                    for pair in mine.chunks(2) {
                        assert_eq!(pair[0].0[..5], pair[1].0[..5]);
                    }
                }
                scans += 1;
            }
            scans
        })
    };
    for t in threads {
        t.join().unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let scans = reader_thread.join().unwrap();
    assert!(scans > 0);
    // Every batch of both writers is there.
    let check = SqliteStore::open(&path, &key()).unwrap();
    assert_eq!(
        check.scan(RecordKind::Tree, &[]).unwrap().len(),
        2 * BATCHES as usize
    );
    assert_eq!(check.scan(RecordKind::Proposal, &[]).unwrap().len(), 8);
    for w in 0..2u8 {
        assert_eq!(
            get(&check, RecordKind::Epoch, &[w]).unwrap(),
            (BATCHES - 1).to_be_bytes()
        );
    }
    // The readers were told the file changed.
    assert!(reader.changed_elsewhere().unwrap());
    assert!(!reader.changed_elsewhere().unwrap());
    check.verify().unwrap();
}

#[test]
fn one_handle_shared_by_threads() {
    let (_dir, path) = temp();
    let store = Arc::new(SqliteStore::open(&path, &key()).unwrap());
    let threads: Vec<_> = (0..4u8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..50u8 {
                    put(&store, RecordKind::Tree, &[t, i], &[t, i]);
                    assert_eq!(get(&store, RecordKind::Tree, &[t, i]).unwrap(), [t, i]);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.scan(RecordKind::Tree, &[]).unwrap().len(), 200);
    // Writes by this handle are not changes made elsewhere.
    assert!(!store.changed_elsewhere().unwrap());
}

#[test]
fn a_held_write_lock_makes_the_other_handle_time_out_with_busy() {
    let (_dir, path) = temp();
    filled(&path);
    let store = SqliteStore::open_with(
        &path,
        &key(),
        SqliteOptions::default().busy_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    // Another process (a plain connection here) holds the write lock.
    let holder = raw(&path);
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let mut b = Batch::default();
    b.put(RecordKind::Tree, b"late".to_vec(), vec![1]);
    b.delete(RecordKind::Tree, vec![RecordKind::Tree.code(), 0]);
    assert_eq!(store.apply(b.clone()).unwrap_err(), StorageError::Busy);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    // It can still read (WAL: readers do not wait for the writer), and
    // wrote nothing.
    assert_eq!(get(&store, RecordKind::Tree, b"late"), None);
    assert!(get(&store, RecordKind::Tree, &[RecordKind::Tree.code(), 0]).is_some());
    // A handle that is opened while the lock is held can read too.
    let second = SqliteStore::open(&path, &key()).unwrap();
    assert_eq!(read_all(&second).unwrap(), 20 * RecordKind::ALL.len());
    // Once the lock is released, the write goes through.
    holder.execute_batch("COMMIT").unwrap();
    store.apply(b).unwrap();
    assert_eq!(get(&second, RecordKind::Tree, b"late").unwrap(), [1]);

    // A lock released within the timeout only delays the write.
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        holder.execute_batch("COMMIT").unwrap();
    });
    put(&store, RecordKind::Tree, b"later", &[2]);
    release.join().unwrap();
    assert_eq!(get(&second, RecordKind::Tree, b"later").unwrap(), [2]);
}

#[test]
fn stores_are_send_and_sync_and_keys_are_redacted() {
    fn check<T: Send + Sync>() {}
    check::<SqliteStore>();
    let (_dir, path) = temp();
    let store = SqliteStore::open(&path, &key()).unwrap();
    let shown = format!("{store:?}");
    assert!(
        shown.contains("store.db") && !shown.contains("42"),
        "{shown}"
    );
    assert_eq!(store.options().synchronous, Synchronous::Normal);
    assert_eq!(store.path(), path);
    let full = SqliteStore::open_with(
        &path,
        &key(),
        SqliteOptions::default().synchronous(Synchronous::Full),
    )
    .unwrap();
    let mode: i64 = full
        .lock()
        .unwrap()
        .conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, 2, "FULL");
    let mode: i64 = store
        .lock()
        .unwrap()
        .conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, 1, "NORMAL");
    let journal: String = store
        .lock()
        .unwrap()
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let secure: i64 = store
        .lock()
        .unwrap()
        .conn
        .pragma_query_value(None, "secure_delete", |r| r.get(0))
        .unwrap();
    assert_eq!(secure, 1);
}
