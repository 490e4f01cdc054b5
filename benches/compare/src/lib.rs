//! Side-by-side benchmarks of MLS implementations (Tessera, openmls, mls-rs).
//!
//! Every implementation is driven through one trait, [`MlsHarness`]: an
//! adapter per library turns the library's API into bytes-in/bytes-out group
//! operations. The fixtures ([`Fixture`]) and the benchmark bodies are generic
//! over the trait, so that all libraries run exactly the same scenario.
//!
//! Conventions shared by every adapter (so that the numbers compare):
//! - cipher suite 0x0001 (MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519),
//!   basic credentials, in-memory state;
//! - handshake messages (commits) are sent as `PublicMessage`; application
//!   messages are `PrivateMessage` without padding;
//! - the ratchet tree travels inside the Welcome (`ratchet_tree` extension);
//! - messages cross the API as serialized `MLSMessage` bytes: producing one
//!   includes serializing it, consuming one includes parsing it;
//! - creating a commit includes merging it into the creator's own state
//!   (the creator is in the new epoch afterwards), and processing a commit
//!   includes merging it (the receiver is in the new epoch afterwards).
//!
//! The crate's library only holds what does not depend on the baselines:
//! openmls and mls-rs are dev-dependencies, their adapters live in
//! `adapters/` and are compiled into the bench and example targets.

use std::path::PathBuf;
use std::time::Instant;

/// One MLS implementation, driven at the level of serialized messages.
///
/// All methods may panic on failure: this is benchmark code, and a failure
/// means the scenario is broken.
pub trait MlsHarness {
    /// The library's name, used as the criterion function id (`openmls`, `mls-rs`, `tessera`).
    const NAME: &'static str;

    /// A client about to create a group: its signature key, credential and
    /// (empty) storage.
    type Creator;
    /// A client that published one KeyPackage and holds its private keys, not
    /// yet in a group.
    type Joiner;
    /// The full state of one group member (group state, storage, signature key).
    type Member;

    // ----- Setup (never timed) -----

    /// A new client named `name` that will create a group.
    fn new_creator(name: &str) -> Self::Creator;
    /// A new client named `name` and its KeyPackage, serialized as an `MLSMessage`.
    fn new_joiner(name: &str) -> (Self::Joiner, Vec<u8>);
    /// An independent copy of a creator: what one iteration consumes.
    fn fork_creator(creator: &Self::Creator) -> Self::Creator;
    /// An independent copy of a joiner, whose storage still holds the
    /// KeyPackage private keys (joining may consume them).
    fn fork_joiner(joiner: &Self::Joiner) -> Self::Joiner;
    /// An independent deep copy of a member: mutating the copy must leave the
    /// original untouched, so that every iteration does the full work.
    fn fork_member(member: &Self::Member) -> Self::Member;
    /// The member's current epoch (used to check the scenario).
    fn epoch(member: &Self::Member) -> u64;
    /// The member's own leaf index.
    fn leaf_index(member: &Self::Member) -> u32;
    /// The number of members in the member's view of the group.
    fn member_count(member: &Self::Member) -> usize;

    /// Creates a group with the creator as its only member.
    fn create(creator: Self::Creator) -> Self::Member;

    // ----- Operations (timed) -----

    /// Creates a group and adds the members whose KeyPackages are given, in one
    /// commit. Parses and validates every KeyPackage. Returns the creator's
    /// state, the commit and the Welcome (ratchet tree included).
    fn create_and_add(
        creator: Self::Creator,
        key_packages: &[Vec<u8>],
    ) -> (Self::Member, Vec<u8>, Vec<u8>);
    /// Adds one member (used to build the populated scenario). Returns the
    /// commit and the Welcome.
    fn add(member: &mut Self::Member, key_package: &[u8]) -> (Vec<u8>, Vec<u8>);
    /// Joins from a Welcome that carries the ratchet tree.
    fn join(joiner: Self::Joiner, welcome: &[u8]) -> Self::Member;
    /// Commits with an UpdatePath and no proposals (a "self-update"); merges it.
    fn update(member: &mut Self::Member) -> Vec<u8>;
    /// Commits the removal of the member at `leaf`; merges it.
    fn remove(member: &mut Self::Member, leaf: u32) -> Vec<u8>;
    /// Parses, validates and merges a commit from another member.
    fn process_commit(member: &mut Self::Member, commit: &[u8]);
    /// Encrypts one application message.
    fn encrypt(member: &mut Self::Member, plaintext: &[u8]) -> Vec<u8>;
    /// Parses and decrypts one application message; returns the plaintext.
    fn decrypt(member: &mut Self::Member, message: &[u8]) -> Vec<u8>;
}

