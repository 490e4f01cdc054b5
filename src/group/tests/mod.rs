//! Negative tests of the group state machine: every rule a receiver checks
//! (RFC 9420 §6, §12.2, §12.4.2, §12.4.3.1) is fed a message that breaks it
//! and nothing else, validly signed and MACed, and must fail with the rule's
//! own error. After each rejection the receiver must be unchanged and still
//! follow the group's next valid commit.
//!
//! The violating messages are built with [`forge`]: a member signs and MACs
//! arbitrary content with its real keys, skipping the committer-side checks.

mod commit_processing;
mod forge;
mod framing;
mod group_size;
mod hardening;
mod incremental;
mod proposal_list;
mod resumption;
mod secret_tree_state;
mod signature_verdicts;
mod welcome;

use std::sync::Arc;

use super::{CommitOptions, Group, GroupConfig, Identity, JoinInput, KeyPackageOptions, PskStore};
use super::{KeyPackagePrivate, ProcessedMessage, generate_key_package};
use crate::codec::{Decode, Encode};
use crate::crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, RustCryptoProvider};
use crate::error::{Error, Result};
use crate::messages::{
    Add, Credential, Extension, ExtensionType, KeyPackage, LeafNode, LeafNodeGroupBinding,
    LeafNodeSource, MlsMessage, Proposal, ProposalOrRef, ProposalRef, Welcome,
};

pub(super) const SUITE: CipherSuite = CipherSuite::MLS_128_DHKEMX25519_AES128GCM_SHA256_ED25519;
/// The time every lifetime is checked against.
pub(super) const NOW: u64 = 1_800_000_000;
/// A non-default extension type that Alice and Carol support and Bob does not.
pub(super) const EXT: ExtensionType = ExtensionType(0xff00);

pub(super) const ALICE: usize = 0;
pub(super) const BOB: usize = 1;
pub(super) const CAROL: usize = 2;

/// Three members in epoch 2 of a four-leaf tree: Alice (leaf 0) added Bob
/// (leaf 1) and Carol (leaf 2), then Bob committed with a path, so parent
/// nodes 1 and 3 are set and leaf 3 is blank.
pub(super) struct Fixture {
    pub provider: RustCryptoProvider,
    pub cs: Arc<dyn CipherSuiteProvider>,
    pub ids: Vec<Identity>,
    pub groups: Vec<Group>,
}

/// KeyPackage options valid at [`NOW`], supporting [`EXT`] if `ext`.
pub(super) fn kp_options(ext: bool) -> KeyPackageOptions {
    let mut o = KeyPackageOptions::valid_for(NOW - 10, 3600);
    if ext {
        o.capabilities.extensions.push(EXT);
    }
    o
}

impl Fixture {
    pub fn new(seed: u8) -> Self {
        Self::with_extensions(seed, Vec::new())
    }

    /// The fixture with `extensions` as the group context extensions.
    pub fn with_extensions(seed: u8, extensions: Vec<Extension>) -> Self {
        Self::build(seed, extensions, false)
    }

    /// The fixture with `extensions` as the group context extensions; Bob
    /// supports [`EXT`] if `bob_ext`.
    pub fn build(seed: u8, extensions: Vec<Extension>, bob_ext: bool) -> Self {
        let provider = RustCryptoProvider::with_seed([seed; 32]);
        let cs = provider.cipher_suite_provider(SUITE).unwrap();
        let ids: Vec<Identity> = ["alice", "bob", "carol"]
            .iter()
            .map(|n| Identity::generate(&*cs, Credential::basic(*n)).unwrap())
            .collect();
        let mut alice = Group::create(
            &provider,
            GroupConfig::default(),
            SUITE,
            b"negative tests".to_vec(),
            &ids[ALICE],
            kp_options(true),
            extensions,
        )
        .unwrap();
        let bob_kp = generate_key_package(&*cs, &ids[BOB], kp_options(bob_ext)).unwrap();
        let carol_kp = generate_key_package(&*cs, &ids[CAROL], kp_options(true)).unwrap();
        let out = alice
            .commit(
                CommitOptions {
                    proposals: vec![add(&bob_kp.0), add(&carol_kp.0)],
                    ..Default::default()
                },
                &(),
                Some(NOW),
            )
            .unwrap();
        alice.merge_pending_commit().unwrap();
        let welcome = welcome_of(&out.welcome.unwrap());
        let bob = join(&provider, &welcome, &bob_kp, &ids[BOB], None, &()).unwrap();
        let carol = join(&provider, &welcome, &carol_kp, &ids[CAROL], None, &()).unwrap();
        let mut fx = Self {
            provider,
            cs,
            ids,
            groups: vec![alice, bob, carol],
        };
        fx.valid_commit(BOB);
        assert_eq!(fx.groups[ALICE].epoch(), 2);
        fx
    }

    /// `committer` commits with a path and nothing else; everyone merges it
    /// and must agree on the new epoch.
    pub fn valid_commit(&mut self, committer: usize) {
        valid_commit(&mut self.groups, committer);
    }

    /// A fresh KeyPackage of a new client `name`.
    pub fn new_client(&self, name: &str) -> (Identity, KeyPackage, KeyPackagePrivate) {
        let id = Identity::generate(&*self.cs, Credential::basic(name)).unwrap();
        let (kp, private) = generate_key_package(&*self.cs, &id, kp_options(false)).unwrap();
        (id, kp, private)
    }
}

