//! Micro-benchmarks of the ratchet tree and TreeKEM at 1,000 and 10,000
//! leaves (populated trees: every leaf a member, every parent node set, no
//! unmerged leaves):
//!
//! * `tree_hash/one_leaf_changed`: replace one leaf, then recompute the root
//!   tree hash (cached subtree hashes: O(log N) hashes);
//! * `tree_hash/from_scratch`: the root tree hash of a freshly built tree
//!   (O(N) hashes), for contrast;
//! * `update_path/create`: a committer creates an UpdatePath and applies it
//!   to its tree (successive commits by the same member);
//! * `update_path/process_sibling` and `update_path/process_far`: a
//!   receiver merges and decrypts it, the sibling deriving the whole path,
//!   the far member only the root;
//! * `secret_tree/stage_apply`: a receiver takes the next key of one sender
//!   from a secret tree in which every leaf's ratchets are started (what a
//!   PrivateMessage costs the secret tree since issue 11), and
//!   `secret_tree/clone`, the copy of that tree each PrivateMessage made
//!   before, for contrast.
//!
//! Run with `cargo bench --bench tree`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tessera::crypto::HpkePrivateKey;
use tessera::crypto::{
    CipherSuite, CipherSuiteProvider, HpkePublicKey, RustCryptoProvider, Secret,
    SignaturePrivateKey, SignaturePublicKey,
};
use tessera::messages::{
    Capabilities, Credential, CredentialType, GroupContext, LeafNode, LeafNodeSource, Lifetime,
    Node, ParentNode, ProtocolVersion,
};
use tessera::tree::{RatchetTree, TreePrivateKeys};
use tessera::tree_math::{LeafIndex, NodeIndex, TreeSize};

const SUITE: CipherSuite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
const SIZES: [u32; 2] = [1_000, 10_000];

fn suite() -> impl CipherSuiteProvider {
    RustCryptoProvider::with_seed([7; 32]).suite(SUITE).unwrap()
}

fn leaf_node(encryption_key: HpkePublicKey, signature_key: SignaturePublicKey) -> LeafNode {
    LeafNode {
        encryption_key,
        signature_key,
        credential: Credential::basic(b"bench member".to_vec()),
        capabilities: Capabilities {
            versions: vec![ProtocolVersion::MLS10],
            cipher_suites: vec![SUITE],
            extensions: vec![],
            proposals: vec![],
            credentials: vec![CredentialType::BASIC],
        },
        leaf_node_source: LeafNodeSource::KeyPackage(Lifetime {
            not_before: 0,
            not_after: u64::MAX,
        }),
        extensions: vec![],
        signature: vec![0; 64],
    }
}

/// The key pair of a node of the bench tree, derived from a fixed seed.
fn node_key_pair(
    cs: &dyn CipherSuiteProvider,
    seed: &Secret,
) -> Result<(HpkePrivateKey, HpkePublicKey), tessera::error::CryptoError> {
    cs.hpke_derive_key_pair(seed.as_bytes())
}

/// The seed a parent node's key pair is derived from in the bench tree.
fn parent_secret(node: NodeIndex) -> Secret {
    let mut s = vec![0u8; 32];
    s[..4].copy_from_slice(&node.0.to_be_bytes());
    Secret::from(s)
}

/// The seed a leaf's key pair is derived from in the bench tree.
fn leaf_secret(leaf: u32) -> Secret {
    let mut s = vec![0xffu8; 32];
    s[..4].copy_from_slice(&leaf.to_be_bytes());
    Secret::from(s)
}

/// A populated tree of `n` members (the last leaves of the full tree
/// blank), with the signing key of leaf 0.
struct Bench {
    tree: RatchetTree,
    signer: SignaturePrivateKey,
}

fn populated_tree(cs: &dyn CipherSuiteProvider, n: u32) -> Bench {
    let size = TreeSize::covering(n).unwrap();
    let (signer, sig_public) = cs.signature_generate_key_pair().unwrap();
    let mut nodes: Vec<Option<Node>> = vec![None; size.node_count() as usize];
    for leaf in 0..n {
        let (_, public) = node_key_pair(cs, &leaf_secret(leaf)).unwrap();
        let signature_key = if leaf == 0 {
            sig_public.clone()
        } else {
            let mut k = vec![0u8; 32];
            k[..4].copy_from_slice(&leaf.to_be_bytes());
            SignaturePublicKey(k)
        };
        nodes[LeafIndex(leaf).node().0 as usize] =
            Some(Node::Leaf(leaf_node(public, signature_key)));
    }
    for i in (1..size.node_count()).step_by(2) {
        let node = NodeIndex(i);
        // Parents with no member below stay blank.
        if node.leaf_range().start >= n {
            continue;
        }
        let (_, public) = node_key_pair(cs, &parent_secret(node)).unwrap();
        nodes[i as usize] = Some(Node::Parent(ParentNode {
            encryption_key: public,
            parent_hash: vec![],
            unmerged_leaves: vec![],
        }));
    }
    while matches!(nodes.last(), Some(None)) {
        nodes.pop();
    }
    let tree = RatchetTree::from_nodes(SUITE, nodes).unwrap();
    Bench { tree, signer }
}