/// The group members whose states a scenario keeps (all others are dropped
/// once the group is built).
///
/// Roles, identical for every library:
/// - `m0`, leaf 0: the creator. Commits the removal of the last member;
///   receives the update commit of `m1`; sends application messages.
/// - `m1`, leaf 1: commits the update; receives the remove commit; receives
///   application messages. At N = 2 it is also the last member, so it is the
///   one removed (and it processes its own removal).
pub struct Roles<H: MlsHarness> {
    /// The member at leaf 0.
    pub m0: H::Member,
    /// The member at leaf 1.
    pub m1: H::Member,
}

/// Messages made once from a scenario's state, for the "process" benchmarks
/// and the size report.
pub struct Prepared {
    /// An update commit by leaf 1.
    pub update_commit: Vec<u8>,
    /// A commit by leaf 0 removing leaf N-1.
    pub remove_commit: Vec<u8>,
}

/// Everything the benchmarks of one library at one group size N need.
pub struct Fixture<H: MlsHarness> {
    /// Group size.
    pub n: usize,
    /// A creator that has not created a group yet (forked per iteration).
    pub creator: H::Creator,
    /// The N-1 KeyPackages added by "create+add", as `MLSMessage` bytes.
    pub key_packages: Vec<Vec<u8>>,
    /// The joiner of leaf N-1 before it joined (forked per iteration of "join").
    pub last_joiner: H::Joiner,
    /// The commit of "create+add".
    pub create_commit: Vec<u8>,
    /// The Welcome of "create+add" (N-1 recipients, ratchet tree included).
    pub welcome: Vec<u8>,
    /// Members right after the create+add commit: only leaf 0's direct path
    /// is set, every other parent node is blank, all added leaves are
    /// unmerged at the nodes of leaf 0's path.
    pub fresh: Roles<H>,
    /// Commits prepared in the fresh tree.
    pub fresh_msgs: Prepared,
    /// Members of a group in which every member has committed once (see
    /// [`build_populated`]); `None` when N is above the populated limit.
    pub populated: Option<(Roles<H>, Prepared)>,
    /// Leaves 0 and 1 of the fresh group after `senders` members (leaf 0
    /// and leaves 2, 3, ...) have each sent one application message that
    /// leaf 1 decrypted: leaf 1's secret tree holds that many started
    /// ratchets (see [`build_all_sent`]); `None` if no sender was asked for.
    pub all_sent: Option<(Roles<H>, usize)>,
}

