//! Stability of the SQLite store's format: databases written by earlier
//! versions of the library are kept in `tests/fixtures/sqlite-v<N>/`, and
//! this version must open every one of them and continue the conversation
//! it holds.
//!
//! Each fixture is the same scenario, written by [`write_fixture`] with the
//! format of its time:
//!
//! * `alice.db` (key [`ALICE_KEY`]) and `bob.db` (key [`BOB_KEY`]): Alice
//!   created group `fixture-group` and added Bob and Carol (Carol's state
//!   is not kept); they exchanged messages; Bob committed an update; Alice
//!   proposed to remove Carol (the proposal is cached by both). Bob also
//!   holds an unused KeyPackage and a last-resort one.
//! * `next.bin`: a message Alice sent after that, which Bob has not
//!   processed yet; `consumed.bin`: one he has (its key is consumed).
//!
//! The test copies the files to a temporary folder (the fixture is never
//! changed), opens both clients, has Bob decrypt the next message and
//! refuse the consumed one, exchanges messages, has Alice commit (covering
//! the cached proposal) and Bob process it, and compares the epoch
//! authenticators.
//!
//! When the format changes (a new migration), write the new fixture with
//!
//! ```text
//! cargo test --test sqlite_fixture -- --ignored write_fixture
//! ```
//!
//! and keep the older ones: each must still pass.

use std::path::{Path, PathBuf};

use tessera::client::{Client, ClientConfig};
use tessera::error::ProtocolError;
use tessera::messages::Credential;
use tessera::storage::sqlite::FORMAT_VERSION;
use tessera::storage::{RecordKind, SqliteStore, Storage, StoreKey};

/// Alice's store key in every fixture.
const ALICE_KEY: [u8; 32] = [0xa1; 32];
/// Bob's store key in every fixture.
const BOB_KEY: [u8; 32] = [0xb0; 32];
const GROUP: &[u8] = b"fixture-group";
/// The clients' clock: leaf lifetimes never expire for the test.
const NOW: u64 = 1_800_000_000;
const NEXT: &[u8] = b"the next message, stored with the fixture";

fn client(name: &str, path: &Path, key: [u8; 32], create: bool) -> Client {
    let store = SqliteStore::open(path, &StoreKey::new(key)).expect("open the store");
    let builder = Client::builder()
        .config(ClientConfig {
            key_package_lifetime: 100 * 365 * 86_400,
            ..ClientConfig::default()
        })
        .clock(|| NOW);
    if create {
        builder.create(Credential::basic(name), store)
    } else {
        builder.open(store)
    }
    .expect("client")
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixtures() -> Vec<(u32, PathBuf)> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(fixtures_dir())
        .expect("tests/fixtures")
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e
                .file_name()
                .to_str()?
                .strip_prefix("sqlite-v")?
                .parse()
                .ok()?;
            Some((version, e.path()))
        })
        .collect();
    found.sort();
    found
}

fn format_version(path: &Path) -> u32 {
    // The version is SQLite's `user_version`: bytes 60..64 of the header.
    let bytes = std::fs::read(path).expect("read");
    u32::from_be_bytes(bytes[60..64].try_into().expect("header"))
}

#[test]
fn every_fixture_opens_and_its_conversation_goes_on() {
    let fixtures = fixtures();
    // There is a fixture of the current format, and of every earlier one.
    let versions: Vec<u32> = fixtures.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, (1..=FORMAT_VERSION).collect::<Vec<_>>());
    for (version, dir) in fixtures {
        continue_conversation(version, &dir);
    }
}