/// The private state of `leaf` in the bench tree.
fn private_keys(cs: &dyn CipherSuiteProvider, tree: &RatchetTree, leaf: u32) -> TreePrivateKeys {
    let (private, _) = node_key_pair(cs, &leaf_secret(leaf)).unwrap();
    let mut keys = TreePrivateKeys::new(LeafIndex(leaf), private);
    for node in tree.direct_path(LeafIndex(leaf)).unwrap() {
        if tree.parent_node(node).is_some() {
            let (private, _) = node_key_pair(cs, &parent_secret(node)).unwrap();
            keys.set_key(node, private);
        }
    }
    keys.check_against(tree, cs).unwrap();
    keys
}

fn group_context() -> GroupContext {
    GroupContext {
        version: ProtocolVersion::MLS10,
        cipher_suite: SUITE,
        group_id: b"bench group".to_vec(),
        epoch: 1,
        tree_hash: vec![],
        confirmed_transcript_hash: vec![0; 32],
        extensions: vec![],
    }
}

fn tree_hash(c: &mut Criterion) {
    let cs = suite();
    let mut g = c.benchmark_group("tree_hash");
    for n in SIZES {
        let Bench { mut tree, .. } = populated_tree(&cs, n);
        tree.tree_hash(&cs).unwrap();
        let leaf = LeafIndex(n / 2);
        let original = tree.leaf(leaf).unwrap().clone();
        let mut other = original.clone();
        other.encryption_key = HpkePublicKey(vec![0xaa; 32]);
        let variants = [other, original];
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("one_leaf_changed", n), |b| {
            b.iter(|| {
                i += 1;
                tree.set_leaf(leaf, variants[i % 2].clone()).unwrap();
                black_box(tree.tree_hash(&cs).unwrap())
            })
        });
        let nodes = tree.to_nodes();
        g.bench_function(BenchmarkId::new("from_scratch", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let fresh = RatchetTree::from_nodes(SUITE, nodes.clone()).unwrap();
                    let start = Instant::now();
                    black_box(fresh.tree_hash(&cs).unwrap());
                    total += start.elapsed();
                }
                total
            })
        });
    }
    g.finish();
}

/// The committer's side: a new UpdatePath applied to its tree and encrypted
/// to the group. Returns the path and the provisional context it was made for.
fn create(
    cs: &dyn CipherSuiteProvider,
    tree: &mut RatchetTree,
    signer: &SignaturePrivateKey,
) -> (tessera::messages::UpdatePath, GroupContext) {
    let template = tree.leaf(LeafIndex(0)).unwrap().clone();
    let pending = tree
        .create_update_path(cs, LeafIndex(0), template, signer, b"bench group")
        .unwrap();
    let mut ctx = group_context();
    ctx.tree_hash = tree.tree_hash(cs).unwrap();
    let path = pending.encrypt(tree, cs, &ctx, &[]).unwrap();
    (path, ctx)
}

fn update_path(c: &mut Criterion) {
    let cs = suite();
    let mut g = c.benchmark_group("update_path");
    for n in SIZES {
        let Bench { tree, signer } = populated_tree(&cs, n);

        let mut committer_tree = tree.clone();
        g.bench_function(BenchmarkId::new("create", n), |b| {
            b.iter(|| black_box(create(&cs, &mut committer_tree, &signer)))
        });

        for (name, receiver) in [("process_sibling", 1), ("process_far", n - 1)] {
            let mut committer_tree = tree.clone();
            let mut receiver_tree = tree.clone();
            let mut keys = private_keys(&cs, &tree, receiver);
            g.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (path, ctx) = create(&cs, &mut committer_tree, &signer);
                        let start = Instant::now();
                        receiver_tree
                            .merge_update_path(&cs, LeafIndex(0), &path, &[])
                            .unwrap();
                        let out = receiver_tree
                            .decrypt_update_path(&cs, &mut keys, LeafIndex(0), &path, &ctx, &[])
                            .unwrap();
                        total += start.elapsed();
                        black_box(out.commit_secret);
                    }
                    total
                })
            });
        }
    }
    g.finish();
}

fn secret_tree(c: &mut Criterion) {
    use tessera::secret_tree::{RatchetKind, SecretTree, SecretTreeConfig};
    let cs = suite();
    let mut g = c.benchmark_group("secret_tree");
    for n in SIZES {
        let mut tree = SecretTree::new(
            &cs,
            Secret::from(vec![3; 32]),
            TreeSize::covering(n).unwrap(),
            SecretTreeConfig::default(),
        );
        // Every member has sent one message this member decrypted.
        for leaf in 0..n {
            tree.key(&cs, LeafIndex(leaf), RatchetKind::Application, 0)
                .unwrap();
        }
        let mut generation = 1;
        g.bench_function(BenchmarkId::new("stage_apply", n), |b| {
            b.iter(|| {
                let (key, update) = tree
                    .stage_key(&cs, LeafIndex(n / 2), RatchetKind::Application, generation)
                    .unwrap();
                tree.apply(update).unwrap();
                generation += 1;
                black_box(key)
            })
        });
        g.bench_function(BenchmarkId::new("clone", n), |b| {
            b.iter(|| black_box(tree.clone()))
        });
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = tree_hash, update_path, secret_tree
}
criterion_main!(benches);
