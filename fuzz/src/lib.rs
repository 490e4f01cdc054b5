//! What the fuzz targets share: one deterministic group and its real
//! messages (built from a seeded provider, so every run, and the seed
//! generator, get the same bytes), and the seed inputs made from them.
//!
//! The seeds kept in `fuzz/seeds/<target>/` are written by
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds` from
//! [`seeds`]; CI runs each target from them for a bounded time. If the
//! library changes how these messages are made, regenerate them: stale
//! seeds still run, but are refused early (another group's messages).

use std::sync::OnceLock;

use tessera::codec::{Decode, Encode};
use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider, Secret};
use tessera::group::{
    CommitOptions, ExternalJoinOptions, Group, GroupConfig, HandshakeFormat, Identity, JoinInput,
    KeyPackageOptions, KeyPackagePrivate, ProcessedMessage, generate_key_package,
};
use tessera::messages::{
    Add, Credential, GroupInfo, GroupSecrets, KeyPackage, MlsMessage, PathSecret, Proposal,
    RatchetTreeExtension, Remove, Welcome,
};

/// The time every lifetime is checked against.
pub const NOW: u64 = 1_800_000_000;

/// The suite of the fixture group.
pub const SUITE: CipherSuite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;

/// A group of Alice, Bob and Carol in epoch 1, and what was made in it.
pub struct Fixture {
    /// The provider the group was made with (seeded).
    pub provider: RustCryptoProvider,
    /// Bob's saved state, in the epoch every message below belongs to.
    pub bob: Vec<u8>,
    /// Alice's saved state, in the same epoch.
    pub alice: Vec<u8>,
    /// Real messages to Bob, named: application data, proposals, commits
    /// (public, private, external), Welcomes, a GroupInfo.
    pub messages: Vec<(&'static str, Vec<u8>)>,
    /// Dave, who has a KeyPackage; the Welcomes below add him.
    pub dave: (Identity, KeyPackage, KeyPackagePrivate),
    /// A Welcome for Dave that carries the ratchet tree.
    pub welcome_with_tree: Welcome,
    /// A Welcome for Dave without the tree, and the tree to go with it.
    pub welcome_without_tree: (Welcome, RatchetTreeExtension),
    /// A GroupInfo with `external_pub` and the tree, for Dave to join by
    /// external commit.
    pub group_info: GroupInfo,
}

/// The fixture, built and checked once per process.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let f = build().expect("the fixture group builds");
        check(&f).expect("the fixture's messages are valid");
        f
    })
}

/// Checks that the fixture's messages are what the targets assume: Bob
/// accepts every message for him, and Dave joins from both Welcomes and
/// from the GroupInfo. (If the library stops accepting them, fuzzing from
/// them would stay at the surface: fail loudly instead.)
pub fn check(f: &Fixture) -> Result<(), tessera::Error> {
    for (name, bytes) in &f.messages {
        let message = MlsMessage::decode_exact(bytes)?;
        if matches!(message, MlsMessage::Welcome(_) | MlsMessage::GroupInfo(_)) {
            continue;
        }
        let mut bob = Group::from_bytes(&f.provider, &f.bob)?;
        if let ProcessedMessage::Commit(staged) = bob.process_message(&message, &(), Some(NOW))? {
            // Bob cannot enter the epoch of the commit that removes him.
            if staged.summary().self_removed != (*name == "commit-remove-bob") {
                return Err(tessera::Error::Internal("unexpected removal"));
            }
            if !staged.summary().self_removed {
                bob.merge_staged_commit(*staged)?;
            }
        }
    }
    let (id, kp, private) = &f.dave;
    let input = |tree: Option<RatchetTreeExtension>| JoinInput {
        key_package: kp,
        key_package_private: private,
        signer: id.signer().clone(),
        ratchet_tree: tree,
        psk_store: &(),
        now: Some(NOW),
    };
    let config = GroupConfig::default;
    Group::join(&f.provider, config(), &f.welcome_with_tree, input(None))?;
    let (bare, tree) = &f.welcome_without_tree;
    Group::join(&f.provider, config(), bare, input(Some(tree.clone())))?;
    Group::join_external(
        &f.provider,
        config(),
        &f.group_info,
        id,
        ExternalJoinOptions::default(),
        &(),
        Some(NOW),
    )?;
    Ok(())
}

fn add(kp: &KeyPackage) -> Proposal {
    Proposal::Add(Add {
        key_package: kp.clone(),
    })
}

/// Joins `welcome` as the owner of `kp` with `config`.
fn join(
    provider: &RustCryptoProvider,
    config: GroupConfig,
    welcome: &Welcome,
    id: &Identity,
    kp: &(KeyPackage, KeyPackagePrivate),
) -> Result<Group, tessera::Error> {
    Group::join(
        provider,
        config,
        welcome,
        JoinInput {
            key_package: &kp.0,
            key_package_private: &kp.1,
            signer: id.signer().clone(),
            ratchet_tree: None,
            psk_store: &(),
            now: Some(NOW),
        },
    )
}

/// Builds the fixture (deterministically: the provider is seeded). Alice
/// creates the group and adds Bob (the member the targets feed) and Carol
/// (who sends her handshakes as PrivateMessages); then, in epoch 1, each of
/// the messages is made by a copy of Alice or Carol.
pub fn build() -> Result<Fixture, tessera::Error> {
    let provider = RustCryptoProvider::with_seed([9; 32]);
    let cs = provider.cipher_suite_provider(SUITE)?;
    let options = || KeyPackageOptions::valid_for(NOW, 86400);
    let id = |name: &str| Identity::generate(&*cs, Credential::basic(name));
    let [alice_id, bob_id, carol_id, dave_id, erin_id, frank_id] =
        ["alice", "bob", "carol", "dave", "erin", "frank"].map(id);
    let (alice_id, bob_id, carol_id, dave_id, erin_id, frank_id) =
        (alice_id?, bob_id?, carol_id?, dave_id?, erin_id?, frank_id?);
    let bob_kp = generate_key_package(&*cs, &bob_id, options())?;
    let carol_kp = generate_key_package(&*cs, &carol_id, options())?;
    let (dave_kp, dave_priv) = generate_key_package(&*cs, &dave_id, options())?;
    let (frank_kp, _) = generate_key_package(&*cs, &frank_id, options())?;

    let mut alice = Group::create(
        &provider,
        GroupConfig::default(),
        SUITE,
        b"fuzz".to_vec(),
        &alice_id,
        options(),
        vec![],
    )?;
    let out = alice.commit(
        CommitOptions {
            proposals: vec![add(&bob_kp.0), add(&carol_kp.0)],
            ..Default::default()
        },
        &(),
        Some(NOW),
    )?;
    alice.merge_pending_commit()?;
    let Some(MlsMessage::Welcome(welcome)) = out.welcome else {
        return Err(tessera::Error::Internal("no Welcome"));
    };
    let bob = join(
        &provider,
        GroupConfig::default(),
        &welcome,
        &bob_id,
        &bob_kp,
    )?;
    let private = GroupConfig {
        handshake_format: HandshakeFormat::Private,
        ..GroupConfig::default()
    };
    let carol = join(&provider, private, &welcome, &carol_id, &carol_kp)?;
    let bob_state = bob.to_bytes()?.as_bytes().to_vec();
    let alice_state = alice.to_bytes()?.as_bytes().to_vec();
    let carol_state = carol.to_bytes()?.as_bytes().to_vec();

    let alice = || Group::from_bytes(&provider, &alice_state);
    let carol = || Group::from_bytes(&provider, &carol_state);
    let commit = |g: &mut Group, options: CommitOptions| g.commit(options, &(), Some(NOW));
    let mut messages: Vec<(&'static str, Vec<u8>)> = Vec::new();

    let mut a = alice()?;
    messages.push((
        "application",
        a.encrypt_application(b"hello", b"aad")?.to_bytes()?,
    ));
    messages.push((
        "proposal-remove",
        a.propose(Proposal::Remove(Remove { removed: 2 }))?
            .to_bytes()?,
    ));
    messages.push(("proposal-add", a.propose(add(&frank_kp))?.to_bytes()?));

    let mut a = alice()?;
    let out = commit(
        &mut a,
        CommitOptions {
            proposals: vec![add(&frank_kp)],
            force_path: true,
            ..Default::default()
        },
    )?;
    messages.push(("commit-add-with-path", out.commit.to_bytes()?));
    if let Some(w) = out.welcome {
        messages.push(("welcome-frank", w.to_bytes()?));
    }

    let mut a = alice()?;
    let out = commit(
        &mut a,
        CommitOptions {
            proposals: vec![Proposal::Remove(Remove { removed: 1 })],
            ..Default::default()
        },
    )?;
    messages.push(("commit-remove-bob", out.commit.to_bytes()?));

    // Carol's handshakes are PrivateMessages.
    let mut c = carol()?;
    messages.push((
        "private-application",
        c.encrypt_application(b"from carol", b"")?.to_bytes()?,
    ));
    messages.push((
        "private-proposal-remove",
        c.propose(Proposal::Remove(Remove { removed: 0 }))?
            .to_bytes()?,
    ));
    let out = commit(
        &mut carol()?,
        CommitOptions {
            force_path: true,
            ..Default::default()
        },
    )?;
    messages.push(("private-commit", out.commit.to_bytes()?));

    // Welcomes for Dave, with and without the tree, and a GroupInfo.
    let mut a = alice()?;
    let out = commit(
        &mut a,
        CommitOptions {
            proposals: vec![add(&dave_kp)],
            force_path: true,
            ..Default::default()
        },
    )?;
    let Some(MlsMessage::Welcome(welcome_with_tree)) = out.welcome else {
        return Err(tessera::Error::Internal("no Welcome"));
    };
    messages.push((
        "welcome-dave-with-tree",
        MlsMessage::Welcome(welcome_with_tree.clone()).to_bytes()?,
    ));
    let mut a = alice()?;
    let out = commit(
        &mut a,
        CommitOptions {
            proposals: vec![add(&dave_kp)],
            ratchet_tree_in_welcome: false,
            ..Default::default()
        },
    )?;
    let Some(MlsMessage::Welcome(welcome_without_tree)) = out.welcome else {
        return Err(tessera::Error::Internal("no Welcome"));
    };
    messages.push((
        "welcome-dave-without-tree",
        MlsMessage::Welcome(welcome_without_tree.clone()).to_bytes()?,
    ));
    let tree = out
        .ratchet_tree
        .ok_or(tessera::Error::Internal("no ratchet tree with the Welcome"))?;

    let MlsMessage::GroupInfo(group_info) = alice()?.group_info(true)? else {
        return Err(tessera::Error::Internal("no GroupInfo"));
    };
    messages.push((
        "group-info",
        MlsMessage::GroupInfo(group_info.clone()).to_bytes()?,
    ));
    // Erin joins by external commit: the commit goes to Bob.
    let (_, external) = Group::join_external(
        &provider,
        GroupConfig::default(),
        &group_info,
        &erin_id,
        ExternalJoinOptions::default(),
        &(),
        Some(NOW),
    )?;
    messages.push(("external-commit", external.to_bytes()?));

    Ok(Fixture {
        provider,
        bob: bob_state,
        alice: alice_state,
        messages,
        dave: (dave_id, dave_kp, dave_priv),
        welcome_with_tree,
        welcome_without_tree: (welcome_without_tree, tree),
        group_info,
    })
}

/// Flips bytes of `msg` as `flips` says: `(pos_hi, pos_lo, xor)*`.
pub fn flip(msg: &mut [u8], flips: &[u8]) {
    if msg.is_empty() {
        return;
    }
    for f in flips.chunks_exact(3) {
        let pos = usize::from(u16::from_be_bytes([f[0], f[1]])) % msg.len();
        msg[pos] ^= f[2];
    }
}

/// Dave joins from `welcome` (the tree out of band if `tree`). The result
/// is not looked at: it must only not panic.
pub fn join_dave(f: &Fixture, welcome: &Welcome, tree: Option<RatchetTreeExtension>) {
    let (id, kp, private) = &f.dave;
    let _ = Group::join(
        &f.provider,
        GroupConfig::default(),
        welcome,
        JoinInput {
            key_package: kp,
            key_package_private: private,
            signer: id.signer().clone(),
            ratchet_tree: tree,
            psk_store: &(),
            now: Some(NOW),
        },
    );
}

/// Dave joins by external commit from `group_info`; if he can, Bob
/// processes his commit (see [`bob_processes`]).
pub fn join_external_dave(f: &Fixture, group_info: &GroupInfo) {
    let (id, _, _) = &f.dave;
    if let Ok((_, commit)) = Group::join_external(
        &f.provider,
        GroupConfig::default(),
        group_info,
        id,
        ExternalJoinOptions::default(),
        &(),
        Some(NOW),
    ) {
        bob_processes(f, &commit);
    }
}

/// Bob processes `message` (and merges it if it is a commit); a message he
/// refuses must leave his saved state byte for byte as it was.
pub fn bob_processes(f: &Fixture, message: &MlsMessage) {
    let mut bob = Group::from_bytes(&f.provider, &f.bob).expect("Bob's state loads");
    let before = bob.to_bytes().expect("Bob's state saves");
    match bob.process_message(message, &(), Some(NOW)) {
        Ok(ProcessedMessage::Commit(staged)) => {
            let _ = bob.merge_staged_commit(*staged);
        }
        Ok(_) => {}
        Err(_) => {
            let after = bob.to_bytes().expect("Bob's state saves");
            assert!(
                after.as_bytes() == before.as_bytes(),
                "a refused message changed the state"
            );
        }
    }
}

/// One seed input: its target, a file name, and the bytes.
pub struct Seed {
    /// The fuzz target it is for.
    pub target: &'static str,
    /// The file name under `fuzz/seeds/<target>/`.
    pub name: String,
    /// The input.
    pub bytes: Vec<u8>,
}

/// The seed inputs of every target, from the fixture.
pub fn seeds(f: &Fixture) -> Result<Vec<Seed>, tessera::Error> {
    let mut out = Vec::new();
    let mut seed = |target: &'static str, name: String, head: &[u8], body: &[u8]| {
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(body);
        out.push(Seed {
            target,
            name,
            bytes,
        });
    };

    // process: mode 0 (a message), 1 (a saved state), 2 (flips of message n).
    for (i, (name, m)) in f.messages.iter().enumerate() {
        seed("process", format!("message-{name}"), &[0], m);
        let which = u8::try_from(i).map_err(|_| tessera::Error::Internal("too many messages"))?;
        seed("process", format!("flip-{name}"), &[2, which], &[0, 7, 1]);
    }
    seed("process", "state-bob".into(), &[1], &f.bob);
    seed("process", "state-alice".into(), &[1], &f.alice);

    // join: mode 0 (a message: Welcome or GroupInfo), 1 (flips of the
    // Welcome with the tree), 2 (flips of the Welcome without the tree or
    // of its tree), 3 (flips of the GroupInfo), 4 (a tree for the Welcome
    // without one).
    let (bare, tree) = &f.welcome_without_tree;
    seed(
        "join",
        "welcome-with-tree".into(),
        &[0],
        &MlsMessage::Welcome(f.welcome_with_tree.clone()).to_bytes()?,
    );
    seed(
        "join",
        "welcome-without-tree".into(),
        &[0],
        &MlsMessage::Welcome(bare.clone()).to_bytes()?,
    );
    seed(
        "join",
        "group-info".into(),
        &[0],
        &MlsMessage::GroupInfo(f.group_info.clone()).to_bytes()?,
    );
    seed("join", "flip-welcome-with-tree".into(), &[1], &[0, 9, 1]);
    seed(
        "join",
        "flip-welcome-without-tree".into(),
        &[2, 0],
        &[0, 9, 1],
    );
    seed("join", "flip-tree".into(), &[2, 1], &[0, 9, 1]);
    seed("join", "flip-group-info".into(), &[3], &[0, 9, 1]);
    seed("join", "tree".into(), &[4], &tree.to_bytes()?);

    // decode: a selector, then an encoding of that type.
    for (name, m) in &f.messages {
        seed("decode", format!("mls-message-{name}"), &[0], m);
    }
    seed("decode", "ratchet-tree".into(), &[1], &tree.to_bytes()?);
    let (_, kp, _) = &f.dave;
    seed("decode", "key-package".into(), &[2], &kp.to_bytes()?);
    seed(
        "decode",
        "leaf-node".into(),
        &[3],
        &kp.leaf_node.to_bytes()?,
    );
    seed(
        "decode",
        "welcome".into(),
        &[7],
        &f.welcome_with_tree.to_bytes()?,
    );
    seed(
        "decode",
        "group-info".into(),
        &[8],
        &f.group_info.to_bytes()?,
    );
    seed(
        "decode",
        "group-context".into(),
        &[9],
        &f.group_info.group_context.to_bytes()?,
    );
    let secrets = GroupSecrets {
        joiner_secret: Secret::from(vec![7; 32]),
        path_secret: Some(PathSecret {
            path_secret: Secret::from(vec![8; 32]),
        }),
        psks: Vec::new(),
    };
    seed(
        "decode",
        "group-secrets".into(),
        &[10],
        &secrets.to_bytes()?,
    );
    Ok(out)
}
