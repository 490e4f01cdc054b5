//! The client on the SQLite store against the client on the in-memory
//! store, side by side in one criterion run (groups `store-<operation>/N=<n>`,
//! functions `memory`, `sqlite` and, for application messages,
//! `sqlite-full`: `Synchronous::Full`, a disk flush per operation).
//!
//! * `store-app-encrypt-1KiB`, `store-app-decrypt-1KiB`: a 1 KiB message
//!   encrypted, or decrypted, and the operation's write applied. The
//!   secret trees are populated: before measuring, `min(N - 1, senders)`
//!   members (leaf 0, then leaves 2, 3, ...) each sent one message that
//!   both the sender (leaf 0) and the receiver (leaf 1) decrypted, so each
//!   holds that many started ratchets (`TESSERA_BENCH_SENDERS_MAX`, default
//!   1000: each sender costs a join).
//! * `store-commit-create`: leaf 0 commits an update and merges it
//!   (`update` + `confirm_commit`), fresh tree (it encrypts to every
//!   other leaf).
//! * `store-commit-process`: leaf 1 processes (and merges) one of leaf 0's
//!   update commits, prepared beforehand; the receiver is reset from a
//!   snapshot, outside the measured time, once it has used them all.
//! * `store-open`: a client reopened from its store (SQLite: the file
//!   opened, the key checked) and its group loaded.
//!
//! Both sides run the same client code from the same state (the SQLite
//! stores are filled with copies of the in-memory records), so the ratio
//! is the cost of the store. The sizes (`TESSERA_BENCH_N`, default
//! `2,1000,10000`; `2,10` in criterion's test mode) apply to every group;
//! the commit and open groups are run from N = 1000 up (every N in test
//! mode).
//!
//! ```sh
//! cargo bench --bench store
//! TESSERA_BENCH_N=2,1000 cargo bench --bench store -- store-app
//! ```

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode, measurement::WallTime};
use tessera::client::{Client, ClientConfig};
use tessera::codec::{Decode, Encode};
use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
use tessera::framing::PaddingPolicy;
use tessera::group::{
    Group, GroupConfig, Identity, JoinInput, KeyPackageOptions, generate_key_package,
};
use tessera::messages::{Credential, MlsMessage};
use tessera::storage::{
    Batch, MemoryStore, SqliteOptions, SqliteStore, Storage, StoreKey, Synchronous,
};

const GROUP: &[u8] = b"store-bench";
const PAYLOAD: [u8; 1024] = [0x42; 1024];
const KEY: [u8; 32] = [0x17; 32];

struct Config {
    sizes: Vec<usize>,
    senders_max: usize,
    test_mode: bool,
}

impl Config {
    fn from_env() -> Self {
        let args: Vec<String> = std::env::args().collect();
        let test_mode = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test");
        let sizes = match std::env::var("TESSERA_BENCH_N") {
            Ok(v) => v
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().parse().expect("TESSERA_BENCH_N: integers"))
                .collect(),
            Err(_) if test_mode => vec![2, 10],
            Err(_) => vec![2, 1000, 10_000],
        };
        let senders_max = std::env::var("TESSERA_BENCH_SENDERS_MAX")
            .ok()
            .map(|v| v.parse().expect("TESSERA_BENCH_SENDERS_MAX: an integer"))
            .unwrap_or(1000);
        Self {
            sizes,
            senders_max,
            test_mode,
        }
    }
}

fn config() -> ClientConfig {
    ClientConfig {
        group: GroupConfig {
            padding: PaddingPolicy::None,
            ..GroupConfig::default()
        },
        ..ClientConfig::default()
    }
}

fn open_client(store: impl Storage + 'static) -> Client {
    Client::builder()
        .config(config())
        .open(store)
        .expect("open the client")
}

/// Every record of `from`, in one batch.
fn records(from: &MemoryStore) -> Batch {
    let mut batch = Batch::default();
    for ((kind, key), value) in from.snapshot() {
        batch.put(kind, key, value);
    }
    batch
}

/// A SQLite store at `path` holding a copy of `from`.
fn sqlite_copy(from: &MemoryStore, path: &Path, sync: Synchronous) -> SqliteStore {
    let _ = std::fs::remove_file(path);
    let store = SqliteStore::open_with(
        path,
        &StoreKey::new(KEY),
        SqliteOptions::default().synchronous(sync),
    )
    .expect("create the store");
    store.apply(records(from)).expect("copy the records");
    store
}

fn file_size(path: &Path) -> u64 {
    let wal = PathBuf::from(format!("{}-wal", path.display()));
    std::fs::metadata(path).map_or(0, |m| m.len()) + std::fs::metadata(wal).map_or(0, |m| m.len())
}