/// Builds the fixture of one library at group size `n` (`n >= 2`).
/// `populated` says whether to build the populated scenario too, `senders`
/// how many members send in the all-sent scenario (capped at `n - 1`; 0:
/// not built).
pub fn build_fixture<H: MlsHarness>(n: usize, populated: bool, senders: usize) -> Fixture<H> {
    assert!(n >= 2, "a group has at least 2 members");
    let senders = senders.min(n - 1);
    let t = Instant::now();
    let creator = H::new_creator("member 0");
    let mut key_packages = Vec::with_capacity(n - 1);
    let mut m1_joiner = None;
    let mut last_joiner = None;
    // The joiners at leaves 2, 3, ... that send in the all-sent scenario
    // (leaf 0 is the other sender).
    let mut sender_joiners = Vec::new();
    for i in 1..n {
        let (joiner, kp) = H::new_joiner(&format!("member {i}"));
        key_packages.push(kp);
        if i >= 2 && i <= senders {
            sender_joiners.push(H::fork_joiner(&joiner));
        }
        if i == 1 {
            if n == 2 {
                last_joiner = Some(H::fork_joiner(&joiner));
            }
            m1_joiner = Some(joiner);
        } else if i == n - 1 {
            last_joiner = Some(joiner);
        }
    }
    let (m0, create_commit, welcome) = H::create_and_add(H::fork_creator(&creator), &key_packages);
    let m1 = H::join(m1_joiner.expect("n >= 2"), &welcome);
    let last_joiner = last_joiner.expect("n >= 2");
    check_roles::<H>(&m0, &m1, n);
    let fresh = Roles { m0, m1 };
    let all_sent = (senders > 0).then(|| {
        let t = Instant::now();
        let roles = build_all_sent::<H>(&fresh, sender_joiners, &welcome);
        eprintln!(
            "[{}] N={n}: {senders} senders' messages decrypted in {:.1?}",
            H::NAME,
            t.elapsed()
        );
        (roles, senders)
    });
    let fresh_msgs = prepare::<H>(&fresh, n);
    eprintln!(
        "[{}] N={n}: fresh group built in {:.1?}",
        H::NAME,
        t.elapsed()
    );
    let populated = populated.then(|| {
        let t = Instant::now();
        let roles = build_populated::<H>(n);
        let msgs = prepare::<H>(&roles, n);
        eprintln!(
            "[{}] N={n}: populated group built in {:.1?}",
            H::NAME,
            t.elapsed()
        );
        (roles, msgs)
    });
    Fixture {
        n,
        creator,
        key_packages,
        last_joiner,
        create_commit,
        welcome,
        fresh,
        fresh_msgs,
        populated,
        all_sent,
    }
}

/// Leaves 0 and 1 of the fresh group after leaf 0 and each joiner of
/// `senders` (joining from `welcome`) sent one 1 KiB application message,
/// which leaf 1 decrypted: the receiver's secret tree then holds one
/// started ratchet per sender. Each sender's state is dropped after its
/// message. Cost: one join per sender.
pub fn build_all_sent<H: MlsHarness>(
    fresh: &Roles<H>,
    senders: Vec<H::Joiner>,
    welcome: &[u8],
) -> Roles<H> {
    let mut m0 = H::fork_member(&fresh.m0);
    let mut m1 = H::fork_member(&fresh.m1);
    let first = H::encrypt(&mut m0, &APP_PAYLOAD);
    assert_eq!(H::decrypt(&mut m1, &first), APP_PAYLOAD, "{}", H::NAME);
    let report_every = (senders.len() / 10).max(1);
    for (i, joiner) in senders.into_iter().enumerate() {
        let mut sender = H::join(joiner, welcome);
        let ct = H::encrypt(&mut sender, &APP_PAYLOAD);
        assert_eq!(H::decrypt(&mut m1, &ct), APP_PAYLOAD, "{}", H::NAME);
        if (i + 1) % report_every == 0 {
            eprintln!("[{}] all-sent: {} senders done", H::NAME, i + 2);
        }
    }
    Roles { m0, m1 }
}

fn check_roles<H: MlsHarness>(m0: &H::Member, m1: &H::Member, n: usize) {
    assert_eq!(H::leaf_index(m0), 0, "{}: creator not at leaf 0", H::NAME);
    assert_eq!(H::leaf_index(m1), 1, "{}: member 1 not at leaf 1", H::NAME);
    assert_eq!(H::member_count(m0), n, "{}: wrong group size", H::NAME);
    assert_eq!(H::member_count(m1), n, "{}: wrong group size", H::NAME);
    assert_eq!(H::epoch(m0), H::epoch(m1), "{}: epochs differ", H::NAME);
}

