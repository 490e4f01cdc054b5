//! The openmls 0.9 adapter (provider: openmls_rust_crypto, in-memory storage).
//!
//! How openmls is driven:
//! - Provider `OpenMlsRustCrypto` (RustCrypto primitives + `MemoryStorage`).
//!   openmls writes the group state to the storage provider on every state
//!   change (`MemoryStorage` serializes values with serde_json); that cost is
//!   part of what is measured, as it is part of using openmls.
//! - `MlsGroupCreateConfig` with suite 0x0001, `PURE_PLAINTEXT_WIRE_FORMAT_POLICY`
//!   (handshakes as PublicMessage; application messages are always
//!   PrivateMessage), `use_ratchet_tree_extension(true)`, padding 0.
//! - KeyPackages: `MlsMessageIn::tls_deserialize_exact` + `KeyPackageIn::validate`
//!   (both signatures, lifetime, init key != encryption key), then
//!   `MlsGroup::add_members` + `merge_pending_commit`.
//! - Updates: `MlsGroup::self_update` (a commit with a path and no proposals).
//! - Snapshots: neither `MlsGroup` nor the provider is `Clone` without
//!   openmls' `test-utils` feature. A member is therefore forked by copying the
//!   `MemoryStorage` map into a new provider and `MlsGroup::load`ing the group
//!   from it; a joiner is forked by copying its storage (which holds the
//!   KeyPackage private keys, deleted by openmls once used).

use std::sync::Arc;

use openmls::prelude::tls_codec::Deserialize as _;
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;

use tessera_bench::MlsHarness;

const CS: Ciphersuite = Ciphersuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519;

/// The openmls harness.
pub struct OpenMls;

/// A client: provider (crypto + storage), signature key and credential.
pub struct Client {
    provider: OpenMlsRustCrypto,
    signer: Arc<SignatureKeyPair>,
    credential: CredentialWithKey,
}

/// A group member: its client and its group.
pub struct Member {
    client: Client,
    group: MlsGroup,
}

fn create_config() -> MlsGroupCreateConfig {
    MlsGroupCreateConfig::builder()
        .ciphersuite(CS)
        .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .build()
}

fn join_config() -> MlsGroupJoinConfig {
    MlsGroupJoinConfig::builder()
        .wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .use_ratchet_tree_extension(true)
        .build()
}

fn new_client(name: &str) -> Client {
    let signer = SignatureKeyPair::new(CS.signature_algorithm()).expect("signature key");
    let credential = CredentialWithKey {
        credential: BasicCredential::new(name.as_bytes().to_vec()).into(),
        signature_key: signer.to_public_vec().into(),
    };
    Client {
        provider: OpenMlsRustCrypto::default(),
        signer: Arc::new(signer),
        credential,
    }
}

/// A new provider whose storage is a copy of `client`'s.
fn fork_client(client: &Client) -> Client {
    let provider = OpenMlsRustCrypto::default();
    let values = client
        .provider
        .storage()
        .values
        .read()
        .expect("storage lock")
        .clone();
    *provider.storage().values.write().expect("storage lock") = values;
    Client {
        provider,
        signer: client.signer.clone(),
        credential: client.credential.clone(),
    }
}

fn parse(bytes: &[u8]) -> MlsMessageBodyIn {
    MlsMessageIn::tls_deserialize_exact(bytes)
        .expect("MLSMessage")
        .extract()
}

fn add_key_packages(m: &mut Member, key_packages: &[Vec<u8>]) -> (Vec<u8>, Vec<u8>) {
    let kps: Vec<KeyPackage> = key_packages
        .iter()
        .map(|bytes| match parse(bytes) {
            MlsMessageBodyIn::KeyPackage(kp) => kp
                .validate(m.client.provider.crypto(), ProtocolVersion::Mls10)
                .expect("valid KeyPackage"),
            _ => panic!("not a KeyPackage"),
        })
        .collect();
    let (commit, welcome, _group_info) = m
        .group
        .add_members(&m.client.provider, &*m.client.signer, &kps)
        .expect("add_members");
    m.group
        .merge_pending_commit(&m.client.provider)
        .expect("merge");
    (
        commit.to_bytes().expect("serialize"),
        welcome.to_bytes().expect("serialize"),
    )
}

impl MlsHarness for OpenMls {
    const NAME: &'static str = "openmls";
    type Creator = Client;
    type Joiner = Client;
    type Member = Member;

    fn new_creator(name: &str) -> Client {
        new_client(name)
    }

