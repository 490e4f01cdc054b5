//! The mls-rs 0.57 adapter (provider: mls-rs-crypto-rustcrypto, in-memory storage).
//!
//! How mls-rs is driven:
//! - `Client::builder()` with `BasicIdentityProvider`, `RustCryptoProvider`,
//!   suite `CURVE25519_AES128` (0x0001) and `DefaultMlsRules` with the default
//!   `CommitOptions` (ratchet tree in the Welcome, one Welcome for all new
//!   members, no forced path on add-only commits) and
//!   `EncryptionOptions::new(false, PaddingMode::None)`: handshakes as
//!   PublicMessage, application messages unpadded.
//! - Default features, including `rayon` (parallel path encryption and tree
//!   operations on rayon's global pool); the bench pins that pool to
//!   `TESSERA_BENCH_THREADS` threads (default 1), as it does for openmls.
//! - KeyPackages: `MlsMessage::from_bytes` then `CommitBuilder::add_member`
//!   (which validates them) and `build`, then `apply_pending_commit`.
//! - Updates: `Group::commit(vec![])`: an empty commit, which carries a path.
//! - Snapshots: `Group` is `Clone` and holds its whole state in memory; a
//!   clone shares only the (in-memory) storage backends, which are written
//!   only by `write_to_storage`, never called here. Joining does not delete
//!   the KeyPackage from storage before `write_to_storage` either, so a
//!   `Client` clone can join from the same Welcome again.

use mls_rs::client_builder::{
    BaseConfig, PaddingMode, WithCryptoProvider, WithIdentityProvider, WithMlsRules,
};
use mls_rs::group::ReceivedMessage;
use mls_rs::identity::SigningIdentity;
use mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider};
use mls_rs::mls_rules::{DefaultMlsRules, EncryptionOptions};
use mls_rs::{CipherSuite, CipherSuiteProvider, CryptoProvider, ExtensionList, MlsMessage};
use mls_rs_crypto_rustcrypto::RustCryptoProvider;

use tessera_bench::MlsHarness;

const CS: CipherSuite = CipherSuite::CURVE25519_AES128;

type Config = WithMlsRules<
    DefaultMlsRules,
    WithIdentityProvider<BasicIdentityProvider, WithCryptoProvider<RustCryptoProvider, BaseConfig>>,
>;

/// The mls-rs harness.
pub struct MlsRs;

fn new_client(name: &str) -> mls_rs::Client<Config> {
    let crypto = RustCryptoProvider::default();
    let cs = crypto.cipher_suite_provider(CS).expect("suite 0x0001");
    let (secret, public) = cs.signature_key_generate().expect("signature key");
    let identity = SigningIdentity::new(
        BasicCredential::new(name.as_bytes().to_vec()).into_credential(),
        public,
    );
    mls_rs::Client::builder()
        .crypto_provider(crypto)
        .identity_provider(BasicIdentityProvider)
        .mls_rules(
            DefaultMlsRules::new()
                .with_encryption_options(EncryptionOptions::new(false, PaddingMode::None)),
        )
        .signing_identity(identity, secret, CS)
        .build()
}

impl MlsHarness for MlsRs {
    const NAME: &'static str = "mls-rs";
    type Creator = mls_rs::Client<Config>;
    type Joiner = mls_rs::Client<Config>;
    type Member = mls_rs::Group<Config>;

    fn new_creator(name: &str) -> Self::Creator {
        new_client(name)
    }

    fn new_joiner(name: &str) -> (Self::Joiner, Vec<u8>) {
        let client = new_client(name);
        let kp = client
            .generate_key_package_message(ExtensionList::default(), ExtensionList::default(), None)
            .expect("KeyPackage")
            .to_bytes()
            .expect("serialize");
        (client, kp)
    }

    fn fork_creator(creator: &Self::Creator) -> Self::Creator {
        creator.clone()
    }

    fn fork_joiner(joiner: &Self::Joiner) -> Self::Joiner {
        joiner.clone()
    }

    fn fork_member(member: &Self::Member) -> Self::Member {
        member.clone()
    }

    fn epoch(member: &Self::Member) -> u64 {
        member.current_epoch()
    }

    fn leaf_index(member: &Self::Member) -> u32 {
        member.current_member_index()
    }

    fn member_count(member: &Self::Member) -> usize {
        member.roster().members_iter().count()
    }

    fn create(creator: Self::Creator) -> Self::Member {
        creator
            .create_group(ExtensionList::default(), ExtensionList::default(), None)
            .expect("create group")
    }

    fn create_and_add(
        creator: Self::Creator,
        key_packages: &[Vec<u8>],
    ) -> (Self::Member, Vec<u8>, Vec<u8>) {
        let mut group = Self::create(creator);
        let (commit, welcome) = add_key_packages(&mut group, key_packages);
        (group, commit, welcome)
    }

    fn add(member: &mut Self::Member, key_package: &[u8]) -> (Vec<u8>, Vec<u8>) {
        add_key_packages(member, std::slice::from_ref(&key_package.to_vec()))
    }

    fn join(joiner: Self::Joiner, welcome: &[u8]) -> Self::Member {
        let welcome = MlsMessage::from_bytes(welcome).expect("MLSMessage");
        let (group, _info) = joiner.join_group(None, &welcome, None).expect("join");
        group
    }

    fn update(member: &mut Self::Member) -> Vec<u8> {
        let out = member.commit(Vec::new()).expect("commit");
        member.apply_pending_commit().expect("apply");
        out.commit_message.to_bytes().expect("serialize")
    }

    fn remove(member: &mut Self::Member, leaf: u32) -> Vec<u8> {
        let out = member
            .commit_builder()
            .remove_member(leaf)
            .expect("remove")
            .build()
            .expect("commit");
        member.apply_pending_commit().expect("apply");
        out.commit_message.to_bytes().expect("serialize")
    }

    fn process_commit(member: &mut Self::Member, commit: &[u8]) {
        let msg = MlsMessage::from_bytes(commit).expect("MLSMessage");
        match member
            .process_incoming_message(msg)
            .expect("process commit")
        {
            ReceivedMessage::Commit(_) => {}
            _ => panic!("not a commit"),
        }
    }

    fn encrypt(member: &mut Self::Member, plaintext: &[u8]) -> Vec<u8> {
        member
            .encrypt_application_message(plaintext, Vec::new())
            .expect("encrypt")
            .to_bytes()
            .expect("serialize")
    }

    fn decrypt(member: &mut Self::Member, message: &[u8]) -> Vec<u8> {
        let msg = MlsMessage::from_bytes(message).expect("MLSMessage");
        match member.process_incoming_message(msg).expect("decrypt") {
            ReceivedMessage::ApplicationMessage(app) => app.data().to_vec(),
            _ => panic!("not an application message"),
        }
    }
}

fn add_key_packages(
    group: &mut mls_rs::Group<Config>,
    key_packages: &[Vec<u8>],
) -> (Vec<u8>, Vec<u8>) {
    let mut builder = group.commit_builder();
    for kp in key_packages {
        let kp = MlsMessage::from_bytes(kp).expect("MLSMessage");
        builder = builder.add_member(kp).expect("add KeyPackage");
    }
    let out = builder.build().expect("commit");
    group.apply_pending_commit().expect("apply");
    let welcome = out
        .welcome_messages
        .first()
        .expect("one Welcome")
        .to_bytes()
        .expect("serialize");
    (out.commit_message.to_bytes().expect("serialize"), welcome)
}
