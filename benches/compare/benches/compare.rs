//! Side-by-side benchmarks: Tessera, openmls and mls-rs, plus the "crypto floor" (unit costs of the primitives).
//!
//! One criterion group per operation and group size, named `<op>/N=<n>`, with
//! one function per library. See README.md for the scenarios and the knobs.
//!
//! To add a library: write `adapters/<lib>.rs` implementing
//! `tessera_bench::MlsHarness`, include it below with `#[path]`, and add one
//! line to `fixtures()`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BatchSize, Bencher, BenchmarkGroup, Criterion, SamplingMode, measurement::WallTime,
};
use tessera_bench::{
    APP_PAYLOAD, Config, Fixture, MlsHarness, build_fixture, fixture_sizes, record_sizes,
};

#[path = "../adapters/mls_rs.rs"]
mod mls_rs_adapter;
#[path = "../adapters/openmls.rs"]
mod openmls_adapter;
#[path = "../adapters/tessera.rs"]
mod tessera_adapter;
#[path = "../adapters/tessera_client.rs"]
mod tessera_client;

/// Which tree a commit benchmark runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tree {
    /// Right after the create+add commit: blank copath.
    Fresh,
    /// Every member has committed once.
    Populated,
}

impl Tree {
    fn name(self) -> &'static str {
        match self {
            Tree::Fresh => "fresh",
            Tree::Populated => "populated",
        }
    }
}

/// One benchmarked operation.
#[derive(Clone, Copy, Debug)]
enum Op {
    /// Create a group and add N-1 members in one commit (committer side,
    /// KeyPackage parsing and validation included).
    CreateAdd,
    /// Join a group of N from its Welcome (ratchet tree in the Welcome).
    Join,
    /// Leaf 1 creates (and merges) an update commit.
    UpdateCreate(Tree),
    /// Leaf 0 processes (and merges) leaf 1's update commit.
    UpdateProcess(Tree),
    /// Leaf 0 creates (and merges) a commit removing leaf N-1.
    RemoveCreate(Tree),
    /// Leaf 1 processes (and merges) that remove commit.
    RemoveProcess(Tree),
    /// Leaf 0 encrypts a 1 KiB application message.
    AppEncrypt,
    /// Leaf 1 decrypts one of leaf 0's 1 KiB application messages.
    AppDecrypt,
    /// The same once every member (up to the senders cap) has sent one
    /// message that leaf 1 decrypted: its secret tree is populated.
    AppDecryptAllSent,
}

const OPS: [Op; 13] = [
    Op::CreateAdd,
    Op::Join,
    Op::UpdateCreate(Tree::Fresh),
    Op::UpdateProcess(Tree::Fresh),
    Op::UpdateCreate(Tree::Populated),
    Op::UpdateProcess(Tree::Populated),
    Op::RemoveCreate(Tree::Fresh),
    Op::RemoveProcess(Tree::Fresh),
    Op::RemoveCreate(Tree::Populated),
    Op::RemoveProcess(Tree::Populated),
    Op::AppEncrypt,
    Op::AppDecrypt,
    Op::AppDecryptAllSent,
];

impl Op {
    fn name(self) -> String {
        match self {
            Op::CreateAdd => "create-add".into(),
            Op::Join => "join".into(),
            Op::UpdateCreate(t) => format!("update-create-{}", t.name()),
            Op::UpdateProcess(t) => format!("update-process-{}", t.name()),
            Op::RemoveCreate(t) => format!("remove-create-{}", t.name()),
            Op::RemoveProcess(t) => format!("remove-process-{}", t.name()),
            Op::AppEncrypt => "app-encrypt-1KiB".into(),
            Op::AppDecrypt => "app-decrypt-1KiB".into(),
            Op::AppDecryptAllSent => "app-decrypt-1KiB-all-sent".into(),
        }
    }

    fn tree(self) -> Option<Tree> {
        match self {
            Op::UpdateCreate(t)
            | Op::UpdateProcess(t)
            | Op::RemoveCreate(t)
            | Op::RemoveProcess(t) => Some(t),
            _ => None,
        }
    }
}

/// A library's fixture at one N, behind an object-safe interface so that the
/// libraries of one criterion group can sit in one list.
trait Runner {
    fn name(&self) -> &'static str;
    fn has(&self, op: Op) -> bool;
    fn bench(&mut self, op: Op, b: &mut Bencher<'_, WallTime>);
    fn record_sizes(&mut self, write: bool);
}

/// Large states are copied one per iteration; small ones in batches.
fn batch_size(n: usize) -> BatchSize {
    if n >= 1000 {
        BatchSize::PerIteration
    } else {
        BatchSize::SmallInput
    }
}

impl<H: MlsHarness> Runner for Fixture<H> {
    fn name(&self) -> &'static str {
        H::NAME
    }