fn continue_conversation(version: u32, fixture: &Path) {
    let work = tempfile::tempdir().expect("temporary folder");
    for file in ["alice.db", "bob.db", "next.bin", "consumed.bin"] {
        std::fs::copy(fixture.join(file), work.path().join(file)).expect("copy the fixture");
    }
    let alice_db = work.path().join("alice.db");
    let bob_db = work.path().join("bob.db");
    assert_eq!(format_version(&alice_db), version);
    assert_eq!(format_version(&bob_db), version);
    let next = std::fs::read(work.path().join("next.bin")).expect("next.bin");
    let consumed = std::fs::read(work.path().join("consumed.bin")).expect("consumed.bin");

    // The wrong key is refused.
    assert_eq!(
        SqliteStore::open(&bob_db, &StoreKey::new(ALICE_KEY)).unwrap_err(),
        tessera::storage::StorageError::WrongKey
    );
    // Format 1 was written by builds that saved a leaf's two sender
    // ratchets in one record; this build reads them and replaces them by
    // one record per ratchet head and kept key on the group's next write.
    let legacy = |db: &Path, key: [u8; 32]| {
        let store = SqliteStore::open(db, &StoreKey::new(key)).unwrap();
        let n = store
            .scan(RecordKind::LegacySenderRatchets, &[])
            .unwrap()
            .len();
        (n, store.scan(RecordKind::SenderRatchet, &[]).unwrap().len())
    };
    if version == 1 {
        assert!(legacy(&bob_db, BOB_KEY).0 > 0);
        assert!(legacy(&alice_db, ALICE_KEY).0 > 0);
    }
    let alice = client("alice", &alice_db, ALICE_KEY, false);
    let bob = client("bob", &bob_db, BOB_KEY, false);
    // The files were migrated to the current format.
    assert_eq!(format_version(&bob_db), FORMAT_VERSION);

    // The state the fixture holds.
    assert_eq!(alice.credential(), &Credential::basic("alice"));
    assert_eq!(bob.groups().unwrap().len(), 1);
    let status = bob.status(GROUP).unwrap();
    assert_eq!(status.epoch, 2);
    assert_eq!(status.member_count, 3);
    assert_eq!(status.pending_proposals, 1);
    assert_eq!(alice.status(GROUP).unwrap().pending_proposals, 1);
    let key_packages = bob.key_packages().unwrap();
    assert_eq!(key_packages.len(), 2);
    assert_eq!(key_packages.iter().filter(|k| k.last_resort).count(), 1);
    assert_eq!(
        alice.epoch_authenticator(GROUP).unwrap(),
        bob.epoch_authenticator(GROUP).unwrap()
    );

    // Bob decrypts the stored next message, once; the consumed one stays
    // consumed.
    assert_eq!(bob.process(&next).unwrap().data(), Some(NEXT));
    assert!(matches!(
        bob.process(&next).unwrap_err(),
        tessera::Error::Protocol(ProtocolError::KeyAlreadyUsed(_))
    ));
    assert!(matches!(
        bob.process(&consumed).unwrap_err(),
        tessera::Error::Protocol(ProtocolError::KeyAlreadyUsed(_))
    ));

    // The conversation goes on: messages, a commit covering the cached
    // proposal (Carol leaves), more messages.
    let reply = bob.encrypt(GROUP, b"bob, after the upgrade").unwrap();
    assert_eq!(
        alice.process(&reply).unwrap().data(),
        Some(&b"bob, after the upgrade"[..])
    );
    let commit = alice.commit(GROUP).unwrap();
    assert!(commit.left_out.is_empty());
    alice.confirm_commit(GROUP).unwrap();
    bob.process(&commit.commit).unwrap();
    for c in [&alice, &bob] {
        let s = c.status(GROUP).unwrap();
        assert_eq!((s.epoch, s.member_count, s.pending_proposals), (3, 2, 0));
    }
    assert_eq!(
        alice.epoch_authenticator(GROUP).unwrap(),
        bob.epoch_authenticator(GROUP).unwrap()
    );
    let update = bob.update(GROUP).unwrap();
    bob.confirm_commit(GROUP).unwrap();
    alice.process(&update.commit).unwrap();
    let hello = alice.encrypt(GROUP, b"alice, epoch 4").unwrap();
    assert_eq!(
        bob.process(&hello).unwrap().data(),
        Some(&b"alice, epoch 4"[..])
    );

    // And all of it was stored: both reopen where they are.
    let auth = alice.epoch_authenticator(GROUP).unwrap();
    drop((alice, bob));
    let alice = client("alice", &alice_db, ALICE_KEY, false);
    let bob = client("bob", &bob_db, BOB_KEY, false);
    assert_eq!(alice.epoch_authenticator(GROUP).unwrap(), auth);
    assert_eq!(bob.epoch_authenticator(GROUP).unwrap(), auth);
    let last = bob.encrypt(GROUP, b"still here").unwrap();
    assert_eq!(
        alice.process(&last).unwrap().data(),
        Some(&b"still here"[..])
    );
    drop((alice, bob));
    for db in [&alice_db, &bob_db] {
        let key = if db == &alice_db { ALICE_KEY } else { BOB_KEY };
        SqliteStore::open(db, &StoreKey::new(key))
            .unwrap()
            .verify()
            .unwrap();
        // Nothing is left in the old layout.
        let (old, new) = legacy(db, key);
        assert_eq!(old, 0);
        assert!(new > 0);
    }
}