/// Leaf 0 (Alice, the sender) and leaf 1 (Bob, the receiver) of a group of
/// `n`, in memory stores, after `senders` members sent one message each.
struct World {
    alice: Arc<MemoryStore>,
    bob: Arc<MemoryStore>,
}

fn build(n: usize, senders_max: usize) -> World {
    let started = Instant::now();
    let alice_store = Arc::new(MemoryStore::new());
    let bob_store = Arc::new(MemoryStore::new());
    let new_client = |name: &str, store: &Arc<MemoryStore>| {
        Client::builder()
            .config(config())
            .create(Credential::basic(name), store.clone())
            .expect("client")
    };
    let alice = new_client("alice", &alice_store);
    let bob = new_client("bob", &bob_store);
    let provider = RustCryptoProvider::new();
    let cs = provider
        .cipher_suite_provider(CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519)
        .expect("suite");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let senders = senders_max.min(n - 1);
    let mut key_packages = bob.generate_key_packages(1).expect("KeyPackage");
    let mut joiners = Vec::new();
    for i in 2..n {
        let id = Identity::generate(&*cs, Credential::basic(format!("member {i}"))).expect("id");
        let (kp, private) =
            generate_key_package(&*cs, &id, KeyPackageOptions::valid_for(now - 60, 86_400))
                .expect("KeyPackage");
        key_packages.push(
            MlsMessage::KeyPackage(kp.clone())
                .to_bytes()
                .expect("encode"),
        );
        if i <= senders {
            joiners.push((id, kp, private));
        }
    }
    alice.create_group(GROUP).expect("create");
    let added = alice.add(GROUP, &key_packages).expect("add");
    alice.confirm_commit(GROUP).expect("merge");
    bob.join(&added.welcome).expect("join");
    // Populate both secret trees: Alice sends once, then each sender.
    let first = alice.encrypt(GROUP, &PAYLOAD).expect("encrypt");
    assert_eq!(
        bob.process(&first).expect("process").data(),
        Some(&PAYLOAD[..])
    );
    let welcome = match MlsMessage::decode_exact(&added.welcome).expect("Welcome") {
        MlsMessage::Welcome(w) => w,
        _ => unreachable!("a Welcome"),
    };
    for (id, kp, private) in joiners {
        let mut sender = Group::join(
            &provider,
            config().group,
            &welcome,
            JoinInput {
                key_package: &kp,
                key_package_private: &private,
                signer: id.signer().clone(),
                ratchet_tree: None,
                psk_store: &(),
                now: None,
            },
        )
        .expect("sender joins");
        let m = sender
            .encrypt_application(&PAYLOAD, b"")
            .and_then(|m| Ok(m.to_bytes()?))
            .expect("encrypt");
        assert_eq!(bob.process(&m).expect("process").data(), Some(&PAYLOAD[..]));
        assert_eq!(
            alice.process(&m).expect("process").data(),
            Some(&PAYLOAD[..])
        );
    }
    eprintln!(
        "[store] N={n}: group built, {} senders' messages decrypted, in {:.1?}; records: \
         receiver {} ({} bytes), sender {} ({} bytes)",
        senders.max(1),
        started.elapsed(),
        bob_store.len(),
        bob_store.bytes_held(),
        alice_store.len(),
        alice_store.bytes_held(),
    );
    World {
        alice: alice_store,
        bob: bob_store,
    }
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, n: usize, slow: bool) {
    if n >= 1000 || slow {
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);
        group.warm_up_time(Duration::from_secs(1));
    }
}