    fn has(&self, op: Op) -> bool {
        match op {
            Op::AppDecryptAllSent => self.all_sent.is_some(),
            _ => op.tree() != Some(Tree::Populated) || self.populated.is_some(),
        }
    }

    fn bench(&mut self, op: Op, b: &mut Bencher<'_, WallTime>) {
        let bs = batch_size(self.n);
        let (roles, msgs) = match op.tree() {
            Some(Tree::Populated) => {
                let (r, m) = self.populated.as_ref().expect("populated scenario built");
                (r, m)
            }
            _ => (&self.fresh, &self.fresh_msgs),
        };
        let last = (self.n - 1) as u32;
        match op {
            Op::CreateAdd => b.iter_batched(
                || H::fork_creator(&self.creator),
                |c| H::create_and_add(c, black_box(&self.key_packages)),
                bs,
            ),
            Op::Join => b.iter_batched(
                || H::fork_joiner(&self.last_joiner),
                |j| H::join(j, black_box(&self.welcome)),
                bs,
            ),
            Op::UpdateCreate(_) => b.iter_batched(
                || H::fork_member(&roles.m1),
                |mut m| {
                    let commit = H::update(&mut m);
                    (m, commit)
                },
                bs,
            ),
            Op::UpdateProcess(_) => b.iter_batched(
                || H::fork_member(&roles.m0),
                |mut m| {
                    H::process_commit(&mut m, black_box(&msgs.update_commit));
                    m
                },
                bs,
            ),
            Op::RemoveCreate(_) => b.iter_batched(
                || H::fork_member(&roles.m0),
                |mut m| {
                    let commit = H::remove(&mut m, black_box(last));
                    (m, commit)
                },
                bs,
            ),
            Op::RemoveProcess(_) => b.iter_batched(
                || H::fork_member(&roles.m1),
                |mut m| {
                    H::process_commit(&mut m, black_box(&msgs.remove_commit));
                    m
                },
                bs,
            ),
            Op::AppEncrypt => {
                // The sender's ratchet advances every iteration: each message
                // is a fresh generation, as in a real conversation.
                let mut sender = H::fork_member(&roles.m0);
                b.iter_with_large_drop(|| H::encrypt(&mut sender, black_box(&APP_PAYLOAD)));
            }
            Op::AppDecrypt | Op::AppDecryptAllSent => {
                // Messages are made outside the timed region, in order, and
                // the receiver decrypts each once, in order.
                let roles = match op {
                    Op::AppDecryptAllSent => &self.all_sent.as_ref().expect("all-sent built").0,
                    _ => roles,
                };
                let mut sender = H::fork_member(&roles.m0);
                let mut receiver = H::fork_member(&roles.m1);
                b.iter_batched(
                    || H::encrypt(&mut sender, &APP_PAYLOAD),
                    |ct| H::decrypt(&mut receiver, &ct),
                    BatchSize::SmallInput,
                );
            }
        }
    }

    fn record_sizes(&mut self, write: bool) {
        let mut sender = H::fork_member(&self.fresh.m0);
        let mut receiver = H::fork_member(&self.fresh.m1);
        let ct = H::encrypt(&mut sender, &APP_PAYLOAD);
        assert_eq!(
            H::decrypt(&mut receiver, &ct),
            APP_PAYLOAD,
            "{}: round trip",
            H::NAME
        );
        if write {
            record_sizes(H::NAME, self.n, &fixture_sizes(self, ct.len()));
        }
    }
}

/// The fixtures of every selected library at group size `n`.
fn fixtures(cfg: &Config, n: usize) -> Vec<Box<dyn Runner>> {
    let populated = n <= cfg.populated_max;
    let mut v: Vec<Box<dyn Runner>> = Vec::new();
    fn add<H: MlsHarness + 'static>(
        v: &mut Vec<Box<dyn Runner>>,
        cfg: &Config,
        n: usize,
        populated: bool,
    ) {
        if cfg.runs(H::NAME) {
            v.push(Box::new(build_fixture::<H>(n, populated, cfg.senders_max)));
        }
    }
    add::<tessera_adapter::Tessera>(&mut v, cfg, n, populated);
    add::<openmls_adapter::OpenMls>(&mut v, cfg, n, populated);
    add::<mls_rs_adapter::MlsRs>(&mut v, cfg, n, populated);
    v
}

fn configure(group: &mut BenchmarkGroup<'_, WallTime>, n: usize) {
    if n >= 1000 {
        group.sample_size(10);
        group.sampling_mode(SamplingMode::Flat);
        group.warm_up_time(Duration::from_secs(1));
    }
}