/// Writes the fixture of the current format to
/// `tests/fixtures/sqlite-v<FORMAT_VERSION>/` (refusing to replace one).
#[test]
#[ignore = "writes the fixture of a new format; run by hand"]
fn write_fixture() {
    let dir = fixtures_dir().join(format!("sqlite-v{FORMAT_VERSION}"));
    assert!(
        !dir.exists(),
        "{} exists: fixtures are never replaced",
        dir.display()
    );
    let work = tempfile::tempdir().expect("temporary folder");
    let alice_db = work.path().join("alice.db");
    let bob_db = work.path().join("bob.db");
    let alice = client("alice", &alice_db, ALICE_KEY, true);
    let bob = client("bob", &bob_db, BOB_KEY, true);
    let carol = Client::builder()
        .clock(|| NOW)
        .create(
            Credential::basic("carol"),
            tessera::storage::MemoryStore::new(),
        )
        .unwrap();

    let kp_bob = bob.generate_key_packages(2).unwrap().remove(0);
    bob.generate_last_resort_key_package().unwrap();
    let kp_carol = carol.generate_key_packages(1).unwrap().remove(0);
    alice.create_group(GROUP).unwrap();
    let added = alice.add(GROUP, &[kp_bob, kp_carol]).unwrap();
    alice.confirm_commit(GROUP).unwrap();
    bob.join(&added.welcome).unwrap();
    carol.join(&added.welcome).unwrap();
    for (from, to, text) in [
        (&alice, &bob, &b"hello bob"[..]),
        (&bob, &alice, b"hello alice"),
        (&alice, &bob, b"how are you?"),
    ] {
        let m = from.encrypt(GROUP, text).unwrap();
        assert_eq!(to.process(&m).unwrap().data(), Some(text));
        carol.process(&m).unwrap();
    }
    let update = bob.update(GROUP).unwrap();
    bob.confirm_commit(GROUP).unwrap();
    alice.process(&update.commit).unwrap();
    carol.process(&update.commit).unwrap();
    let proposal = alice
        .propose_remove(GROUP, carol.status(GROUP).unwrap().own_leaf)
        .unwrap();
    bob.process(&proposal).unwrap();
    let consumed = alice.encrypt(GROUP, b"read before the upgrade").unwrap();
    bob.process(&consumed).unwrap();
    let next = alice.encrypt(GROUP, NEXT).unwrap();
    drop((alice, bob));

    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&alice_db, dir.join("alice.db")).unwrap();
    std::fs::copy(&bob_db, dir.join("bob.db")).unwrap();
    std::fs::write(dir.join("next.bin"), next).unwrap();
    std::fs::write(dir.join("consumed.bin"), consumed).unwrap();
    continue_conversation(FORMAT_VERSION, &dir);
}
