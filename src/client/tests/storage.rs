//! What is written, and what a failed write leaves.

use super::*;
use crate::error::StorageError;
use crate::storage::{RecordKind, Storage, group_key_prefix};

/// The group's records in `m`'s store must be exactly its state pieces.
fn assert_store_matches_group(m: &Member) {
    let prefix = group_key_prefix(GROUP);
    let pieces = m
        .client
        .read_group(GROUP, |l| l.group.state_pieces().unwrap())
        .unwrap();
    let mut expected: Vec<(RecordKind, Vec<u8>, Vec<u8>)> = pieces
        .into_iter()
        .map(|(p, v)| {
            let mut key = prefix.clone();
            key.extend_from_slice(&p.key());
            (
                super::super::records::record_kind(p.kind()),
                key,
                v.as_bytes().to_vec(),
            )
        })
        .collect();
    expected.sort();
    let mut stored: Vec<_> = m
        .store
        .snapshot()
        .into_iter()
        .filter(|((k, _), _)| {
            !matches!(
                k,
                RecordKind::Identity
                    | RecordKind::KeyPackage
                    | RecordKind::GroupMeta
                    | RecordKind::HeldMessage
            )
        })
        .map(|((k, key), v)| (k, key, v.to_vec()))
        .collect();
    stored.sort();
    assert_eq!(stored, expected);
}

#[test]
fn a_received_message_writes_little() {
    let m = group_of(&["alice", "bob", "carol"]);
    let first = m[0].client.encrypt(GROUP, &[1; 1024]).unwrap();
    m[1].client.process(&first).unwrap();
    // One record: the head of the sender's application ratchet (the group's
    // key prefix, epoch, leaf and ratchet; its next generation and secret).
    let head = group_key_prefix(GROUP).len() + 13 + 38;
    for _ in 0..3 {
        let msg = m[0].client.encrypt(GROUP, &[1; 1024]).unwrap();
        m[1].store.reset_stats();
        m[1].client.process(&msg).unwrap();
        let stats = m[1].store.stats();
        assert_eq!(stats.batches, 1);
        assert_eq!(stats.writes, 1, "one record: the sender's ratchet");
        assert_eq!(stats.bytes_written, head as u64, "{stats:?}");
    }
    // Sending writes this member's ratchet only (and its sent message's
    // digest, to recognise the echo).
    m[0].store.reset_stats();
    let sent = m[0].client.encrypt(GROUP, &[1; 1024]).unwrap();
    assert!(m[0].store.stats().bytes_written < 256);
    m[1].client.process(&sent).unwrap();

    // Out of order: skipping two generations writes their keys; reading
    // them later writes nothing and deletes each one's record.
    let skipped: Vec<_> = (0..2)
        .map(|_| m[0].client.encrypt(GROUP, &[2; 1024]).unwrap())
        .collect();
    let ahead = m[0].client.encrypt(GROUP, &[3; 1024]).unwrap();
    m[1].store.reset_stats();
    m[1].client.process(&ahead).unwrap();
    let stats = m[1].store.stats();
    assert_eq!(stats.writes, 3, "the head and two kept keys: {stats:?}");
    for s in &skipped {
        m[1].store.reset_stats();
        assert_eq!(m[1].client.process(s).unwrap().data(), Some(&[2; 1024][..]));
        let stats = m[1].store.stats();
        assert_eq!(
            (stats.batches, stats.writes, stats.bytes_written),
            (1, 0, 0)
        );
        assert_eq!(stats.deletes, 1, "{stats:?}");
    }
    for member in &m {
        assert_store_matches_group(member);
    }
}

#[test]
fn the_store_always_holds_the_group() {
    let m = group_of(&["alice", "bob", "carol"]);
    for round in 0..5 {
        let sender = round % 3;
        let msg = m[sender].client.encrypt(GROUP, b"x").unwrap();
        broadcast(&m, sender, &msg);
        // A proposal no commit can cover (the leaf is blank) is cached,
        // left out of the next commit, and deleted with its epoch.
        let p = m[sender]
            .client
            .propose_remove(GROUP, LeafIndex(9))
            .unwrap();
        broadcast(&m, sender, &p);
        update(&m, (sender + 1) % 3);
        for member in &m {
            assert_store_matches_group(member);
        }
    }
    // Past epochs age out: the store keeps the current epoch and two more.
    let trees = m[0].store.count(RecordKind::Tree);
    assert_eq!(trees, 3);
    assert_eq!(m[0].store.count(RecordKind::PastEpoch), 2);
}