/// Makes the commits the "process" benchmarks consume, and checks that the
/// receivers accept them.
fn prepare<H: MlsHarness>(roles: &Roles<H>, n: usize) -> Prepared {
    let update_commit = H::update(&mut H::fork_member(&roles.m1));
    let remove_commit = H::remove(&mut H::fork_member(&roles.m0), (n - 1) as u32);
    let mut r = H::fork_member(&roles.m0);
    H::process_commit(&mut r, &update_commit);
    assert_eq!(H::epoch(&r), H::epoch(&roles.m0) + 1);
    let mut r = H::fork_member(&roles.m1);
    H::process_commit(&mut r, &remove_commit);
    Prepared {
        update_commit,
        remove_commit,
    }
}

/// Builds a group of `n` in which every member has committed once, so that
/// every parent node above an occupied leaf is set and no leaf is unmerged:
/// an UpdatePath then encrypts to one node per copath level (log N HPKE
/// encryptions) instead of to every leaf.
///
/// Construction: leaf 0 creates the group alone; then for each new member i,
/// leaf 0 commits an Add of i, member i joins from the Welcome and at once
/// commits an update. Only leaves 0 and 1 are kept, and they process every
/// commit; member i's state is dropped after its update (its path stays in
/// the tree). Cost: N joins and about 2N commits, O(N^2) overall, which is
/// why this scenario is built only up to N = 1000 by default.
pub fn build_populated<H: MlsHarness>(n: usize) -> Roles<H> {
    let creator = H::new_creator("member 0");
    let mut m0 = H::create(creator);
    let mut m1: Option<H::Member> = None;
    let report_every = (n / 10).max(1);
    for i in 1..n {
        let (joiner, kp) = H::new_joiner(&format!("member {i}"));
        let (add_commit, welcome) = H::add(&mut m0, &kp);
        if let Some(m1) = m1.as_mut() {
            H::process_commit(m1, &add_commit);
        }
        let mut mi = H::join(joiner, &welcome);
        let update = H::update(&mut mi);
        H::process_commit(&mut m0, &update);
        if let Some(m1) = m1.as_mut() {
            H::process_commit(m1, &update);
        }
        if i == 1 {
            m1 = Some(mi);
        }
        if i % report_every == 0 {
            eprintln!("[{}] populating N={n}: {i} members added", H::NAME);
        }
    }
    let m1 = m1.expect("n >= 2");
    check_roles::<H>(&m0, &m1, n);
    Roles { m0, m1 }
}

/// Directory where criterion writes its results (same rule as criterion:
/// `$CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`, else the workspace's
/// `target/criterion`).
pub fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/criterion")
}

/// Records message sizes (bytes) of one library at one group size in
/// `<criterion dir>/tessera-sizes/<lib>_N<n>.json`, and prints them.
pub fn record_sizes(lib: &str, n: usize, sizes: &[(&str, usize)]) {
    let dir = criterion_dir().join("tessera-sizes");
    let body: Vec<String> = sizes
        .iter()
        .map(|(k, v)| format!("  \"{k}\": {v}"))
        .collect();
    let json = format!(
        "{{\n  \"library\": \"{lib}\",\n  \"n\": {n},\n{}\n}}\n",
        body.join(",\n")
    );
    for (k, v) in sizes {
        eprintln!("[{lib}] N={n}: size of {k} = {v} bytes");
    }
    if let Err(e) = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(format!("{lib}_N{n}.json")), json))
    {
        eprintln!("cannot write sizes to {}: {e}", dir.display());
    }
}

/// The message sizes of a fixture, as recorded by [`record_sizes`].
pub fn fixture_sizes<H: MlsHarness>(
    fx: &Fixture<H>,
    app_message: usize,
) -> Vec<(&'static str, usize)> {
    let mut v = vec![
        ("key_package", fx.key_packages.first().map_or(0, Vec::len)),
        ("create_add_commit", fx.create_commit.len()),
        ("welcome", fx.welcome.len()),
        ("update_commit_fresh", fx.fresh_msgs.update_commit.len()),
        ("remove_commit_fresh", fx.fresh_msgs.remove_commit.len()),
        ("application_message_1KiB", app_message),
    ];
    if let Some((_, p)) = &fx.populated {
        v.push(("update_commit_populated", p.update_commit.len()));
        v.push(("remove_commit_populated", p.remove_commit.len()));
    }
    v
}

