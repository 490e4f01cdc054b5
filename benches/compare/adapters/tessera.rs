//! The Tessera adapter (provider: `RustCryptoProvider`, state in memory).
//!
//! How Tessera is driven:
//! - `GroupConfig` with handshakes as PublicMessage (the default) and
//!   `PaddingPolicy::None` (the default pads to multiples of 32 bytes; the
//!   baselines are run unpadded too), and `max_group_size` raised to 2^18
//!   leaves for the N = 100,000 rows.
//! - KeyPackages: `MlsMessage::decode_exact`, then `Proposal::Add` by value in
//!   `Group::commit` (which validates them), then `merge_pending_commit`. No
//!   forced path on add-only commits (like mls-rs; openmls sends one).
//! - Updates: `Group::commit` with `force_path: true` and no proposals.
//! - Time: the current Unix time is passed as `now` (KeyPackage lifetimes).
//! - Snapshots: `fork_member` round-trips the state through
//!   `Group::to_bytes` / `Group::from_bytes`, outside the timed region.
//!   `Group` is deliberately not `Clone`: two live copies of one member would
//!   encrypt with the same ratchet keys and nonces.

use std::time::{SystemTime, UNIX_EPOCH};

use tessera::codec::{Decode, Encode};
use tessera::crypto::{CipherSuite, CryptoProvider, RustCryptoProvider};
use tessera::framing::PaddingPolicy;
use tessera::group::{
    CommitOptions, Group, GroupConfig, Identity, JoinInput, KeyPackageOptions, KeyPackagePrivate,
    ProcessedMessage, generate_key_package,
};
use tessera::messages::{Add, Credential, KeyPackage, MlsMessage, Proposal, Remove};

use tessera_bench::MlsHarness;

const CS: CipherSuite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
const VALIDITY_SECS: u64 = 30 * 86400;

/// The Tessera harness.
pub struct Tessera;

/// A client about to create a group.
pub struct Creator {
    provider: RustCryptoProvider,
    identity: Identity,
}

/// A client holding one KeyPackage and its private keys.
pub struct Joiner {
    provider: RustCryptoProvider,
    identity: Identity,
    key_package: KeyPackage,
    private: KeyPackagePrivate,
}

/// A group member.
pub struct Member {
    provider: RustCryptoProvider,
    group: Group,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn config() -> GroupConfig {
    GroupConfig {
        padding: PaddingPolicy::None,
        // Room for the N = 100,000 rows (the default bound is 65,536 leaves).
        max_group_size: 1 << 18,
        ..GroupConfig::default()
    }
}

fn new_identity(provider: &RustCryptoProvider, name: &str) -> Identity {
    let cs = provider.cipher_suite_provider(CS).expect("suite 0x0001");
    Identity::generate(&*cs, Credential::basic(name.as_bytes().to_vec())).expect("identity")
}

fn parse(bytes: &[u8]) -> MlsMessage {
    MlsMessage::decode_exact(bytes).expect("MLSMessage")
}

fn add_key_packages(group: &mut Group, key_packages: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
    let proposals = key_packages
        .iter()
        .map(|bytes| match parse(bytes) {
            MlsMessage::KeyPackage(key_package) => Proposal::Add(Add { key_package }),
            _ => panic!("not a KeyPackage"),
        })
        .collect();
    let out = group
        .commit(
            CommitOptions {
                proposals,
                ..CommitOptions::default()
            },
            &(),
            Some(now()),
        )
        .expect("commit");
    group.merge_pending_commit().expect("merge");
    (
        out.commit.to_bytes().expect("serialize"),
        out.welcome.expect("Welcome").to_bytes().expect("serialize"),
    )
}

impl MlsHarness for Tessera {
    const NAME: &'static str = "tessera";
    type Creator = Creator;
    type Joiner = Joiner;
    type Member = Member;

    fn new_creator(name: &str) -> Creator {
        let provider = RustCryptoProvider::new();
        let identity = new_identity(&provider, name);
        Creator { provider, identity }
    }

    fn new_joiner(name: &str) -> (Joiner, Vec<u8>) {
        let provider = RustCryptoProvider::new();
        let identity = new_identity(&provider, name);
        let cs = provider.cipher_suite_provider(CS).expect("suite 0x0001");
        let (key_package, private) = generate_key_package(
            &*cs,
            &identity,
            KeyPackageOptions::valid_for(now(), VALIDITY_SECS),
        )
        .expect("KeyPackage");
        let bytes = MlsMessage::KeyPackage(key_package.clone())
            .to_bytes()
            .expect("serialize");
        let joiner = Joiner {
            provider,
            identity,
            key_package,
            private,
        };
        (joiner, bytes)
    }