#[test]
fn a_failed_write_changes_nothing() {
    let m = group_of(&["alice", "bob"]);
    let msg = m[0].client.encrypt(GROUP, b"once").unwrap();
    let before = Snapshot::of(&m[1]);
    m[1].store.fail_next_batches(1);
    let err = m[1].client.process(&msg).unwrap_err();
    assert!(matches!(err, Error::Storage(StorageError::Backend(_))));
    assert_eq!(Snapshot::of(&m[1]), before);
    // The message was not delivered: it is delivered on retry, once.
    assert_eq!(
        m[1].client.process(&msg).unwrap().data(),
        Some(&b"once"[..])
    );
    assert_eq!(
        m[1].client.process(&msg).unwrap_err(),
        ProtocolError::KeyAlreadyUsed(0).into()
    );

    // A commit whose write fails is not merged.
    let out = m[0].client.update(GROUP).unwrap();
    m[0].store.fail_next_batches(1);
    assert!(m[0].client.confirm_commit(GROUP).is_err());
    assert_eq!(m[0].client.status(GROUP).unwrap().epoch, 1);
    assert!(m[0].client.status(GROUP).unwrap().pending_commit);
    m[0].client.confirm_commit(GROUP).unwrap();
    m[1].store.fail_next_batches(1);
    assert!(m[1].client.process(&out.commit).is_err());
    assert_eq!(m[1].client.status(GROUP).unwrap().epoch, 1);
    m[1].client.process(&out.commit).unwrap();
    assert_agree(&m);

    // Sending: a message whose write failed was never sent; its key is
    // not reused by the next one.
    m[0].store.fail_next_batches(1);
    let lost = m[0].client.encrypt(GROUP, b"lost").unwrap_err();
    assert!(matches!(lost, Error::Storage(_)));
    let next = m[0].client.encrypt(GROUP, b"next").unwrap();
    assert_eq!(
        m[1].client.process(&next).unwrap().data(),
        Some(&b"next"[..])
    );
}

#[test]
fn a_corrupted_store_is_a_typed_error() {
    let m = group_of(&["alice", "bob"]);
    let prefix = group_key_prefix(GROUP);
    let mut batch = crate::storage::Batch::default();
    batch.put(RecordKind::Epoch, prefix.clone(), vec![0, 1, 2]);
    m[1].store.apply(batch).unwrap();
    m[1].client.unload_groups().unwrap();
    assert!(matches!(
        m[1].client.status(GROUP).unwrap_err(),
        Error::Storage(StorageError::Corrupted(_))
    ));
    // A stale piece of an epoch the group does not keep.
    let mut batch = crate::storage::Batch::default();
    let mut key = prefix.clone();
    key.extend_from_slice(&77u64.to_be_bytes());
    batch.put(RecordKind::Tree, key, vec![0]);
    m[0].store.apply(batch).unwrap();
    m[0].client.unload_groups().unwrap();
    assert!(matches!(
        m[0].client.encrypt(GROUP, b"x").unwrap_err(),
        Error::Storage(StorageError::Corrupted(_))
    ));
    // An identity record that is not one.
    let store = MemoryStore::new();
    let mut batch = crate::storage::Batch::default();
    batch.put(RecordKind::Identity, Vec::new(), vec![1, 2]);
    store.apply(batch).unwrap();
    assert!(matches!(
        Client::open(store).unwrap_err(),
        Error::Storage(StorageError::Corrupted(_))
    ));
    assert!(Client::open(MemoryStore::new()).is_err());
}

#[test]
fn groups_are_used_from_several_threads() {
    let alice = Arc::new(Member::new("alice"));
    let bobs: Vec<Member> = (0..4).map(|i| Member::new(&format!("bob{i}"))).collect();
    for (i, bob) in bobs.iter().enumerate() {
        let gid = format!("g{i}");
        alice.client.create_group(&gid).unwrap();
        let added = alice.client.add(&gid, &[bob.key_package()]).unwrap();
        alice.client.confirm_commit(&gid).unwrap();
        bob.client.join(&added.welcome).unwrap();
    }
    let bobs = Arc::new(bobs);
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let alice = alice.clone();
            let bobs = bobs.clone();
            std::thread::spawn(move || {
                let gid = format!("g{i}");
                for n in 0..20 {
                    let msg = alice
                        .client
                        .encrypt(&gid, format!("{n}").as_bytes())
                        .unwrap();
                    let got = bobs[i].client.process(&msg).unwrap();
                    assert_eq!(got.data(), Some(format!("{n}").as_bytes()));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // One group from several threads: every message is sent once.
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let alice = alice.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|_| alice.client.encrypt("g0", b"same group").unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut all = Vec::new();
    for s in senders {
        all.extend(s.join().unwrap());
    }
    for msg in &all {
        assert_eq!(
            bobs[0].client.process(msg).unwrap().data(),
            Some(&b"same group"[..])
        );
    }
    assert_eq!(alice.client.groups().unwrap().len(), 4);
}

#[cfg(feature = "serde")]
#[test]
fn events_and_config_serialize() {
    let m = group_of(&["alice", "bob"]);
    let msg = m[0].client.encrypt(GROUP, b"json").unwrap();
    let processed = m[1].client.process(&msg).unwrap();
    let json = serde_json::to_string(&processed).unwrap();
    let back: Processed = serde_json::from_str(&json).unwrap();
    assert_eq!(back, processed);
    let config = ClientConfig::default();
    let json = serde_json::to_string(&config).unwrap();
    assert_eq!(serde_json::from_str::<ClientConfig>(&json).unwrap(), config);
    // A configuration saved before `max_group_size` existed gets the default.
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["group"]
        .as_object_mut()
        .unwrap()
        .remove("max_group_size")
        .unwrap();
    assert_eq!(
        serde_json::from_value::<ClientConfig>(value).unwrap(),
        config
    );
    let status = m[1].client.status(GROUP).unwrap();
    let json = serde_json::to_string(&status).unwrap();
    assert_eq!(serde_json::from_str::<GroupStatus>(&json).unwrap(), status);
}