/// A field of `/proc/self/status` in bytes (`VmHWM` is the peak resident set
/// size, `VmRSS` the current one). `None` off Linux.
pub fn proc_status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Benchmark configuration read from the environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// Group sizes to run.
    pub sizes: Vec<usize>,
    /// Largest N for which the populated scenario is built.
    pub populated_max: usize,
    /// Most members that send in the all-sent scenario
    /// (`TESSERA_BENCH_SENDERS_MAX`, default 1000; 0 skips it).
    pub senders_max: usize,
    /// Libraries to run (by [`MlsHarness::NAME`]); empty means all.
    pub libs: Vec<String>,
    /// Threads of rayon's global pool (`TESSERA_BENCH_THREADS`, default 1).
    pub threads: usize,
    /// Criterion test mode (`cargo test --benches`, or `cargo bench -- --test`):
    /// every benchmark runs once, as a smoke test. Default sizes are then 2 and
    /// 10 only, and no sizes file is written.
    pub test_mode: bool,
}

impl Config {
    /// Reads the configuration:
    /// - `TESSERA_BENCH_N=2,10,100` restricts the group sizes (default 2,10,100,1000);
    /// - `TESSERA_BENCH_10K=1` adds N = 10000 (fresh scenario only by default);
    /// - `TESSERA_BENCH_POPULATED_MAX=1000` is the largest N with a populated scenario;
    /// - `TESSERA_BENCH_SENDERS_MAX=1000` caps the senders of the all-sent
    ///   scenario (each costs a join; 0 skips the scenario);
    /// - `TESSERA_BENCH_LIBS=openmls,mls-rs` restricts the libraries;
    /// - `TESSERA_BENCH_THREADS=1` sets the threads of rayon's global pool,
    ///   which openmls and mls-rs use for path encryption (default 1).
    ///
    /// Test mode is detected from the command line the way criterion does it.
    pub fn from_env() -> Self {
        let args: Vec<String> = std::env::args().collect();
        let test_mode = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test");
        let list = |name: &str| -> Option<Vec<String>> {
            let v = std::env::var(name).ok()?;
            Some(
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            )
        };
        let mut sizes: Vec<usize> = match list("TESSERA_BENCH_N") {
            Some(v) => v
                .iter()
                .map(|s| {
                    s.parse()
                        .expect("TESSERA_BENCH_N: comma-separated integers")
                })
                .collect(),
            None if test_mode => vec![2, 10],
            None => vec![2, 10, 100, 1000],
        };
        if std::env::var("TESSERA_BENCH_10K").is_ok_and(|v| v == "1") && !sizes.contains(&10_000) {
            sizes.push(10_000);
        }
        let populated_max = std::env::var("TESSERA_BENCH_POPULATED_MAX")
            .ok()
            .map(|v| v.parse().expect("TESSERA_BENCH_POPULATED_MAX: an integer"))
            .unwrap_or(1000);
        let senders_max = std::env::var("TESSERA_BENCH_SENDERS_MAX")
            .ok()
            .map(|v| v.parse().expect("TESSERA_BENCH_SENDERS_MAX: an integer"))
            .unwrap_or(1000);
        Self {
            sizes,
            populated_max,
            senders_max,
            libs: list("TESSERA_BENCH_LIBS").unwrap_or_default(),
            threads: std::env::var("TESSERA_BENCH_THREADS")
                .ok()
                .map(|v| v.parse().expect("TESSERA_BENCH_THREADS: an integer"))
                .unwrap_or(1),
            test_mode,
        }
    }

    /// Whether library `name` is selected.
    pub fn runs(&self, name: &str) -> bool {
        self.libs.is_empty() || self.libs.iter().any(|l| l == name)
    }
}

/// The application message payload: 1 KiB.
pub const APP_PAYLOAD: [u8; 1024] = [0x42; 1024];