    fn fork_creator(creator: &Creator) -> Creator {
        Creator {
            provider: creator.provider.clone(),
            identity: creator.identity.clone(),
        }
    }

    fn fork_joiner(joiner: &Joiner) -> Joiner {
        Joiner {
            provider: joiner.provider.clone(),
            identity: joiner.identity.clone(),
            key_package: joiner.key_package.clone(),
            private: joiner.private.clone(),
        }
    }

    fn fork_member(member: &Member) -> Member {
        let state = member.group.to_bytes().expect("serialize the group state");
        Member {
            provider: member.provider.clone(),
            group: Group::from_bytes(&member.provider, state.as_bytes())
                .expect("restore the group state"),
        }
    }

    fn epoch(member: &Member) -> u64 {
        member.group.epoch()
    }

    fn leaf_index(member: &Member) -> u32 {
        member.group.own_leaf().0
    }

    fn member_count(member: &Member) -> usize {
        member.group.members().len()
    }

    fn create(creator: Creator) -> Member {
        let group = Group::create(
            &creator.provider,
            config(),
            CS,
            b"tessera-bench".to_vec(),
            &creator.identity,
            KeyPackageOptions::valid_for(now(), VALIDITY_SECS),
            Vec::new(),
        )
        .expect("create group");
        Member {
            provider: creator.provider,
            group,
        }
    }

    fn create_and_add(creator: Creator, key_packages: &[Vec<u8>]) -> (Member, Vec<u8>, Vec<u8>) {
        let mut m = Self::create(creator);
        let (commit, welcome) = add_key_packages(&mut m.group, key_packages);
        (m, commit, welcome)
    }

    fn add(member: &mut Member, key_package: &[u8]) -> (Vec<u8>, Vec<u8>) {
        add_key_packages(
            &mut member.group,
            std::slice::from_ref(&key_package.to_vec()),
        )
    }

    fn join(joiner: Joiner, welcome: &[u8]) -> Member {
        let MlsMessage::Welcome(welcome) = parse(welcome) else {
            panic!("not a Welcome");
        };
        let group = Group::join(
            &joiner.provider,
            config(),
            &welcome,
            JoinInput {
                key_package: &joiner.key_package,
                key_package_private: &joiner.private,
                signer: joiner.identity.signer().clone(),
                ratchet_tree: None,
                psk_store: &(),
                now: Some(now()),
            },
        )
        .expect("join");
        Member {
            provider: joiner.provider,
            group,
        }
    }

    fn update(member: &mut Member) -> Vec<u8> {
        let out = member
            .group
            .commit(
                CommitOptions {
                    force_path: true,
                    ..CommitOptions::default()
                },
                &(),
                Some(now()),
            )
            .expect("commit");
        member.group.merge_pending_commit().expect("merge");
        out.commit.to_bytes().expect("serialize")
    }

    fn remove(member: &mut Member, leaf: u32) -> Vec<u8> {
        let out = member
            .group
            .commit(
                CommitOptions {
                    proposals: vec![Proposal::Remove(Remove { removed: leaf })],
                    ..CommitOptions::default()
                },
                &(),
                Some(now()),
            )
            .expect("commit");
        member.group.merge_pending_commit().expect("merge");
        out.commit.to_bytes().expect("serialize")
    }

    fn process_commit(member: &mut Member, commit: &[u8]) {
        let msg = parse(commit);
        let ProcessedMessage::Commit(staged) = member
            .group
            .process_message(&msg, &(), Some(now()))
            .expect("process commit")
        else {
            panic!("not a commit");
        };
        // A removed member has nothing to merge (Tessera refuses to).
        if !staged.summary().self_removed {
            member.group.merge_staged_commit(*staged).expect("merge");
        }
    }

    fn encrypt(member: &mut Member, plaintext: &[u8]) -> Vec<u8> {
        member
            .group
            .encrypt_application(plaintext, b"")
            .expect("encrypt")
            .to_bytes()
            .expect("serialize")
    }

    fn decrypt(member: &mut Member, message: &[u8]) -> Vec<u8> {
        let msg = parse(message);
        match member
            .group
            .process_message(&msg, &(), Some(now()))
            .expect("decrypt")
        {
            ProcessedMessage::Application { data, .. } => data,
            _ => panic!("not an application message"),
        }
    }
}