/// `committer` commits with a path and no pending proposal; every other
/// group processes it; all must agree on the new epoch afterwards.
pub(super) fn valid_commit(groups: &mut [Group], committer: usize) {
    let out = groups[committer]
        .commit(
            CommitOptions {
                force_path: true,
                include_pending: false,
                ..Default::default()
            },
            &(),
            Some(NOW),
        )
        .unwrap();
    groups[committer].merge_pending_commit().unwrap();
    for (i, g) in groups.iter_mut().enumerate() {
        if i != committer {
            apply(g, &out.commit);
        }
    }
    let first = &groups[committer];
    for g in groups.iter() {
        assert_eq!(g.epoch(), first.epoch());
        assert_eq!(g.epoch_authenticator(), first.epoch_authenticator());
        assert_eq!(g.tree_hash(), first.tree_hash());
    }
}

pub(super) fn add(kp: &KeyPackage) -> Proposal {
    Proposal::Add(Add {
        key_package: kp.clone(),
    })
}

pub(super) fn by_value(p: Proposal) -> ProposalOrRef {
    ProposalOrRef::Proposal(Box::new(p))
}

pub(super) fn by_ref(r: &ProposalRef) -> ProposalOrRef {
    ProposalOrRef::Reference(r.clone())
}

pub(super) fn welcome_of(m: &MlsMessage) -> Welcome {
    match m {
        MlsMessage::Welcome(w) => w.clone(),
        other => panic!("not a Welcome: {other:?}"),
    }
}

pub(super) fn join(
    provider: &RustCryptoProvider,
    welcome: &Welcome,
    kp: &(KeyPackage, KeyPackagePrivate),
    id: &Identity,
    ratchet_tree: Option<crate::messages::RatchetTreeExtension>,
    psks: &dyn PskStore,
) -> Result<Group> {
    Group::join(
        provider,
        GroupConfig::default(),
        welcome,
        JoinInput {
            key_package: &kp.0,
            key_package_private: &kp.1,
            signer: id.signer().clone(),
            ratchet_tree,
            psk_store: psks,
            now: Some(NOW),
        },
    )
}

/// Processes `m` as received from the wire (encoded, then decoded).
pub(super) fn deliver(
    g: &mut Group,
    m: &MlsMessage,
    psks: &dyn PskStore,
) -> Result<ProcessedMessage> {
    let m = MlsMessage::decode_exact(&m.to_bytes()?)?;
    g.process_message(&m, psks, Some(NOW))
}

/// Processes and merges a commit that must be valid.
pub(super) fn apply(g: &mut Group, m: &MlsMessage) {
    match deliver(g, m, &()).expect("valid commit") {
        ProcessedMessage::Commit(staged) => g.merge_staged_commit(*staged).expect("merge"),
        other => panic!("not a commit: {other:?}"),
    }
}

/// Processes a proposal that must be accepted and returns its reference.
pub(super) fn receive_proposal(g: &mut Group, m: &MlsMessage) -> ProposalRef {
    match deliver(g, m, &()).expect("valid proposal") {
        ProcessedMessage::Proposal { reference, .. } => reference,
        other => panic!("not a proposal: {other:?}"),
    }
}

/// What must not change when a message is rejected.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Snapshot {
    epoch: u64,
    epoch_authenticator: Vec<u8>,
    tree_hash: Vec<u8>,
    tree: Vec<u8>,
    interim_transcript_hash: Vec<u8>,
    proposals: Vec<ProposalRef>,
    pending_commit: bool,
}

impl Group {
    pub(super) fn snapshot(&self) -> Snapshot {
        Snapshot {
            epoch: self.epoch(),
            epoch_authenticator: self.epoch_authenticator().as_bytes().to_vec(),
            tree_hash: self.tree_hash().to_vec(),
            tree: self.tree.to_extension().to_bytes().unwrap(),
            interim_transcript_hash: self.interim_transcript_hash.clone(),
            proposals: self.proposals.iter().map(|p| p.reference.clone()).collect(),
            pending_commit: self.pending_commit.is_some(),
        }
    }
}

/// Delivers `m` to `groups[receiver]`, which must reject it with exactly
/// `expected` and stay unchanged.
pub(super) fn assert_rejected_with(
    groups: &mut [Group],
    receiver: usize,
    m: &MlsMessage,
    psks: &dyn PskStore,
    expected: impl Into<Error>,
) {
    let g = &mut groups[receiver];
    let before = g.snapshot();
    let err = deliver(g, m, psks).expect_err("the message must be rejected");
    assert_eq!(err, expected.into());
    assert_eq!(g.snapshot(), before, "a rejected message changed the group");
}

/// [`assert_rejected_with`] with no external PSKs, then the group's next
/// valid commit (by the member after the receiver) must still be followed
/// by everyone.
pub(super) fn assert_rejected(
    groups: &mut [Group],
    receiver: usize,
    m: &MlsMessage,
    expected: impl Into<Error>,
) {
    assert_rejected_with(groups, receiver, m, &(), expected);
    let next_committer = (receiver + 1) % groups.len();
    valid_commit(groups, next_committer);
}

/// A new leaf node for an Update by `g`'s member: a fresh encryption key,
/// source `update`, changed by `edit`, then signed with the group binding.
pub(super) fn update_leaf(g: &Group, edit: impl FnOnce(&mut LeafNode)) -> LeafNode {
    let mut leaf = g.tree.leaf(g.own_leaf).unwrap().clone();
    leaf.encryption_key = g.cs.hpke_generate_key_pair().unwrap().1;
    leaf.leaf_node_source = LeafNodeSource::Update;
    edit(&mut leaf);
    leaf.sign(
        &*g.cs,
        &g.signer,
        Some(LeafNodeGroupBinding {
            group_id: &g.context.group_id,
            leaf_index: g.own_leaf,
        }),
    )
    .unwrap();
    leaf
}