/// Application messages: each side has its own sender and receiver, forked
/// from the same state, so that every receiver decrypts its sender's
/// messages in order, once.
fn app_benches(c: &mut Criterion, n: usize, world: &World, dir: &Path) {
    let sides: Vec<(&str, Client, Client)> = [
        ("memory", None),
        ("sqlite", Some(Synchronous::Normal)),
        ("sqlite-full", Some(Synchronous::Full)),
    ]
    .into_iter()
    .map(|(name, sync)| {
        let (alice, bob) = match sync {
            None => (
                open_client(Arc::new(world.alice.duplicate())),
                open_client(Arc::new(world.bob.duplicate())),
            ),
            Some(sync) => (
                open_client(sqlite_copy(
                    &world.alice,
                    &dir.join(format!("alice-{name}.db")),
                    sync,
                )),
                open_client(sqlite_copy(
                    &world.bob,
                    &dir.join(format!("bob-{name}.db")),
                    sync,
                )),
            ),
        };
        (name, alice, bob)
    })
    .collect();

    let mut group = c.benchmark_group(format!("store-app-decrypt-1KiB/N={n}"));
    configure(&mut group, n, false);
    for (name, alice, bob) in &sides {
        group.bench_function(*name, |b| {
            b.iter_batched(
                || alice.encrypt(GROUP, &PAYLOAD).expect("encrypt"),
                |m| {
                    let got = bob.process(black_box(&m)).expect("process");
                    assert_eq!(got.data().map(<[u8]>::len), Some(PAYLOAD.len()));
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();

    let mut group = c.benchmark_group(format!("store-app-encrypt-1KiB/N={n}"));
    configure(&mut group, n, false);
    for (name, alice, _) in &sides {
        group.bench_function(*name, |b| {
            b.iter_with_large_drop(|| alice.encrypt(GROUP, black_box(&PAYLOAD)).expect("encrypt"))
        });
    }
    group.finish();
    eprintln!(
        "[store] N={n}: SQLite files after the application benchmarks: sender {} bytes, \
         receiver {} bytes",
        file_size(&dir.join("alice-sqlite.db")),
        file_size(&dir.join("bob-sqlite.db")),
    );
}

/// Commits and opening.
fn commit_benches(c: &mut Criterion, n: usize, world: &World, dir: &Path) {
    let sqlite_path = |name: &str| dir.join(format!("{name}.db"));

    // Leaf 1 processes leaf 0's update commits, prepared from a fork of
    // leaf 0; reset from the snapshot once they are all used.
    let commits: Vec<Vec<u8>> = {
        let alice = open_client(Arc::new(world.alice.duplicate()));
        let count = if n >= 10_000 { 6 } else { 24 };
        (0..count)
            .map(|_| {
                let out = alice.update(GROUP).expect("update");
                alice.confirm_commit(GROUP).expect("merge");
                out.commit
            })
            .collect()
    };
    let mut group = c.benchmark_group(format!("store-commit-process/N={n}"));
    configure(&mut group, n, true);
    for name in ["memory", "sqlite"] {
        let mut resets = 0u32;
        let mut fresh_bob = || -> Client {
            resets += 1;
            if name == "memory" {
                open_client(Arc::new(world.bob.duplicate()))
            } else {
                open_client(sqlite_copy(
                    &world.bob,
                    &sqlite_path(&format!("bob-commits-{}", resets % 2)),
                    Synchronous::Normal,
                ))
            }
        };
        let mut bob = fresh_bob();
        let mut next = 0;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    if next == commits.len() {
                        drop(std::mem::replace(&mut bob, fresh_bob()));
                        next = 0;
                    }
                    let started = Instant::now();
                    bob.process(black_box(&commits[next])).expect("process");
                    total += started.elapsed();
                    next += 1;
                }
                total
            })
        });
    }
    group.finish();

    // Leaf 0 commits an update and merges it, again and again.
    let mut group = c.benchmark_group(format!("store-commit-create/N={n}"));
    configure(&mut group, n, true);
    for name in ["memory", "sqlite"] {
        let alice = if name == "memory" {
            open_client(Arc::new(world.alice.duplicate()))
        } else {
            open_client(sqlite_copy(
                &world.alice,
                &sqlite_path("alice-commits"),
                Synchronous::Normal,
            ))
        };
        group.bench_function(name, |b| {
            b.iter(|| {
                let out = alice.update(GROUP).expect("update");
                alice.confirm_commit(GROUP).expect("merge");
                out.commit
            })
        });
    }
    group.finish();

    // The receiver reopened from its store, its group loaded.
    let memory = Arc::new(world.bob.duplicate());
    let path = sqlite_path("bob-open");
    sqlite_copy(&world.bob, &path, Synchronous::Normal)
        .close()
        .expect("close");
    eprintln!(
        "[store] N={n}: the receiver's SQLite file: {} bytes",
        file_size(&path)
    );
    let mut group = c.benchmark_group(format!("store-open/N={n}"));
    configure(&mut group, n, true);
    group.bench_function("memory", |b| {
        b.iter(|| {
            let client = open_client(memory.clone());
            client.status(GROUP).expect("load").epoch
        })
    });
    group.bench_function("sqlite", |b| {
        b.iter(|| {
            let store = SqliteStore::open(&path, &StoreKey::new(KEY)).expect("open");
            let client = open_client(store);
            client.status(GROUP).expect("load").epoch
        })
    });
    group.finish();
}

fn main() {
    let cfg = Config::from_env();
    let mut c = Criterion::default().configure_from_args();
    let dir = tempfile::tempdir().expect("temporary folder");
    for &n in &cfg.sizes {
        let world = build(n, cfg.senders_max);
        app_benches(&mut c, n, &world, dir.path());
        if n >= 1000 || cfg.test_mode {
            commit_benches(&mut c, n, &world, dir.path());
        }
    }
    c.final_summary();
}