    fn new_joiner(name: &str) -> (Client, Vec<u8>) {
        let client = new_client(name);
        let bundle = KeyPackage::builder()
            .build(
                CS,
                &client.provider,
                &*client.signer,
                client.credential.clone(),
            )
            .expect("KeyPackage");
        let bytes = MlsMessageOut::from(bundle.key_package().clone())
            .to_bytes()
            .expect("serialize");
        (client, bytes)
    }

    fn fork_creator(creator: &Client) -> Client {
        fork_client(creator)
    }

    fn fork_joiner(joiner: &Client) -> Client {
        fork_client(joiner)
    }

    fn fork_member(member: &Member) -> Member {
        let client = fork_client(&member.client);
        let group = MlsGroup::load(client.provider.storage(), member.group.group_id())
            .expect("storage")
            .expect("group in storage");
        Member { client, group }
    }

    fn epoch(member: &Member) -> u64 {
        member.group.epoch().as_u64()
    }

    fn leaf_index(member: &Member) -> u32 {
        member.group.own_leaf_index().u32()
    }

    fn member_count(member: &Member) -> usize {
        member.group.members().count()
    }

    fn create(creator: Client) -> Member {
        let group = MlsGroup::new(
            &creator.provider,
            &*creator.signer,
            &create_config(),
            creator.credential.clone(),
        )
        .expect("create group");
        Member {
            client: creator,
            group,
        }
    }

    fn create_and_add(creator: Client, key_packages: &[Vec<u8>]) -> (Member, Vec<u8>, Vec<u8>) {
        let mut m = Self::create(creator);
        let (commit, welcome) = add_key_packages(&mut m, key_packages);
        (m, commit, welcome)
    }

    fn add(member: &mut Member, key_package: &[u8]) -> (Vec<u8>, Vec<u8>) {
        add_key_packages(member, std::slice::from_ref(&key_package.to_vec()))
    }

    fn join(joiner: Client, welcome: &[u8]) -> Member {
        let MlsMessageBodyIn::Welcome(welcome) = parse(welcome) else {
            panic!("not a Welcome");
        };
        let group =
            StagedWelcome::new_from_welcome(&joiner.provider, &join_config(), welcome, None)
                .expect("stage welcome")
                .into_group(&joiner.provider)
                .expect("join");
        Member {
            client: joiner,
            group,
        }
    }

    fn update(m: &mut Member) -> Vec<u8> {
        let bundle = m
            .group
            .self_update(
                &m.client.provider,
                &*m.client.signer,
                LeafNodeParameters::default(),
            )
            .expect("self_update");
        m.group
            .merge_pending_commit(&m.client.provider)
            .expect("merge");
        bundle.into_commit().to_bytes().expect("serialize")
    }

    fn remove(m: &mut Member, leaf: u32) -> Vec<u8> {
        let (commit, _welcome, _group_info) = m
            .group
            .remove_members(
                &m.client.provider,
                &*m.client.signer,
                &[LeafNodeIndex::new(leaf)],
            )
            .expect("remove_members");
        m.group
            .merge_pending_commit(&m.client.provider)
            .expect("merge");
        commit.to_bytes().expect("serialize")
    }

    fn process_commit(m: &mut Member, commit: &[u8]) {
        let msg = MlsMessageIn::tls_deserialize_exact(commit)
            .expect("MLSMessage")
            .try_into_protocol_message()
            .expect("protocol message");
        let processed = m
            .group
            .process_message(&m.client.provider, msg)
            .expect("process commit");
        let ProcessedMessageContent::StagedCommitMessage(staged) = processed.into_content() else {
            panic!("not a commit");
        };
        m.group
            .merge_staged_commit(&m.client.provider, *staged)
            .expect("merge");
    }

    fn encrypt(m: &mut Member, plaintext: &[u8]) -> Vec<u8> {
        m.group
            .create_message(&m.client.provider, &*m.client.signer, plaintext)
            .expect("encrypt")
            .to_bytes()
            .expect("serialize")
    }

    fn decrypt(m: &mut Member, message: &[u8]) -> Vec<u8> {
        let msg = MlsMessageIn::tls_deserialize_exact(message)
            .expect("MLSMessage")
            .try_into_protocol_message()
            .expect("protocol message");
        let processed = m
            .group
            .process_message(&m.client.provider, msg)
            .expect("decrypt");
        let ProcessedMessageContent::ApplicationMessage(app) = processed.into_content() else {
            panic!("not an application message");
        };
        app.into_bytes()
    }
}