fn group_benches(c: &mut Criterion, cfg: &Config) {
    for &n in &cfg.sizes {
        let mut runners = fixtures(cfg, n);
        for r in runners.iter_mut() {
            r.record_sizes(!cfg.test_mode);
        }
        for op in OPS {
            if !runners.iter().any(|r| r.has(op)) {
                continue;
            }
            let mut group = c.benchmark_group(format!("{}/N={n}", op.name()));
            configure(&mut group, n);
            for r in runners.iter_mut().filter(|r| r.has(op)) {
                let name = r.name();
                group.bench_function(name, |b| r.bench(op, b));
            }
            group.finish();
        }
    }
}

/// Tessera's `Client` against its `Group` (see `adapters/tessera_client.rs`):
/// groups `client-app-decrypt-1KiB/N=<n>` and `client-app-encrypt-1KiB/N=<n>`,
/// functions `tessera-group` and `tessera-client`; and the bytes the client's
/// store is asked to write per received message (recorded as sizes of
/// `tessera-client`).
fn client_benches(c: &mut Criterion, cfg: &Config) {
    if !cfg.runs(tessera_adapter::Tessera::NAME) {
        return;
    }
    for &n in &cfg.sizes {
        let mut fx = tessera_client::build(n);
        let (first, per_message) = fx.bytes_per_message(&APP_PAYLOAD, 100);
        eprintln!(
            "[tessera-client] N={n}: store bytes written per received 1 KiB message: \
             {per_message} (the sender's first in the epoch: {first})"
        );
        assert!(
            first <= 2048 && per_message <= 2048,
            "a received message must write at most 2 KiB"
        );
        if !cfg.test_mode {
            record_sizes(
                "tessera-client",
                n,
                &[
                    ("store_bytes_per_received_message", per_message as usize),
                    ("store_bytes_first_received_message", first as usize),
                ],
            );
        }

        let mut group = c.benchmark_group(format!("client-app-decrypt-1KiB/N={n}"));
        configure(&mut group, n);
        let (alice, bob) = (&mut fx.alice_group, &mut fx.bob_group);
        group.bench_function("tessera-group", |b| {
            b.iter_batched(
                || tessera_client::group_send(alice, &APP_PAYLOAD),
                |m| tessera_client::group_receive(bob, black_box(&m)),
                BatchSize::SmallInput,
            )
        });
        group.bench_function("tessera-client", |b| {
            b.iter_batched(
                || fx.client_message(&APP_PAYLOAD),
                |m| fx.client_receive(black_box(&m)),
                BatchSize::SmallInput,
            )
        });
        group.finish();

        let mut group = c.benchmark_group(format!("client-app-encrypt-1KiB/N={n}"));
        configure(&mut group, n);
        let alice = &mut fx.alice_group;
        group.bench_function("tessera-group", |b| {
            b.iter_with_large_drop(|| tessera_client::group_send(alice, black_box(&APP_PAYLOAD)))
        });
        group.bench_function("tessera-client", |b| {
            b.iter_with_large_drop(|| fx.client_message(black_box(&APP_PAYLOAD)))
        });
        group.finish();
        drop(fx);
    }
}

