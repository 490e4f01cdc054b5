//! Tessera's `Client` against its own `Group`: what the client layer (group
//! registry, hooks, events, incremental writes to a store) costs on top of
//! the protocol engine, and how many bytes it writes per message.
//!
//! Both sides start from the same state: two clients (Alice at leaf 0, Bob at
//! leaf 1) in a group of N built through the client API, each persisted in a
//! `MemoryStore`; the `Group` side is each client's group rebuilt from its
//! store with `Group::from_pieces`. Each side has its own sender, so that
//! every receiver decrypts its sender's messages in order, once.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tessera::client::{Client, ClientConfig};
use tessera::codec::{Decode, Encode};
use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
use tessera::framing::PaddingPolicy;
use tessera::group::{
    Group, GroupConfig, Identity, KeyPackageOptions, PieceKind, StatePiece, generate_key_package,
};
use tessera::messages::{Credential, MlsMessage};
use tessera::storage::{MemoryStore, RecordKind, Storage, group_key_prefix};

const GROUP_ID: &[u8] = b"tessera-bench-client";

/// Two members of a group of N, as clients and as groups.
pub struct ClientFixture {
    /// Alice's client (the sender) and its store.
    pub alice: Client,
    pub alice_store: Arc<MemoryStore>,
    /// Bob's client (the receiver) and its store.
    pub bob: Client,
    pub bob_store: Arc<MemoryStore>,
    /// Alice's and Bob's groups, rebuilt from their stores.
    pub alice_group: Group,
    pub bob_group: Group,
}

fn config() -> ClientConfig {
    ClientConfig {
        group: GroupConfig {
            padding: PaddingPolicy::None,
            // As the `Group` rows: room for N = 100,000 (the default bound
            // is 65,536 leaves).
            max_group_size: 1 << 18,
            ..GroupConfig::default()
        },
        ..ClientConfig::default()
    }
}

/// The group `GROUP_ID` as stored in `store`.
pub fn group_from_store(store: &MemoryStore) -> Group {
    let prefix = group_key_prefix(GROUP_ID);
    let kinds = [
        (RecordKind::Epoch, PieceKind::Epoch),
        (RecordKind::Tree, PieceKind::Tree),
        (RecordKind::PastEpoch, PieceKind::PastEpoch),
        (RecordKind::SecretTreeNode, PieceKind::SecretTreeNode),
        (RecordKind::SenderRatchet, PieceKind::SenderRatchet),
        (RecordKind::RetainedKey, PieceKind::RetainedKey),
        (
            RecordKind::LegacySenderRatchets,
            PieceKind::LegacySenderRatchets,
        ),
        (RecordKind::Proposal, PieceKind::Proposal),
        (RecordKind::PendingCommit, PieceKind::PendingCommit),
        (RecordKind::SentMessage, PieceKind::SentMessage),
    ];
    let mut pieces = Vec::new();
    for (record, piece) in kinds {
        for (key, value) in store.scan(record, &prefix).expect("scan") {
            let p = StatePiece::from_key(piece, &key[prefix.len()..]).expect("piece key");
            pieces.push((p, value));
        }
    }
    Group::from_pieces(
        &RustCryptoProvider::new(),
        pieces.iter().map(|(p, v)| (p.clone(), v.as_slice())),
    )
    .expect("group from its pieces")
}

/// Builds the fixture: Alice creates the group and adds Bob and N-2 others
/// (KeyPackages made with the low-level API) in one commit; Bob joins.
pub fn build(n: usize) -> ClientFixture {
    assert!(n >= 2);
    let alice_store = Arc::new(MemoryStore::new());
    let bob_store = Arc::new(MemoryStore::new());
    let client = |name: &str, store: &Arc<MemoryStore>| {
        Client::builder()
            .config(config())
            .create(Credential::basic(name), store.clone())
            .expect("client")
    };
    let alice = client("alice", &alice_store);
    let bob = client("bob", &bob_store);
    let mut key_packages = bob.generate_key_packages(1).expect("KeyPackage");
    let provider = RustCryptoProvider::new();
    let cs = provider
        .cipher_suite_provider(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
        .expect("suite");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for i in 2..n {
        let id = Identity::generate(&*cs, Credential::basic(format!("member {i}"))).expect("id");
        let (kp, _) =
            generate_key_package(&*cs, &id, KeyPackageOptions::valid_for(now - 60, 86400))
                .expect("KeyPackage");
        key_packages.push(MlsMessage::KeyPackage(kp).to_bytes().expect("encode"));
    }
    alice.create_group(GROUP_ID).expect("create");
    let added = alice.add(GROUP_ID, &key_packages).expect("add");
    alice.confirm_commit(GROUP_ID).expect("merge");
    bob.join(&added.welcome).expect("join");
    let alice_group = group_from_store(&alice_store);
    let bob_group = group_from_store(&bob_store);
    assert_eq!(bob_group.members().len(), n);
    ClientFixture {
        alice,
        alice_store,
        bob,
        bob_store,
        alice_group,
        bob_group,
    }
}

impl ClientFixture {
    /// A 1 KiB message from Alice's client.
    pub fn client_message(&self, payload: &[u8]) -> Vec<u8> {
        self.alice.encrypt(GROUP_ID, payload).expect("encrypt")
    }

    /// Bob's client processes it.
    pub fn client_receive(&self, message: &[u8]) -> Vec<u8> {
        let processed = self.bob.process(message).expect("process");
        processed.data().expect("application data").to_vec()
    }

    /// The bytes Bob's store is asked to write per received message: for the
    /// first message from a sender in an epoch (its ratchets start), and on
    /// average over `count` more. Measured on copies of both clients, so the
    /// benchmarked ones are untouched.
    pub fn bytes_per_message(&self, payload: &[u8], count: u64) -> (u64, u64) {
        let alice = Client::builder()
            .config(config())
            .open(self.alice_store.duplicate())
            .expect("open a copy");
        let bob_store = Arc::new(self.bob_store.duplicate());
        let bob = Client::builder()
            .config(config())
            .open(bob_store.clone())
            .expect("open a copy");
        let send_receive = || {
            let m = alice.encrypt(GROUP_ID, payload).expect("encrypt");
            bob_store.reset_stats();
            let got = bob.process(&m).expect("process");
            assert_eq!(got.data(), Some(payload));
            bob_store.stats().bytes_written
        };
        let first = send_receive();
        let total: u64 = (0..count).map(|_| send_receive()).sum();
        (first, total / count.max(1))
    }
}

/// A message from a group (Alice's), as bytes.
pub fn group_send(sender: &mut Group, payload: &[u8]) -> Vec<u8> {
    sender
        .encrypt_application(payload, b"")
        .and_then(|m| m.to_bytes().map_err(Into::into))
        .expect("encrypt")
}

/// A group (Bob's) processes a message (parsing included, as for the client).
pub fn group_receive(receiver: &mut Group, message: &[u8]) -> Vec<u8> {
    let m = MlsMessage::decode_exact(message).expect("parse");
    match receiver.process_message(&m, &(), None).expect("process") {
        tessera::group::ProcessedMessage::Application { data, .. } => data,
        other => panic!("not application data: {other:?}"),
    }
}