/// The crypto floor: unit costs of the primitives of suite 0x0001, measured
/// on the crates Tessera's default provider is built on (ed25519-dalek 3,
/// hpke-rs 0.8 + hpke-rs-rust-crypto, sha2 0.11, hkdf 0.13, aes-gcm 0.11),
/// called directly: no provider overhead, hence a floor. One criterion group,
/// `floor`, one function per primitive.
fn floor_benches(c: &mut Criterion) {
    use aes_gcm::aead::{Aead, KeyInit};
    use ed25519_dalek::{Signer, Verifier};
    use hpke_rs::{Hpke, Mode};
    use hpke_rs_crypto::types::{AeadAlgorithm, KdfAlgorithm, KemAlgorithm};
    use hpke_rs_rust_crypto::HpkeRustCrypto;
    use sha2::Digest;

    let mut g = c.benchmark_group("floor");

    // Ed25519 over a typical signed MLS structure (~200 bytes).
    let msg = [0x5a; 200];
    let sk = ed25519_dalek::SigningKey::from_bytes(&[0x01; 32]);
    let pk = sk.verifying_key();
    let sig = sk.sign(&msg);
    g.bench_function("ed25519-sign", |b| b.iter(|| sk.sign(black_box(&msg))));
    g.bench_function("ed25519-verify", |b| {
        b.iter(|| pk.verify(black_box(&msg), black_box(&sig)).expect("verify"))
    });
    // The same over the signed content of a 1 KiB application message
    // (FramedContentTBS with its GroupContext: about 1.2 KB).
    let app = [0x5a; 1200];
    let app_sig = sk.sign(&app);
    g.bench_function("ed25519-sign-app", |b| b.iter(|| sk.sign(black_box(&app))));
    g.bench_function("ed25519-verify-app", |b| {
        b.iter(|| {
            pk.verify(black_box(&app), black_box(&app_sig))
                .expect("verify")
        })
    });

    // HPKE base mode, DHKEM(X25519) + HKDF-SHA256 + AES-128-GCM, 32-byte
    // plaintext (a path secret), with an MLS-sized info and no aad.
    let mut hpke = Hpke::<HpkeRustCrypto>::new(
        Mode::Base,
        KemAlgorithm::DhKem25519,
        KdfAlgorithm::HkdfSha256,
        AeadAlgorithm::Aes128Gcm,
    );
    let (hsk, hpk) = hpke.generate_key_pair().expect("keygen").into_keys();
    let info = [0x11; 80];
    let pt = [0x22; 32];
    let (enc, ct) = hpke
        .seal(&hpk, &info, &[], &pt, None, None, None)
        .expect("seal");
    g.bench_function("hpke-seal-32B", |b| {
        b.iter(|| {
            hpke.seal(
                &hpk,
                black_box(&info),
                &[],
                black_box(&pt),
                None,
                None,
                None,
            )
            .expect("seal")
        })
    });
    g.bench_function("hpke-open-32B", |b| {
        b.iter(|| {
            hpke.open(
                black_box(&enc),
                &hsk,
                &info,
                &[],
                black_box(&ct),
                None,
                None,
                None,
            )
            .expect("open")
        })
    });
    // Node key derivation from a path secret (RFC 9180 DeriveKeyPair).
    let ikm = [0x33; 32];
    g.bench_function("x25519-derive-keypair", |b| {
        b.iter(|| hpke.derive_key_pair(black_box(&ikm)).expect("derive"))
    });

    // SHA-256 of a typical tree node (~100 bytes).
    let node = [0x44; 100];
    g.bench_function("sha256-100B", |b| {
        b.iter(|| sha2::Sha256::digest(black_box(&node)))
    });

    // Hashing large messages, per KiB: what every implementation hashes of a
    // commit (its signature input through Ed25519's SHA-512, the membership
    // tag's HMAC-SHA256 and the confirmed transcript hash over SHA-256). The
    // floor prices those bytes with these two units (64 KiB inputs, divided
    // by 64 in report.py: the per-call cost vanishes, as in a large commit).
    let big = vec![0x45u8; 64 * 1024];
    g.bench_function("sha256-64KiB", |b| {
        b.iter(|| sha2::Sha256::digest(black_box(&big[..])))
    });
    g.bench_function("sha512-64KiB", |b| {
        b.iter(|| sha2::Sha512::digest(black_box(&big[..])))
    });

    // HKDF-Expand of one 32-byte secret (key schedule, secret tree).
    let hk = hkdf::Hkdf::<sha2::Sha256>::from_prk(&[0x55; 32]).expect("prk");
    let label = [0x66; 40];
    g.bench_function("hkdf-expand-32B", |b| {
        b.iter(|| {
            let mut okm = [0u8; 32];
            hk.expand(black_box(&label), &mut okm).expect("expand");
            okm
        })
    });

    // AES-128-GCM of 1 KiB.
    let aead = aes_gcm::Aes128Gcm::new_from_slice(&[0x77; 16]).expect("key");
    let nonce =
        aes_gcm::aead::Nonce::<aes_gcm::Aes128Gcm>::try_from(&[0x88u8; 12][..]).expect("nonce");
    let data = [0x99; 1024];
    let sealed = aead.encrypt(&nonce, &data[..]).expect("seal");
    g.bench_function("aes128gcm-seal-1KiB", |b| {
        b.iter(|| aead.encrypt(&nonce, black_box(&data[..])).expect("seal"))
    });
    g.bench_function("aes128gcm-open-1KiB", |b| {
        b.iter(|| aead.decrypt(&nonce, black_box(&sealed[..])).expect("open"))
    });
    g.finish();
}

fn main() {
    let cfg = Config::from_env();
    eprintln!("tessera-bench: {cfg:?}");
    // openmls (always) and mls-rs (with its default `rayon` feature) spread
    // path encryption and key derivation over rayon's global pool. Pin it so
    // that every library is measured on the same number of threads.
    rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build_global()
        .expect("rayon global pool");
    let mut c = Criterion::default().configure_from_args();
    floor_benches(&mut c);
    group_benches(&mut c, &cfg);
    client_benches(&mut c, &cfg);
    c.final_summary();
}
